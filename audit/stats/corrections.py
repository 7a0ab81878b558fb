"""Multiple-comparison corrections: adjusted p-values, returned in the input order.

Comparing every group of an attribute with a reference is a family of tests; reject hypothesis i when its
adjusted p-value is <= alpha.

- Holm (1979): controls the family-wise error rate. With p sorted ascending, p_(1) <= ... <= p_(m):
  adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
- Benjamini-Hochberg (1995): controls the false discovery rate (independent or positively dependent tests):
  adj_(i) = min_{j >= i} min(1, m p_(j) / j).
Both equal statsmodels' multipletests ('holm', 'fdr_bh'). BH is scipy.stats.false_discovery_control; Holm is
written here, scipy having no Holm and statsmodels not being a dependency. Both refuse an empty family, NaN and
values outside [0, 1] (ValueError naming the index) before any arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

CORRECTIONS = ("holm", "bh", "none")


def _as_pvalues(pvalues: Any) -> np.ndarray:
    try:
        p = np.asarray(pvalues, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`pvalues` must be numeric: {err}") from None
    if p.ndim != 1:
        raise ValueError(f"`pvalues` must be one-dimensional, got shape {p.shape}")
    if p.size == 0:
        raise ValueError("`pvalues` is empty")
    if np.isnan(p).any():
        raise ValueError(f"`pvalues` contains NaN at index {int(np.flatnonzero(np.isnan(p))[0])}")
    outside = (p < 0) | (p > 1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"p-values must lie in [0, 1]; got {float(p[i])} at index {i}")
    return p


def holm(pvalues: Any) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate), monotone in the raw p, capped at 1."""
    p = _as_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


def benjamini_hochberg(pvalues: Any) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate), monotone, capped at 1."""
    # a copy: for a family of one, scipy hands back the array it was given
    return stats.false_discovery_control(_as_pvalues(pvalues).copy(), method="bh")


def adjust_pvalues(pvalues: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values by `method`: 'holm' (default), 'bh' (Benjamini-Hochberg) or 'none'."""
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _as_pvalues(pvalues).copy()
    raise ValueError(f"`method` must be one of {CORRECTIONS}, got {method!r}")
