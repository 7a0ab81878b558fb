"""What a fairness audit found, as typed objects: computed once, read many ways.

`FairnessResult.to_dict()` is fairness.json; `by_group`, `comparisons`, `verdicts` and `trends` are tidy pandas
views (one row per group, comparison, attribute or trend, like fairlearn's MetricFrame.by_group); `to_frame()`
is fairness.csv. Metric values are fractions in [0, 1]; 'points' in reasons are hundredths (1 point = 0.01).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.subgroups import Grouping

SCHEMA_VERSION = 2  # 2: Welch tests against the margin, the selection-adjusted largest gap, audit-wide family
OK = "ok"
INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class GroupResult:
    """One group: n images and its subjects (= n without a subject column), mean of the per-image metric with its
    (1 - alpha) t-interval (subjects as clusters), sd over images, pooled metric, and power for the rules in use:
    the smallest shortfall the fail rule detects at the configured power, and the subjects the pass rule needs.

    status 'insufficient': fewer subjects than the grouping's minimum. Such a group is still tested against the
    rest when it has two or more subjects (a clear shortfall can fail it), but it can never count towards a pass.
    """

    group: str
    n: int
    subjects: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    sd: float | None
    pooled: float | None
    status: str
    detectable_shortfall: float | None
    n_needed: int | None


@dataclass(frozen=True)
class Comparison:
    """A group against the rest: difference = mean(group) - mean(rest); [ci_low, ci_high] holds both one-sided
    (1 - alpha) Welch bounds (a (1 - 2 alpha) interval: the lower end of the shortfall decides fail, the upper
    end pass); p_value tests H0 shortfall <= margin (one-sided Welch t), p_adjusted over the audit's family;
    significant: the group fails. rank_p_value (Mann-Whitney against the rest, two-sided) and effect_size
    (Cliff's delta, positive: the group tends to score higher) are descriptive only."""

    group: str
    reference: str
    difference: float
    ci_low: float
    ci_high: float
    se: float
    df: float
    p_value: float
    p_adjusted: float
    test: str
    significant: bool
    rank_p_value: float | None
    effect_size: float | None

    @property
    def shortfall(self) -> float:
        """reference - group (positive: the group does worse)."""
        return -self.difference

    @property
    def shortfall_upper(self) -> float:
        """One-sided (1 - alpha) upper bound of the shortfall (= -ci_low): below the margin for a pass."""
        return -self.ci_low

    @property
    def shortfall_lower(self) -> float:
        """One-sided (1 - alpha) lower bound of the shortfall (= -ci_high): above the margin for a fail."""
        return -self.ci_high


@dataclass(frozen=True)
class OmnibusResult:
    """A test across all groups that have enough images (None statistic when undefined, with a note)."""

    test: str
    statistic: float | None
    p_value: float | None
    df: int | None = None
    n_resamples: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class GapResult:
    """The largest pairwise gap: best and worst group, gap = best - worst (fairlearn's difference), [ci_low,
    ci_high] the simultaneous (1 - alpha) bounds of the true largest gap, whatever pair it is (selection
    accounted for), p_value of H0 "every pair within the margin" and its family-adjusted p; ratio worst / best
    (fairlearn's ratio), average (unweighted mean of group means) and FairSeg's equity-scaled metric
    mean / (1 + sum_g |mean_g - mean|)."""

    worst: str
    worst_mean: float
    best: str
    best_mean: float
    average: float
    gap: float
    ci_low: float
    ci_high: float
    critical: float
    method: str
    p_value: float
    p_adjusted: float
    significant: bool
    ratio: float | None
    equity_scaled: float


@dataclass(frozen=True)
class GroupingResult:
    """Everything about one attribute or intersection, and its verdict with the reason."""

    name: str
    scope: str
    kind: str
    attributes: tuple[str, ...]
    min_size: int
    groups: tuple[GroupResult, ...]
    omnibus: OmnibusResult | None
    omnibus_permutation: OmnibusResult | None
    comparisons: tuple[Comparison, ...]
    gap: GapResult | None
    verdict: str
    reason: str
    bins: dict[str, Any] | None = None

    def group(self, label: str) -> GroupResult:
        for g in self.groups:
            if g.group == label:
                return g
        raise KeyError(f"no group {label!r} in {self.name!r}; groups: {[g.group for g in self.groups]}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope, "kind": self.kind, "attributes": list(self.attributes),
                               "min_group_size": self.min_size}
        if self.bins is not None:
            out["bins"] = self.bins
        out["groups"] = [asdict(g) for g in self.groups]
        out["omnibus"] = None if self.omnibus is None else _omnibus_dict(self.omnibus)
        if self.omnibus_permutation is not None:
            out["omnibus_permutation"] = _omnibus_dict(self.omnibus_permutation)
        if self.gap is not None:
            out["worst"] = {"group": self.gap.worst, "mean": self.gap.worst_mean}
            out["best"] = {"group": self.gap.best, "mean": self.gap.best_mean}
            out["average"] = self.gap.average
            out["max_gap"] = {k: getattr(self.gap, k) for k in ("gap", "ci_low", "ci_high", "critical", "method",
                                                                 "p_value", "p_adjusted", "significant")}
            out["ratio"] = self.gap.ratio
            out["equity_scaled"] = self.gap.equity_scaled
        out["comparisons"] = [{**asdict(c), "effect_size_name": "cliffs_delta"} for c in self.comparisons]
        out["verdict"] = self.verdict
        out["reason"] = self.reason
        return out


def _omnibus_dict(o: OmnibusResult) -> dict[str, Any]:
    return {k: v for k, v in asdict(o).items() if v is not None or k in ("statistic", "p_value")}


@dataclass(frozen=True)
class TrendSummary:
    """Spearman's rho of the metric against a continuous attribute's value (x='value') or an ordinal one's
    level (x='level', 1..k in declared order), over images where the attribute is known."""

    attribute: str
    x: str
    unit: str
    n: int
    n_unknown: int
    rho: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    ci_method: str | None
    confidence: float
    note: str | None = None


@dataclass(frozen=True, eq=False)
class FairnessResult:
    """The whole audit. `values` and `groupings` (the per-image metric and who is in which group) are kept
    so that plots and further views need not recompute anything."""

    config: FairnessConfig
    n_images: int
    overall: dict[str, Any]
    attributes: dict[str, GroupingResult]
    intersections: dict[str, GroupingResult]
    trends: dict[str, TrendSummary]
    verdict: str
    aggregation: str
    pooled_definition: str | None
    family: dict[str, Any]
    unit: str
    values: np.ndarray = field(repr=False)
    groupings: dict[str, Grouping] = field(repr=False)
    derived: tuple[str, ...] = ()
    """The audited attributes whose values were derived from the pixels (source: derived): proxies, not labels."""

    def results(self) -> list[GroupingResult]:
        """Attribute results, then intersection results."""
        return [*self.attributes.values(), *self.intersections.values()]

    def to_dict(self) -> dict[str, Any]:
        """fairness.json (NaN and infinities as null)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **self.config.to_dict(),
                               "confidence": 1 - self.config.alpha, "aggregation": self.aggregation,
                               "pooled": self.pooled_definition, "n_images": self.n_images,
                               "overall": self.overall, "verdict": self.verdict, "family": self.family,
                               "unit": self.unit, "derived_attributes": list(self.derived),
                               "attributes": {k: v.to_dict() for k, v in self.attributes.items()},
                               "intersections": {k: v.to_dict() for k, v in self.intersections.items()},
                               "trends": {k: asdict(v) for k, v in self.trends.items()}}
        return clean_json(out)

    @property
    def by_group(self) -> pd.DataFrame:
        """One row per group of every attribute and intersection."""
        rows = [{"scope": r.scope, "attribute": r.name, **asdict(g)} for r in self.results() for g in r.groups]
        frame = pd.DataFrame(rows, columns=["scope", "attribute", *GroupResult.__dataclass_fields__])
        return frame.astype({"n_needed": "Int64"})  # whole numbers, missing where undefined

    @property
    def comparisons(self) -> pd.DataFrame:
        """One row per group compared with its reference."""
        rows = [{"scope": r.scope, "attribute": r.name, **asdict(c)} for r in self.results() for c in r.comparisons]
        return pd.DataFrame(rows, columns=["scope", "attribute", *Comparison.__dataclass_fields__])

    @property
    def verdicts(self) -> pd.DataFrame:
        """One row per attribute and intersection: verdict and reason, the largest gap with its
        selection-adjusted bounds and adjusted p, fairlearn's ratio, the equity-scaled metric, the omnibus test."""
        rows = []
        for r in self.results():
            g = r.gap
            rows.append({"scope": r.scope, "attribute": r.name, "verdict": r.verdict, "reason": r.reason,
                         "best": g.best if g else None, "worst": g.worst if g else None,
                         "max_gap": g.gap if g else None, "max_gap_ci_low": g.ci_low if g else None,
                         "max_gap_ci_high": g.ci_high if g else None,
                         "max_gap_p_adjusted": g.p_adjusted if g else None,
                         "ratio": g.ratio if g else None, "equity_scaled": g.equity_scaled if g else None,
                         "omnibus_test": r.omnibus.test if r.omnibus else None,
                         "omnibus_statistic": r.omnibus.statistic if r.omnibus else None,
                         "omnibus_p_value": r.omnibus.p_value if r.omnibus else None})
        return pd.DataFrame(rows, columns=VERDICT_COLUMNS)

    @property
    def trends_frame(self) -> pd.DataFrame:
        """One row per trend."""
        return pd.DataFrame([asdict(t) for t in self.trends.values()],
                            columns=list(TrendSummary.__dataclass_fields__))

    def to_frame(self) -> pd.DataFrame:
        """fairness.csv: one row per group, with its comparison (columns prefixed diff_/p_/effect_) and its
        attribute's verdict alongside; then one row per trend (scope 'trend')."""
        groups = self.by_group
        comparisons = self.comparisons.rename(columns={"difference": "diff", "ci_low": "diff_ci_low",
                                                       "ci_high": "diff_ci_high"})
        frame = groups.merge(comparisons, how="left", on=["scope", "attribute", "group"])
        # the verdict beside each group, its reason once per attribute in fairness.json (not on every row:
        # an attribute of 10,000 groups would repeat a long reason 10,000 times)
        frame = frame.merge(self.verdicts[["scope", "attribute", "verdict"]], how="left", on=["scope", "attribute"])
        trends = self.trends_frame
        if not trends.empty:
            trend_rows = pd.DataFrame({"scope": "trend", "attribute": trends["attribute"], "group": "",
                                       "n": trends["n"], "rho": trends["rho"], "rho_ci_low": trends["ci_low"],
                                       "rho_ci_high": trends["ci_high"], "p_value": trends["p_value"],
                                       "test": "spearman", "note": trends["note"]})
            frame = pd.concat([frame, trend_rows], ignore_index=True)
        frame.insert(3, "metric", self.config.metric)
        return frame


VERDICT_COLUMNS = ["scope", "attribute", "verdict", "reason", "best", "worst", "max_gap", "max_gap_ci_low",
                   "max_gap_ci_high", "max_gap_p_adjusted", "ratio", "equity_scaled", "omnibus_test",
                   "omnibus_statistic", "omnibus_p_value"]


def clean_json(value: Any) -> Any:
    """A JSON-ready copy: numpy scalars as Python numbers, tuples as lists, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
