"""The CI gate: policy parsing, rules, exit codes, JUnit and Markdown, re-analysis with the policy's settings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segaudit.app.cli.main import main
from segaudit.audit.fairness import FairnessConfig, audit_fairness, write_outputs
from segaudit.audit.gate import parse_policy, run_gate
from segaudit.core.audit_file import SCHEMA_VERSION
from segaudit.core.errors import InputError
from segaudit.models.data.spec import AttributeSpec

SPECS = {"tone": AttributeSpec("tone", "ordinal", True, "annotated", values=("light", "medium", "dark")),
         "shape": AttributeSpec("shape", "categorical", False, "annotated", values=("a", "b"))}


def make_audit(folder: Path, dark_shortfall: float, n: int = 300, margin: float = 0.02, risk: str = "low",
               miou: float = 0.9, card_missing: tuple[str, ...] = ()) -> Path:
    """An audit folder: a per-image table where 'dark' scores `dark_shortfall` lower, its fairness outputs,
    and an audit.json around them."""
    rng = np.random.default_rng(0)
    tones = np.repeat(["light", "medium", "dark"], n)
    shapes = np.tile(["a", "b"], len(tones) // 2 + 1)[: len(tones)]
    iou = np.clip(0.9 + rng.normal(0, 0.03, len(tones)) - np.where(tones == "dark", dark_shortfall, 0), 0, 1)
    table = pd.DataFrame({"id": [f"i{k}" for k in range(len(tones))], "tone": tones, "shape": shapes, "iou": iou})
    config = FairnessConfig(margin=margin, bootstrap=200, intersections=(("tone", "shape"),))
    result = audit_fairness(table, SPECS, config)
    write_outputs(result, folder / "fairness", table, plots=False)
    audit = {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": "tinynet", "version": "1.2.0"},
        "provenance": {"finished": "2026-11-21T08:00:00Z"},
        "dataset": {"name": "tiny", "attributes": {
            "tone": {"kind": "ordinal", "values": ["light", "medium", "dark"], "sensitive": True},
            "shape": {"kind": "categorical", "values": ["a", "b"], "sensitive": False}}},
        "performance": {"split": "test", "n_images": len(tones), "miou": miou, "miou_ci": [miou - 0.01, miou + 0.01]},
        "fairness": json.loads((folder / "fairness" / "fairness.json").read_text()),
        "privacy": {"risk_level": risk, "risk_reason": "LiRA AUC 0.51 [0.48, 0.54]"},
        "card": {"complete": not card_missing, "missing": list(card_missing)},
        "outputs": {"fairness": "fairness"},
    }
    (folder / "audit.json").write_text(json.dumps(audit))
    return folder / "audit.json"


POLICY = """
[fairness]
margin = 0.02
inconclusive_fails = true
[privacy]
max_risk = "low"
[performance]
min_miou = 0.8
[card]
require_complete = true
"""


def write_policy(folder: Path, text: str = POLICY) -> Path:
    path = folder / "gate.toml"
    path.write_text(text)
    return path


def gate(audit: Path, policy: Path, *extra: str) -> int:
    return main(["gate", "--audit", str(audit), "--policy", str(policy), *extra])


def test_a_fair_audit_passes_with_exit_0_and_writes_junit_and_markdown(tmp_path: Path, capsys) -> None:
    audit = make_audit(tmp_path / "fair", dark_shortfall=0.0)
    assert gate(audit, write_policy(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "gate passed" in out and "FAIL" not in out
    suites = ET.parse(audit.parent / "gate-junit.xml").getroot()
    cases = suites.findall("testsuite/testcase")
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert names == {("gate.fairness", "tone"), ("gate.fairness", "shape"), ("gate.fairness", "tone × shape"),
                     ("gate.privacy", "membership_inference"), ("gate.performance", "min_miou"),
                     ("gate.card", "complete")}
    assert suites.find("testsuite").get("failures") == "0" and not suites.findall(".//failure")
    markdown = (audit.parent / "gate-summary.md").read_text()
    assert "Gate passed" in markdown and "| tone | ✅ pass |" in markdown


def test_a_biased_audit_fails_with_exit_1_naming_the_group_and_the_numbers(tmp_path: Path, capsys,
                                                                         monkeypatch) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    audit = make_audit(tmp_path / "biased", dark_shortfall=0.08)
    assert gate(audit, write_policy(tmp_path), "--junit", str(tmp_path / "j.xml")) == 1
    out = capsys.readouterr().out
    assert "FAIL  fairness/tone: fail: group 'dark' (n=300) falls short" in out and "gate FAILED" in out
    failures = ET.parse(tmp_path / "j.xml").getroot().findall(".//testcase/failure")
    assert [f.get("message").split(":")[0] for f in failures if "dark" in f.get("message")][0] == "fail"
    assert "Gate failed" in summary.read_text()  # appended to the CI job summary


@pytest.mark.parametrize(("change", "family"), [
    ({"risk": "medium"}, "privacy"), ({"miou": 0.7}, "performance"), ({"card_missing": ("owners",)}, "card")])
def test_each_non_fairness_rule_can_fail_the_gate(tmp_path: Path, change: dict, family: str) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0, **change)
    outcome = run_gate(audit, write_policy(tmp_path))
    assert not outcome.passed
    assert [r.family for r in outcome.results if not r.passed] == [family]


def test_inconclusive_fails_only_when_the_policy_says_so(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "small", dark_shortfall=0.0, n=20)  # too few images to show equivalence
    strict = run_gate(audit, write_policy(tmp_path, "[fairness]\nmargin = 0.02\n"))
    tone = next(r for r in strict.results if r.name == "tone")
    assert tone.details["verdict"] == "inconclusive" and not tone.passed
    lenient = run_gate(audit, write_policy(tmp_path, "[fairness]\nmargin = 0.02\ninconclusive_fails = false\n"))
    assert next(r for r in lenient.results if r.name == "tone").passed


def test_a_policy_margin_other_than_the_audits_reruns_the_analysis(tmp_path: Path) -> None:
    # A 3-point shortfall: failing at the audit's 2-point margin, passing at a 6-point margin set per attribute.
    audit = make_audit(tmp_path / "a", dark_shortfall=0.03, margin=0.02)
    recorded = json.loads(audit.read_text())["fairness"]["attributes"]["tone"]["verdict"]
    assert recorded == "fail"
    outcome = run_gate(audit, parse_policy({"fairness": {"margin": 0.02, "attribute": {"tone": {"margin": 0.06}}}}))
    tone = next(r for r in outcome.results if r.name == "tone")
    assert tone.details["recomputed"] and tone.details["verdict"] == "pass" and tone.passed
    shape = next(r for r in outcome.results if r.name == "shape")
    assert not shape.details["recomputed"]
    # The recomputed verdict equals a fresh audit with the policy's settings.
    fresh = json.loads(audit.read_text())["fairness"]
    table = pd.read_csv(audit.parent / "fairness" / "table.csv")
    again = audit_fairness(table, SPECS, FairnessConfig(margin=0.06, bootstrap=fresh["bootstrap"],
                                                        attributes=("tone",)))
    assert again.attributes["tone"].reason == tone.message.split(": ", 1)[1]


def test_rerun_without_the_per_image_table_is_a_clear_error(tmp_path: Path, capsys) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    (audit.parent / "fairness" / "table.csv").unlink()
    assert gate(audit, write_policy(tmp_path, "[fairness]\nmargin = 0.05\n")) == 2
    err = capsys.readouterr().err
    assert "table.csv" in err and "per-image table" in err


def test_an_attribute_the_policy_names_but_the_audit_lacks_fails(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    outcome = run_gate(audit, parse_policy({"fairness": {"attributes": ["tone", "age"], "intersections": False}}))
    assert [(r.name, r.passed) for r in outcome.results] == [("tone", True), ("age", False)]
    assert "'age' was not audited" in outcome.results[1].message


@pytest.mark.parametrize(("policy", "field"), [
    ("[fairness]\nmargni = 0.02\n", "fairness.margni"),
    ("[fairnes]\nmargin = 0.02\n", "fairnes"),
    ("[fairness]\nmargin = 2\n", "fairness.margin"),
    ("[fairness]\ncorrection = 'bonferroni'\n", "fairness.correction"),
    ("[fairness.attribute.tone]\nalpah = 0.1\n", "fairness.attribute.tone.alpah"),
    ("[privacy]\nmax_risk = 'tiny'\n", "privacy.max_risk"),
    ("[performance]\nmin_miou = '0.8'\n", "performance.min_miou"),
    ("[card]\nrequire_complete = 'yes'\n", "card.require_complete"),
    ("fairness = 3\n", "fairness"),
    ("", None),
    ("[fairness\n", None),
])
def test_malformed_or_unknown_policy_keys_exit_2_naming_the_key(tmp_path: Path, capsys, policy: str,
                                                                field: str | None) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    assert gate(audit, write_policy(tmp_path, policy)) == 2
    err = capsys.readouterr().err
    assert "gate.toml" in err
    if field:
        assert f"field '{field}'" in err
    # the CI page shows why the gate stopped: one failed 'input' testcase carrying the message
    failure = ET.parse(audit.parent / "gate-junit.xml").getroot().find(".//testcase[@classname='gate.input']/failure")
    assert failure is not None and "gate.toml" in failure.get("message")
    assert "bad input" in (audit.parent / "gate-summary.md").read_text()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "missing: expected an audit.json"), ("{not json", "not valid JSON"),
    ('{"schema_version": 7, "model": {"name": "m"}}', "schema_version"),
    ('{"schema_version": 2}', "field 'model'"),
    ('{"schema_version": 2, "model": {"name": ""}, "dataset": {}, "performance": {}, "fairness": {}, '
     '"provenance": {}}', "model.name"),
])
def test_bad_audit_json_exits_2(tmp_path: Path, capsys, content: str | None, expected: str) -> None:
    path = tmp_path / "audit.json"
    if content is not None:
        path.write_text(content)
    assert gate(path, write_policy(tmp_path)) == 2
    assert expected in capsys.readouterr().err


def test_a_policy_on_a_section_the_audit_lacks_fails_or_errors(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    data = json.loads(audit.read_text())
    data["privacy"] = None
    audit.write_text(json.dumps(data))
    outcome = run_gate(audit, parse_policy({"privacy": {"max_risk": "medium"}}))
    assert not outcome.passed and "no privacy" in outcome.results[0].message
    del data["performance"]
    audit.write_text(json.dumps(data))
    with pytest.raises(InputError, match="performance"):
        run_gate(audit, parse_policy({"performance": {"min_miou": 0.5}}))


def test_the_repositorys_policy_file_is_valid() -> None:
    from segaudit.audit.gate import load_policy

    policy = load_policy(Path(__file__).resolve().parents[1] / "gate.toml")
    assert policy.fairness is not None and policy.max_risk == "low" and policy.require_complete_card


@pytest.mark.parametrize(("edit", "field"), [
    (lambda a: a["performance"].update(miou=True), "performance.miou"),
    (lambda a: a["performance"].update(miou=91.6), "performance.miou"),
    (lambda a: a.update(schema_version=2.0), "schema_version"),
    (lambda a: a.update(schema_version="2"), "schema_version"),
])
def test_an_audit_json_of_the_wrong_shape_is_exit_2_never_judged(tmp_path: Path, capsys, edit, field: str) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    data = json.loads(audit.read_text())
    edit(data)
    audit.write_text(json.dumps(data))
    assert gate(audit, write_policy(tmp_path)) == 2
    assert f"field '{field}'" in capsys.readouterr().err


def test_an_override_for_an_attribute_the_audit_lacks_is_refused(tmp_path: Path, capsys) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    policy = POLICY + "[fairness.attribute.skin_tnoe]\nmargin = 0.5\n"  # a typo must not weaken the gate
    assert gate(audit, write_policy(tmp_path, policy)) == 2
    err = capsys.readouterr().err
    assert "'skin_tnoe', which the audit does not have" in err and "fairness.attribute.skin_tnoe" in err


def test_a_bug_is_exit_3_with_one_line_and_the_traceback_in_a_log(tmp_path: Path, capsys, monkeypatch) -> None:
    import segaudit.audit.gate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(segaudit.audit.gate, "run_gate", broken)
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    assert gate(audit, write_policy(tmp_path)) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error (ZeroDivisionError: a bug)" in err
    log = Path(err.rsplit(" ", 1)[-1])
    assert "Traceback" in log.read_text() and "in broken" in log.read_text()
    log.unlink()
