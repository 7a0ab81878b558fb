"""The sentences a card states as findings, written from the audit's numbers (never typed in by hand).

The documented template carries two risks that an audit can answer: membership inference against the shipped
model, and biases in model performance. Their mitigation paragraphs start with these sentences; the bias
analysis gives one verdict sentence per attribute and intersection; the caveats say whether the model is ready
for deployment.

Verifiable by construction: every word that judges a number is computed from that number. A verdict sentence
names the comparison it rests on (a group against the rest, or the largest pairwise gap), the estimate, its
bounds, where the bounds lie against the margin ("beyond", "below", "straddling", from the bounds themselves),
the adjusted p against alpha ("≤" or ">", from the two numbers) and the rule of the verdict. So a sentence can
never call a shortfall "beyond the margin" while its interval reaches below it, and a readiness sentence is
written only when no verdict stands against it. A TPR is printed only at FPRs the non-members resolve (an FPR
below 1/non-members cannot be measured on them).

Names in the sentences (dataset, attributes, groups, attacks) come from users' data: `quote` writes each one for
the document the sentence goes into (`md_text` for a Markdown card; the HTML report escapes the whole sentence).
A group that the card suppresses (`cards.disclosure.suppression_plan`) is never named and its figures are never
given: it is "a group of fewer than N images".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from segaudit.cards.disclosure import suppression_plan
from segaudit.cards.environment import num, pct
from segaudit.cards.results import TEST_NAMES, artifact_description, attack_label, fairness_rows, strongest_attack

Quote = Callable[[Any], str]
LISTED = 3
"""At most this many failing groups are named per attribute in a verdict sentence; the rest are counted."""
BLOCKING_PRIVACY = ("high", "medium")
"""Membership-inference levels that stand against shipping the model file (a readiness claim contradicts them)."""
READINESS = re.compile(
    r"\b(?:ready|fit|safe|cleared|suitable)\b[^.;:!?]{0,80}?\b(?:deploy\w*|production|ship\w*|release\w*|"
    r"roll[- ]?out)\b|\bproduction[- ]ready\b|\bdeployable\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:not|never|no|nor|cannot|isn't|aren't|without)\b[^.;:!?]{0,20}$", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------- formatting


def _pts(fraction: float | None) -> str:
    """A metric difference in points (hundredths), two decimals, never '-0.00'; 'n/a' when missing."""
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    text = f"{100 * fraction:.2f}"
    return "0.00" if text == "-0.00" else text


def _p(p: float | None) -> str:
    return "n/a" if p is None or not math.isfinite(p) else f"{p:.3g}"


def _p_against(p: float | None, alpha: float) -> str:
    """'adjusted p = 0.00773 ≤ α = 0.05': the comparison sign comes from the two numbers."""
    if p is None or not math.isfinite(p):
        return "adjusted p not recorded"
    return f"adjusted p = {_p(p)} {'≤' if p <= alpha else '>'} α = {alpha:g}"


def _against_margin(lower: float | None, upper: float | None, margin: float) -> str:
    """Where the bounds [lower, upper] lie against the margin, read from the bounds."""
    if lower is None or upper is None or not (math.isfinite(lower) and math.isfinite(upper)):
        return "bounds not recorded"
    if lower > margin:
        return f"entirely beyond the {_pts(margin)}-point margin"
    if upper < margin:
        return f"entirely below the {_pts(margin)}-point margin"
    return f"straddling the {_pts(margin)}-point margin"


def _own_level_only(lower: float | None, p_adjusted: float | None, margin: float, alpha: float) -> str:
    """The note for bounds beyond the margin at the test's own level whose test does not hold after the
    correction (so they carry no fail): computed from the lower bound and the adjusted p."""
    if lower is None or p_adjusted is None or not (math.isfinite(lower) and math.isfinite(p_adjusted)):
        return ""
    if lower > margin and p_adjusted > alpha:
        return " (beyond the margin at the test's own level only, not after the correction)"
    return ""


def _confidence(fairness: dict[str, Any]) -> str:
    return f"{100 * (1 - fairness.get('alpha', 0.05)):g}"


def correction_text(fairness: dict[str, Any]) -> str:
    """'Holm over the audit's 72 tests' (or '... within each attribute'): the family every adjusted p is from."""
    correction = TEST_NAMES.get(fairness.get("correction", ""), fairness.get("correction", ""))
    family = fairness.get("family") or {}
    if family.get("scope") == "audit" and "tests" in family:
        return f"{correction} over the audit's {family['tests']} tests"
    return f"{correction} within each attribute"


# ----------------------------------------------------------------------------------------- fairness verdicts


class _Grouping:
    """One attribute's (or intersection's) fairness result as a card may publish it."""

    def __init__(self, name: str, grouping: dict[str, Any], fairness: dict[str, Any], plan: set,
                 min_group_size: int, quote: Quote) -> None:
        self.name, self.grouping, self.fairness, self.quote = name, grouping, fairness, quote
        self.plan, self.min_group_size = plan, min_group_size
        self.margin, self.alpha = fairness["margin"], fairness.get("alpha", 0.05)
        self.unit = "cell" if grouping.get("scope") == "intersection" else "group"
        self.groups = {str(g["group"]): g for g in grouping.get("groups", [])}
        self.comparisons = list(grouping.get("comparisons") or [])
        self.gap = grouping.get("max_gap")

    def hidden(self, label: Any) -> bool:
        return (self.name, str(label)) in self.plan

    def who(self, label: Any) -> str:
        """'slim' (n=142), or 'a group of fewer than 30 images' when the card suppresses it."""
        if self.hidden(label):
            return f"a {self.unit} of fewer than {self.min_group_size} images"
        group = self.groups.get(str(label), {})
        n, subjects = group.get("n"), group.get("subjects")
        size = f"n={n}" if subjects in (None, n) else f"n={n} images of {subjects} subjects"
        return f"'{self.quote(label)}' ({size})"

    @staticmethod
    def shortfall(c: dict[str, Any]) -> tuple[float, float | None, float | None]:
        """(estimate, lower, upper) of a comparison's shortfall (rest - group); audit.json keeps the difference
        (group - rest) and its bounds."""
        low, high = c.get("ci_low"), c.get("ci_high")
        return -c["difference"], None if high is None else -high, None if low is None else -low

    def comparison_text(self, c: dict[str, Any]) -> str:
        """The comparison of one group with the rest: estimate, one-sided bounds against the margin, adjusted p."""
        if self.hidden(c["group"]):
            return (f"{self.who(c['group'])} against the rest (its estimate, bounds and p are suppressed in this "
                    "card)")
        estimate, lower, upper = self.shortfall(c)
        return (f"{self.who(c['group'])} against the rest: shortfall {_pts(estimate)} points, one-sided "
                f"{_confidence(self.fairness)} % bounds {_pts(lower)} to {_pts(upper)}, "
                f"{_against_margin(lower, upper, self.margin)}; {_p_against(c.get('p_adjusted'), self.alpha)}"
                f"{_own_level_only(lower, c.get('p_adjusted'), self.margin, self.alpha)}")

    def gap_names(self) -> str:
        """" 'broad' − 'slim'" when the recorded best and worst groups are the gap's pair and both are published."""
        best, worst, gap = self.grouping.get("best"), self.grouping.get("worst"), self.gap
        if not (best and worst and gap) or self.hidden(best["group"]) or self.hidden(worst["group"]):
            return ""
        if abs((best["mean"] - worst["mean"]) - gap["gap"]) > 1e-9:
            return ""
        return f" '{self.quote(best['group'])}' − '{self.quote(worst['group'])}'"

    def gap_hidden(self) -> bool:
        """Whether an end of the largest gap is suppressed: its size would give that group's mean away (the other
        end's mean is published), so the card states only where its bounds lie."""
        ends = [self.grouping.get("best"), self.grouping.get("worst")]
        return any(end is None or self.hidden(end["group"]) for end in ends)

    def gap_text(self) -> str:
        gap = self.gap
        if self.gap_hidden():
            return (f"the largest pairwise gap involves a suppressed {self.unit} (its size and bounds are suppressed "
                    f"in this card): its simultaneous bounds are "
                    f"{_against_margin(gap.get('ci_low'), gap.get('ci_high'), self.margin)}; "
                    f"{_p_against(gap.get('p_adjusted'), self.alpha)}")
        return (f"the largest pairwise gap{self.gap_names()}: {_pts(gap['gap'])} points, simultaneous "
                f"{_confidence(self.fairness)} % bounds {_pts(gap.get('ci_low'))} to {_pts(gap.get('ci_high'))} "
                f"(the choice of the two groups accounted for), "
                f"{_against_margin(gap.get('ci_low'), gap.get('ci_high'), self.margin)}; "
                f"{_p_against(gap.get('p_adjusted'), self.alpha)}"
                f"{_own_level_only(gap.get('ci_low'), gap.get('p_adjusted'), self.margin, self.alpha)}")

    def failing(self) -> list[dict[str, Any]]:
        """The comparisons whose test holds after the correction, largest shortfall first."""
        return sorted((c for c in self.comparisons if c.get("significant")), key=lambda c: c["difference"])

    def upper(self, c: dict[str, Any]) -> float:
        value = self.shortfall(c)[2]
        return -math.inf if value is None else value

    def small_groups(self) -> list[dict[str, Any]]:
        return [g for g in self.groups.values() if g.get("status", "ok") != "ok"]

    def affected(self) -> list[str]:
        """Who a fail is about: the failing groups (or the gap's worst group), as the card may name them."""
        named = [self.who(c["group"]) for c in self.failing()]
        if not named and self.gap and self.gap.get("significant") and self.grouping.get("worst"):
            named = [f"{self.who(self.grouping['worst']['group'])}, the lower end of the largest gap"]
        return list(dict.fromkeys(named))


def _groupings(fairness: dict[str, Any], min_group_size: int, quote: Quote,
               scopes: tuple[str, ...] = ("attributes", "intersections")) -> list[_Grouping]:
    plan = suppression_plan(fairness, min_group_size)
    return [_Grouping(name, grouping, fairness, plan, min_group_size, quote)
            for scope in scopes for name, grouping in (fairness.get(scope) or {}).items()]


def verdict_sentences(fairness: dict[str, Any], min_group_size: int, quote: Quote = str) -> list[str]:
    """One sentence per attribute and intersection: its verdict, what the verdict rests on (the comparison, the
    estimate, its bounds against the margin, the adjusted p against alpha) and the rule that turned these into
    the verdict. The wording that judges the numbers is computed from them."""
    return [_verdict_sentence(g) for g in _groupings(fairness, min_group_size, quote)]


def _verdict_sentence(g: _Grouping) -> str:
    verdict, family = g.grouping["verdict"], correction_text(g.fairness)
    margin = f"{_pts(g.margin)}-point margin"
    if verdict == "fail":
        failing = g.failing()
        basis = [g.comparison_text(c) for c in failing[:LISTED]]
        if len(failing) > LISTED:
            basis.append(f"and {len(failing) - LISTED} more {g.unit}s whose tests hold")
        if g.gap and g.gap.get("significant"):
            basis.append(g.gap_text())
        if not basis:
            basis = ["no test whose adjusted p is at most α: the recorded verdict does not follow from the "
                     "recorded tests (check audit.json)"]
        rule = (f"fail when a shortfall test (against the {margin}) holds after the correction, {family}: "
                f"adjusted p ≤ α = {g.alpha:g}")
    elif verdict == "pass":
        basis = []
        if g.comparisons:
            basis.append("the largest upper bound, " + g.comparison_text(max(g.comparisons, key=g.upper)))
        if g.gap:
            basis.append(g.gap_text())
        rule = (f"pass when every {g.unit} has at least {g.grouping.get('min_group_size', min_group_size_of(g))} "
                f"subjects and every one-sided upper bound, the largest gap's included, lies below the {margin} "
                "(equivalence; no correction needed)")
    else:
        basis = []
        if g.comparisons:
            basis.append("the largest upper bound, " + g.comparison_text(max(g.comparisons, key=g.upper)))
        if g.gap:
            basis.append(g.gap_text())
        adjusted = [c.get("p_adjusted") for c in g.comparisons if not g.hidden(c["group"])]
        adjusted += [g.gap.get("p_adjusted")] if g.gap else []
        adjusted = [p for p in adjusted if p is not None and math.isfinite(p)]
        if adjusted:
            basis.append(f"the smallest adjusted p of its published tests {_p(min(adjusted))} "
                         f"{'≤' if min(adjusted) <= g.alpha else '>'} α = {g.alpha:g}")
        small = g.small_groups()
        if small:
            basis.append(f"{len(small)} of its {len(g.groups)} {g.unit}s with fewer than "
                         f"{g.grouping.get('min_group_size', min_group_size_of(g))} subjects")
        if not basis:
            basis = ["no test: fewer than two groups large enough to be compared"]
        rule = (f"inconclusive when no shortfall test holds after the correction ({family}), so no fail, and a "
                f"bound reaches the {margin} or a {g.unit} is too small, so no pass: not significant is not fair")
    return f"**{g.quote(g.name)}: {verdict}**, resting on {'; '.join(basis)}. Rule: {rule}."


def min_group_size_of(g: _Grouping) -> int:
    """The audit's minimum subjects for a pass (the fairness config), when the grouping does not record it."""
    return int(g.fairness.get("min_group_size", g.min_group_size))


def fairness_limits(fairness: dict[str, Any], min_group_size: int, quote: Quote = str) -> list[str]:
    """Per attribute and intersection, the smallest shortfall the fail rule detects with the audit's power
    (each published group's `detectable_shortfall`): smaller shortfalls can go unnoticed."""
    out = []
    for g in _groupings(fairness, min_group_size, quote):
        values = [(grp["detectable_shortfall"], label) for label, grp in g.groups.items()
                  if grp.get("detectable_shortfall") is not None and not g.hidden(label)]
        if not values:
            out.append(f"{quote(g.name)}: not published (no published {g.unit} was tested)")
            continue
        low, high = min(values), max(values)
        text = f"{quote(g.name)}: {_pts(low[0])} points ('{quote(low[1])}')"
        if high[0] > low[0]:
            text += f" to {_pts(high[0])} points ('{quote(high[1])}')"
        hidden = sum(g.hidden(label) for label in g.groups)
        if hidden:
            text += f"; {hidden} suppressed {g.unit}{'s' if hidden > 1 else ''} not listed"
        out.append(text)
    return out


def fairness_statement(audit: dict[str, Any], date: str, min_group_size: int, quote: Quote = str) -> str:
    """'As of ... the fairness audit ... found ...': each verdict with what it rests on, from fairness.json."""
    fairness, dataset, date = audit["fairness"], audit["dataset"], quote(date)
    split = audit["performance"].get("split", "test")
    scope = (f"on {fairness['n_images']} {quote(split)} images of {quote(dataset['name'])} "
             f"{quote(dataset['version'])} ({quote(fairness['aggregation'])}, "
             f"{_pts(fairness['margin'])}-point margin, {correction_text(fairness)})")
    attributes = _groupings(fairness, min_group_size, quote, ("attributes",))
    by_verdict = {v: [g for g in attributes if g.grouping["verdict"] == v] for v in ("fail", "inconclusive", "pass")}
    parts = []
    if by_verdict["fail"]:
        parts.append(f"fail for {len(by_verdict['fail'])} of {len(attributes)} attributes, each resting on a test "
                     f"that holds after the correction: "
                     + "; ".join(f"{quote(g.name)}, {_fail_basis(g)}" for g in by_verdict["fail"]))
    if by_verdict["inconclusive"]:
        parts.append(f"inconclusive for {', '.join(quote(g.name) for g in by_verdict['inconclusive'])} (no test "
                     "holds after the correction, and a bound reaches the margin or a group is too small: not "
                     "significant is not fair)")
    if by_verdict["pass"]:
        parts.append(f"pass, equivalence within the margin shown, for "
                     f"{', '.join(quote(g.name) for g in by_verdict['pass'])}")
    found = "; ".join(parts) if parts else "no attribute to audit"
    text = f"As of {date} the fairness audit of {artifact_description(audit)} {scope} found {found}."
    intersections = _groupings(fairness, min_group_size, quote, ("intersections",))
    if intersections:
        text += " Intersections: " + ", ".join(f"{quote(g.name)} {g.grouping['verdict']}"
                                               for g in intersections) + "."
    rows = [r for r in fairness_rows(fairness, min_group_size) if r["scope"] == "attribute" and r["gap"] is not None]
    if rows:
        widest = max(rows, key=lambda r: r["gap"])
        gap = fairness["attributes"][widest["name"]]["max_gap"]
        who = (f"a group of fewer than {min_group_size} images" if widest["worst_suppressed"]
               else f"'{quote(widest['worst'])}' (n={widest['worst_n']})")
        best = "the best group" if widest["worst_suppressed"] else f"'{quote(widest['best'])}'"
        text += (f" The largest gap: {quote(widest['name'])} {who}, {_pts(widest['gap'])} points below {best} "
                 f"(simultaneous {_confidence(fairness)} % bounds of the largest true gap {_pts(gap.get('ci_low'))} "
                 f"to {_pts(gap.get('ci_high'))} points, the choice of the two groups accounted for, "
                 f"{_against_margin(gap.get('ci_low'), gap.get('ci_high'), fairness['margin'])}; "
                 f"{_p_against(gap.get('p_adjusted'), fairness.get('alpha', 0.05))}).")
    return text


def _fail_basis(g: _Grouping) -> str:
    """The first test a fail rests on, in short: the worst failing group, else the largest gap."""
    failing = g.failing()
    if failing:
        return g.comparison_text(failing[0])
    if g.gap and g.gap.get("significant"):
        return g.gap_text()
    return "no test that holds (check audit.json)"


# --------------------------------------------------------------------------------------------------- privacy


def fpr_resolution(privacy: dict[str, Any] | None) -> float | None:
    """The smallest FPR the audit's non-members resolve: 1 / non-members (privacy.json's `fpr_resolution`)."""
    if not privacy:
        return None
    if privacy.get("fpr_resolution"):
        return float(privacy["fpr_resolution"])
    return 1.0 / privacy["nonmembers"] if privacy.get("nonmembers") else None


def resolves(privacy: dict[str, Any] | None, fpr: float) -> bool:
    """Whether the non-members resolve `fpr` (at least one false positive is possible at that rate)."""
    resolution = fpr_resolution(privacy)
    return resolution is not None and fpr >= resolution * (1 - 1e-9)


def tpr_at(attack: dict[str, Any], fpr: str, privacy: dict[str, Any], digits: int = 1) -> str:
    """An attack's TPR at FPR `fpr` ('0.01'), or 'not resolved at 500 non-members' where it cannot be measured."""
    if not resolves(privacy, float(fpr)):
        return f"not resolved at {privacy.get('nonmembers', 'these')} non-members"
    return pct((attack.get("tpr_at_fpr") or {}).get(fpr), digits)


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
    tpr = tpr_at(attack, "0.01", privacy)
    tpr = f"TPR {tpr} at 1 % FPR" if resolves(privacy, 0.01) else f"TPR at 1 % FPR {tpr}"
    return (f"As of {date} the membership-inference audit of {target} rated the risk "
            f"{quote(privacy['risk_level'])} ({quote(attack_label(attack['name']))} AUC {num(attack['auc'], 2)} "
            f"{_bounds(attack.get('auc_ci'))}, {tpr}; the strongest of "
            f"{len(privacy['attacks'])} attacks, {privacy['members']} members against {privacy['nonmembers']} "
            f"non-members, {privacy['shadow_models']} shadow models).")


def _bounds(bounds: Any) -> str:
    if not bounds or len(bounds) != 2 or any(b is None for b in bounds):
        return "[n/a]"
    return f"[{num(bounds[0], 3)}, {num(bounds[1], 3)}]"


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


def privacy_limits(privacy: dict[str, Any] | None) -> str | None:
    """What the membership-inference audit can and cannot see: the smallest AUC (and TPR at 1 % FPR) its rating
    detects with its power, and the smallest FPR its non-members resolve."""
    if not privacy:
        return None
    parts = []
    rating = privacy.get("rating") or {}
    if rating.get("detectable_auc") is not None:
        power = round(100 * rating.get("power", 0.8))
        tpr = rating.get("detectable_tpr")
        parts.append(f"with {rating['members']} members against {rating['nonmembers']} non-members the rating "
                     f"detects, with {power} % power, an AUC of {num(rating['detectable_auc'], 3)} or more"
                     + (f" and a TPR of {pct(tpr)} or more at 1 % FPR" if tpr is not None else "")
                     + "; a smaller leak can go unnoticed")
    resolution = fpr_resolution(privacy)
    if resolution is not None:
        parts.append(f"the {privacy.get('nonmembers')} non-members resolve FPRs down to {pct(resolution, 2)}: no "
                     "TPR is reported at a lower FPR")
    return ("Limits: " + "; ".join(parts) + ".") if parts else None


# ------------------------------------------------------------------------------------------------- readiness


def blockers(audit: dict[str, Any], min_group_size: int, quote: Quote = str) -> list[str]:
    """What in the audit stands against deploying the model: each failing attribute or intersection with the
    groups it fails for, and a high or medium membership-inference rating."""
    out = []
    for g in _groupings(audit["fairness"], min_group_size, quote):
        if g.grouping["verdict"] == "fail":
            out.append(f"{quote(g.name)} ({', '.join(g.affected()) or 'its worst group'})")
    level = (audit.get("privacy") or {}).get("risk_level")
    if level in BLOCKING_PRIVACY:
        out.append(f"membership inference rated {quote(level)}")
    return out


def readiness_statements(audit: dict[str, Any], min_group_size: int, quote: Quote = str) -> list[str]:
    """The card's readiness and caveat sentences, from the verdicts: a fail on any attribute makes the model not
    ready for deployment to the affected population without mitigation; a high or medium membership-inference
    rating makes it not ready to ship as a file; the one positive readiness sentence is written only when every
    fairness verdict is a pass and the membership-inference rating is none or low."""
    fairness, privacy = audit["fairness"], audit.get("privacy") or {}
    groupings = _groupings(fairness, min_group_size, quote)
    failing = [g for g in groupings if g.grouping["verdict"] == "fail"]
    open_ = [g for g in groupings if g.grouping["verdict"] == "inconclusive"]
    margin = f"{_pts(fairness['margin'])}-point margin"
    out = []
    if failing:
        named = "; ".join(f"{quote(g.name)}: {', '.join(g.affected()) or 'its worst group'}" for g in failing)
        out.append(f"Not ready for deployment to the affected population without mitigation: the fairness audit "
                   f"failed for {len(failing)} of {len(groupings)} attributes and intersections: segmentation "
                   f"quality falls short by more than the {margin} for these groups ({named}). "
                   "Mitigate (see Mitigation Measures) and audit again before the model serves them.")
    if open_:
        out.append(f"Fitness for the groups of {', '.join(quote(g.name) for g in open_)} is not shown: their "
                   "verdicts are inconclusive, and not significant is not fair (see the limits of the audit).")
    if groupings and not failing and not open_:
        out.append(f"The fairness audit shows equivalence within the {margin} for every audited attribute and "
                   "intersection.")
    level = privacy.get("risk_level")
    rating = privacy.get("rating") or {}
    if not privacy:
        out.append("The membership-inference risk of shipping the model file is not assessed.")
    elif level in BLOCKING_PRIVACY:
        out.append(f"Not ready to ship as a file to devices without mitigation: membership inference is rated "
                   f"{quote(level)}, so the model reveals who was in its training data; mitigate (for example "
                   "differentially private training) and audit again.")
    elif level == "inconclusive":
        detectable = (f" (it detects an AUC of {num(rating['detectable_auc'], 3)} or more)"
                      if rating.get("detectable_auc") is not None else "")
        out.append(f"Shipping the model file is not shown to be free of membership leakage: the audit is "
                   f"inconclusive and cannot rule out a small leak{detectable}.")
    elif level == "low":
        out.append("Membership inference is rated low: a small leak is shown; weigh it before shipping the model "
                   "file to devices.")
    elif level == "none":
        out.append("Membership inference is rated none: no attack shows membership and every attack's AUC is "
                   "bounded below the negligible level.")
    if groupings and not failing and not open_ and level in ("none", "low"):
        out.append(f"Ready for deployment to the audited population as far as these audits reach: the evidence is "
                   f"limited to {quote(audit['dataset']['name'])} {quote(audit['dataset']['version'])}.")
    return out


def mitigation_statement(audit: dict[str, Any], min_group_size: int, quote: Quote = str) -> str | None:
    """The groups a mitigation must serve, from the failing verdicts; None when nothing fails."""
    failing = [g for g in _groupings(audit["fairness"], min_group_size, quote) if g.grouping["verdict"] == "fail"]
    if not failing:
        return None
    named = "; ".join(f"{quote(g.name)}: {', '.join(g.affected()) or 'its worst group'}" for g in failing)
    return (f"Mitigation is needed for the groups the fairness audit fails for ({named}). A verdict holds for the "
            "audited artifact only: after any mitigation the audit must run again.")


def readiness_claims(text: Any) -> list[str]:
    """The sentences of `text` that claim the model is ready for deployment (ready, fit, safe or cleared for
    deployment, production or shipping; production-ready; deployable), negated ones ('not ready ...') left out."""
    if not isinstance(text, str):
        return []
    claims = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for match in READINESS.finditer(sentence):
            if not NEGATION.search(sentence[:match.start()]):
                claims.append(" ".join(sentence.split()))
                break
    return claims
