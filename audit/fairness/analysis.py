"""The statistics of one attribute (or intersection): per-group CIs, omnibus test, comparisons, power, verdict.

Only groups with at least `grouping.min_size` images take part in the bootstrap and the tests (and form the
'rest'); the others are listed as insufficient with their n. Everything is vectorised over images: one
stratified bootstrap per grouping gives every group's CI and every difference's CI; one ranking gives every
group's Mann-Whitney test against the rest.

Randomness: each grouping draws from its own stream, seeded by (seed, CRC-32 of its name), so an attribute's
numbers do not depend on which other attributes are audited alongside it.
"""

from __future__ import annotations

import zlib

import numpy as np

from audit.fairness.config import FairnessConfig
from audit.fairness.result import INSUFFICIENT, OK, Comparison, GapResult, GroupingResult, GroupResult, OmnibusResult
from audit.fairness.subgroups import Grouping
from audit.fairness.verdict import decide
from audit.stats import (
    adjust_pvalues,
    cliffs_delta,
    group_bootstrap,
    kruskal_groups,
    mann_whitney,
    mann_whitney_vs_rest,
    mean_difference_ci,
    minimum_detectable_difference,
    permutation_max_gap,
    permutation_mean_difference,
    required_n,
    worst_to_average_gap,
)


def grouping_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of one grouping (or trend): stable across runs and independent of the others."""
    return np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))])


def analyse_grouping(values: np.ndarray, grouping: Grouping, config: FairnessConfig,
                     pooled: np.ndarray | None = None) -> GroupingResult:
    """Group statistics, omnibus tests, comparisons, power and the verdict for one grouping.

    values: the per-image metric [n] (finite, in [0, 1]); pooled: the pooled metric per group [G] or None.
    """
    labels = grouping.labels
    n_groups = len(labels)
    codes = grouping.codes
    counts = np.bincount(codes, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.bincount(codes, weights=values, minlength=n_groups) / counts
        ss = np.bincount(codes, weights=(values - means[codes]) ** 2, minlength=n_groups)
        sds = np.where(counts >= 2, np.sqrt(ss / np.maximum(counts - 1, 1)), np.nan)
    ok = counts >= grouping.min_size
    ok_idx = np.flatnonzero(ok)
    boot_seed, omnibus_seed, test_seed = grouping_seed(config.seed, grouping.name).spawn(3)

    ci = np.full((2, n_groups), np.nan)
    boot = None
    if ok_idx.size:
        keep = ok[codes]
        x = values[keep]
        remap = np.cumsum(ok) - 1
        c = remap[codes[keep]]
        boot = group_bootstrap(x, c, n_resamples=config.bootstrap, confidence=1 - config.alpha, seed=boot_seed,
                               method=config.ci_method)
        ci[0, ok_idx], ci[1, ok_idx] = boot.ci_low, boot.ci_high

    omnibus = omnibus_perm = gap = None
    comparisons: list[Comparison] = []
    power = np.full(n_groups, np.nan), np.full(n_groups, -1)
    if boot is not None and ok_idx.size >= 2:
        omnibus = _kruskal(x, c)
        if config.omnibus_permutation:
            res = permutation_max_gap(x, c, n_resamples=config.permutations, seed=omnibus_seed)
            omnibus_perm = OmnibusResult(test="permutation-max-gap", statistic=res.statistic, p_value=res.pvalue,
                                         n_resamples=res.n_resamples)
        gap = _gap(boot, labels, ok_idx)
        comparisons, reference_of = _comparisons(x, c, boot, labels, ok_idx, config, test_seed)
        power = _power(counts, means, sds, ok, reference_of, len(comparisons), config)

    groups = tuple(
        GroupResult(group=labels[g], n=int(counts[g]), mean=_num(means[g]), ci_low=_num(ci[0, g]),
                    ci_high=_num(ci[1, g]), sd=_num(sds[g]), pooled=None if pooled is None else _num(pooled[g]),
                    status=OK if ok[g] else INSUFFICIENT, detectable_shortfall=_num(power[0][g]),
                    n_needed=int(power[1][g]) if power[1][g] >= 0 else None)
        for g in range(n_groups))
    unit = "cell" if grouping.scope == "intersection" else "group"
    verdict, reason = decide(groups, comparisons, margin=config.margin, alpha=config.alpha,
                             correction=config.correction, min_size=grouping.min_size, unit=unit)
    return GroupingResult(name=grouping.name, scope=grouping.scope, kind=grouping.kind,
                          attributes=grouping.attributes, min_size=grouping.min_size, groups=groups, omnibus=omnibus,
                          omnibus_permutation=omnibus_perm, comparisons=tuple(comparisons), gap=gap,
                          verdict=verdict, reason=reason, bins=grouping.bins)


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _kruskal(x: np.ndarray, c: np.ndarray) -> OmnibusResult:
    try:
        res = kruskal_groups(x, c)
    except ValueError as exc:  # every value identical: H undefined
        return OmnibusResult(test="kruskal", statistic=None, p_value=None, note=str(exc))
    return OmnibusResult(test="kruskal", statistic=res.statistic, p_value=res.pvalue, df=res.df)


def _gap(boot, labels: tuple[str, ...], ok_idx: np.ndarray) -> GapResult:
    res = worst_to_average_gap(boot)
    worst, best = int(np.argmin(boot.mean)), int(np.argmax(boot.mean))
    return GapResult(worst=labels[ok_idx[worst]], worst_mean=float(boot.mean[worst]), best=labels[ok_idx[best]],
                     best_mean=float(boot.mean[best]), average=float(np.mean(boot.mean)), gap=res.difference,
                     ci_low=res.confidence_interval[0], ci_high=res.confidence_interval[1])


def _comparisons(x: np.ndarray, c: np.ndarray, boot, labels: tuple[str, ...], ok_idx: np.ndarray,
                 config: FairnessConfig, seed: np.random.SeedSequence) -> tuple[list[Comparison], dict[int, int]]:
    """Each group against its reference; also returns {group index: reference index or -1 for 'rest'}."""
    n_ok = ok_idx.size
    if config.reference == "rest":
        targets, best = list(range(n_ok)), -1
    else:
        best = int(np.argmax(boot.mean))
        targets = [s for s in range(n_ok) if s != best]
    vs_rest = mann_whitney_vs_rest(x, c) if config.reference == "rest" else None
    rng = np.random.default_rng(seed)
    raw: list[tuple[int, object, float, float, str]] = []
    for s in targets:
        diff = mean_difference_ci(boot, s, "rest" if best < 0 else best)
        sample = x[c == s]
        other = x[c != s] if best < 0 else x[c == best]
        if config.test == "permutation":
            p = permutation_mean_difference(sample, other, n_resamples=config.permutations, seed=rng).pvalue
            name = "permutation-mean-difference"
        elif vs_rest is not None:
            p, name = float(vs_rest.pvalue[s]), "mann-whitney"
        else:
            p, name = mann_whitney(sample, other).pvalue, "mann-whitney"
        effect = float(vs_rest.effect_size[s]) if vs_rest is not None else cliffs_delta(sample, other)
        raw.append((s, diff, float(p), effect, name))
    adjusted = adjust_pvalues([r[2] for r in raw], config.correction) if raw else []
    reference_name = "rest" if best < 0 else labels[ok_idx[best]]
    comparisons = [
        Comparison(group=labels[ok_idx[s]], reference=reference_name, difference=diff.difference,
                   ci_low=diff.confidence_interval[0], ci_high=diff.confidence_interval[1], p_value=p,
                   p_adjusted=float(p_adj), effect_size=effect, test=name, significant=bool(p_adj <= config.alpha))
        for (s, diff, p, effect, name), p_adj in zip(raw, adjusted, strict=True)]
    reference_of = {int(ok_idx[s]): (-1 if best < 0 else int(ok_idx[best])) for s in targets}
    return comparisons, reference_of


def _power(counts: np.ndarray, means: np.ndarray, sds: np.ndarray, ok: np.ndarray, reference_of: dict[int, int], m: int,
           config: FairnessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the smallest shortfall detectable with `config.power` by a two-sided test at alpha / m (the
    level the smallest p-value must meet under Holm or BH), and the n that detects the margin (-1: none).

    Groups without a comparison of their own (too small, or the best group itself) use the pooled
    within-group sd against the rest; a group of one image gets no figure.
    """
    n_groups = counts.size
    mdd, n_needed = np.full(n_groups, np.nan), np.full(n_groups, -1, dtype=np.int64)
    alpha = config.alpha / max(m, 1)
    has_sd = counts >= 2
    pooled_sd = float(np.sqrt(np.sum(np.where(has_sd, (counts - 1) * np.nan_to_num(sds) ** 2, 0.0))
                              / max(np.sum(np.where(has_sd, counts - 1, 0)), 1)))
    n_ok = int(counts[ok].sum())
    for g in range(n_groups):
        if counts[g] < 2 or (ok[g] and g not in reference_of):
            continue
        ref = reference_of.get(g, -1)
        sd_g = float(sds[g]) if ok[g] else pooled_sd
        if ref >= 0:
            n_ref, sd_ref = float(counts[ref]), float(sds[ref])
        else:
            others = ok & (np.arange(n_groups) != g)
            n_ref = float(counts[others].sum()) if ok[g] else float(n_ok)
            sd_ref = _combined_sd(counts, means, sds, others) if ok[g] else pooled_sd
        if n_ref < 1:
            continue
        mdd[g] = minimum_detectable_difference(float(counts[g]), n_ref, sd_g, sd_ref, alpha=alpha,
                                               power=config.power, alternative="two-sided")
        if config.margin > 0:
            n_needed[g] = required_n(config.margin, sd_g, alpha=alpha, power=config.power,
                                     ratio=n_ref / float(counts[g]), sd_reference=sd_ref, alternative="two-sided")
    return mdd, n_needed


def _combined_sd(counts: np.ndarray, means: np.ndarray, sds: np.ndarray, members: np.ndarray) -> float:
    """Sample sd (ddof=1) of the union of several groups: within-group plus between-group sums of squares."""
    n = counts[members].astype(np.float64)
    if n.sum() < 2:
        return 0.0
    mean = float(np.sum(n * means[members]) / n.sum())
    ss = np.sum((n - 1) * np.nan_to_num(sds[members]) ** 2 + n * (means[members] - mean) ** 2)
    return float(np.sqrt(ss / (n.sum() - 1)))
