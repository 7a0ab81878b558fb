"""Verdicts: fail, pass or inconclusive per attribute and intersection, and for the whole audit.

With margin m, level alpha and shortfall = mean(rest) - mean(group):

- fail: a shortfall significantly beyond the margin. Each group with two or more subjects is tested
  (H0 shortfall <= m, one-sided Welch t), and so is the largest pairwise gap with the selection of the best and
  worst group accounted for (H0 every pair within m, simultaneous max-T). All these tests of the whole audit form
  one family, corrected together (Holm by default: the family-wise error; 'bh' for the false discovery rate;
  `family='grouping'` corrects each attribute on its own, the older and weaker guarantee). With no disparity
  beyond the margin anywhere, the whole audit fails at most alpha of the time.
- pass: equivalence shown, an intersection-union test (no correction needed): every group has at least the
  minimum number of subjects, every group's one-sided (1 - alpha) upper bound of its shortfall lies below m,
  and the simultaneous upper bound of the largest pairwise gap lies below m. A group with a true shortfall
  beyond m, or two groups further apart than m, pass at most alpha of the time.
- inconclusive: anything else, naming what keeps it open: too few subjects, or a bound that reaches the
  margin, with what this n could detect and the subjects a pass would need.

The whole audit fails when any attribute or intersection fails, passes when all pass, else is inconclusive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.result import OK, Comparison, GroupingResult, GroupResult
from segaudit.audit.stats import adjust_pvalues

FAIL, PASS, INCONCLUSIVE = "fail", "pass", "inconclusive"
LISTED = 5
"""At most this many groups are named in a reason; the rest are counted (reasons stay short at any G)."""


def points(fraction: float) -> str:
    """A metric difference as IoU points (hundredths), two decimals."""
    return f"{100 * fraction + 0.0:.2f}"  # + 0.0: no '-0.00'


def decide_audit(results: Sequence[GroupingResult], config: FairnessConfig) -> tuple[list[GroupingResult], str,
                                                                                      dict[str, Any]]:
    """Adjust every fail test over the family, decide each grouping, and the overall verdict.

    Returns the decided groupings (same order), the overall verdict and a description of the family.
    """
    tests: list[tuple[int, int]] = []  # (grouping index, comparison index or -1 for the largest gap)
    for k, r in enumerate(results):
        tests += [(k, i) for i in range(len(r.comparisons))]
        if r.gap is not None:
            tests.append((k, -1))
    p = np.array([results[k].gap.p_value if i < 0 else results[k].comparisons[i].p_value for k, i in tests])
    adjusted = np.full(p.size, np.nan)
    if config.family == "audit":
        if p.size:
            adjusted[:] = adjust_pvalues(p, config.correction)
        sizes = {k: p.size for k in range(len(results))}
    else:
        sizes = {}
        for k in range(len(results)):
            mine = np.array([t[0] == k for t in tests], dtype=bool)
            if mine.any():
                adjusted[mine] = adjust_pvalues(p[mine], config.correction)
            sizes[k] = int(mine.sum())
    by_grouping: dict[int, dict[int, float]] = {}
    for (k, i), q in zip(tests, adjusted, strict=True):
        by_grouping.setdefault(k, {})[i] = float(q)

    decided = []
    for k, r in enumerate(results):
        adj = by_grouping.get(k, {})
        comparisons = tuple(dataclasses.replace(c, p_adjusted=adj[i], significant=adj[i] <= config.alpha)
                            for i, c in enumerate(r.comparisons))
        gap = None if r.gap is None else dataclasses.replace(r.gap, p_adjusted=adj[-1],
                                                             significant=adj[-1] <= config.alpha)
        groups = _with_power(r.groups, comparisons, config, max(sizes.get(k, 1), 1))
        r = dataclasses.replace(r, comparisons=comparisons, gap=gap, groups=groups)
        verdict, reason = decide(r, config, family_size=sizes.get(k, 0))
        decided.append(dataclasses.replace(r, verdict=verdict, reason=reason))
    verdicts = [r.verdict for r in decided]
    overall = FAIL if FAIL in verdicts else PASS if verdicts and all(v == PASS for v in verdicts) else INCONCLUSIVE
    family = {"scope": config.family, "correction": config.correction, "tests": int(p.size),
              "controls": ("family-wise error" if config.correction == "holm" else "false discovery rate")
              + (" over the whole audit" if config.family == "audit" else " within each attribute")}
    return decided, overall, family


def _with_power(groups: tuple[GroupResult, ...], comparisons: tuple[Comparison, ...], config: FairnessConfig,
                family_size: int) -> tuple[GroupResult, ...]:
    """Each tested group's detectable shortfall for the fail rule in use: m + (z_{1-alpha/K} + z_power) * se,
    K the family size (the level Holm's first step and BH's smallest p must meet)."""
    z = float(stats.norm.ppf(1 - config.alpha / family_size) + stats.norm.ppf(config.power))
    se = {c.group: c.se for c in comparisons}
    return tuple(dataclasses.replace(g, detectable_shortfall=config.margin + z * se[g.group])
                 if g.group in se and np.isfinite(se[g.group]) else g for g in groups)


def decide(r: GroupingResult, config: FairnessConfig, *, family_size: int) -> tuple[str, str]:
    """(verdict, reason) of one grouping whose p-values are already adjusted over the family."""
    unit = "cell" if r.scope == "intersection" else "group"
    margin, alpha = config.margin, config.alpha
    by_label = {g.group: g for g in r.groups}
    one_sided = f"one-sided {100 * (1 - alpha):g}%"
    family = (f"{config.correction} over the audit's {family_size} tests" if config.family == "audit"
              else f"{config.correction} over this {unit}'s {family_size} tests")
    failing = sorted((c for c in r.comparisons if c.significant), key=lambda c: -c.shortfall)
    if failing or (r.gap is not None and r.gap.significant):
        parts = [f"{unit} '{c.group}' (n={_n(by_label[c.group])}) falls short of the rest by {points(c.shortfall)} "
                 f"points and its {one_sided} lower bound, {points(c.shortfall_lower)}, is beyond the "
                 f"{points(margin)}-point margin (Welch t, p_adjusted={c.p_adjusted:.3g}, {family})"
                 for c in failing[:LISTED]]
        if len(failing) > LISTED:
            parts.append(f"and {len(failing) - LISTED} more {unit}s")
        if r.gap is not None and r.gap.significant:
            parts.append(_gap_text(r, margin, alpha) + f" is beyond the margin (p_adjusted={r.gap.p_adjusted:.3g}, "
                         f"{family})")
        return FAIL, "; ".join(parts)

    small = [g for g in r.groups if g.status != OK]
    ok = [g for g in r.groups if g.status == OK]
    if len(ok) < 2:
        reason = f"insufficient: fewer than two {unit}s have at least {r.min_size} subjects, so nothing can pass"
        return INCONCLUSIVE, "; ".join([reason, *_small_reasons(small, r.min_size, unit)])
    unresolved = sorted((c for c in r.comparisons if not c.shortfall_upper < margin), key=lambda c: -c.shortfall_upper)
    gap_open = r.gap is None or not r.gap.ci_high < margin
    if not small and not unresolved and not gap_open:
        worst = max(r.comparisons, key=lambda c: c.shortfall_upper)
        return PASS, (f"every {unit}'s shortfall is below the {points(margin)}-point margin ({one_sided} upper "
                      f"bounds; largest: '{worst.group}', {points(worst.shortfall_upper)} points) and "
                      + _gap_text(r, margin, alpha) + " is within it")
    parts = [_unresolved_reason(c, by_label[c.group], margin, one_sided, unit) + _not_after_correction(
        c.p_value, c.p_adjusted, alpha, family) for c in unresolved[:LISTED]]
    if len(unresolved) > LISTED:
        parts.append(f"and {len(unresolved) - LISTED} more {unit}s whose upper bound reaches the margin")
    if gap_open and r.gap is not None:
        parts.append(_gap_text(r, margin, alpha) + " reaches the margin"
                     + _not_after_correction(r.gap.p_value, r.gap.p_adjusted, alpha, family))
    return INCONCLUSIVE, "; ".join([*parts, *_small_reasons(small, r.min_size, unit)])


def _not_after_correction(p: float, p_adjusted: float, alpha: float, family: str) -> str:
    """The note for a bound beyond the margin at its own level that does not survive the correction."""
    if not p <= alpha:
        return ""
    return (f" (beyond the margin at this test's own level, p={p:.3g}, but not after correction: "
            f"p_adjusted={p_adjusted:.3g}, {family})")


def _n(g: GroupResult) -> str:
    return f"{g.n}" if g.subjects == g.n else f"{g.n} images of {g.subjects} subjects"


def _gap_text(r: GroupingResult, margin: float, alpha: float) -> str:
    g = r.gap
    return (f"the largest gap, '{g.best}' - '{g.worst}' = {points(g.gap)} points (simultaneous "
            f"{100 * (1 - alpha):g}% bounds of the largest true gap {points(g.ci_low)} to {points(g.ci_high)}, "
            "selection accounted for),")


def _unresolved_reason(c: Comparison, g: GroupResult, margin: float, one_sided: str, unit: str) -> str:
    side = "below" if c.shortfall > 0 else "above"
    text = (f"{unit} '{c.group}' (n={_n(g)}) is {points(abs(c.shortfall))} points {side} the rest, but its "
            f"shortfall could be up to {points(c.shortfall_upper)} points ({one_sided} bound), not below the "
            f"{points(margin)}-point margin")
    return text + _power_note(g, margin)


def _small_reasons(small: list[GroupResult], min_size: int, unit: str) -> list[str]:
    if not small:
        return []
    named = [f"'{g.group}' (n={_n(g)}{_miss(g)})" for g in sorted(small, key=lambda g: -g.subjects)[:LISTED]]
    more = f" and {len(small) - LISTED} more" if len(small) > LISTED else ""
    largest = max(g.subjects for g in small)
    untested = sum(g.detectable_shortfall is None for g in small)
    note = f"; {untested} of them too small to be tested at all" if untested else ""
    return [f"insufficient: {len(small)} {unit}{'s' if len(small) > 1 else ''} with fewer than the {min_size} "
            f"subjects needed to count towards a pass: {', '.join(named)}{more} (largest {largest}{note})"]


def _miss(g: GroupResult) -> str:
    if g.detectable_shortfall is None:
        return ""
    return f"; the fail rule would likely miss a shortfall below {points(g.detectable_shortfall)} points"


def _power_note(g: GroupResult, margin: float) -> str:
    parts = []
    if g.detectable_shortfall is not None:
        parts.append(f"at this n the fail rule would likely miss a shortfall below {points(g.detectable_shortfall)} "
                     "points")
    if g.n_needed is not None and margin > 0:
        parts.append(f"about {g.n_needed} subjects would let a group at the rest's level pass")
    return f": {' and '.join(parts)}" if parts else ""
