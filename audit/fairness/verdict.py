"""Verdicts: fail, pass or inconclusive, each with the reason a reviewer can check.

Per attribute (or intersection), with margin m and level alpha:

- fail: some group falls short of its reference by more than m (point estimate) and the shortfall is
  significant after the multiple-comparison correction (adjusted p <= alpha);
- pass: equivalence shown. Every group took part (none insufficient) and every group's shortfall has the upper
  end of its (1 - alpha) CI below m. That upper end is a one-sided alpha/2 bound, and requiring it of every
  group is an intersection-union test, which needs no correction for the number of groups;
- inconclusive: anything else, naming each group that keeps the verdict open: too few images, or a CI that
  reaches the margin, with the smallest shortfall its n could detect and the n that would detect the margin.

A difference that is merely "not significant" therefore never passes: only a CI inside the margin does.
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.fairness.result import OK, Comparison, GroupResult

FAIL, PASS, INCONCLUSIVE = "fail", "pass", "inconclusive"


def points(fraction: float) -> str:
    """A metric difference as IoU points (hundredths), two decimals."""
    return f"{100 * fraction + 0.0:.2f}"  # + 0.0: no '-0.00'


def decide(groups: Sequence[GroupResult], comparisons: Sequence[Comparison], *, margin: float, alpha: float,
           correction: str, min_size: int, unit: str = "group") -> tuple[str, str]:
    """(verdict, reason) from the group results and the comparisons with the reference."""
    by_label = {g.group: g for g in groups}
    confidence = f"{100 * (1 - alpha):g}%"
    failing = sorted((c for c in comparisons if c.shortfall > margin and c.p_adjusted <= alpha),
                     key=lambda c: -c.shortfall)
    if failing:
        parts = [f"{unit} '{c.group}' (n={by_label[c.group].n}) falls short of {_ref(c)} by {points(c.shortfall)} "
                 f"points ({confidence} CI {points(-c.ci_high)} to {points(-c.ci_low)}), more than the "
                 f"{points(margin)}-point margin, significant after {correction} correction "
                 f"(p_adjusted={c.p_adjusted:.3g})" for c in failing]
        return FAIL, "; ".join(parts)

    small = [g for g in groups if g.status != OK]
    ok = [g for g in groups if g.status == OK]
    small_parts = [_small_reason(g, min_size, unit, margin) for g in small]
    if len(ok) < 2:
        reason = f"fewer than two {unit}s have at least {min_size} images, so nothing can be compared"
        return INCONCLUSIVE, "; ".join([reason, *small_parts])

    unresolved = sorted((c for c in comparisons if not c.shortfall_upper < margin),
                        key=lambda c: -c.shortfall_upper)
    if not small and not unresolved:
        worst = max(comparisons, key=lambda c: c.shortfall_upper)
        return PASS, (f"every {unit}'s shortfall is below the {points(margin)}-point margin with {confidence} "
                      f"confidence (largest CI upper bound: '{worst.group}', {points(worst.shortfall_upper)} "
                      "points)")
    parts = [_unresolved_reason(c, by_label[c.group], margin, alpha, correction, unit) for c in unresolved]
    return INCONCLUSIVE, "; ".join([*parts, *small_parts])


def _ref(c: Comparison) -> str:
    return "the rest" if c.reference == "rest" else f"the best group '{c.reference}'"


def _unresolved_reason(c: Comparison, g: GroupResult, margin: float, alpha: float, correction: str,
                       unit: str) -> str:
    side = "below" if c.shortfall > 0 else "above"
    text = (f"{unit} '{c.group}' has n={g.n}: its mean is {points(abs(c.shortfall))} points {side} {_ref(c)} but "
            f"its shortfall could be up to {points(c.shortfall_upper)} points ({100 * (1 - alpha):g}% CI), not "
            f"below the {points(margin)}-point margin")
    if c.p_adjusted <= alpha and c.shortfall > 0:
        text += f" (significant after {correction} correction, p_adjusted={c.p_adjusted:.3g}, but not beyond it)"
    return text + _power_note(g, margin)


def _small_reason(g: GroupResult, min_size: int, unit: str, margin: float) -> str:
    text = f"{unit} '{g.group}' has n={g.n}, fewer than the {min_size} images needed to take part"
    return text + _power_note(g, margin)


def _power_note(g: GroupResult, margin: float) -> str:
    parts = []
    if g.detectable_shortfall is not None:
        parts.append(f"the smallest detectable gap at this n is {points(g.detectable_shortfall)} points")
    if g.n_needed is not None and margin > 0:
        parts.append(f"about {g.n_needed} images would detect the {points(margin)}-point margin")
    return f": {' and '.join(parts)}" if parts else ""
