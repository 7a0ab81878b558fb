"""What the gate says: a terminal summary, JUnit XML (one testcase per rule) and Markdown for a CI job summary.

JUnit is the format every CI system reads (GitHub Actions through a test-report action, GitLab's
`artifacts:reports:junit`, Jenkins, Azure): a failed rule shows up as a failed test with its message. The
document says when the gate ran (the testsuite's `timestamp`, UTC) and what it judged (`properties`: the sha256 of
the audited artifact, of audit.json and of the policy), so a CI record can be traced to the exact files; a
failure's `type` tells a shortfall the audit showed (`GateRuleFailed`) from a rule that failed because the audit
could not conclude (`GateRuleInconclusive`) and from input the gate could not judge (`GateBadInput`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from segaudit.audit.gate.rules import RuleResult

FAILED_TYPE, INCONCLUSIVE_TYPE, BAD_INPUT_TYPE = "GateRuleFailed", "GateRuleInconclusive", "GateBadInput"
FAMILY_TITLES = {"input": "Input", "fairness": "Fairness", "privacy": "Privacy", "performance": "Performance",
                 "card": "Model card"}


CONSOLE_WIDTH = 150
"""A terminal line per rule is cut to this many characters; the whole message is in the JUnit and Markdown."""
_NOTES = re.compile(r"\s*\[[^\]]*\]")


def text_summary(results: Sequence[RuleResult], model: str) -> str:
    """Lines for the terminal: one short line per rule (failures first), then the overall result. A rule's message
    can list every group of a sparse intersection; here it is its first clause, without bracketed notes."""
    lines = [f"segaudit gate: {model}"]
    for result in sorted(results, key=lambda r: r.passed):
        mark = "PASS" if result.passed else "FAIL"
        head = f"  {mark}  {result.family}/{result.name}: "
        lines.append(head + _one_line(result.message, CONSOLE_WIDTH - len(head)))
    failed = sum(not r.passed for r in results)
    lines.append(f"gate {'FAILED' if failed else 'passed'}: {len(results) - failed} of {len(results)} rules passed "
                 "(each rule's full message is in the JUnit and Markdown files)")
    return "\n".join(lines)


def _one_line(text: str, width: int) -> str:
    """The text up to its first ';', without [notes], on one line of at most `width` characters."""
    short = " ".join(_NOTES.sub("", text).split(";")[0].split())
    return short if len(short) <= width else short[:max(1, width - 1)].rstrip() + "…"


def failure_type(result: RuleResult) -> str:
    """The JUnit failure type of a failed rule: inconclusive (the fairness verdict or the privacy risk level was
    inconclusive, and the policy does not accept that), bad input (the gate could not judge), or failed."""
    if result.family == "input":
        return BAD_INPUT_TYPE
    if result.details.get("verdict") == "inconclusive" or result.details.get("risk_level") == "inconclusive":
        return INCONCLUSIVE_TYPE
    return FAILED_TYPE


def junit_xml(results: Sequence[RuleResult], model: str, *, timestamp: str | None = None,
              properties: Mapping[str, str | None] | None = None) -> str:
    """A JUnit XML document: one testsuite, one testcase per rule (classname gate.<family>); `timestamp`
    (ISO 8601, UTC, without zone as the JUnit schema has it) and `properties` (name -> value; a None value is
    written as an empty string: known to be unknown) go on the testsuite."""
    failures = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name=f"segaudit gate: {model}", tests=str(len(results)),
                       failures=str(failures), errors="0", skipped="0")
    if timestamp is not None:
        suite.set("timestamp", timestamp)
    if properties:
        listed = ET.SubElement(suite, "properties")
        for name, value in properties.items():
            ET.SubElement(listed, "property", name=name, value="" if value is None else str(value))
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{result.family}", name=result.name)
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.message, type=failure_type(result))
            failure.text = result.message
        else:
            ET.SubElement(case, "system-out").text = result.message
    suites = ET.Element("testsuites", name="segaudit gate", tests=str(len(results)), failures=str(failures))
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def markdown_summary(results: Sequence[RuleResult], model: str) -> str:
    """A Markdown table per rule family, the verdict first: fit for $GITHUB_STEP_SUMMARY or a PR comment."""
    failed = [r for r in results if not r.passed]
    head = "❌ **Gate failed**" if failed else "✅ **Gate passed**"
    lines = [f"## segaudit gate — {_md(model)}", "", f"{head}: {len(results) - len(failed)} of {len(results)} "
             "rules passed.", ""]
    for family, title in FAMILY_TITLES.items():
        rows = [r for r in results if r.family == family]
        if not rows:
            continue
        lines += [f"### {title}", "", "| rule | result | why |", "|---|---|---|"]
        lines += [f"| {_md(r.name)} | {'✅ pass' if r.passed else '❌ fail'} | {_md(r.message)} |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes and newlines escaped, HTML neutralised)."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;"))
