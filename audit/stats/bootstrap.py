"""Stratified bootstrap of group means: resample within each group, group sizes fixed.

Why stratified: the audit asks how precisely each group's mean is known *given* the group sizes in the
dataset. Resampling the pooled table would let group sizes wander (a group of 12 could come back with 5) and
mix sampling error of the design into the CI.

Randomness: one Generator (from `seed`) draws, group after group in label order, an index matrix
[n_resamples, n_g] per group (in row blocks of about 65,000 elements, which bounds memory and stays in
cache). This is exactly the stream scipy.stats.bootstrap draws for the same samples in the same order, so our
percentile and BCa intervals equal scipy's given the same Generator state (for differences: scipy with the
rest's group weights fixed at their sizes, as the stratified design has them). Cost is O(n_resamples * n)
random integers and gathers, vectorised, no Python loop over resamples: about 1 s for 100,000 values and
2,000 resamples on one core of the 2-core dev machine.

One-sided bounds: `alternative='less'` gives (-inf, upper) with `upper` the one-sided `confidence` bound;
it equals the upper end of the two-sided interval at confidence 1 - 2 * (1 - confidence).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segaudit.audit.stats._intervals import check_method, contrast_acceleration, interval
from segaudit.audit.stats._validation import (
    CHUNK_ELEMENTS,
    Seed,
    as_generator,
    as_sample,
    check_alternative,
    check_n_resamples,
    check_probability,
    encode_groups,
)
from segaudit.audit.stats.results import GroupBootstrapResult


def bootstrap_means(sample: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_resamples` bootstrap resamples of `sample` [n] -> [n_resamples].

    Draws indices as rng.integers(0, n, (n_resamples, n)) would (in row blocks; the stream is the same).
    """
    n = sample.size
    rows = max(1, CHUNK_ELEMENTS // n)
    out = np.empty(n_resamples)
    buffer = np.empty((min(rows, n_resamples), n))
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        # int64 indices avoid a cast inside take; mode="clip" skips bounds checks (indices are in range).
        resample = np.take(sample, rng.integers(0, n, size=(b, n)), mode="clip", out=buffer[:b])
        out[start:start + b] = resample.sum(axis=1) / n  # = resample.mean(axis=1), bit for bit
    return out


def group_bootstrap(
    values: Any,
    groups: Any = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
    method: str = "percentile",
    alternative: str = "two-sided",
) -> GroupBootstrapResult:
    """Per-group n, mean and bootstrap CI, plus the [n_resamples, G] matrix of resampled group means.

    values: per-image metric [n]; groups: label per image [n] (None: a single group "all"). Every group needs
    at least 2 values (drop or merge smaller ones first and report them as insufficient). method: 'percentile'
    or 'bca' (bias-corrected and accelerated, better for skewed metrics and small groups).
    """
    x = as_sample(values, "values", min_size=2)
    labels, codes, counts = encode_groups(np.full(x.size, "all") if groups is None else groups, x.size)
    small = counts < 2
    if small.any():
        raise ValueError(f"groups {labels[small].tolist()} have fewer than 2 values (n={counts[small].tolist()}); "
                         "the bootstrap needs at least 2 per group")
    n_resamples = check_n_resamples(n_resamples)
    confidence = check_probability(confidence, "confidence")
    method = check_method(method)
    alternative = check_alternative(alternative)
    rng = as_generator(seed)

    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    n_groups = labels.size
    mean, m2, m3 = np.empty(n_groups), np.empty(n_groups), np.empty(n_groups)
    resampled = np.empty((n_resamples, n_groups))
    for g in range(n_groups):
        sample = x[order[bounds[g]:bounds[g + 1]]]
        mean[g] = sample.mean()
        dev = sample - mean[g]
        m2[g], m3[g] = np.mean(dev**2), np.mean(dev**3)
        resampled[:, g] = bootstrap_means(sample, n_resamples, rng)
        if m2[g] == 0.0:  # constant group: replicates equal the mean (no rounding noise in sums of equal values)
            resampled[:, g] = mean[g]

    ci = np.empty((2, n_groups))
    for g in range(n_groups):
        c = np.zeros(n_groups)
        c[g] = 1.0
        ci[:, g] = interval(resampled[:, g], mean[g], confidence=confidence, alternative=alternative,
                            method=method, acceleration=contrast_acceleration(c, counts, m2, m3))
    return GroupBootstrapResult(labels=labels, n=counts, mean=mean, ci_low=ci[0], ci_high=ci[1],
                                resampled_means=resampled, confidence=confidence, method=method,
                                alternative=alternative, n_resamples=n_resamples, m2=m2, m3=m3)
