"""The CI fairness gate: audit.json + a policy (gate.toml) -> pass or fail, with the rule and the numbers.

    outcome = run_gate("reports/audit/audit.json", "gate.toml")
    outcome.passed, outcome.results          # one RuleResult per rule
    print(outcome.text)                      # also outcome.junit (XML) and outcome.markdown

`segaudit gate` exits 0 when every rule passes, 1 when one fails, 2 on bad input (audit.json or policy). The
outcome records when the gate ran and the sha256 of the audited artifact, of audit.json and of the policy file
(`provenance`), which the JUnit document carries as its timestamp and properties.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from segaudit.audit.gate.outputs import junit_xml, markdown_summary, text_summary
from segaudit.audit.gate.policy import GatePolicy, load_policy, parse_policy
from segaudit.audit.gate.rules import RuleResult, evaluate
from segaudit.core.atomic import write_atomic
from segaudit.core.audit_file import load_audit
from segaudit.core.errors import InputError

__all__ = ["GateOutcome", "GatePolicy", "RuleResult", "bad_input_outcome", "evaluate", "load_audit", "load_policy",
           "parse_policy", "run_gate", "write_atomic"]


@dataclass(frozen=True)
class GateOutcome:
    """What the gate decided (`results`) about which model, when (`timestamp`, UTC) and on which files
    (`provenance`: artifact_sha256, audit_sha256, policy_sha256; None where unknown)."""

    model: str
    results: list[RuleResult]
    timestamp: str | None = None
    provenance: dict[str, str | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def text(self) -> str:
        return text_summary(self.results, self.model)

    @property
    def junit(self) -> str:
        return junit_xml(self.results, self.model, timestamp=self.timestamp, properties=self.provenance)

    @property
    def markdown(self) -> str:
        return markdown_summary(self.results, self.model)


def run_gate(audit_path: str | Path, policy: str | Path | GatePolicy) -> GateOutcome:
    """Judge the audit at `audit_path` (audit.json or its folder) by `policy` (a gate.toml path or a policy)."""
    audit_path = Path(audit_path)
    audit = load_audit(audit_path)  # the same reader the cards use: schema version and required blocks
    if not audit["model"].get("name"):
        raise InputError("missing the model's name", path=audit_path, field="model.name")
    policy_source = policy
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
    provenance = {
        "artifact_sha256": model.get("sha256") if isinstance(model.get("sha256"), str) else None,
        "audit_sha256": _sha256(audit_path / "audit.json" if audit_path.is_dir() else audit_path),
        "policy_sha256": None if isinstance(policy_source, GatePolicy) else _sha256(Path(policy_source)),
    }
    return GateOutcome(model=f"{model['name']} {model.get('version', '')}".strip(), results=results,
                       timestamp=utc_now(), provenance=provenance)


def bad_input_outcome(error: InputError) -> GateOutcome:
    """The outcome to report when the gate could not judge at all: one failed 'input' rule with the reason."""
    return GateOutcome(model="(unknown model: bad input)",
                       results=[RuleResult("input", "audit and policy", False, f"bad input: {error}", {})],
                       timestamp=utc_now())


def utc_now() -> str:
    """The current time as JUnit writes a timestamp: ISO 8601 to the second, UTC, without a zone suffix."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()


def _sha256(path: Path) -> str | None:
    """The file's SHA-256 (hex), None when it cannot be read (the gate has read it already; this is a record)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
