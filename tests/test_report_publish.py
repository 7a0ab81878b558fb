"""report.html --publish: the version for outside the team follows the cards' disclosure control."""

from __future__ import annotations

import re
from pathlib import Path

from segaudit.cards.disclosure import suppression_plan
from segaudit.cards.report import render_report, report_context
from segaudit.core.audit_file import load_audit

AUDIT_DIR = Path(__file__).resolve().parents[1] / "reports" / "alisnet"


def test_published_report_hides_the_plan_its_plots_and_the_reasons_that_name_them() -> None:
    audit = load_audit(AUDIT_DIR / "audit.json")
    plan = suppression_plan(audit["fairness"], 60)
    context = report_context(audit, AUDIT_DIR, 60, publish=True)
    hidden = {(g["name"], str(row["group"])) for g in context["groupings"] for row in g["groups"]
              if row.get("suppressed")}
    assert hidden == plan and len(plan) > 10
    for g in context["groupings"]:
        labels = [str(row["group"]) for row in g["groups"] if row.get("suppressed")]
        if labels:
            assert g["withheld"] and g["forest"] is None and g["distribution"] is None and g["heatmap"] is None
            assert not any(f"'{label}'" in g["grouping"]["reason"] for label in labels)
        else:
            assert g["forest"] is not None
    html = render_report(AUDIT_DIR, min_group_size=60, publish=True)
    groups = {row["group"]: row for row in audit["fairness"]["attributes"]["skin_tone"]["groups"]}
    for attribute, label in plan:
        if attribute == "skin_tone":
            assert not re.search(rf"<td>{label}</td><td class=\"num\">{groups[label]['n']}</td>", html)
    assert "Published version." in html


def test_team_report_shows_every_group_and_never_an_unresolved_tpr() -> None:
    audit = load_audit(AUDIT_DIR / "audit.json")
    context = report_context(audit, AUDIT_DIR, 60)
    assert not any(row.get("suppressed") for g in context["groupings"] for row in g["groups"])
    html = render_report(AUDIT_DIR)
    assert audit["privacy"]["nonmembers"] < 1000
    assert f"not resolved ({audit['privacy']['nonmembers']} non-members)" in html
    assert "Published version." not in html
