"""Omnibus tests across all groups of an attribute: Kruskal-Wallis and a permutation test of the largest gap.

Kruskal-Wallis asks whether any group tends to score differently (on ranks); the max-gap permutation test
asks directly whether the spread of group means, max - min, is larger than relabelling chance would give.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from segaudit.audit.stats._permutation import null_group_sums, permutation_pvalue
from segaudit.audit.stats._ranks import midranks
from segaudit.audit.stats._validation import (
    Seed,
    as_generator,
    as_sample,
    check_n_resamples,
    check_samples,
    encode_groups,
)
from segaudit.audit.stats.results import KruskalResult, PermutationResult


def _groups_of(values: Any, groups: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = as_sample(values, "values", min_size=2)
    labels, codes, counts = encode_groups(groups, x.size)
    if labels.size < 2:
        raise ValueError(f"need at least two groups, got {labels.tolist()}")
    return x, labels, codes, counts


def kruskal_groups(values: Any, groups: Any) -> KruskalResult:
    """Kruskal-Wallis H test of `values` split by `groups` (equals scipy.stats.kruskal on the split samples).

    Raises ValueError when all values are identical (H is undefined; scipy returns NaN).
    """
    x, labels, codes, counts = _groups_of(values, groups)
    ranks, ties = midranks(x)
    n = float(x.size)
    tie_factor = 1.0 - np.sum(ties**3 - ties) / (n**3 - n)
    if tie_factor <= 0.0:
        raise ValueError("all values are identical; the Kruskal-Wallis statistic is undefined")
    rank_sums = np.bincount(codes, weights=ranks, minlength=labels.size)
    h = (12.0 / (n * (n + 1)) * np.sum(rank_sums**2 / counts) - 3 * (n + 1)) / tie_factor
    df = labels.size - 1
    return KruskalResult(statistic=float(h), pvalue=float(special.chdtrc(df, h)), test="kruskal-wallis",
                         alternative="greater", df=df)


def kruskal(*samples: Any) -> KruskalResult:
    """Kruskal-Wallis H test of two or more samples, as scipy.stats.kruskal(*samples)."""
    arrays = check_samples(samples)
    codes = np.repeat(np.arange(len(arrays)), [a.size for a in arrays])
    return kruskal_groups(np.concatenate(arrays), codes)


def permutation_max_gap(values: Any, groups: Any, n_resamples: int = 9999, seed: Seed = 0) -> PermutationResult:
    """Permutation test of the largest gap between group means (max - min), one-sided ('greater').

    Group labels are shuffled over the observations with group sizes fixed; the samples are taken in sorted
    label order, so this equals scipy.stats.permutation_test on [values of label 0, label 1, ...] with the same
    Generator. Exact when all distinct relabellings number at most `n_resamples`. Cost O(n_resamples * n).
    """
    x, labels, codes, counts = _groups_of(values, groups)
    n_resamples = check_n_resamples(n_resamples)
    rng = as_generator(seed)
    data = x[np.argsort(codes, kind="stable")]
    sizes = [int(c) for c in counts]
    means = np.array([data[a:b].mean() for a, b in zip(np.cumsum([0, *sizes[:-1]]), np.cumsum(sizes), strict=True)])
    observed = float(means.max() - means.min())
    sums, exact = null_group_sums(data, sizes, n_resamples, rng)
    null_means = sums / counts
    null = null_means.max(axis=1) - null_means.min(axis=1)
    return PermutationResult(statistic=observed, pvalue=permutation_pvalue(null, observed, "greater", exact),
                             test="permutation-max-gap", alternative="greater", n_resamples=null.size,
                             exact=exact, null_distribution=null)
