"""The CycloneDX ML-BOM of an audit: valid against the official 1.6 schema, every figure from audit.json."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from segaudit.cards.ml_bom import NOT_RECORDED, ml_bom
from segaudit.core.audit_file import load_audit

AUDIT = Path(__file__).resolve().parents[1] / "reports" / "alisnet" / "audit.json"


def validate(bom: dict) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))


def test_the_reference_audit_gives_a_bom_valid_against_the_official_schema() -> None:
    assert validate(ml_bom(load_audit(AUDIT))) is None


def test_the_validator_does_reject_a_broken_bom() -> None:
    bom = ml_bom(load_audit(AUDIT))
    bom["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0]["value"] = 0.9  # not text
    assert validate(bom) is not None


def test_metrics_and_assessments_come_from_audit_json_with_small_groups_left_out() -> None:
    audit = load_audit(AUDIT)
    bom = ml_bom(audit, facts={"mitigations": {"skin_tone": "collect more monk_09-10 images"}}, min_group_size=30)
    model = bom["components"][0]
    assert model["hashes"] == [{"alg": "SHA-256", "content": audit["model"]["sha256"]}]
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert metrics[0]["value"] == f"{audit['performance']['miou']:.4f}"
    assert metrics[0]["confidenceInterval"]["lowerBound"] == f"{audit['performance']['miou_ci'][0]:.4f}"
    groups = [(name, g) for scope in ("attributes", "intersections")
              for name, r in audit["fairness"][scope].items() for g in r["groups"] if g["mean"] is not None]
    published = [(name, g) for name, g in groups if g["n"] >= 30]
    assert len(metrics) == 1 + len(published)
    by_slice = {m["slice"]: m for m in metrics[1:]}
    for name, group in published:
        assert by_slice[f"{name}={group['group']}"]["value"] == f"{group['mean']:.4f}"
    properties = {p["name"]: p["value"] for p in model["modelCard"]["properties"]}
    assert properties["segaudit:suppressed_groups"] == str(len(groups) - len(published))
    assert properties["segaudit:fairness_verdict"] == audit["fairness"]["verdict"]
    assessments = model["modelCard"]["considerations"]["fairnessAssessments"]
    assert len(assessments) == len(audit["fairness"]["attributes"])
    tone = next(a for a in assessments if a["groupAtRisk"].startswith("skin_tone"))
    assert tone["mitigationStrategy"] == "collect more monk_09-10 images"
    assert audit["fairness"]["attributes"]["skin_tone"]["verdict"] in tone["harms"]
    others = [a for a in assessments if not a["groupAtRisk"].startswith("skin_tone")]
    assert all(a["mitigationStrategy"] == NOT_RECORDED for a in others)
    risk = model["modelCard"]["considerations"]["ethicalConsiderations"][0]["name"]
    assert audit["privacy"]["risk_level"] in risk
