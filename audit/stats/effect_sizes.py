"""Effect sizes: Cliff's delta (ordinal dominance) and the difference in means with a bootstrap CI.

A p-value says whether a gap is detectable; an effect size says how large it is. Both are reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segaudit.audit.stats._ranks import midranks
from segaudit.audit.stats._validation import Seed, as_sample
from segaudit.audit.stats.bootstrap import group_bootstrap
from segaudit.audit.stats.differences import mean_difference_ci
from segaudit.audit.stats.results import DifferenceResult


def cliffs_delta(x: Any, y: Any) -> float:
    """Cliff's delta = P(X > Y) - P(X < Y) over all pairs, in [-1, 1]; positive when x tends to be larger.

    Computed from ranks in O(n log n): delta = 2 U / (n_x n_y) - 1 with U the Mann-Whitney U of x.
    """
    x, y = as_sample(x, "x"), as_sample(y, "y")
    ranks, _ = midranks(np.concatenate([x, y]))
    u = ranks[:x.size].sum() - x.size * (x.size + 1) / 2
    return float(2 * u / (x.size * y.size) - 1)


def mean_difference(x: Any, y: Any, n_resamples: int = 2000, confidence: float = 0.95, seed: Seed = 0,
                    method: str = "percentile", alternative: str = "two-sided") -> DifferenceResult:
    """mean(x) - mean(y) with a bootstrap CI, each sample resampled within itself (x first, then y).

    Equals scipy.stats.bootstrap((x, y), mean difference, ...) with the same Generator.
    """
    x, y = as_sample(x, "x", min_size=2), as_sample(y, "y", min_size=2)
    codes = np.repeat(np.array([0, 1]), [x.size, y.size])
    boot = group_bootstrap(np.concatenate([x, y]), codes, n_resamples=n_resamples, confidence=confidence,
                           seed=seed, method=method)
    res = mean_difference_ci(boot, 0, 1, alternative=alternative)
    return DifferenceResult(group="x", reference="y", difference=res.difference,
                            confidence_interval=res.confidence_interval, confidence=res.confidence,
                            alternative=res.alternative, method=res.method, resampled=res.resampled)
