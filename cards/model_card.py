"""The model card: human-written facts (cards/<model>.yaml) + an audit's results -> Markdown in the documented
model documentation template v1.0.0 (templates/model_card.md.j2), with Hugging Face front matter.

Every section of the template is rendered, in the template's order, with the sections of the ALiSNet example
(risks, training and evaluation datasets, performance metrics, caveats) where the example has them. A section is
filled from audit.json where the audit knows the answer (the model sidecar, dataset and splits, performance,
quantization, the training recipe the privacy audit's shadows repeat, the fairness method and verdicts, the
privacy threat model and rating, seeds and command), from the facts where only a person knows it, and otherwise
carries a visible "[needs a person: field, what to write]" marker; a card with any marker says it is a draft.

Findings and readiness are computed (`cards.statements`): each verdict sentence shows what it rests on, TPRs are
printed only at FPRs the non-members resolve, and the caveats say whether the model is ready for deployment from
the verdicts. A readiness claim in the facts that a verdict contradicts is withdrawn from the card and replaced by
a marker for a person to rewrite.

Notebook use:
    audit = load_audit("reports/alisnet/audit.json"); facts = load_facts("cards/alisnet.yaml")
    text = render_model_card(audit, facts)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from segaudit.cards.environment import make_environment, pct, render
from segaudit.cards.facts import ask, check_facts, complete_facts, require_complete
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
from segaudit.cards.statements import (
    blockers,
    correction_text,
    fairness_limits,
    fairness_statement,
    membership_statement,
    mitigation_statement,
    privacy_limits,
    readiness_claims,
    readiness_statements,
    tpr_at,
    verdict_sentences,
)
from segaudit.core.audit_file import audit_date
from segaudit.core.errors import InputError
from segaudit.core.safe_text import MarkdownSafe, md_text

TEMPLATE = "model_card.md.j2"
TEMPLATE_VERSION = "1.0.0"
DEFAULT_MIN_GROUP_SIZE = 30

PERSON_FIELDS: dict[str, str] = {
    "documentation.version": "the version of this document",
    "reviewers": "who reviewed this document, with their role",
    "domains.description": "the domain(s) the model is meant for",
    "domains.deployer_instructions": "instructions for use for deployers",
    "architecture.description": "the architecture in words",
    "architecture.components": "its key components",
    "architecture.training_methodology": "how it was trained, in outline",
    "architecture.training_duration": "how long training took",
    "architecture.compute": "the compute used to develop, train and test it",
    "data.collection": "how the training data was sourced",
    "data.cleaning": "how missing values, outliers and errors were handled",
    "data.transformation": "the scaling, encoding and augmentation applied",
    "data.splitting": "how the splits were made (random, stratified, temporal) and in which proportions",
    "data.shuffle": "whether the training data is shuffled",
    "training.initialisation": "how the weights were initialised",
    "objective.goals": "the goals the model serves (accuracy, fairness, speed)",
    "training.validation": "what the validation set showed during training",
    "training.hyperparameter_tuning": "how the hyperparameters were chosen",
    "evaluation.robustness": "robustness tests beyond the audited attributes (edge cases, adversarial inputs)",
    "evaluation.baselines": "the baseline(s) the model is compared with",
    "bias.mitigation": "the bias mitigation measures taken, or that none were",
    "bias.retraining": "the retraining approaches planned or used, or that none are",
    "bias.post_processing": "the post-processing techniques used, or that none are",
    "interpretability.techniques": "the explainability techniques used, or that none were",
    "interpretability.how_interpretable": "how interpretable the model's decisions are",
    "conformity.eu_declaration": "the EU declaration of conformity, or that none exists",
    "conformity.standards": "the standards and frameworks applied, or that none were",
}
"""The template's fields only a person can fill, in the template's order, with what to write there."""
LOSSES = {"ce": "cross-entropy", "bce": "binary cross-entropy", "focal": "focal", "dice": "Dice",
          "tversky": "Tversky", "bias": "bias loss", "lovasz": "Lovász hinge"}
"""The recipe's loss names (models.losses.LOSS_NAMES) in words; a weighted part ('0.5*dice') stays as written."""
OPTIMIZERS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}
WITHOUT_RECIPE: dict[str, str] = {
    "training.process": "the loss function, optimiser and hyperparameters",
    "training.regularisation": "the regularisation used",
    "training.early_stopping": "the early-stopping rule",
}
"""Asked of a person only when audit.json holds no training recipe to fill them from."""


def render_model_card(audit: dict[str, Any], facts: dict[str, Any], *, draft: bool = False,
                      templates: str | Path | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
                      facts_path: str | Path | None = None) -> str:
    """The model card's Markdown. Incomplete required facts are an InputError unless `draft`, which marks each
    gap; sections that need a person are marked either way and make the card call itself a draft."""
    gaps = check_facts(facts, MODEL_FACTS)
    if not draft:
        require_complete(facts, MODEL_FACTS, facts_path)
    facts = complete_facts(facts, MODEL_FACTS)  # gaps marked; absent optional fields as None
    try:
        context = model_card_context(audit, facts, min_group_size, [str(g) for g in gaps] if draft else [])
    except (KeyError, TypeError) as exc:
        raise InputError(f"audit.json lacks a field the card needs or has it in the wrong shape: {exc}",
                         path="audit.json") from None
    return render(make_environment(templates), TEMPLATE, context)


def model_card_context(audit: dict[str, Any], facts: dict[str, Any], min_group_size: int,
                       draft_gaps: list[str] | None = None) -> dict[str, Any]:
    """Everything the template reads: `facts` as written (readiness claims a verdict contradicts withdrawn),
    `asked` (the fields only a person can fill, or their markers), and `audit`-derived views. The card is a
    draft, in its text and its front matter, when required facts are marked (`draft_gaps`) or a field needs a
    person."""
    if min_group_size < 1:
        raise ValueError("min_group_size must be at least 1")
    date = audit_date(audit)
    privacy = audit.get("privacy")
    quantization = audit.get("quantization")
    recipe = _recipe_view(audit)
    facts, withdrawn = withdraw_readiness(facts, blockers(audit, min_group_size, quote=md_text))
    asked, missing = ask(facts, {**PERSON_FIELDS, **({} if recipe else WITHOUT_RECIPE)})
    draft_gaps = list(draft_gaps or [])
    needs_person = missing + withdrawn
    context = {
        "facts": facts,
        "audit": audit,
        "asked": asked,
        "draft_gaps": draft_gaps,
        "needs_person": needs_person,
        "metadata": front_matter(model_metadata(audit, facts, date, draft=bool(draft_gaps or needs_person),
                                                min_group_size=min_group_size)),
        "date": date,
        "template_version": TEMPLATE_VERSION,
        "min_group_size": min_group_size,
        "target": artifact_description(audit),
        "artifact_size": mebibytes(audit["model"].get("size_bytes")),
        "fairness_rows": fairness_rows(audit["fairness"], min_group_size),
        "fairness_groups": fairness_groups(audit["fairness"], min_group_size),
        "correction": correction_text(audit["fairness"]),
        "verdicts": verdict_sentences(audit["fairness"], min_group_size, quote=md_text),
        "fairness_limits": fairness_limits(audit["fairness"], min_group_size, quote=md_text),
        "membership_statement": membership_statement(audit, date, quote=md_text),
        "fairness_statement": fairness_statement(audit, date, min_group_size, quote=md_text),
        "readiness": readiness_statements(audit, min_group_size, quote=md_text),
        "mitigation": mitigation_statement(audit, min_group_size, quote=md_text),
        "privacy_limits": privacy_limits(privacy),
        "attacks": _attack_rows(privacy),
        "privacy_groups": privacy_groups(privacy, min_group_size),
        "most_exposed": most_exposed(privacy, min_group_size),
        "quantization": _quantization_view(quantization),
        "recipe": recipe,
        "splits": _splits_view(audit),
    }
    return context


def withdraw_readiness(facts: dict[str, Any], blocked: list[str]) -> tuple[dict[str, Any], list[str]]:
    """`facts` with every sentence that claims readiness for deployment replaced by a marker when the audit has
    something against deployment (`blocked`, from `statements.blockers`), and the fields it happened in."""
    if not blocked:
        return facts, []
    fields: list[str] = []
    against = "; ".join(blocked)

    def walk(value: Any, field: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{field}.{k}" if field else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{field}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or isinstance(value, MarkdownSafe) or not readiness_claims(value):
            return value
        fields.append(f"{field} (a readiness claim the audit contradicts)")
        marker = (f"**[needs a person: {field} claimed readiness for deployment, which the audit contradicts "
                  f"(fail or rated risk: {against}); the claim is withdrawn until a person rewrites it]**")
        parts = re.split(r"(?<=[.!?])(\s+)", value)
        return "".join(marker if readiness_claims(part) else part for part in parts)

    return walk(facts, ""), fields


def _attack_rows(privacy: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The attacks as the card's table lists them, each TPR as text: a percentage, or 'not resolved at N
    non-members' at an FPR below 1 / non-members."""
    return [{**a, "tpr_1": tpr_at(a, "0.01", privacy or {}, 1), "tpr_01": tpr_at(a, "0.001", privacy or {}, 2)}
            for a in privacy_attacks(privacy)]


def _recipe_view(audit: dict[str, Any]) -> dict[str, Any] | None:
    """The target's training recipe as the privacy audit's shadow models repeat it (privacy.shadows.recipe),
    without the shadows' own epoch count and time limit; None when the audit holds no recipe."""
    privacy = audit.get("privacy") or {}
    recipe = (privacy.get("shadows") or {}).get("recipe")
    if not isinstance(recipe, dict):
        return None
    loss = str(recipe.get("loss") or "")
    return {"source": (privacy.get("target") or {}).get("recipe"),
            "loss_label": " + ".join(LOSSES.get(part.strip(), part.strip()) for part in loss.split("+")),
            "optimizer_label": OPTIMIZERS.get(recipe.get("optimizer"), recipe.get("optimizer")),
            **{k: recipe.get(k) for k in ("optimizer", "lr", "weight_decay", "batch_size", "loss", "class_weights",
                                          "lr_patience", "lr_factor", "early_stop_patience", "size", "seed",
                                          "dp_epsilon", "dp_delta", "max_grad_norm")}}


def _splits_view(audit: dict[str, Any]) -> list[dict[str, Any]]:
    """The dataset's splits: images, share, and what the audit used each for (from its recorded fields)."""
    n = audit["dataset"].get("n") or {}
    total = sum(v for v in n.values() if isinstance(v, int)) or 1
    privacy = audit.get("privacy") or {}
    roles = {audit["performance"].get("split", "test"): ["performance and fairness evaluation"]}
    for key, role in (("members_split", "the membership-inference audit's members"),
                      ("nonmembers_split", "its non-members"),
                      ("population_split", "its attacker's population")):
        split = (privacy.get("dataset") or {}).get(key)
        if split:
            roles.setdefault(split, []).append(role)
    names = {"train": "Training set", "val": "Validation set", "test": "Test set"}
    return [{"label": names.get(split, split), "split": split, "n": n.get(split), "share": pct(n.get(split, 0) / total),
             "roles": roles.get(split, [])} for split in ("train", "val", "test") if split in n]


def _quantization_view(q: dict[str, Any] | None) -> dict[str, Any] | None:
    if not q:
        return None
    float_latency = (q.get("latency_float_eager") or {}).get("median_ms")
    pte_latency = (q.get("latency_pte") or {}).get("median_ms")
    config = (q.get("provenance") or {}).get("config") or {}
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
        "training": q.get("training") or {}, "lr": config.get("qat_lr"), "batch_size": config.get("batch_size"),
        "versions": (q.get("provenance") or {}).get("versions") or {},
    }
