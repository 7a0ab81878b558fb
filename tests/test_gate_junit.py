"""The gate's JUnit record: when it ran, which files it judged (sha256 of artifact, audit.json and policy), and a
failure type that tells a shown shortfall from an inconclusive result and from bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from segaudit.audit.gate import parse_policy, run_gate
from segaudit.audit.gate.outputs import BAD_INPUT_TYPE, FAILED_TYPE, INCONCLUSIVE_TYPE
from tests.test_gate import gate, make_audit, write_policy

INCONCLUSIVE_FAILS = """
[fairness]
margin = 0.02
inconclusive_fails = true
"""


def junit(path: Path) -> ET.Element:
    return ET.parse(path).getroot().find("testsuite")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_timestamp_and_the_sha256_of_artifact_audit_and_policy(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "fair", dark_shortfall=0.0)
    document = json.loads(audit.read_text())
    document["model"]["sha256"] = "ab" * 32
    audit.write_text(json.dumps(document))
    policy = write_policy(tmp_path)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    assert gate(audit, policy) == 0
    suite = junit(audit.parent / "gate-junit.xml")
    stamp = dt.datetime.fromisoformat(suite.get("timestamp"))
    assert stamp.tzinfo is None and before <= stamp <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties == {"artifact_sha256": "ab" * 32, "audit_sha256": sha256(audit),
                          "policy_sha256": sha256(policy)}
    assert suite[0].tag == "properties"  # before the testcases, as the JUnit schema orders them


def test_unknown_hashes_are_empty_not_missing(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "fair", dark_shortfall=0.0)  # no model.sha256 in this audit
    outcome = run_gate(audit.parent, parse_policy({"fairness": {"margin": 0.02}}))  # a policy without a file
    assert outcome.provenance == {"artifact_sha256": None, "audit_sha256": sha256(audit), "policy_sha256": None}
    suite = ET.fromstring(outcome.junit).find("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.findall("properties/property")}["policy_sha256"] == ""


def test_a_shortfall_and_an_inconclusive_result_fail_with_distinct_types(tmp_path: Path) -> None:
    biased = make_audit(tmp_path / "biased", dark_shortfall=0.08)
    assert gate(biased, write_policy(tmp_path, INCONCLUSIVE_FAILS)) == 1
    failures = {c.get("name"): c.find("failure") for c in junit(biased.parent / "gate-junit.xml").iter("testcase")}
    assert failures["tone"].get("type") == FAILED_TYPE and failures["tone"].get("message").startswith("fail")

    small = make_audit(tmp_path / "small", dark_shortfall=0.0, n=8)
    assert gate(small, write_policy(tmp_path, INCONCLUSIVE_FAILS)) == 1
    cases = list(junit(small.parent / "gate-junit.xml").iter("testcase"))
    inconclusive = [c for c in cases if c.find("failure") is not None]
    assert inconclusive and all(c.find("failure").get("type") == INCONCLUSIVE_TYPE for c in inconclusive)
    assert all(c.find("failure").get("message").startswith("inconclusive") for c in inconclusive)
    assert FAILED_TYPE != INCONCLUSIVE_TYPE


def test_an_inconclusive_privacy_risk_the_policy_refuses_is_inconclusive(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0, risk="inconclusive")
    outcome = run_gate(audit, write_policy(tmp_path, '[privacy]\nmax_risk = "none"\n'))
    failure = ET.fromstring(outcome.junit).find(".//testcase[@classname='gate.privacy']/failure")
    assert failure is not None and failure.get("type") == INCONCLUSIVE_TYPE


def test_bad_input_has_its_own_type_and_a_timestamp(tmp_path: Path) -> None:
    audit = make_audit(tmp_path / "a", dark_shortfall=0.0)
    assert gate(audit, write_policy(tmp_path, "[fairness]\nmargn = 0.02\n")) == 2
    suite = junit(audit.parent / "gate-junit.xml")
    assert suite.find(".//failure").get("type") == BAD_INPUT_TYPE and suite.get("timestamp")


def test_the_console_gives_one_short_line_per_rule_and_the_files_keep_every_word() -> None:
    from segaudit.audit.gate.outputs import CONSOLE_WIDTH, markdown_summary, text_summary
    from segaudit.audit.gate.rules import RuleResult

    cells = "; ".join(f"cell 'g{i} × h{i}' (n={i}) is {i / 10:.2f} points below the rest" for i in range(200))
    results = [RuleResult("fairness", "a × b", False, f"inconclusive [re-analysed with margin 0.02]: {cells}", {}),
               RuleResult("performance", "min_miou", True, "test mIoU 91.62% >= 80.00%", {})]
    lines = text_summary(results, "m 1.0").splitlines()
    assert len(lines) == len(results) + 2
    assert all(len(line) <= CONSOLE_WIDTH for line in lines[1:-1])
    assert lines[1].startswith("  FAIL  fairness/a × b: inconclusive: cell 'g0 × h0'") and "re-analysed" not in lines[1]
    assert "g199 × h199" in markdown_summary(results, "m 1.0")
