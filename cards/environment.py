"""The Jinja environment every card and report is rendered with.

StrictUndefined: a field the template asks for and the data lacks is an error, never a silent blank.
Autoescaping is on for HTML templates and off for Markdown ones, which escape every value themselves through the
filters of `segaudit.core.safe_text`: `cell` for data values (names, labels, anything from a user's files),
`code` for identifiers shown as code, `prose` and `inline` for text people write (their inline Markdown kept,
block syntax, raw HTML and unsafe links neutralised) and `md_link` for links (http, https, mailto, relative).
Templates come from a user's folder first (`--templates DIR`, so a company can bring its own template under the
same name), then from the package's `cards/templates/`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2

from segaudit.core.errors import InputError
from segaudit.core.safe_text import mailto, md_code, md_inline, md_link, md_prose, md_text

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


def make_environment(templates: str | Path | None = None) -> jinja2.Environment:
    """A strict environment loading from `templates` (if given) before the package's own templates."""
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        folder = Path(templates)
        if not folder.is_dir():
            raise InputError("not a folder of templates", path=folder)
        loaders.append(jinja2.FileSystemLoader(folder))
    loaders.append(jinja2.FileSystemLoader(PACKAGE_TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "html.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=num, pct=pct, points=points, ci=ci, cell=cell, md_link=md_link, code=md_code,
                       prose=md_prose, inline=md_inline, mailto=mailto)
    return env


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render template `name`; a field the template needs but the context lacks is an InputError."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.UndefinedError as exc:
        raise InputError(f"the template needs a field the data does not have: {exc.message}",
                         path=_template_path(env, name)) from None
    except jinja2.TemplateError as exc:
        raise InputError(f"template error: {exc}", path=_template_path(env, name)) from None


def _template_path(env: jinja2.Environment, name: str) -> str:
    try:
        source = env.loader.get_source(env, name)  # type: ignore[union-attr]
        return source[1] or name
    except jinja2.TemplateNotFound:
        return name


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: Any, digits: int = 3) -> str:
    """A number with `digits` decimals; 'n/a' for None or NaN."""
    return "n/a" if _missing(value) else f"{float(value):.{digits}f}"


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.011 -> '1.1 %'."""
    return "n/a" if _missing(value) else f"{100 * float(value):.{digits}f} %"


def points(value: Any, digits: int = 2) -> str:
    """A fraction as metric points (hundredths): 0.0253 -> '2.53'."""
    return "n/a" if _missing(value) else f"{100 * float(value):.{digits}f}"


def ci(bounds: Any, digits: int = 3, scale: float = 1.0) -> str:
    """A confidence interval [low, high] as '[0.490, 0.550]'; 'n/a' when either end is missing."""
    if not bounds or len(bounds) != 2 or any(_missing(b) for b in bounds):
        return "n/a"
    low, high = (scale * float(b) for b in bounds)
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def cell(value: Any) -> str:
    """A data value (a group label, an attribute name) as inert Markdown (see `segaudit.core.safe_text.md_text`):
    one line, pipes and Markdown syntax escaped, and `<`, `>`, `&` as entities, so that a value such as
    `<script>` reads as text wherever the card is rendered."""
    return md_text(value)
