"""Spearman trend: scipy's rho and p-value, and a paired bootstrap whose replicates are exactly the Spearman
correlations of explicitly resampled pairs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from segaudit.audit.stats import spearman_trend
from segaudit.audit.stats.trend import resampled_spearman


def _heights_and_iou(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    height = rng.normal(170, 10, n)
    iou = np.clip(0.85 - 0.002 * (height - 170) + rng.normal(0, 0.05, n), 0, 1)
    return height, iou


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_rho_and_p_value_equal_scipy_spearmanr(alternative: str) -> None:
    height, iou = _heights_and_iou(80, 0)
    ours = spearman_trend(height, iou, n_resamples=50, alternative=alternative)
    ref = stats.spearmanr(height, iou, alternative=alternative)
    np.testing.assert_allclose([ours.statistic, ours.pvalue], [ref.statistic, ref.pvalue], rtol=1e-10)
    assert ours.n == 80 and ours.p_value == ours.pvalue


@pytest.mark.parametrize("tied", [False, True])
def test_resampled_rho_equals_spearmanr_of_explicit_resamples(tied: bool) -> None:
    x, y = _heights_and_iou(25, 1)
    if tied:  # ages in whole years and a rounded metric: many ties, and more within each resample
        x, y = np.round(x / 5), np.round(y, 1)
    idx = np.random.default_rng(2).integers(0, 25, size=(40, 25))
    expected = [stats.spearmanr(x[i], y[i]).statistic for i in idx]
    np.testing.assert_allclose(resampled_spearman(x, y, idx), expected, rtol=1e-10, atol=1e-12)


def test_bootstrap_uses_seeded_pair_resamples_and_percentile_interval() -> None:
    x, y = _heights_and_iou(30, 3)
    res = spearman_trend(x, y, n_resamples=200, seed=4, confidence=0.9)
    expected = resampled_spearman(x, y, np.random.default_rng(4).integers(0, 30, size=(200, 30)))
    np.testing.assert_allclose(res.resampled, expected, rtol=1e-12)
    np.testing.assert_allclose(res.confidence_interval, np.quantile(expected, [0.05, 0.95]), rtol=1e-12)
    assert res.confidence_interval[0] < res.statistic < res.confidence_interval[1]
    again = spearman_trend(x, y, n_resamples=200, seed=4, confidence=0.9)
    np.testing.assert_array_equal(again.resampled, res.resampled)


def test_one_sided_interval_keeps_the_far_end_at_the_bound_of_rho() -> None:
    x, y = _heights_and_iou(30, 5)
    upper = spearman_trend(x, y, n_resamples=200, seed=1, alternative="less", confidence=0.95)
    two = spearman_trend(x, y, n_resamples=200, seed=1, confidence=0.90)
    assert upper.confidence_interval == (-1.0, pytest.approx(two.confidence_interval[1], rel=1e-12))


def test_resamples_with_a_constant_attribute_are_left_out() -> None:
    x = np.r_[np.zeros(4), 1.0]  # a resample missing the single 1 has constant x and no rho
    y = np.arange(5.0)
    res = spearman_trend(x, y, n_resamples=300, seed=0)
    undefined = np.isnan(res.resampled)
    assert 0 < undefined.sum() < 300 and res.n_resamples == 300 - undefined.sum()
    assert np.all(np.isfinite(res.confidence_interval))


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0], "`x` has 4 values but `y` has 3"),
        ([1.0, 2.0], [1.0, 2.0], "at least 3"),
        ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "`x` is constant"),
        ([1.0, 2.0, 3.0], [1.0, np.nan, 3.0], "`y` contains 1 NaN"),
        ([], [], "`x` is empty"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(x, y, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spearman_trend(x, y, n_resamples=10)


def test_bonett_wright_interval_matches_its_formula_and_covers_at_about_nominal_rate() -> None:
    x, y = _heights_and_iou(200, 6)
    res = spearman_trend(x, y, ci_method="bonett-wright")
    half = stats.norm.ppf(0.975) * np.sqrt((1 + res.statistic**2 / 2) / 197)
    expected = np.tanh(np.arctanh(res.statistic) + np.array([-half, half]))
    np.testing.assert_allclose(res.confidence_interval, expected, rtol=1e-12)
    assert res.n_resamples == 0 and res.ci_method == "bonett-wright"
    # coverage: the true rho of this model, estimated once on a very large sample
    big_x, big_y = _heights_and_iou(200_000, 7)
    true_rho = stats.spearmanr(big_x, big_y).statistic
    hits = sum(
        low <= true_rho <= high
        for low, high in (spearman_trend(*_heights_and_iou(60, 100 + i), ci_method="bonett-wright")
                          .confidence_interval for i in range(200))
    )
    assert 0.88 <= hits / 200 <= 0.99


def test_unknown_ci_method_is_refused() -> None:
    with pytest.raises(ValueError, match="`ci_method`"):
        spearman_trend([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], ci_method="fisher")
