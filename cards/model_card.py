"""The model card: human-written facts (cards/<model>.yaml) + an audit's results -> Markdown in the documented
model-card template v1.0.0 (templates/model_card.md.j2), with Hugging Face front matter.

Notebook use:
    audit = load_audit("reports/alisnet/audit.json"); facts = load_facts("cards/alisnet.yaml")
    text = render_model_card(audit, facts)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segaudit.cards.environment import make_environment, render
from segaudit.cards.facts import check_facts, complete_facts, require_complete
from segaudit.cards.front_matter import front_matter, model_metadata
from segaudit.cards.results import (
    artifact_description,
    fairness_groups,
    fairness_rows,
    mebibytes,
    most_exposed,
    privacy_attacks,
    privacy_groups,
)
from segaudit.cards.schemas import MODEL_FACTS
from segaudit.cards.statements import fairness_statement, membership_statement
from segaudit.core.audit_file import audit_date
from segaudit.core.errors import InputError
from segaudit.core.safe_text import md_text

TEMPLATE = "model_card.md.j2"
TEMPLATE_VERSION = "1.0.0"
DEFAULT_MIN_GROUP_SIZE = 30


def render_model_card(audit: dict[str, Any], facts: dict[str, Any], *, draft: bool = False,
                      templates: str | Path | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
                      facts_path: str | Path | None = None) -> str:
    """The model card's Markdown. Incomplete facts are an InputError unless `draft`, which marks each gap."""
    gaps = check_facts(facts, MODEL_FACTS)
    if not draft:
        require_complete(facts, MODEL_FACTS, facts_path)
    facts = complete_facts(facts, MODEL_FACTS)  # gaps marked; absent optional fields as None
    try:
        context = model_card_context(audit, facts, min_group_size)
    except (KeyError, TypeError) as exc:
        raise InputError(f"audit.json lacks a field the card needs or has it in the wrong shape: {exc}",
                         path="audit.json") from None
    context["draft_gaps"] = [str(g) for g in gaps] if draft else []
    if context["draft_gaps"]:  # the metadata says so too, for the Hub and for tools that read only the front matter
        context["metadata"] = front_matter(model_metadata(audit, facts, context["date"], draft=True,
                                                          min_group_size=min_group_size))
    return render(make_environment(templates), TEMPLATE, context)


def model_card_context(audit: dict[str, Any], facts: dict[str, Any], min_group_size: int) -> dict[str, Any]:
    """Everything the template reads: `facts` as written, and `audit`-derived views under their own names."""
    if min_group_size < 1:
        raise ValueError("min_group_size must be at least 1")
    date = audit_date(audit)
    privacy = audit.get("privacy")
    quantization = audit.get("quantization")
    context = {
        "facts": facts,
        "audit": audit,
        "metadata": front_matter(model_metadata(audit, facts, date, min_group_size=min_group_size)),
        "date": date,
        "template_version": TEMPLATE_VERSION,
        "min_group_size": min_group_size,
        "target": artifact_description(audit),
        "artifact_size": mebibytes(audit["model"].get("size_bytes")),
        "fairness_rows": fairness_rows(audit["fairness"], min_group_size),
        "fairness_groups": fairness_groups(audit["fairness"], min_group_size),
        "membership_statement": membership_statement(audit, date, quote=md_text),
        "fairness_statement": fairness_statement(audit, date, min_group_size, quote=md_text),
        "attacks": privacy_attacks(privacy),
        "privacy_groups": privacy_groups(privacy, min_group_size),
        "most_exposed": most_exposed(privacy, min_group_size),
        "quantization": _quantization_view(quantization),
    }
    return context


def _quantization_view(q: dict[str, Any] | None) -> dict[str, Any] | None:
    if not q:
        return None
    float_latency = (q.get("latency_float_eager") or {}).get("median_ms")
    pte_latency = (q.get("latency_pte") or {}).get("median_ms")
    return {
        "method": {"qat": "quantization-aware training", "ptq": "post-training calibration"}.get(
            q.get("method"), q.get("method")),
        "parts": ", ".join(q.get("quantized_parts") or []) or "whole model",
        "float_size": mebibytes(q.get("float_weights_bytes")), "pte_size": mebibytes(q.get("pte_bytes")),
        "size_ratio": q.get("size_ratio"), "miou_float": q.get("miou_float"), "miou_pte": q.get("miou_pte"),
        "miou_drop_points": q.get("miou_drop_points"), "float_latency_ms": float_latency,
        "pte_latency_ms": pte_latency, "speedup": q.get("speedup"),
        "threads": (q.get("latency_pte") or {}).get("threads"),
        "agreement": q.get("agreement_pte_vs_float"),
        "test_images": q.get("test_images"), "image_size": q.get("image_size"),
    }
