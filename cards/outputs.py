"""Writing cards and the report to disk, each file atomically (a temporary file beside it, then os.replace).

`write_cards` is what `segaudit audit` calls after an audit: model card, by_group.json and report.html into the
audit folder, and the dataset card when a dataset summary is at hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segaudit.cards.dataset_card import dataset_charts, render_dataset_card
from segaudit.cards.facts import load_facts
from segaudit.cards.ml_bom import ml_bom
from segaudit.cards.model_card import DEFAULT_MIN_GROUP_SIZE, render_model_card
from segaudit.cards.report import render_report
from segaudit.cards.results import by_group_document, by_group_errors
from segaudit.core.atomic import json_text, write_atomic
from segaudit.core.audit_file import load_audit
from segaudit.core.safe_text import child_path, slug


def write_model_card(audit: str | Path | dict[str, Any], facts_path: str | Path, card: str | Path, *,
                     draft: bool = False, templates: str | Path | None = None,
                     min_group_size: int = DEFAULT_MIN_GROUP_SIZE, by_group: str | Path | None = None,
                     bom: str | Path | None = None) -> list[Path]:
    """The model card at `card`, its per-group results at `by_group` (default: by_group.json beside the card)
    and its CycloneDX ML-BOM at `bom` (default: the card's name with .cdx.json), for `audit` (an audit.json path,
    or the audit itself as the pipeline holds it); returns the files written."""
    audit = audit if isinstance(audit, dict) else load_audit(audit)
    facts = load_facts(facts_path)
    text = render_model_card(audit, facts, draft=draft, templates=templates,
                             min_group_size=min_group_size, facts_path=facts_path)
    card = Path(card)
    document = by_group_document(audit, min_group_size)
    problems = by_group_errors(document)
    if problems:  # our own output: a bug, never the user's input
        raise RuntimeError(f"by_group.json would break its schema: {problems[:3]}")
    groups = json_text(document)
    record = json_text(ml_bom(audit, facts, min_group_size))
    return [write_atomic(card, text), write_atomic(by_group or card.parent / "by_group.json", groups),
            write_atomic(bom or card.with_suffix(".cdx.json"), record)]


def write_dataset_card(summary: dict[str, Any], facts_path: str | Path | None, card: str | Path, *,
                       draft: bool = False, templates: str | Path | None = None, min_group_size: int = 30,
                       figures_dir: str = "figures") -> list[Path]:
    """The dataset card at `card` and its bar charts under `figures_dir/` beside it (named after the card and
    the attribute, through `slug`: an attribute named `x/../../y` cannot put a file outside the folder, and two
    names never share a file); returns the files written."""
    card = Path(card)
    facts = load_facts(facts_path) if facts_path is not None else None
    charts = dataset_charts(summary, min_group_size)
    figures = {name: f"{figures_dir}/{slug(card.stem)}-{slug(name)}.png" for name in charts}
    text = render_dataset_card(summary, facts, draft=draft, templates=templates, min_group_size=min_group_size,
                               figures=figures, facts_path=facts_path)
    written = [write_atomic(child_path(card.parent, figures[name]), png) for name, png in charts.items()]
    written.append(write_atomic(card, text))
    return written


def write_report(audit_dir: str | Path, out: str | Path, *, templates: str | Path | None = None,
                 audit: dict[str, Any] | None = None, publish: bool = False, min_group_size: int = 30) -> Path:
    """report.html for the audit in `audit_dir` (its plots and tables; `audit`: the audit itself when the caller
    holds it, instead of reading audit_dir/audit.json; `publish`: the version for outside the team)."""
    return write_atomic(out, render_report(audit_dir, templates=templates, audit=audit, publish=publish,
                                           min_group_size=min_group_size))


def write_cards(audit_dir: str | Path, facts_path: str | Path, *, dataset_summary: dict[str, Any] | None = None,
                dataset_facts: str | Path | None = None, draft: bool = False, templates: str | Path | None = None,
                min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> list[Path]:
    """Everything cards/ renders for one audit folder: OUT/model_card.md, OUT/by_group.json, OUT/report.html and,
    with a dataset summary, OUT/dataset_card.md (+ figures/)."""
    audit_dir = Path(audit_dir)
    written = write_model_card(audit_dir / "audit.json", facts_path, audit_dir / "model_card.md", draft=draft,
                               templates=templates, min_group_size=min_group_size)
    if dataset_summary is not None:
        written += write_dataset_card(dataset_summary, dataset_facts, audit_dir / "dataset_card.md", draft=draft,
                                      templates=templates, min_group_size=min_group_size)
    written.append(write_report(audit_dir, audit_dir / "report.html", templates=templates))
    return written
