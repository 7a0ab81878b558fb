"""A CycloneDX 1.6 ML-BOM of the audited model: its `modelCard` as a machine-readable record of the audit.

    bom = ml_bom(load_audit("reports/alisnet/audit.json"))
    Path("model.cdx.json").write_text(json.dumps(bom, indent=2))

One component of type `machine-learning-model` (the audited artifact with its SHA-256) whose `modelCard` holds:

* `modelParameters`: supervised image segmentation, the architecture, the evaluation dataset, image in / mask out;
* `quantitativeAnalysis.performanceMetrics`: the dataset mIoU with its confidence interval, then per group of
  every audited attribute and intersection the mean per-image IoU with its interval (slice `attribute=value`);
  the groups the cards suppress (`cards.disclosure.suppression_plan`: small groups and their complements) are left
  out and counted in the model card's properties;
* `considerations.fairnessAssessments`: per attribute, the group at risk (the worst group, when published), the
  verdict and its reason as the harm, and the mitigation a person recorded (`facts`) or that none was recorded;
* `considerations.ethicalConsiderations`: the membership-inference risk level with its reason;
* `properties`: the fairness verdict, the privacy risk, margin and alpha, prefixed `segaudit:`.

Every value comes from audit.json; nothing is recomputed. The tests validate the output against the official
CycloneDX 1.6 JSON schema (cyclonedx-python-lib's strict validator).
"""

from __future__ import annotations

import uuid
from typing import Any

from segaudit.cards.disclosure import suppression_plan

SPEC_VERSION = "1.6"
MODEL_REF = "model"
DATASET_REF = "dataset"
NOT_RECORDED = "none recorded by a person (segaudit card facts: mitigations)"


def ml_bom(audit: dict[str, Any], facts: dict[str, Any] | None = None, min_group_size: int = 30) -> dict[str, Any]:
    """The CycloneDX 1.6 BOM (a JSON-ready dict) of an audit.json; `facts` may give `mitigations` per attribute
    ({attribute: text}) and a `privacy_mitigation` text."""
    facts = facts or {}
    model = audit["model"]
    performance = audit.get("performance") or {}
    fairness = audit["fairness"]
    plan = suppression_plan(fairness, min_group_size)
    metrics, suppressed = _performance_metrics(performance, fairness, plan)
    component = {
        "type": "machine-learning-model", "bom-ref": MODEL_REF, "name": str(model["name"]),
        "version": str(model.get("version", "")),
        "hashes": [{"alg": "SHA-256", "content": str(model["sha256"])}],
        "properties": _properties({"format": model.get("format"), "size_bytes": model.get("size_bytes"),
                                   "params": model.get("params"), "image_size": model.get("image_size")}),
        "modelCard": {
            "modelParameters": {
                "approach": {"type": "supervised"}, "task": "image-segmentation",
                "architectureFamily": "convolutional neural network", "modelArchitecture": str(model["name"]),
                "datasets": [{"ref": DATASET_REF}],
                "inputs": [{"format": f"RGB image, {model.get('image_size', '?')} px"}],
                "outputs": [{"format": "per-pixel class mask: " + ", ".join(
                    f"{k} {v}" for k, v in (model.get("classes") or {}).items())}],
            },
            "quantitativeAnalysis": {"performanceMetrics": metrics},
            "considerations": {
                "fairnessAssessments": _fairness_assessments(fairness, facts, plan),
                "ethicalConsiderations": _privacy_considerations(audit.get("privacy"), facts),
            },
            "properties": _properties({"fairness_verdict": fairness.get("verdict"),
                                       "fairness_margin": fairness.get("margin"),
                                       "fairness_alpha": fairness.get("alpha"),
                                       "privacy_risk": (audit.get("privacy") or {}).get("risk_level"),
                                       "suppressed_groups": suppressed, "min_group_size": min_group_size}),
        },
    }
    dataset = audit.get("dataset") or {}
    data_component = {
        "type": "data", "bom-ref": DATASET_REF, "name": str(dataset.get("name", "evaluation data")),
        "version": str(dataset.get("version", "")),
        "data": [{"type": "dataset", "name": str(dataset.get("name", "evaluation data")),
                  "description": f"{dataset.get('n', '?')} images; the audit's evaluation split"}],
    }
    provenance = audit.get("provenance") or {}
    return {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
        "serialNumber": _serial(str(model["sha256"]), str(provenance.get("finished"))),
        "version": 1,
        "metadata": {
            "timestamp": str(provenance.get("finished")),
            "tools": {"components": [{"type": "application", "name": "segaudit",
                                      "version": str(provenance.get("tool_version", ""))}]},
            "component": {"type": "machine-learning-model", "bom-ref": "metadata-model", "name": str(model["name"]),
                          "version": str(model.get("version", ""))},
        },
        "components": [component, data_component],
    }


def _serial(sha256: str, finished: str) -> str:
    """A serial number that is the same for the same audit of the same artifact (UUID v5 of both)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'segaudit:{sha256}:{finished}')}"


def _performance_metrics(performance: dict[str, Any], fairness: dict[str, Any],
                         plan: set[tuple[str, ...]]) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    if performance.get("miou") is not None:
        low, high = (performance.get("miou_ci") or [None, None])[:2]
        out.append(_metric("mIoU", performance["miou"], f"all images ({performance.get('split', 'test')} split)",
                           low, high))
    suppressed = 0
    for scope in ("attributes", "intersections"):
        for name, result in (fairness.get(scope) or {}).items():
            for group in result.get("groups", []):
                if (name, str(group["group"])) in plan:
                    suppressed += 1
                    continue
                if group.get("mean") is None:
                    continue
                out.append(_metric("mean per-image IoU", group["mean"], f"{name}={group['group']}",
                                   group.get("ci_low"), group.get("ci_high")))
    return out, suppressed


def _metric(kind: str, value: float, slice_: str, low: float | None, high: float | None) -> dict[str, Any]:
    metric: dict[str, Any] = {"type": kind, "value": f"{value:.4f}", "slice": slice_}
    if low is not None and high is not None:
        metric["confidenceInterval"] = {"lowerBound": f"{low:.4f}", "upperBound": f"{high:.4f}"}
    return metric


def _fairness_assessments(fairness: dict[str, Any], facts: dict[str, Any],
                          plan: set[tuple[str, ...]]) -> list[dict[str, Any]]:
    mitigations = facts.get("mitigations") or {}
    out = []
    for name, result in (fairness.get("attributes") or {}).items():
        groups = {g["group"]: g for g in result.get("groups", [])}
        worst = (result.get("worst") or {}).get("group")
        published = worst is not None and (name, str(worst)) not in plan and worst in groups
        out.append({
            "groupAtRisk": f"{name}={worst}" if published else f"{name} (no published group)",
            "harms": f"verdict {result.get('verdict')}: {result.get('reason', '')}".strip(),
            "mitigationStrategy": str(mitigations.get(name, NOT_RECORDED)),
        })
    return out


def _privacy_considerations(privacy: dict[str, Any] | None, facts: dict[str, Any]) -> list[dict[str, Any]]:
    if not privacy:
        return [{"name": "membership inference: not audited", "mitigationStrategy": NOT_RECORDED}]
    return [{"name": f"membership inference: risk {privacy.get('risk_level')} - {privacy.get('risk_reason', '')}",
             "mitigationStrategy": str(facts.get("privacy_mitigation", NOT_RECORDED))}]


def _properties(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": f"segaudit:{key}", "value": str(value)} for key, value in values.items() if value is not None]
