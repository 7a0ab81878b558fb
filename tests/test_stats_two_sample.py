"""Two-sample tests and effect sizes agree with scipy.stats and with brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import segaudit.audit.stats._permutation as permutation_module
from segaudit.audit.stats import (
    cliffs_delta,
    mann_whitney,
    mann_whitney_vs_rest,
    permutation_mean_difference,
    welch_t,
)

ALTERNATIVES = ["two-sided", "less", "greater"]


def _mean_diff(x, y, axis):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _brute_force_cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    diff = x[:, None] - y[None, :]
    return (np.sum(diff > 0) - np.sum(diff < 0)) / diff.size


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("case", ["small-exact", "large-asymptotic", "ties"])
def test_mann_whitney_equals_scipy(alternative: str, case: str) -> None:
    rng = np.random.default_rng(0)
    x, y = {
        "small-exact": (rng.random(6), rng.random(7) + 0.2),
        "large-asymptotic": (rng.beta(8, 2, 60), rng.beta(7, 2, 80)),
        "ties": (rng.integers(0, 5, 30).astype(float), rng.integers(1, 6, 25).astype(float)),
    }[case]
    ours = mann_whitney(x, y, alternative=alternative)
    ref = stats.mannwhitneyu(x, y, alternative=alternative)
    np.testing.assert_allclose([ours.statistic, ours.pvalue], [ref.statistic, ref.pvalue], rtol=1e-10)
    assert ours.p_value == ours.pvalue and ours.test == "mann-whitney"


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("use_continuity", [True, False])
def test_mann_whitney_vs_rest_equals_scipy_for_every_group(alternative: str, use_continuity: bool) -> None:
    rng = np.random.default_rng(1)
    values = np.round(rng.beta(8, 2, 120), 2)  # rounding makes ties
    groups = rng.choice(["a", "b", "c", "d"], size=120, p=[0.5, 0.3, 0.15, 0.05])
    res = mann_whitney_vs_rest(values, groups, alternative=alternative, use_continuity=use_continuity)
    for i, label in enumerate(res.labels):
        ref = stats.mannwhitneyu(values[groups == label], values[groups != label], alternative=alternative,
                                 use_continuity=use_continuity)
        np.testing.assert_allclose([res.statistic[i], res.pvalue[i]], [ref.statistic, ref.pvalue], rtol=1e-10)
        assert res.effect_size[i] == pytest.approx(
            _brute_force_cliffs_delta(values[groups == label], values[groups != label]), abs=1e-12)
    assert res.n.tolist() == [int(np.sum(groups == label)) for label in res.labels]


def test_mann_whitney_vs_rest_uses_exact_test_for_a_tiny_tie_free_group_like_scipy() -> None:
    rng = np.random.default_rng(2)
    values = rng.random(40)
    groups = np.repeat(["big", "tiny"], [35, 5])
    res = mann_whitney_vs_rest(values, groups)
    ref = stats.mannwhitneyu(values[35:], values[:35])  # auto -> exact for n=5 without ties
    assert res.pvalue[1] == pytest.approx(ref.pvalue, rel=1e-10)
    asymptotic = stats.mannwhitneyu(values[35:], values[:35], method="asymptotic").pvalue
    assert res.pvalue[1] != pytest.approx(asymptotic, rel=1e-6)


@pytest.mark.parametrize("ties", [False, True])
def test_cliffs_delta_equals_brute_force_pairwise_definition(ties: bool) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.1, 1, 37), rng.normal(0, 1, 23)
    if ties:
        x, y = np.round(x), np.round(y)
    assert cliffs_delta(x, y) == pytest.approx(_brute_force_cliffs_delta(x, y), abs=1e-12)
    assert cliffs_delta([1, 2], [3, 4]) == -1.0 and cliffs_delta([3, 4], [1, 2]) == 1.0


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_exact_permutation_test_equals_scipy(alternative: str) -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.3, 1, 6), rng.normal(0, 1, 7)  # C(13, 6) = 1716 relabellings <= 9999: exact
    ours = permutation_mean_difference(x, y, alternative=alternative)
    ref = stats.permutation_test((x, y), _mean_diff, vectorized=True, alternative=alternative)
    assert ours.exact and ours.n_resamples == 1716
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    np.testing.assert_allclose(np.sort(ours.null_distribution), np.sort(ref.null_distribution), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_random_permutation_test_equals_scipy_with_same_generator(alternative: str) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.beta(8, 2, 30), rng.beta(7, 2, 40)
    ours = permutation_mean_difference(x, y, n_resamples=999, seed=np.random.default_rng(8), alternative=alternative)
    ref = stats.permutation_test((x, y), _mean_diff, vectorized=True, n_resamples=999, alternative=alternative,
                                 rng=np.random.default_rng(8))
    assert not ours.exact
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    np.testing.assert_allclose(ours.null_distribution, ref.null_distribution, rtol=1e-10, atol=1e-14)


def test_random_permutation_p_value_is_within_monte_carlo_error_of_the_exact_one() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(0.5, 1, 8), rng.normal(0, 1, 8)  # 12870 relabellings
    exact = stats.permutation_test((x, y), _mean_diff, vectorized=True, n_resamples=20000).pvalue
    ours = permutation_mean_difference(x, y, n_resamples=2000, seed=1)
    assert not ours.exact
    assert abs(ours.pvalue - exact) < 4 * np.sqrt(exact * (1 - exact) / 2000) + 1e-3


def test_permutation_stream_does_not_depend_on_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.random(9), rng.random(11)
    whole = permutation_mean_difference(x, y, n_resamples=300, seed=3)
    monkeypatch.setattr(permutation_module, "CHUNK_ELEMENTS", 50)  # 2 rows per block
    blocked = permutation_mean_difference(x, y, n_resamples=300, seed=3)
    np.testing.assert_array_equal(whole.null_distribution, blocked.null_distribution)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_welch_t_equals_scipy_ttest_ind_unequal_variances(alternative: str) -> None:
    rng = np.random.default_rng(8)
    x, y = rng.normal(0.8, 0.05, 20), rng.normal(0.78, 0.15, 45)
    ours = welch_t(x, y, alternative=alternative, confidence=0.9)
    ref = stats.ttest_ind(x, y, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(confidence_level=0.9)
    np.testing.assert_allclose([ours.statistic, ours.pvalue, ours.df], [ref.statistic, ref.pvalue, ref.df], rtol=1e-10)
    np.testing.assert_allclose(ours.confidence_interval, (ci.low, ci.high), rtol=1e-10)
    assert ours.difference == pytest.approx(x.mean() - y.mean())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mann_whitney([], [1.0, 2.0]), "`x` is empty"),
        (lambda: mann_whitney([1.0, np.inf], [1.0, 2.0]), "`x` contains 1 NaN or infinite"),
        (lambda: mann_whitney([1.0, 2.0], [1.0], alternative="smaller"), "`alternative`"),
        (lambda: mann_whitney([1.0, 2.0], [1.0], method="fast"), "`method`"),
        (lambda: mann_whitney_vs_rest([0.1, 0.2, 0.3], ["a", "a", "a"]), "at least two groups"),
        (lambda: mann_whitney_vs_rest([0.1, 0.2, 0.3], ["a", "b"]), "`values` has 3 entries but `groups` has 2"),
        (lambda: permutation_mean_difference([1.0], [np.nan]), "`y` contains"),
        (lambda: permutation_mean_difference([1.0], [2.0], n_resamples=-5), "`n_resamples`"),
        (lambda: welch_t([1.0], [1.0, 2.0]), "`x` has 1 value"),
        (lambda: welch_t([1.0, 1.0], [2.0, 2.0]), "both constant"),
        (lambda: cliffs_delta([1.0, 2.0], []), "`y` is empty"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
