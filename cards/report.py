"""The HTML audit report: one self-contained page (CSS inline, plots as base64 data URIs, no scripts) rendered
from an audit folder (OUT/audit.json, OUT/fairness/plots/*.png, OUT/privacy/*).

Order: the verdicts first, then fairness, privacy, performance and quantization, provenance. Every string from
the audit or the user's data goes through Jinja's HTML autoescaping: an attribute value `<script>` shows as text.
The report is the auditors' full-detail document: unlike the published cards it lists every group with its n.

Notebook use: `html = render_report("reports/alisnet")`.
"""

from __future__ import annotations

import base64
import csv
from pathlib import Path
from typing import Any

from segaudit.cards.charts import interval_plot
from segaudit.cards.disclosure import suppression_plan
from segaudit.cards.environment import make_environment, render
from segaudit.cards.results import (
    artifact_description,
    attack_label,
    fairness_rows,
    is_suppressed,
    privacy_attacks,
    strongest_attack,
)
from segaudit.cards.statements import fairness_statement, membership_statement
from segaudit.core.audit_file import audit_date, load_audit
from segaudit.core.errors import InputError
from segaudit.core.safe_text import plain_label
from segaudit.core.safe_text import plot_slug as shared_plot_slug

TEMPLATE = "report.html.j2"


def plot_slug(name: str) -> str:
    """A grouping's name as the fairness audit names its plot files (`segaudit.core.safe_text.plot_slug`, the one
    rule both use)."""
    return shared_plot_slug(name)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _file_uri(path: Path) -> str | None:
    return data_uri(path.read_bytes()) if path.is_file() else None


def render_report(audit_dir: str | Path, *, templates: str | Path | None = None,
                  min_group_size: int = 30, audit: dict[str, Any] | None = None, publish: bool = False) -> str:
    """report.html's text for the audit in `audit_dir` (a folder holding audit.json, or the audit.json itself);
    `audit`: the audit itself, when the caller holds it (the folder then only provides plots and tables).
    `publish`: the version for outside the team (see `report_context`)."""
    audit_dir = Path(audit_dir)
    if audit_dir.is_file():
        audit_dir = audit_dir.parent
    if audit is None:
        audit = load_audit(audit_dir / "audit.json")
    try:
        context = report_context(audit, audit_dir, min_group_size, publish=publish)
    except (KeyError, TypeError) as exc:
        raise InputError(f"audit.json lacks a field the report needs or has it in the wrong shape: {exc}",
                         path=audit_dir / "audit.json") from None
    return render(make_environment(templates), TEMPLATE, context)


def report_context(audit: dict[str, Any], audit_dir: Path, min_group_size: int = 30,
                   publish: bool = False) -> dict[str, Any]:
    """Everything report.html.j2 reads.

    The team's report shows every group. With `publish` it is the version for outside the team and follows the
    cards' disclosure control: the groups of `cards.disclosure.suppression_plan` (under `min_group_size` images and
    their complements) keep only their label, a verdict's reason that names one of them is withheld, and so are
    the plots that draw them; membership-inference groups under `min_group_size` likewise."""
    date = audit_date(audit, audit_dir / "audit.json")
    outputs = audit.get("outputs") or {}
    fairness_dir = audit_dir / outputs.get("fairness", "fairness/")
    privacy_dir = audit_dir / outputs.get("privacy", "privacy/")
    fairness = audit["fairness"]
    plan = suppression_plan(fairness, min_group_size) if publish else set()
    groupings = []
    rows = {r["name"]: r for r in fairness_rows(fairness, min_group_size=min_group_size if publish else 1)}
    for scope in ("attributes", "intersections"):
        for name, grouping in fairness.get(scope, {}).items():
            slug = plot_slug(name)
            comparisons = {c["group"]: c for c in grouping.get("comparisons", [])}
            hidden = [str(g["group"]) for g in grouping["groups"] if (name, str(g["group"])) in plan]
            reason = grouping["reason"]
            if any(f"'{label}'" in reason for label in hidden):
                reason = (f"{grouping['verdict']}: the reason names groups too small to publish; the team's "
                          "report and audit.json have it")
            groupings.append({
                "name": name, "scope": scope[:-1], "row": rows[name], "grouping": {**grouping, "reason": reason},
                "groups": [{"group": g["group"], "suppressed": True} if str(g["group"]) in hidden
                           else {**g, "comparison": comparisons.get(g["group"])} for g in grouping["groups"]],
                "withheld": bool(hidden), **_plots(fairness_dir, slug, withheld=bool(hidden)),
            })
    privacy = audit.get("privacy")
    return {
        "publish": publish, "min_group_size": min_group_size,
        "audit": audit, "date": date, "target": artifact_description(audit),
        "groupings": groupings, "trends": list((fairness.get("trends") or {}).values()),
        "fairness_statement": fairness_statement(audit, date, min_group_size),
        "membership_statement": membership_statement(audit, date),
        "privacy": privacy,
        "attacks": privacy_attacks(privacy),
        "strongest": strongest_attack(privacy)["name"] if privacy and privacy.get("attacks") else None,
        "roc": _file_uri(privacy_dir / "roc.png") if privacy else None,
        "exposure": _exposure_plots(privacy, min_group_size if publish else None),
        "comparison": _csv_table(privacy_dir / "comparison.csv") if privacy else None,
        "quantization": audit.get("quantization"),
    }


def _plots(fairness_dir: Path, slug: str, withheld: bool) -> dict[str, str | None]:
    """A grouping's forest, distribution and heatmap plots as data URIs (None when missing or withheld)."""
    return {kind: None if withheld else _file_uri(fairness_dir / "plots" / f"{kind}_{slug}.png")
            for kind in ("forest", "distribution", "heatmap")}


def _exposure_plots(privacy: dict[str, Any] | None, min_group_size: int | None = None) -> list[dict[str, Any]]:
    """Per attribute: membership-inference AUC per group with its CI (0.5 = chance), drawn from privacy.json for
    one attack (the strongest when by_group has it; by_group may hold a row per group and attack). With
    `min_group_size` (the published report) smaller groups keep only their label and their attribute's plot is
    withheld."""
    out = []
    strongest = strongest_attack(privacy)["name"] if privacy and privacy.get("attacks") else None
    for name, groups in ((privacy or {}).get("by_group") or {}).items():
        if min_group_size is not None and any(is_suppressed(g, min_group_size) for g in groups):
            out.append({"name": name, "plot": None, "withheld": True,
                        "groups": [{"group": g["group"], "suppressed": True} if is_suppressed(g, min_group_size)
                                   else g for g in groups]})
            continue
        attacks = [g.get("attack") for g in groups if g.get("auc") is not None]
        attack = strongest if strongest in attacks else (attacks[0] if attacks else None)
        rows = [{"label": f"{plain_label(g['group'], 40)} (n={g['n']})", "value": g["auc"],
                 "low": (g.get("auc_ci") or [None, None])[0], "high": (g.get("auc_ci") or [None, None])[1]}
                for g in groups if g.get("attack") == attack and g.get("auc") is not None]
        title = f"{plain_label(name, 40)}: membership-inference AUC per group ({attack_label(attack or '')})"
        plot = interval_plot(title, rows, "AUC (0.5 = chance)", 0.5) if rows else None
        out.append({"name": name, "groups": groups, "plot": data_uri(plot) if plot else None, "withheld": False})
    return out


def _csv_table(path: Path) -> dict[str, list] | None:
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return {"header": rows[0], "rows": rows[1:]} if rows else None
