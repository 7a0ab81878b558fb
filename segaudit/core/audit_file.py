"""The audit.json contract (docs/audit-json.md): its version, its JSON Schema (audit.schema.json, shipped in this
package), and the one reader the cards and the gate use. The schema is checked when `segaudit audit` writes the
file and whenever it is read, so a hand-edited or foreign audit.json (an mIoU in percent, a boolean where a
number belongs) is refused with the field named instead of being judged."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from segaudit.core.errors import InputError
from segaudit.core.reading import load_json

SCHEMA_FILE = "audit.schema.json"

SCHEMA_VERSION = 2
"""audit.json's version, in this one place. 2: the fairness block of fairness rules v2 (max_gap, family, unit)."""
REQUIRED = ("model", "dataset", "performance", "fairness", "provenance")


def load_audit(path: str | Path) -> dict[str, Any]:
    """audit.json as a dict, checked for its schema version and its required blocks."""
    path = Path(path)
    if path.is_dir():
        path = path / "audit.json"
    if not path.is_file():
        raise InputError("missing: expected an audit.json written by `segaudit audit`", path=path)
    audit = load_json(path, what="audit.json")
    if not isinstance(audit, dict):
        raise InputError("expected a JSON object at the top level", path=path)
    version = audit.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        raise InputError(f"schema_version {audit.get('schema_version')!r} is not supported (expected "
                         f"{SCHEMA_VERSION}; an audit.json of an older segaudit needs `segaudit audit` again)",
                         path=path, field="schema_version")
    for key in REQUIRED:
        if not isinstance(audit.get(key), dict):
            raise InputError("missing or not an object", path=path, field=key)
    check_audit(audit, path)
    return audit


@functools.cache
def audit_schema() -> dict[str, Any]:
    """The JSON Schema of audit.json (Draft 2020-12)."""
    return json.loads(resources.files("segaudit.core").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_errors(audit: Any) -> list[tuple[str, str]]:
    """(dotted field, message) for every place `audit` breaks the schema, in document order."""
    from jsonschema import Draft202012Validator

    errors = Draft202012Validator(audit_schema()).iter_errors(audit)
    found = [(".".join(str(p) for p in e.absolute_path), e.message) for e in errors]
    return sorted(found)


def check_audit(audit: Any, path: str | Path | None = None) -> None:
    """InputError naming the first field of `audit` that breaks the schema (and how many more do)."""
    errors = schema_errors(audit)
    if errors:
        field, message = errors[0]
        more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(f"does not match the audit.json schema: {message}{more}", path=path, field=field or None)


def need(audit: dict[str, Any], dotted: str, source: str | Path | None = None) -> Any:
    """The value at `dotted` ('provenance.finished'); an InputError naming the field when it is absent."""
    value: Any = audit
    for key in dotted.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            raise InputError("missing from audit.json", path=source, field=dotted)
        value = value[key]
    return value


def audit_date(audit: dict[str, Any], source: str | Path | None = None) -> str:
    """The day the audit finished (YYYY-MM-DD), the 'as of' date of every statement in a card."""
    finished = str(need(audit, "provenance.finished", source))
    if len(finished) < 10 or finished[4] != "-" or finished[7] != "-":
        raise InputError(f"expected an ISO timestamp, got {finished!r}", path=source, field="provenance.finished")
    return finished[:10]
