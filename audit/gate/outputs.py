"""What the gate says: a terminal summary, JUnit XML (one testcase per rule) and Markdown for a CI job summary.

JUnit is the format every CI system reads (GitHub Actions through a test-report action, GitLab's
`artifacts:reports:junit`, Jenkins, Azure): a failed rule shows up as a failed test with its message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from segaudit.audit.gate.rules import RuleResult

FAMILY_TITLES = {"input": "Input", "fairness": "Fairness", "privacy": "Privacy", "performance": "Performance",
                 "card": "Model card"}


def text_summary(results: Sequence[RuleResult], model: str) -> str:
    """Lines for the terminal: one per rule, failures first, then the overall result."""
    lines = [f"segaudit gate: {model}"]
    for result in sorted(results, key=lambda r: r.passed):
        mark = "PASS" if result.passed else "FAIL"
        lines.append(f"  {mark}  {result.family}/{result.name}: {result.message}")
    failed = sum(not r.passed for r in results)
    lines.append(f"gate {'FAILED' if failed else 'passed'}: {len(results) - failed} of {len(results)} rules passed")
    return "\n".join(lines)


def junit_xml(results: Sequence[RuleResult], model: str) -> str:
    """A JUnit XML document: one testsuite, one testcase per rule (classname gate.<family>)."""
    failures = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name=f"segaudit gate: {model}", tests=str(len(results)),
                       failures=str(failures), errors="0", skipped="0")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{result.family}", name=result.name)
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.message, type="GateRuleFailed")
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
