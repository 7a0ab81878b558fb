"""Re-analyse the committed reference audit's fairness with today's rules, from its committed per-image table.

The bundled ALiSNet's reference audit (reports/alisnet/) took 33 minutes, nearly all of it the privacy audit's
shadow models. The fairness analysis needs only the per-image table it already wrote (fairness/table.csv), so
when the fairness rules change this re-runs `audit_fairness` on that table with the audit's recorded settings,
rewrites fairness/ and the fairness block of audit.json, and records what was done in its provenance. The
model's predictions, the privacy results and every other block are left exactly as they were.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from segaudit.audit.fairness import FairnessConfig, audit_fairness
from segaudit.audit.fairness import write_outputs as write_fairness
from segaudit.audit.fairness.subgroups import recorded_attribute_specs
from segaudit.audit.metrics import read_table
from segaudit.core.atomic import json_text, write_atomic
from segaudit.core.audit_file import SCHEMA_VERSION
from segaudit.core.errors import InputError


def refresh_fairness(audit_dir: Path) -> Path:
    """Re-analyse `audit_dir`'s fairness from its table.csv; returns audit.json's path."""
    audit_path = audit_dir / "audit.json"
    try:
        audit: dict[str, Any] = json.loads(audit_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the reference audit: {exc}", path=audit_path) from None
    table_path = audit_dir / audit.get("outputs", {}).get("fairness", "fairness") / "table.csv"
    table = read_table(table_path)
    old = audit["fairness"]
    intersections = tuple(tuple(g["attributes"]) for g in old.get("intersections", {}).values())
    config = FairnessConfig.from_recorded(old, attributes=tuple(old["attributes"]), intersections=intersections)
    specs = recorded_attribute_specs(audit)
    result = audit_fairness(table, specs, config, source=table_path)
    write_fairness(result, table_path.parent, table)
    audit["fairness"] = result.to_dict()
    audit["schema_version"] = SCHEMA_VERSION
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    audit["provenance"]["fairness_reanalysed"] = {
        "at": today, "from": str(table_path.relative_to(audit_dir)),
        "why": "fairness rules v2 (Welch tests against the margin, selection-adjusted largest gap, error control "
               "over the whole audit); the model's per-image results are those of the original audit"}
    write_atomic(audit_path, json_text(audit))
    return audit_path
