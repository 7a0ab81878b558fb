"""The CI fairness gate: audit.json + a policy (gate.toml) -> pass or fail, with the rule and the numbers.

    outcome = run_gate("reports/audit/audit.json", "gate.toml")
    outcome.passed, outcome.results          # one RuleResult per rule
    print(outcome.text)                      # also outcome.junit (XML) and outcome.markdown

`segaudit gate` exits 0 when every rule passes, 1 when one fails, 2 on bad input (audit.json or policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.gate.outputs import junit_xml, markdown_summary, text_summary, write_text_atomic
from audit.gate.policy import GatePolicy, load_policy, parse_policy
from audit.gate.rules import RuleResult, evaluate
from models.errors import InputError

__all__ = ["GateOutcome", "GatePolicy", "RuleResult", "evaluate", "load_audit", "load_policy", "parse_policy",
           "run_gate", "write_text_atomic"]


@dataclass(frozen=True)
class GateOutcome:
    model: str
    results: list[RuleResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def text(self) -> str:
        return text_summary(self.results, self.model)

    @property
    def junit(self) -> str:
        return junit_xml(self.results, self.model)

    @property
    def markdown(self) -> str:
        return markdown_summary(self.results, self.model)


def load_audit(path: str | Path) -> dict[str, Any]:
    """audit.json as a dict, checked for the fields every reader needs (InputError naming the field)."""
    path = Path(path)
    if path.is_dir():
        path = path / "audit.json"
    if not path.is_file():
        raise InputError("not found: expected the audit.json that `segaudit audit` writes", path=path)
    try:
        audit = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None
    if not isinstance(audit, dict):
        raise InputError("expected a JSON object", path=path)
    if audit.get("schema_version") != 1:
        raise InputError(f"unsupported schema_version {audit.get('schema_version')!r}; this segaudit reads 1",
                         path=path, field="schema_version")
    if not isinstance(audit.get("model"), dict) or not audit["model"].get("name"):
        raise InputError("missing the model object or its name", path=path, field="model.name")
    return audit


def run_gate(audit_path: str | Path, policy: str | Path | GatePolicy) -> GateOutcome:
    """Judge the audit at `audit_path` (audit.json or its folder) by `policy` (a gate.toml path or a policy)."""
    audit_path = Path(audit_path)
    audit = load_audit(audit_path)
    policy = policy if isinstance(policy, GatePolicy) else load_policy(policy)
    folder = audit_path if audit_path.is_dir() else audit_path.parent
    try:
        results = evaluate(audit, policy, folder)
    except InputError as error:
        if error.path is None:
            raise InputError(error.message, path=folder / "audit.json" if audit_path.is_dir() else audit_path,
                             field=error.field) from None
        raise
    model = audit["model"]
    return GateOutcome(model=f"{model['name']} {model.get('version', '')}".strip(), results=results)
