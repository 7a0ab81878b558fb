"""`segaudit gate`: the CI fairness gate over an audit.json. Exit 0 passed, 1 failed, 2 bad input."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

EXIT_FAILED = 1


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "gate", help="pass or fail an audit against a policy (CI fairness gate)",
        description="Judge OUT/audit.json (from segaudit audit) by a policy file (TOML): per attribute or "
        "globally the fairness margin, alpha, correction and whether an inconclusive verdict fails; the highest "
        "acceptable membership-inference risk; a minimum overall mIoU; whether the model card must be complete. "
        "Where the policy's margin, alpha or correction differ from the audit's, the fairness analysis is re-run "
        "from the audit's per-image table with the policy's settings. Prints which rule passed or failed and "
        "why, writes JUnit XML (one testcase per rule) and a Markdown summary, and appends that summary to "
        "$GITHUB_STEP_SUMMARY when it is set. Exit code 0: every rule passed; 1: a rule failed; 2: bad input "
        "(missing or malformed audit.json or policy, an unknown policy key).",
        epilog="example: segaudit gate --audit reports/audit/audit.json --policy gate.toml "
        "(see gate.toml in the repository for every key, with comments)")
    parser.add_argument("--audit", type=Path, required=True, help="audit.json, or the audit folder holding it")
    parser.add_argument("--policy", type=Path, required=True, help="the gate's policy file (TOML)")
    parser.add_argument("--junit", type=Path, default=None, metavar="FILE",
                        help="JUnit XML output (default: gate-junit.xml beside audit.json)")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE",
                        help="Markdown summary output (default: gate-summary.md beside audit.json)")
    parser.set_defaults(handler=run_gate_command)


def run_gate_command(args: argparse.Namespace) -> int:
    from segaudit.audit.gate import bad_input_outcome, run_gate, write_atomic
    from segaudit.core.errors import InputError

    folder = args.audit if args.audit.is_dir() else args.audit.parent
    try:
        outcome = run_gate(args.audit, args.policy)
    except InputError as error:
        # a CI page should show why the gate stopped: the JUnit and Markdown say it too (when the folder exists)
        if folder.is_dir():
            stopped = bad_input_outcome(error)
            write_atomic(args.junit or folder / "gate-junit.xml", stopped.junit)
            write_atomic(args.markdown or folder / "gate-summary.md", stopped.markdown)
        raise
    junit = write_atomic(args.junit or folder / "gate-junit.xml", outcome.junit)
    markdown = write_atomic(args.markdown or folder / "gate-summary.md", outcome.markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(outcome.markdown + "\n")
    print(outcome.text)
    print(f"wrote {junit} and {markdown}")
    return 0 if outcome.passed else EXIT_FAILED
