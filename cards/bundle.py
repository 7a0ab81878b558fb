"""The bundled ALiSNet's cards and report, regenerated from its committed reference audit.

Inputs (committed): reports/alisnet/audit.json (+ fairness/, privacy/), reports/alisnet/dataset_summary.json,
cards/alisnet.yaml, cards/synthetic-people.yaml. Outputs (committed): cards/alisnet.md,
cards/alisnet.by_group.json, cards/synthetic-people.md with cards/figures/, reports/alisnet/report.html.
Everything is rendered with the audit's own finish date, so the same inputs give the same files;
tests/test_card_bundle.py fails when the committed outputs fall behind the templates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from segaudit.core.errors import InputError

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bundle:
    """Where the bundled model's inputs and rendered outputs live, relative to the repository root."""

    root: Path = REPO
    audit_dir: str = "reports/alisnet"
    model_facts: str = "cards/alisnet.yaml"
    dataset_summary: str = "reports/alisnet/dataset_summary.json"
    dataset_facts: str = "cards/synthetic-people.yaml"
    model_card: str = "cards/alisnet.md"
    by_group: str = "cards/alisnet.by_group.json"
    dataset_card: str = "cards/synthetic-people.md"
    report: str = "reports/alisnet/report.html"
    screenshot: str = "reports/figures/report-screenshot.png"

    def path(self, relative: str) -> Path:
        return self.root / relative


def load_summary(path: Path) -> dict:
    if not path.is_file():
        raise InputError("missing: the dataset summary the dataset card is rendered from", path=path)
    return json.loads(path.read_text(encoding="utf-8"))


def write_bundle(bundle: Bundle = Bundle(), screenshot: bool = True) -> list[Path]:
    """Render every bundled card and the report; with `screenshot`, also a full-page screenshot of the report
    in headless Chromium (the README shows it). Returns the files written."""
    from segaudit.cards.outputs import write_dataset_card, write_model_card, write_report

    p = bundle.path
    written = write_model_card(p(bundle.audit_dir) / "audit.json", p(bundle.model_facts), p(bundle.model_card),
                               by_group=p(bundle.by_group))
    written += write_dataset_card(load_summary(p(bundle.dataset_summary)), p(bundle.dataset_facts),
                                  p(bundle.dataset_card))
    written.append(write_report(p(bundle.audit_dir), p(bundle.report)))
    if screenshot:
        from segaudit.cards.browser import visit

        p(bundle.screenshot).parent.mkdir(parents=True, exist_ok=True)
        page = visit(p(bundle.report), screenshot=p(bundle.screenshot), full_page=True)
        if page.console or page.page_errors:
            raise RuntimeError(f"the report logged {page.console} {page.page_errors} in Chromium")
        written.append(p(bundle.screenshot))
    return written
