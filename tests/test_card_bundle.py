"""The bundled ALiSNet's committed cards and report are what the templates render from the committed audit."""

from __future__ import annotations

import json
import re
from pathlib import Path

from segaudit.cards.bundle import Bundle, load_summary
from segaudit.cards.dataset_card import dataset_charts, render_dataset_card
from segaudit.cards.facts import load_facts
from segaudit.cards.model_card import render_model_card
from segaudit.cards.report import render_report
from segaudit.cards.results import by_group_document
from segaudit.core.atomic import json_text

BUNDLE = Bundle()
STALE = "is stale: regenerate with `segaudit card bundle` and commit the result"


def _read(relative: str) -> str:
    return BUNDLE.path(relative).read_text(encoding="utf-8")


def test_committed_model_card_and_by_group_are_current():
    audit = json.loads(_read(f"{BUNDLE.audit_dir}/audit.json"))
    assert _read(BUNDLE.model_card) == render_model_card(audit, load_facts(BUNDLE.path(BUNDLE.model_facts))), \
        f"{BUNDLE.model_card} {STALE}"
    assert _read(BUNDLE.by_group) == json_text(by_group_document(audit, 30)), f"{BUNDLE.by_group} {STALE}"


def test_committed_dataset_card_and_charts_are_current():
    summary = load_summary(BUNDLE.path(BUNDLE.dataset_summary))
    card = Path(BUNDLE.dataset_card)
    charts = dataset_charts(summary, 30)
    figures = {name: f"figures/{card.stem}-{name}.png" for name in charts}
    expected = render_dataset_card(summary, load_facts(BUNDLE.path(BUNDLE.dataset_facts)), figures=figures)
    assert _read(BUNDLE.dataset_card) == expected, f"{BUNDLE.dataset_card} {STALE}"
    for name, png in charts.items():
        assert (BUNDLE.path(BUNDLE.dataset_card).parent / figures[name]).read_bytes() == png, f"{name} chart {STALE}"


def test_committed_report_is_current():
    def without_images(html: str) -> str:  # plots are compared through their sources, the page as text
        return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:…", html)

    assert without_images(_read(BUNDLE.report)) == without_images(render_report(BUNDLE.path(BUNDLE.audit_dir))), \
        f"{BUNDLE.report} {STALE}"


def test_reference_audit_is_a_real_audit_of_the_bundled_program():
    from segaudit.models.checkpoint import sha256_file

    audit = json.loads(_read(f"{BUNDLE.audit_dir}/audit.json"))
    program = BUNDLE.path("models/bundled/alisnet/model.pte")
    assert audit["model"]["sha256"] == sha256_file(program) and audit["model"]["format"] == "pte"
    assert audit["provenance"]["command"].startswith("segaudit audit")
    privacy = audit["privacy"]
    assert privacy["shadow_models"] >= 4 and privacy["members"] > 0 and privacy["nonmembers"] > 0
    assert "FIXTURE" not in json.dumps(audit) and "FIXTURE" not in _read(BUNDLE.model_card)
