"""The sentences a card states as findings, written from the audit's numbers (never typed in by hand).

The documented template carries two risks that an audit can answer: membership inference against the shipped
model, and biases in model performance. Their mitigation paragraphs start with these sentences.

Names in them (dataset, attributes, groups, attacks) come from users' data: `quote` writes each one for the
document the sentence goes into (`md_text` for a Markdown card; the HTML report escapes the whole sentence).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segaudit.cards.environment import ci, num, pct, points
from segaudit.cards.results import artifact_description, attack_label, fairness_rows, strongest_attack

Quote = Callable[[Any], str]


def membership_statement(audit: dict[str, Any], date: str, quote: Quote = str) -> str:
    """'As of 2026-11-21 the membership-inference audit of the int8 on-device model rated the risk low (...)'."""
    privacy = audit.get("privacy")
    target, date = artifact_description(audit), quote(date)
    if not privacy:
        return (f"As of {date} no membership-inference audit of {target} is recorded: the risk has not been "
                f"assessed.")
    if not privacy.get("attacks"):
        return f"As of {date} the membership-inference audit of {target} ran no attack: the risk is not assessed."
    if (privacy.get("rating") or {}).get("attacks"):
        return _rated_statement(privacy, target, date, quote)
    attack = strongest_attack(privacy)
    tpr = (attack.get("tpr_at_fpr") or {}).get("0.01")
    return (f"As of {date} the membership-inference audit of {target} rated the risk "
            f"{quote(privacy['risk_level'])} ({quote(attack_label(attack['name']))} AUC {num(attack['auc'], 2)} "
            f"{ci(attack.get('auc_ci'), 2)}, TPR {pct(tpr)} at 1 % FPR; the strongest of "
            f"{len(privacy['attacks'])} attacks, {privacy['members']} members against {privacy['nonmembers']} "
            f"non-members, {privacy['shadow_models']} shadow models).")


def fairness_statement(audit: dict[str, Any], date: str, min_group_size: int, quote: Quote = str) -> str:
    """'As of ... the fairness audit ... found ...': counts of verdicts and the largest gap, from fairness.json."""
    fairness, dataset, date = audit["fairness"], audit["dataset"], quote(date)
    rows = [r for r in fairness_rows(fairness, min_group_size) if r["scope"] == "attribute"]
    split = audit["performance"].get("split", "test")
    scope = (f"on {fairness['n_images']} {quote(split)} images of {quote(dataset['name'])} "
             f"{quote(dataset['version'])} ({quote(fairness['aggregation'])}, "
             f"{points(fairness['margin'])}-point margin)")
    by_verdict = {v: [quote(r["name"]) for r in rows if r["verdict"] == v] for v in ("fail", "inconclusive", "pass")}
    parts = []
    if by_verdict["fail"]:
        parts.append(f"a shortfall beyond the margin for {len(by_verdict['fail'])} of {len(rows)} attributes "
                     f"({', '.join(by_verdict['fail'])})")
    if by_verdict["inconclusive"]:
        parts.append(f"no conclusion for {', '.join(by_verdict['inconclusive'])} (not significant is not fair)")
    if by_verdict["pass"]:
        parts.append(f"equivalence within the margin for {', '.join(by_verdict['pass'])}")
    found = "; ".join(parts) if parts else "no attribute to audit"
    text = f"As of {date} the fairness audit of {artifact_description(audit)} {scope} found {found}."
    gaps = [r for r in rows if r["gap"] is not None]
    if gaps:
        widest = max(gaps, key=lambda r: r["gap"])
        who = ("a group of fewer than " + str(min_group_size) + " images" if widest["worst_suppressed"]
               else f"'{quote(widest['worst'])}' (n={widest['worst_n']})")
        best = "the best group" if widest["worst_suppressed"] else f"'{quote(widest['best'])}'"
        text += (f" The largest gap: {quote(widest['name'])} {who}, {points(widest['gap'])} points below {best} "
                 f"(the largest true gap between any two groups lies in {ci(widest['gap_ci'], 2, scale=100)} points, "
                 f"simultaneous {round(100 * fairness.get('confidence', 0.95))} % bounds with the choice of the "
                 "two groups accounted for).")
    return text


def _rated_statement(privacy: dict[str, Any], target: str, date: str, quote: Quote) -> str:
    """The sentence for an audit whose level is a test: the strongest rated attack's AUC with its bounds, the
    detectable AUC when inconclusive, the family and the game the level was computed on."""
    rating = privacy["rating"]
    levels = ("none", "inconclusive", "low", "medium", "high")
    attack = max(rating["attacks"], key=lambda a: (levels.index(a["level"]) if a["level"] in levels else 0,
                                                   a["auc_lower"]))
    detail = (f"{quote(attack_label(attack['name']))} AUC {num(attack['auc'], 2)}, "
              f"bounds {num(attack['auc_lower'], 2)} to {num(attack['auc_upper'], 2)}")
    if privacy["risk_level"] == "inconclusive":
        detail += f"; the smallest AUC it detects with 80 % power is {num(rating['detectable_auc'], 3)}"
    balance = privacy.get("balance") or {}
    game = f"{rating['members']} members against {rating['nonmembers']} non-members"
    if balance.get("balanced_on"):
        balanced_on = ", ".join(quote(b) for b in balance["balanced_on"])
        game += f" after balancing on {balanced_on} (from {privacy['members']} and {privacy['nonmembers']})"
    family = f"{len(rating['attacks'])} attacks at {round(100 * (1 - rating['alpha']))} % family-wise"
    return (f"As of {date} the membership-inference audit of {target} rated the risk {quote(privacy['risk_level'])} "
            f"({detail}; {family}, {game}, {privacy['shadow_models']} shadow models).")
