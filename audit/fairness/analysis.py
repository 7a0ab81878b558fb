"""The statistics of one attribute (or intersection): per-group intervals, each group against the rest, the
largest pairwise gap, descriptive rank tests, power. The verdicts come after every grouping is analysed
(verdict.py), because the fail tests of the whole audit form one family.

Unit: the subject when the table has a subject column (several photos of one person), else the image. Every
group with two or more subjects gets a t-interval of its mean; groups with at least `min_test_size` subjects
(10) are tested against the rest (the other tested groups) and take part in the largest gap; only groups with
at least `min_group_size` subjects (30) count towards a pass. Everything is O(n + G) apart from the
pairwise gap (O(G^2) in blocks).

Randomness (the simulated critical value of the largest gap, the trends' bootstrap): each grouping draws from its
own stream, seeded by (seed, CRC-32 of its name), so an attribute's numbers do not depend on which others are
audited alongside it.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import stats

from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.result import (
    INSUFFICIENT,
    OK,
    Comparison,
    GapResult,
    GroupingResult,
    GroupResult,
    OmnibusResult,
)
from segaudit.audit.fairness.subgroups import Grouping
from segaudit.audit.stats import kruskal_groups, mann_whitney_vs_rest, permutation_max_gap
from segaudit.audit.stats.clustered import clustered_means
from segaudit.audit.stats.margin_tests import max_gap_test, required_clusters, shortfall_tests

WELCH = "welch-t: shortfall > margin"
MAX_RANK_TEST_GROUPS = 200  # Cliff's delta per group is O(n log n) each; beyond this the rank summaries are skipped


def grouping_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of one grouping (or trend): stable across runs and independent of the others."""
    return np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))])


def analyse_grouping(values: np.ndarray, grouping: Grouping, config: FairnessConfig,
                     pooled: np.ndarray | None = None, subjects: np.ndarray | None = None) -> GroupingResult:
    """Group statistics, comparisons with the rest, the largest gap and the descriptive tests for one grouping
    (verdict 'pending': `verdict.decide_audit` decides once every grouping is analysed).

    values: the per-image metric [n] (finite, in [0, 1]); pooled: the pooled metric per group [G] or None;
    subjects: a subject id per image [n] or None (every image independent).
    """
    labels = grouping.labels
    n_groups = len(labels)
    codes = grouping.codes
    min_tested = max(2, min(config.min_test_size, grouping.min_size))
    cm = clustered_means(values, codes, n_groups, subjects, min_clusters=min_tested)  # the rests: tested groups
    tested = cm.clusters >= min_tested
    enough = cm.clusters >= grouping.min_size
    tested_idx = np.flatnonzero(tested)
    gap_seed, omnibus_seed = grouping_seed(config.seed, grouping.name).spawn(2)

    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(1 - config.alpha / 2, cm.df) * np.sqrt(cm.var_mean)
    ci_low = np.where(cm.clusters >= 2, cm.mean - half, np.nan)
    ci_high = np.where(cm.clusters >= 2, cm.mean + half, np.nan)

    comparisons: list[Comparison] = []
    omnibus = omnibus_perm = gap = None
    needed = np.full(n_groups, -1, dtype=np.int64)
    if tested_idx.size >= 2:
        test = shortfall_tests(cm.mean, cm.var_mean, cm.df, cm.rest_mean, cm.rest_var_mean, cm.rest_df,
                               margin=config.margin, alpha=config.alpha, skew_correction=config.skew_correction,
                               **_pooled_skew_kappa3(cm, tested))
        keep = tested[codes]
        x, c = values[keep], (np.cumsum(tested) - 1)[codes[keep]]
        ranks = mann_whitney_vs_rest(x, c) if tested_idx.size <= MAX_RANK_TEST_GROUPS else None
        for s, g in enumerate(tested_idx):
            comparisons.append(Comparison(
                group=labels[g], reference="rest", difference=float(-test.shortfall[g]),
                ci_low=float(-test.upper[g]), ci_high=float(-test.lower[g]), se=float(test.se[g]),
                df=float(test.df[g]), p_value=float(test.p_beyond_margin[g]), p_adjusted=float("nan"),
                test=WELCH, significant=False,
                rank_p_value=None if ranks is None else float(ranks.pvalue[s]),
                effect_size=None if ranks is None else float(ranks.effect_size[s])))
        gap = _gap(cm, tested_idx, labels, config, gap_seed)
        omnibus = _kruskal(x, c)
        if config.omnibus_permutation:
            res = permutation_max_gap(x, c, n_resamples=config.permutations, seed=omnibus_seed)
            omnibus_perm = OmnibusResult(test="permutation-max-gap", statistic=res.statistic, p_value=res.pvalue,
                                         n_resamples=res.n_resamples)
        needed[tested] = _subjects_needed(cm, tested, config)

    groups = tuple(
        GroupResult(group=labels[g], n=int(cm.n[g]), subjects=int(cm.clusters[g]), mean=_num(cm.mean[g]),
                    ci_low=_num(ci_low[g]), ci_high=_num(ci_high[g]), sd=_num(cm.sd[g]),
                    pooled=None if pooled is None else _num(pooled[g]), status=OK if enough[g] else INSUFFICIENT,
                    detectable_shortfall=None, n_needed=int(needed[g]) if needed[g] >= 0 else None)
        for g in range(n_groups))
    return GroupingResult(name=grouping.name, scope=grouping.scope, kind=grouping.kind,
                          attributes=grouping.attributes, min_size=grouping.min_size, groups=groups, omnibus=omnibus,
                          omnibus_permutation=omnibus_perm, comparisons=tuple(comparisons), gap=gap,
                          verdict="pending", reason="", bins=grouping.bins)


def _pooled_skew_kappa3(cm, tested: np.ndarray) -> dict[str, np.ndarray]:
    """Third cumulants of each group's mean and of its rest's, from one skewness pooled over every tested group.

    A group's own skewness estimate is too noisy at n = 10..30 to correct its bound (it adds variance where it
    should remove bias); the shape of the per-image metric is a property of the model and the data, shared by
    the groups, while their means and spreads differ. So the standardised third moment of the cluster residuals
    is pooled, and each mean gets kappa3 = gamma * (sum_k r_k^2 / K)^1.5 * K / n^3 (gamma sigma^3 / n^2 for
    images)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_g = cm.var_mean * cm.n**2 * (cm.clusters - 1) / cm.clusters  # sum_k r_k^2 per group
        s3_g = cm.kappa3_mean * cm.n**3  # sum_k r_k^3 per group
        k = cm.clusters[tested].sum()
        gamma = (np.nansum(s3_g[tested]) / k) / (np.nansum(ss_g[tested]) / k) ** 1.5
        if not np.isfinite(gamma):
            gamma = 0.0
        ss_r = cm.rest_var_mean * cm.rest_n**2 * (cm.rest_clusters - 1) / cm.rest_clusters
        group = gamma * (ss_g / cm.clusters) ** 1.5 * cm.clusters / cm.n**3
        rest = gamma * (ss_r / cm.rest_clusters) ** 1.5 * cm.rest_clusters / cm.rest_n**3
    return {"group_kappa3": np.nan_to_num(group), "ref_kappa3": np.nan_to_num(rest)}


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _kruskal(x: np.ndarray, c: np.ndarray) -> OmnibusResult:
    try:
        res = kruskal_groups(x, c)
    except ValueError as exc:  # every value identical: H undefined
        return OmnibusResult(test="kruskal", statistic=None, p_value=None, note=str(exc))
    return OmnibusResult(test="kruskal", statistic=res.statistic, p_value=res.pvalue, df=res.df)


def _gap(cm, tested_idx: np.ndarray, labels: tuple[str, ...], config: FairnessConfig,
         seed: np.random.SeedSequence) -> GapResult:
    """The largest pairwise gap with its selection-adjusted bounds, plus fairlearn's difference and ratio and
    FairSeg's equity-scaled metric over the tested groups."""
    means = cm.mean[tested_idx]
    res = max_gap_test(means, cm.var_mean[tested_idx], cm.df[tested_idx], margin=config.margin,
                       alpha=config.alpha, seed=seed)
    n = cm.n[tested_idx]
    overall = float(np.sum(n * means) / n.sum())
    best_mean, worst_mean = float(means[res.best]), float(means[res.worst])
    return GapResult(worst=labels[tested_idx[res.worst]], worst_mean=worst_mean,
                     best=labels[tested_idx[res.best]], best_mean=best_mean, average=float(np.mean(means)),
                     gap=res.gap, ci_low=res.lower, ci_high=res.upper, critical=res.critical, method=res.method,
                     p_value=res.p_beyond_margin, p_adjusted=float("nan"), significant=False,
                     ratio=worst_mean / best_mean if best_mean > 0 else None,
                     equity_scaled=overall / (1.0 + float(np.sum(np.abs(means - overall)))))


def _subjects_needed(cm, tested: np.ndarray, config: FairnessConfig) -> np.ndarray:
    """Per tested group: the subjects needed for the pass rule to show a group that is truly at the rest's level
    within the margin with probability `config.power` (-1: no n suffices, the rest alone is too uncertain)."""
    sds = _cluster_sd(cm)[tested]
    rest = cm.rest_var_mean[tested]
    return np.array([required_clusters(config.margin, float(sd) if np.isfinite(sd) else 0.0, alpha=config.alpha,
                                       power=config.power, rest_var=float(rv) if np.isfinite(rv) else 0.0) or -1
                     for sd, rv in zip(sds, rest, strict=True)], dtype=np.int64)


def _cluster_sd(cm) -> np.ndarray:
    """The sd per cluster implied by the variance of the mean (= the image sd without subjects)."""
    with np.errstate(invalid="ignore"):
        return np.sqrt(cm.var_mean * cm.clusters)
