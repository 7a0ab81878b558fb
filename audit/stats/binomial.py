"""Exact (Clopper-Pearson 1934) confidence bounds on a binomial proportion, vectorised over arrays of counts.

The one copy in the project: the privacy audit's held-out error rates and its search for the threshold with the
largest epsilon bound both call it, the latter over every point of a ROC at once. The bounds are quantiles of
Beta distributions (scipy.stats.beta.ppf, one call for the whole array), which is what
scipy.stats.binomtest(k, n, alternative=...).proportion_ci(confidence, method="exact") finds one count at a time
by root finding; the tests check the two agree.

alternative, as in scipy.stats.binomtest: 'two-sided' gives (low, high) at `confidence`; 'less' gives (0, high),
the one-sided upper bound at `confidence`; 'greater' gives (low, 1), the one-sided lower bound.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from segaudit.audit.stats._validation import check_alternative, check_probability


class ProportionInterval(NamedTuple):
    """Bounds on a proportion: floats for scalar counts, arrays of the broadcast shape of (k, n) otherwise."""

    low: Any
    high: Any


def clopper_pearson(k: Any, n: Any, confidence: float = 0.95,
                    alternative: str = "two-sided") -> ProportionInterval:
    """Exact bounds on the success probability after k successes in n trials (k, n: integers or arrays of them).

    n = 0 gives (0, 1): no trials, nothing known. k = 0 gives a lower bound of 0 and k = n an upper bound of 1.
    """
    confidence = check_probability(confidence, "confidence")
    alternative = check_alternative(alternative)
    k, n = _counts(k, n)
    # the upper bound is a quantile of Beta(k + 1, n - k), the lower bound one of Beta(k, n - k + 1); parameters
    # at the edges are clamped to 1 only to keep the branch np.where discards finite
    tail = (1 - confidence) / 2 if alternative == "two-sided" else 1 - confidence
    upper_level = 1 - tail if alternative == "two-sided" else confidence
    low, high = np.zeros(k.shape), np.ones(k.shape)
    with np.errstate(invalid="ignore"):
        if alternative != "greater":
            high = np.where(k >= n, 1.0, stats.beta.ppf(upper_level, k + 1, np.maximum(n - k, 1)))
        if alternative != "less":
            low = np.where(k <= 0, 0.0, stats.beta.ppf(tail, np.maximum(k, 1), n - k + 1))
    if k.ndim == 0:
        return ProportionInterval(float(low), float(high))
    return ProportionInterval(low, high)


def _counts(k: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    """k and n as broadcast int64 arrays with 0 <= k <= n, or ValueError naming the first bad pair."""
    try:
        k_float, n_float = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"`k` and `n` must be numeric counts of broadcastable shapes: {err}") from None
    bad = ~np.isfinite(k_float) | ~np.isfinite(n_float) | (k_float != np.round(k_float)) \
        | (n_float != np.round(n_float)) | (k_float < 0) | (k_float > n_float)
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
        raise ValueError(f"counts must be integers with 0 <= k <= n; got k={k_float[i]}, n={n_float[i]}"
                         + (f" at index {tuple(int(j) for j in i)}" if bad.ndim else ""))
    return k_float.astype(np.int64), n_float.astype(np.int64)
