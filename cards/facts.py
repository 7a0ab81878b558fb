"""Card facts: what people write about a model or a dataset (YAML), checked field by field.

A facts file holds what no audit can compute: who owns the model, what it is for, where it must not be used, the
known applications and their AI Act risk, caveats, authors. `check_facts` lists every required field that is
missing, invalid, or still a placeholder; `complete_facts` returns the facts with every such gap filled by a
visible marker, for `--draft` cards.

Placeholder convention: a text that is empty, starts with TODO, TBD or FIXME (any case), holds TODO, TBD or FIXME
as a word anywhere (upper case: "works well, TODO check night shots"), or is a single `<...>` (such as
`<team name>`) is a placeholder, not a fact.

Beyond presence, a fact must be usable as written: a version is text (`version: 1.10` in YAML is the number 1.1:
write `"1.10"`), an e-mail address is one plain address, a link (a `url` field, or a Markdown link or autolink in
any text) is http, https, mailto or relative, never `javascript:` or `data:`. Duplicate keys are refused when the
file is read (`segaudit.core.reading`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segaudit.core.errors import InputError
from segaudit.core.reading import load_yaml
from segaudit.core.safe_text import MarkdownSafe, is_email, safe_url, unsafe_links

PLACEHOLDER = re.compile(r"^\s*$|^\s*(TODO|TBD|FIXME)\b|^\s*<[^<>]*>\s*$", re.IGNORECASE)
PLACEHOLDER_WORD = re.compile(r"\b(TODO|TBD|FIXME)\b")
"""An upper-case placeholder word anywhere in a text: the rest of the sentence is not a fact yet."""
SIGN_OFF_DECISIONS = ("approved", "rejected", "needs-changes")
STATUSES = ("Under Preparation", "Regularly Updated", "Actively Maintained", "Limited Maintenance", "Deprecated")
AI_ACT_RISKS = ("Minimal", "Limited", "High", "Unacceptable")


@dataclass(frozen=True)
class Leaf:
    """One field: kind 'text' | 'date' | 'bool' | 'choice' | 'number' | 'version' (text, never a YAML number) |
    'email' | 'url' (http, https, mailto or relative); optional fields may be absent."""

    kind: str = "text"
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Records:
    """A list of records, each a mapping with `fields`; at least `min_items` of them."""

    fields: dict[str, Any]
    min_items: int = 1
    required: bool = True


@dataclass(frozen=True)
class Section:
    """A mapping of `fields` that may be absent as a whole (`required=False`); when present, its fields are
    checked as usual."""

    fields: dict[str, Any]
    required: bool = False


TEXT, DATE, BOOL, NUMBER = Leaf("text"), Leaf("date"), Leaf("bool"), Leaf("number")
VERSION, EMAIL, URL = Leaf("version"), Leaf("email"), Leaf("url")
OPTIONAL_TEXT = Leaf("text", required=False)
OPTIONAL_EMAIL, OPTIONAL_URL = Leaf("email", required=False), Leaf("url", required=False)


@dataclass(frozen=True)
class Gap:
    """A required field that is missing, invalid or a placeholder."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def load_facts(path: str | Path) -> dict[str, Any]:
    """The facts YAML as a mapping (dates as ISO text); InputError if it is not readable YAML or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise InputError("missing: expected a YAML file of card facts", path=path)
    data = load_yaml(path, what="YAML file of card facts")
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of fields at the top level, got {type(data).__name__}", path=path)
    return _dates_as_text(data)


def check_facts(facts: dict[str, Any], schema: dict[str, Any]) -> list[Gap]:
    """Every gap in `facts` against `schema`, in schema order (unknown fields included, to catch typos)."""
    gaps: list[Gap] = []
    _check_mapping(schema, facts, "", gaps)
    return gaps


def complete_facts(facts: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `facts` in which every gap is a visible DRAFT marker (and absent optional fields are None)."""
    return _fill_mapping(schema, facts if isinstance(facts, dict) else {}, "")


def require_complete(facts: dict[str, Any], schema: dict[str, Any], path: str | Path | None) -> None:
    """Raise an InputError listing every gap, so an incomplete card is never rendered as if it were final."""
    gaps = check_facts(facts, schema)
    if gaps:
        listed = "\n  ".join(str(g) for g in gaps)
        raise InputError(f"{len(gaps)} card fact(s) missing or placeholders (render with --draft to mark them "
                         f"instead):\n  {listed}", path=path)


def marker(field: str) -> str:
    """The visible mark a draft card carries where a fact is missing (Markdown the card filters keep as is)."""
    return MarkdownSafe(f"**[DRAFT: {field} missing]**")


def needs_person(field: str, what: str) -> str:
    """The visible mark a card carries where a section of the template needs what only a person knows and the
    facts do not say (an optional fact, so the card still renders, as a draft)."""
    return MarkdownSafe(f"**[needs a person: {field}, {what}]**")


def lookup(facts: dict[str, Any], field: str) -> Any:
    """The value at a dotted `field` ('domains.description') of `facts`, or None where any part is absent."""
    value: Any = facts
    for key in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def ask(facts: dict[str, Any], fields: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Each of `fields` (dotted field -> what a person should write there) as the facts give it, or a
    `needs_person` marker where they do not (None, an empty text or an empty list); and the fields marked, in
    the order given, for the card's draft notice."""
    answers: dict[str, Any] = {}
    missing: list[str] = []
    for field, what in fields.items():
        value = lookup(facts, field)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            answers[field] = needs_person(field, what)
            missing.append(field)
        else:
            answers[field] = value
    return answers, missing


def is_placeholder(value: Any) -> bool:
    """Whether a text is a placeholder (see the module docstring), not a fact."""
    return isinstance(value, str) and bool(PLACEHOLDER.match(value) or PLACEHOLDER_WORD.search(value))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check_mapping(schema: dict[str, Any], value: Any, path: str, gaps: list[Gap]) -> None:
    if value is not None and not isinstance(value, dict):
        gaps.append(Gap(path, f"must be a mapping with {list(schema)}"))
        return
    value = value or {}
    for key, node in schema.items():
        _check_node(node, value.get(key), _join(path, key), gaps)
    for key in value:
        if key not in schema:
            gaps.append(Gap(_join(path, str(key)), f"unknown field (a typo?); allowed here: {list(schema)}"))


def _check_node(node: Any, value: Any, path: str, gaps: list[Gap]) -> None:
    if isinstance(node, dict):
        _check_mapping(node, value, path, gaps)
    elif isinstance(node, Records):
        _check_records(node, value, path, gaps)
    elif isinstance(node, Section):
        if value is not None or node.required:
            _check_mapping(node.fields, value, path, gaps)
    else:
        problem = _leaf_problem(node, value)
        if problem:
            gaps.append(Gap(path, problem))


def _check_records(node: Records, value: Any, path: str, gaps: list[Gap]) -> None:
    if value is None and not node.required:
        return
    if not isinstance(value, list):
        gaps.append(Gap(path, "missing" if value is None else "must be a list"))
        return
    if len(value) < node.min_items:
        gaps.append(Gap(path, f"needs at least {node.min_items} entr{'y' if node.min_items == 1 else 'ies'}"))
    for i, item in enumerate(value):
        _check_mapping(node.fields, item, f"{path}[{i}]", gaps)


def _leaf_problem(leaf: Leaf, value: Any) -> str | None:
    if value is None:
        return "missing" if leaf.required else None
    if leaf.kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if leaf.kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"must be a number, got {value!r}"
    if leaf.kind == "version" and not isinstance(value, str):
        return (f"must be text, got the {type(value).__name__} {value!r} (YAML reads 1.10 as the number 1.1): "
                "quote it, e.g. \"1.10\"")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return f"must be text, got {type(value).__name__}"
    text = str(value)
    if PLACEHOLDER.match(text):
        return f"still a placeholder: {text.strip()!r}" if text.strip() else "empty"
    word = PLACEHOLDER_WORD.search(text)
    if word:
        return f"still holds the placeholder {word.group(1)!r}: {_excerpt(text, word.start())!r}"
    if leaf.kind == "email" and not is_email(text.strip()):
        return f"must be one e-mail address such as name@example.org, got {text!r}"
    if leaf.kind == "url" and safe_url(text) is None:
        return f"must be an http, https, mailto or relative link, got {text!r}"
    bad_links = unsafe_links(text)
    if bad_links:
        return f"links to {bad_links[0]!r}: a link must be http, https, mailto or relative (no javascript: or data:)"
    if leaf.kind == "choice" and text not in leaf.choices:
        return f"must be one of {list(leaf.choices)}, got {text!r}"
    if leaf.kind == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            return f"must be a date YYYY-MM-DD, got {text!r}"
    return None


def _excerpt(text: str, at: int, width: int = 30) -> str:
    """Up to `width` characters of `text` on each side of position `at`, on one line."""
    start, end = max(0, at - width), min(len(text), at + width)
    return ("…" if start else "") + " ".join(text[start:end].split()) + ("…" if end < len(text) else "")


def _fill_mapping(schema: dict[str, Any], value: dict[str, Any], path: str) -> dict[str, Any]:
    out = dict(value)
    for key, node in schema.items():
        out[key] = _fill_node(node, value.get(key), _join(path, key))
    return out


def _fill_node(node: Any, value: Any, path: str) -> Any:
    if isinstance(node, dict):
        return _fill_mapping(node, value if isinstance(value, dict) else {}, path)
    if isinstance(node, Records):
        if value is None and not node.required:
            return []
        if not isinstance(value, list):
            value = []
        items = [_fill_mapping(node.fields, item if isinstance(item, dict) else {}, f"{path}[{i}]")
                 for i, item in enumerate(value)]
        while len(items) < node.min_items:
            items.append(_fill_mapping(node.fields, {}, f"{path}[{len(items)}]"))
        return items
    if isinstance(node, Section):
        if value is None and not node.required:
            return None
        return _fill_mapping(node.fields, value if isinstance(value, dict) else {}, path)
    if _leaf_problem(node, value) is None:
        return value
    return marker(path)


def _dates_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
