"""Result objects of the statistics, shaped like scipy.stats': `statistic`, `pvalue` (alias `p_value`) and,
where it makes sense, `confidence_interval` as a `(low, high)` tuple.

All are frozen dataclasses; numpy arrays inside them are made read-only. Those holding arrays compare by
identity (`eq=False`), since element-wise `==` has no single truth value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, kw_only=True)
class SignificanceResult:
    """A hypothesis test: its statistic, p-value, the test's name and the alternative hypothesis."""

    statistic: float
    pvalue: float
    test: str
    alternative: str = "two-sided"

    @property
    def p_value(self) -> float:
        return self.pvalue


@dataclass(frozen=True, kw_only=True)
class KruskalResult(SignificanceResult):
    """Kruskal-Wallis H with its chi-square degrees of freedom (number of groups - 1)."""

    df: int


@dataclass(frozen=True, kw_only=True)
class WelchResult(SignificanceResult):
    """Welch's t-test: t, p, Welch-Satterthwaite df and the CI of mean(x) - mean(y)."""

    df: float
    difference: float
    confidence_interval: tuple[float, float]
    confidence: float


@dataclass(frozen=True, kw_only=True, eq=False)
class PermutationResult(SignificanceResult):
    """A permutation test. `exact` means every distinct relabelling was enumerated (no +1 correction);
    otherwise `n_resamples` random relabellings were drawn and p = (count + 1) / (n_resamples + 1)."""

    n_resamples: int
    exact: bool
    null_distribution: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        _readonly(self.null_distribution)


@dataclass(frozen=True, kw_only=True, eq=False)
class OneVsRestResult:
    """One test per group against all other observations, computed together (arrays in `labels` order).

    `effect_size` is Cliff's delta of the group against the rest (positive: the group tends to be higher).
    """

    labels: np.ndarray
    n: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    effect_size: np.ndarray
    test: str
    alternative: str

    def __post_init__(self) -> None:
        for arr in (self.labels, self.n, self.statistic, self.pvalue, self.effect_size):
            _readonly(arr)

    @property
    def p_value(self) -> np.ndarray:
        return self.pvalue


@dataclass(frozen=True, kw_only=True, eq=False)
class TrendResult(SignificanceResult):
    """Spearman's rho of a metric against an ordered attribute, scipy's p-value and a CI ('bootstrap': paired
    resampling; 'bonett-wright': closed form). `n_resamples` counts the bootstrap resamples with a defined rho
    (a resample whose x or y is constant has none and is left out of the percentiles); 0 for the closed form."""

    n: int
    confidence_interval: tuple[float, float]
    confidence: float
    ci_method: str
    n_resamples: int
    resampled: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        _readonly(self.resampled)


@dataclass(frozen=True, kw_only=True, eq=False)
class GroupBootstrapResult:
    """Stratified bootstrap of group means. Arrays are in `labels` order (sorted labels).

    `resampled_means` is [n_resamples, G]: row b holds every group's mean in bootstrap replicate b, each group
    resampled within itself with its size fixed. Any difference of group means (group - rest, group - best,
    worst - average) is read off these rows, so its CI accounts for the sampling error of both sides.
    `m2`, `m3` are the groups' (biased) second and third central moments, kept for BCa intervals of any
    contrast of group means (the jackknife of a mean has a closed form).
    """

    labels: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    resampled_means: np.ndarray = field(repr=False)
    confidence: float
    method: str
    alternative: str
    n_resamples: int
    m2: np.ndarray = field(repr=False)
    m3: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for arr in (self.labels, self.n, self.mean, self.ci_low, self.ci_high, self.resampled_means, self.m2,
                    self.m3):
            _readonly(arr)

    @property
    def sd(self) -> np.ndarray:
        """Sample standard deviation (ddof=1) of each group, e.g. for power calculations."""
        return np.sqrt(self.m2 * self.n / (self.n - 1))

    def index(self, label: Any) -> int:
        """Position of a group label in the arrays; ValueError naming the known labels if absent."""
        hits = np.flatnonzero(self.labels == label)
        if hits.size != 1:
            raise ValueError(f"unknown group {label!r}; the groups are {self.labels.tolist()}")
        return int(hits[0])

    def confidence_interval(self, label: Any) -> tuple[float, float]:
        i = self.index(label)
        return float(self.ci_low[i]), float(self.ci_high[i])

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per group: group, n, mean, ci_low, ci_high (ready for JSON)."""
        return [
            {"group": label.item() if isinstance(label, np.generic) else label, "n": int(n), "mean": float(m),
             "ci_low": float(lo), "ci_high": float(hi)}
            for label, n, m, lo, hi in zip(self.labels, self.n, self.mean, self.ci_low, self.ci_high, strict=True)
        ]


@dataclass(frozen=True, kw_only=True, eq=False)
class DifferenceResult:
    """A difference of means, `mean(group) - mean(reference)`, with its bootstrap CI.

    For alternative 'less' the interval is (-inf, upper): `upper` is the one-sided `confidence` upper bound;
    for 'greater' it is (lower, inf)."""

    group: Any
    reference: Any
    difference: float
    confidence_interval: tuple[float, float]
    confidence: float
    alternative: str
    method: str
    resampled: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        _readonly(self.resampled)

    @property
    def standard_error(self) -> float:
        """Bootstrap standard error (ddof=1), as scipy.stats.bootstrap reports it."""
        return float(np.std(self.resampled, ddof=1))
