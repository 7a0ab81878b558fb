"""Two-sample tests: Mann-Whitney U, a permutation test of the difference in means, Welch's t.

`mann_whitney_vs_rest` runs every group against all the others at once: the pooled sample of a group and its
rest is the whole table, so one ranking serves all groups (R_g = sum of the group's ranks, U_g = R_g -
n_g (n_g + 1) / 2, one tie correction). It equals scipy.stats.mannwhitneyu(group, rest) group by group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from segaudit.audit.stats._permutation import null_group_sums, permutation_pvalue
from segaudit.audit.stats._ranks import midranks
from segaudit.audit.stats._validation import (
    Seed,
    as_generator,
    as_sample,
    check_alternative,
    check_n_resamples,
    check_probability,
    encode_groups,
)
from segaudit.audit.stats.results import OneVsRestResult, PermutationResult, SignificanceResult, WelchResult

MW_METHODS = ("auto", "asymptotic", "exact")


def _check_mw_method(method: str) -> str:
    if method not in MW_METHODS:
        raise ValueError(f"`method` must be one of {MW_METHODS}, got {method!r}")
    return method


def mann_whitney(x: Any, y: Any, alternative: str = "two-sided", method: str = "auto",
                 use_continuity: bool = True) -> SignificanceResult:
    """Mann-Whitney U test (scipy.stats.mannwhitneyu): statistic is U of `x`; 'less' means x tends lower.

    method 'auto' is exact when one sample has at most 8 values and there are no ties, else the normal
    approximation with tie correction (and continuity correction unless use_continuity=False).
    """
    x, y = as_sample(x, "x"), as_sample(y, "y")
    alternative = check_alternative(alternative)
    res = stats.mannwhitneyu(x, y, use_continuity=use_continuity, alternative=alternative,
                             method=_check_mw_method(method))
    return SignificanceResult(statistic=float(res.statistic), pvalue=float(res.pvalue), test="mann-whitney",
                              alternative=alternative)


def mann_whitney_vs_rest(values: Any, groups: Any, alternative: str = "two-sided", method: str = "auto",
                         use_continuity: bool = True) -> OneVsRestResult:
    """Mann-Whitney U of each group against all other observations, with Cliff's delta, from one ranking.

    Needs at least two groups. p-values equal scipy.stats.mannwhitneyu(group, rest, ...) for every group
    (a group that scipy would test exactly, tiny and tie-free, is handed to scipy).
    """
    x = as_sample(values, "values", min_size=2)
    labels, codes, counts = encode_groups(groups, x.size)
    if labels.size < 2:
        raise ValueError(f"need at least two groups to compare each with the rest, got {labels.tolist()}")
    alternative = check_alternative(alternative)
    method = _check_mw_method(method)

    ranks, ties = midranks(x)
    n1 = counts.astype(np.float64)
    n2 = x.size - n1
    u1 = np.bincount(codes, weights=ranks, minlength=labels.size) - n1 * (n1 + 1) / 2
    if alternative == "greater":
        u, factor = u1, 1.0
    elif alternative == "less":
        u, factor = n1 * n2 - u1, 1.0
    else:
        u, factor = np.maximum(u1, n1 * n2 - u1), 2.0
    n = float(x.size)
    s = np.sqrt(n1 * n2 / 12 * ((n + 1) - np.sum(ties**3 - ties) / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (u - n1 * n2 / 2 - (0.5 if use_continuity else 0.0)) / s
    p = np.clip(special.ndtr(-z) * factor, 0.0, 1.0)

    has_ties = bool(np.any(ties > 1))
    for g in range(labels.size):
        small = min(n1[g], n2[g]) <= 8
        if method == "exact" or (method == "auto" and small and not has_ties):
            p[g] = stats.mannwhitneyu(x[codes == g], x[codes != g], alternative=alternative,
                                      use_continuity=use_continuity, method="exact").pvalue
    delta = 2 * u1 / (n1 * n2) - 1
    return OneVsRestResult(labels=labels, n=counts, statistic=u1, pvalue=p, effect_size=delta,
                           test="mann-whitney", alternative=alternative)


def permutation_mean_difference(x: Any, y: Any, n_resamples: int = 9999, seed: Seed = 0,
                                alternative: str = "two-sided") -> PermutationResult:
    """Permutation test of mean(x) - mean(y) (as scipy.stats.permutation_test, permutation_type='independent').

    Exact (all relabellings, no +1) when they number at most `n_resamples`; otherwise random relabellings
    with p = (count + 1) / (n_resamples + 1). Cost O(n_resamples * (len(x) + len(y))), vectorised.
    """
    x, y = as_sample(x, "x"), as_sample(y, "y")
    alternative = check_alternative(alternative)
    n_resamples = check_n_resamples(n_resamples)
    rng = as_generator(seed)
    observed = float(np.mean(x) - np.mean(y))
    sums, exact = null_group_sums(np.concatenate([x, y]), [x.size, y.size], n_resamples, rng)
    null = sums[:, 0] / x.size - sums[:, 1] / y.size
    return PermutationResult(statistic=observed, pvalue=permutation_pvalue(null, observed, alternative, exact),
                             test="permutation-mean-difference", alternative=alternative,
                             n_resamples=null.size, exact=exact, null_distribution=null)


def welch_t(x: Any, y: Any, alternative: str = "two-sided", confidence: float = 0.95) -> WelchResult:
    """Welch's unequal-variance t-test of mean(x) - mean(y) (scipy.stats.ttest_ind, equal_var=False)."""
    x, y = as_sample(x, "x", min_size=2), as_sample(y, "y", min_size=2)
    alternative = check_alternative(alternative)
    confidence = check_probability(confidence, "confidence")
    if np.all(x == x[0]) and np.all(y == y[0]):
        raise ValueError("`x` and `y` are both constant; the t statistic is undefined")
    res = stats.ttest_ind(x, y, equal_var=False, alternative=alternative)
    ci = res.confidence_interval(confidence_level=confidence)
    return WelchResult(statistic=float(res.statistic), pvalue=float(res.pvalue), test="welch-t",
                       alternative=alternative, df=float(res.df), difference=float(np.mean(x) - np.mean(y)),
                       confidence_interval=(float(ci.low), float(ci.high)), confidence=confidence)
