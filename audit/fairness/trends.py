"""Trends: does the metric drift along an ordered attribute (height, age, skin-tone level)?

Binning a continuous attribute answers "which range does worst"; a trend answers "does it get steadily worse
as the value grows", with more power when the drift is monotone. Spearman's rho of the per-image metric against
the attribute's value (continuous) or its level 1..k in declared order (ordinal), over images where the
attribute is known, with scipy's p-value and a CI: the paired bootstrap (B = the audit's bootstrap) up to
`trend_bootstrap_max_n` images, the Bonett-Wright closed form above, where the bootstrap costs seconds and the
closed form is accurate (config.trend_ci forces either).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segaudit.audit.fairness.analysis import grouping_seed
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.result import TrendSummary
from segaudit.audit.fairness.subgroups import continuous_values, labels_of
from segaudit.audit.stats import spearman_trend
from segaudit.models.data import AttributeSpec


def trend(table: pd.DataFrame, attribute: AttributeSpec, values: np.ndarray, config: FairnessConfig) -> TrendSummary:
    """The trend of `values` (the metric per image) along one continuous or ordinal attribute."""
    if attribute.kind == "continuous":
        x, kind, unit = continuous_values(table, attribute), "value", attribute.unit or ""
    else:
        levels = {v: float(i + 1) for i, v in enumerate(attribute.values or ())}
        labels = pd.Series(labels_of(table[attribute.name]))
        x, kind, unit = labels.map(levels).to_numpy(dtype=np.float64), "level", ""
    known = ~np.isnan(x)
    n = int(known.sum())
    confidence = 1 - config.alpha
    base = {"attribute": attribute.name, "x": kind, "unit": unit, "n": n, "n_unknown": int((~known).sum()),
            "confidence": confidence}
    xk, yk = x[known], values[known]
    if n < 4 or np.all(xk == xk[0]) or np.all(yk == yk[0]):
        note = ("fewer than 4 images with a known value" if n < 4 else
                "the attribute is constant" if np.all(xk == xk[0]) else "the metric is constant")
        return TrendSummary(**base, rho=None, ci_low=None, ci_high=None, p_value=None, ci_method=None,
                            note=f"no trend: {note}")
    method = config.trend_ci
    if method == "auto":
        method = "bootstrap" if n <= config.trend_bootstrap_max_n else "bonett-wright"
    res = spearman_trend(xk, yk, n_resamples=config.bootstrap, confidence=confidence,
                         seed=grouping_seed(config.seed, f"trend:{attribute.name}"), ci_method=method)
    low, high = res.confidence_interval
    return TrendSummary(**base, rho=float(res.statistic), ci_low=_finite(low), ci_high=_finite(high),
                        p_value=float(res.pvalue), ci_method=method)


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
