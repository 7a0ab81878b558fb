"""Clopper-Pearson bounds: scipy.stats.binomtest's exact interval, one count or a whole array at once."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from segaudit.audit.stats import clopper_pearson

COUNTS = [(0, 10), (3, 10), (10, 10), (7, 50), (50, 50), (1, 1000), (999, 1000), (0, 1), (1, 1)]


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("confidence", [0.95, 0.975, 0.8])
def test_bounds_equal_scipy_binomtest_exact_interval(alternative: str, confidence: float) -> None:
    for k, n in COUNTS:
        expected = stats.binomtest(k, n, alternative=alternative).proportion_ci(confidence, method="exact")
        low, high = clopper_pearson(k, n, confidence, alternative=alternative)
        assert isinstance(low, float) and isinstance(high, float)
        # scipy finds the bound by root finding, we read it off a Beta quantile: equal to its tolerance
        assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-12), (k, n)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_an_array_of_counts_gives_each_count_its_own_bounds_bit_for_bit(alternative: str) -> None:
    k = np.array([[0, 3, 10], [7, 50, 1]])
    n = np.array([[10, 10, 10], [50, 50, 1000]])
    interval = clopper_pearson(k, n, 0.9, alternative=alternative)
    assert interval.low.shape == interval.high.shape == (2, 3)
    for index in np.ndindex(k.shape):
        assert (interval.low[index], interval.high[index]) == clopper_pearson(int(k[index]), int(n[index]), 0.9,
                                                                              alternative=alternative)
    # n broadcasts against k, as in the ROC search where every point shares the class sizes
    np.testing.assert_array_equal(clopper_pearson(k[0], 10, 0.9, alternative).high, interval.high[0])


def test_no_trials_know_nothing_and_the_edges_are_closed() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    assert clopper_pearson(0, 20).low == 0.0 and clopper_pearson(20, 20).high == 1.0
    assert clopper_pearson(5, 20, alternative="less").low == 0.0
    assert clopper_pearson(5, 20, alternative="greater").high == 1.0


@pytest.mark.parametrize(("k", "n", "message"), [(5, 3, "k=5.0, n=3.0"), (-1, 3, "0 <= k <= n"),
                                                 (1.5, 3, "integers"), ([1, 4], 3, "at index \\(1,\\)"),
                                                 ("a", 3, "numeric")])
def test_impossible_counts_are_refused_naming_the_pair(k, n, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clopper_pearson(k, n)


def test_bad_confidence_and_alternative_are_refused() -> None:
    with pytest.raises(ValueError, match="`confidence` must be"):
        clopper_pearson(1, 10, 1.0)
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        clopper_pearson(1, 10, alternative="upper")
