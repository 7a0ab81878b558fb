"""User values made safe where segaudit writes them: Markdown, file names and plot labels, in one place.

Names of datasets, attributes and groups come from users' files (dataset.yaml, manifests, audit.json), and the
facts of a card are written by people. None of them may change the structure of what they are written into:

* Markdown, data values (`md_text`): one line, every Markdown- and HTML-significant character escaped, so a
  value reads as the text it is in any renderer, one that allows raw HTML included (`<script>` is
  `&lt;script&gt;`, `[x](javascript:...)` is not a link, a newline and `# heading` is not a heading);
* Markdown, prose people write (`md_prose`, `md_inline`): their inline Markdown (emphasis, code, links) is kept,
  but nothing at the start of a paragraph can open a block (heading, quote, list, fence, table, link
  definition), raw HTML is escaped except a few attribute-less inline tags (`<br>`, `<sup>`, ...), and a link
  whose target is not http(s), mailto or relative is left as text;
* links (`md_link`, `safe_url`): only http, https, mailto and relative targets become links;
* file names (`slug`, `child_path`): a safe name stays as it is; any other gets an ASCII rendering plus a short
  hash of the original, so two different names never share a file and no name leaves its folder;
* plot labels (`plain_label`): one line of bounded length (the caller turns mathtext off).

`MarkdownSafe` marks text segaudit itself wrote as Markdown (a draft marker): the filters pass it through.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from pathlib import Path
from typing import Any

SAFE_SCHEMES = ("http", "https", "mailto")
"""Link targets a card may carry; anything else with a scheme (javascript:, data:, vbscript:, file:) is text."""
INLINE_TAGS = ("br", "b", "i", "em", "strong", "sup", "sub", "code", "kbd", "s", "del", "ins", "mark", "small", "u")
"""Raw HTML kept in prose: these tags without attributes, harmless in every renderer."""
SLUG_MAX = 60

_BIDI_AND_CONTROLS = re.compile("[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\s\\\u0000-\u001f\u007f]+")
_RAW_HTML = re.compile(r"<(?!/?(?:" + "|".join(INLINE_TAGS) + r")\s*/?>|(?:https?://|mailto:)[^<>\s]*>)",
                       re.IGNORECASE)
_LINK_TARGET = re.compile(r"\]\(\s*<?((?:[^()<>\s]|\([^()<>\s]*\))*)")
"""`](` and the link target after it, one level of balanced parentheses included (as CommonMark reads it)."""
_AUTOLINK = re.compile(r"<([a-z][a-z0-9+.\-]*:[^<>\s]*)>", re.IGNORECASE)
_THEMATIC_BREAK = re.compile(r"^([-*_])(?:\s*\1){2,}\s*$")
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_SAFE_SLUG = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{SLUG_MAX - 1}}}")
_CODE_SAFE = re.compile(r"[A-Za-z0-9_.,:;/+=@%-]+(?: [A-Za-z0-9_.,:;/+=@%-]+)*")
_ALWAYS_ESCAPED = set("\\`*]~$")
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{}~-]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


class MarkdownSafe(str):
    """Markdown that segaudit wrote itself (not a user's value): the escaping filters return it unchanged."""


def _clean(value: Any) -> str:
    """The text of `value` without control characters and bidirectional overrides (which can make a
    reviewer read something else than what is written)."""
    return _BIDI_AND_CONTROLS.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))


def md_text(value: Any) -> str:
    """A data value (a name, a label, a number) as inert inline Markdown: one line, whitespace collapsed,
    `& < >` as entities, `|` and the characters that start emphasis, code, links, strikethrough or math
    backslash-escaped (an underscore inside a word is left alone: it starts nothing), and a leading character
    that could open a block escaped too."""
    if isinstance(value, MarkdownSafe):
        return value
    text = " ".join(_clean(value).split())
    out = []
    for i, ch in enumerate(text):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "|" or ch in _ALWAYS_ESCAPED:
            out.append("\\" + ch)
        elif ch == "_" and not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(ch)
    return _block_safe("".join(out))


def md_code(value: Any) -> str:
    """A file name, hash or identifier as a Markdown code span when it is plain (letters, digits and a few
    punctuation marks), else as `md_text`: a code span shows its content literally, escapes included."""
    text = " ".join(_clean(value).split())
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else md_text(text)


def md_prose(value: Any) -> str:
    """Prose a person wrote, as Markdown that keeps its inline formatting but cannot change the document's
    structure: paragraphs (blank-line separated) are kept, each collapsed to one line with a block-opening first
    character escaped; raw HTML is escaped except `INLINE_TAGS`; unsafe link targets are not links."""
    if isinstance(value, MarkdownSafe):
        return value
    paragraphs = re.split(r"\n[ \t]*\n", _clean(value))
    return "\n\n".join(_prose_line(p) for p in paragraphs if p.strip())


def md_inline(value: Any) -> str:
    """Prose a person wrote, for a place inside a line (after a label, in a list item): as `md_prose`, on one
    line."""
    if isinstance(value, MarkdownSafe):
        return value
    return _prose_line(_clean(value))


def _prose_line(text: str) -> str:
    line = " ".join(text.split())
    line = _RAW_HTML.sub("&lt;", line)
    line = _LINK_TARGET.sub(_neutralise_link, line)
    return _block_safe(line)


def _neutralise_link(match: re.Match[str]) -> str:
    """`](target` kept when the target is safe; else `]\\(target`, which is text, not a link."""
    return match.group(0) if safe_url(match.group(1)) is not None else "]\\(" + match.group(0)[2:]


def _block_safe(line: str) -> str:
    """`line` with its first character escaped when it would open a block at the start of a line: ATX heading,
    block quote, list item, thematic break, fence, table row, setext underline or link reference definition."""
    if not line:
        return line
    first = line[0]
    if first in "#>|" or line.startswith(("```", "~~~")) or (first == "[" and re.match(r"\[[^\]]*\]:", line)):
        return "\\" + line
    list_item = first in "-+*" and (len(line) == 1 or line[1] in " \t")
    underline = first in "=-" and re.fullmatch(r"(=+|-+)\s*", line) is not None
    if list_item or underline or _THEMATIC_BREAK.match(line):
        return "\\" + line
    ordered = _ORDERED_ITEM.match(line)
    if ordered:
        return f"{ordered.group(1)}\\{ordered.group(2)}{line[ordered.end():]}"
    return line


def safe_url(url: Any) -> str | None:
    """`url` when it may be a link target (http, https, mailto, or relative without a scheme), else None. The
    scheme is read as a browser and a Markdown renderer would: entities decoded, whitespace, control characters
    and backslashes dropped (`jav&#97;script:`, `java\\tscript:` are javascript:)."""
    if url is None:
        return None
    text = str(url).strip()
    if not text:
        return None
    probe = _URL_NOISE.sub("", html.unescape(text)).lstrip("<")
    scheme = _SCHEME.match(probe)
    if scheme and scheme.group(1).lower() not in SAFE_SCHEMES:
        return None
    return text


def unsafe_links(text: Any) -> list[str]:
    """Link targets in Markdown text (`[x](target)`, `![x](target)`, `<scheme:...>`) that `safe_url` refuses:
    what `card check` reports."""
    found = [m.group(1) for m in _LINK_TARGET.finditer(str(text))]
    found += [m.group(1) for m in _AUTOLINK.finditer(str(text))]
    return [target for target in found if target and safe_url(target) is None]


def md_link(text: Any, url: Any = None) -> str:
    """`[text](url)` with the text escaped as `md_text` and the url percent-encoded where Markdown or a table
    would read it (spaces, parentheses, pipes, angle brackets); the plain text when the url is missing or
    unsafe."""
    label = md_text(text)
    if isinstance(url, MarkdownSafe):  # a draft's marker where the url should be
        return MarkdownSafe(f"{label} ({url})")
    target = safe_url(url)
    if target is None:
        return label
    encoded = "".join(f"%{ord(ch):02X}" if ch in ' ()<>|"\'`\\' else ch for ch in " ".join(_clean(target).split()))
    return MarkdownSafe(f"[{label}]({encoded})")


def is_email(value: Any) -> bool:
    """Whether `value` is one plain e-mail address (local part of RFC 5322 atoms, a dotted domain with a
    top-level part of letters): no display name, no spaces, no second address, no quoting."""
    return isinstance(value, str) and len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def mailto(value: Any) -> str | None:
    """`mailto:` + `value` for a valid e-mail address, else None (the name is then shown without a link)."""
    return f"mailto:{value}" if is_email(value) else None


def slug(value: Any, max_length: int = SLUG_MAX) -> str:
    """A name as one file-name component: a name that is already safe (lower-case ASCII letters, digits, `_`
    and `-`, starting with a letter or digit, at most `max_length` characters) is kept as it is, any other
    becomes its ASCII letters and digits joined by `_` plus `-` and 10 hex digits of its SHA-256, so it cannot
    name a parent folder, a hidden file or another name's file."""
    text = str(value)
    if len(text) <= max_length and _SAFE_SLUG.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:max(max_length - 11, 1)].strip("_")
    return f"{base or 'x'}-{digest}"


def child_path(folder: str | Path, name: str) -> Path:
    """`folder / name`, refusing (ValueError) a name that would leave `folder` once resolved: the last guard
    behind `slug` wherever a file name is made from a user's value."""
    folder = Path(folder)
    path = folder / name
    if folder.resolve() not in path.resolve().parents:
        raise ValueError(f"{name!r} would leave {folder}")
    return path


def plain_label(value: Any, max_chars: int = 60) -> str:
    """A user's value as a plot label: one line, control characters dropped, at most `max_chars` characters
    (longer ones end with '…'). Draw it with mathtext off (`text.parse_math: False`) so `$` is a dollar sign."""
    text = " ".join(_clean(value).split())
    return text if len(text) <= max_chars else text[:max_chars - 1] + "…"


_PLOT_PART = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
_PLOT_UNSAFE = re.compile(r"[^a-z0-9]+")


def plot_slug(name: Any) -> str:
    """A fairness grouping's name as part of its plot files' names, the one rule the audit (which writes them) and
    the report (which finds them) share: 'skin_tone' -> 'skin_tone', 'skin_tone × body_shape' ->
    'skin_tone__body_shape'. Only [a-z0-9_-] remain, so no name leads outside the plots folder; where the plain
    rule could map two names to one file ('a b' and 'a_b', capitals, other characters), a short hash of the
    name is appended."""
    text = str(name)
    parts = text.split(" × ")
    plain = "__".join(_PLOT_UNSAFE.sub("_", part.lower()).strip("_") for part in parts)
    if all(_PLOT_PART.fullmatch(part) for part in parts) and len(plain) <= SLUG_MAX:
        return plain
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{plain[:SLUG_MAX]}-{digest}"
