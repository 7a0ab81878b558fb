"""Omnibus tests: Kruskal-Wallis equals scipy; the max-gap permutation test equals scipy.stats.permutation_test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from segaudit.audit.stats import kruskal, kruskal_groups, permutation_max_gap
from segaudit.audit.stats._permutation import all_relabellings, n_relabellings


def _max_gap(*samples, axis):
    means = np.stack([np.mean(s, axis=axis) for s in samples])
    return means.max(axis=0) - means.min(axis=0)


@pytest.mark.parametrize("ties", [False, True])
def test_kruskal_equals_scipy(ties: bool) -> None:
    rng = np.random.default_rng(0)
    samples = [rng.beta(8, 2, 25), rng.beta(7, 2, 40), rng.beta(8, 3, 9), rng.beta(8, 2, 3)]
    if ties:
        samples = [np.round(s, 1) for s in samples]
    ours = kruskal(*samples)
    ref = stats.kruskal(*samples)
    np.testing.assert_allclose([ours.statistic, ours.pvalue], [ref.statistic, ref.pvalue], rtol=1e-10)
    assert ours.df == 3 and ours.p_value == ours.pvalue


def test_kruskal_groups_equals_kruskal_on_the_split_samples_in_any_row_order() -> None:
    rng = np.random.default_rng(1)
    values = rng.beta(8, 2, 90)
    groups = rng.choice(["light", "medium", "dark"], 90)
    ours = kruskal_groups(values, groups)
    ref = stats.kruskal(*(values[groups == g] for g in ["dark", "light", "medium"]))
    np.testing.assert_allclose([ours.statistic, ours.pvalue], [ref.statistic, ref.pvalue], rtol=1e-10)


def test_kruskal_refuses_all_identical_values() -> None:
    with pytest.raises(ValueError, match="all values are identical"):
        kruskal([1.0, 1.0, 1.0], [1.0, 1.0])


def test_all_relabellings_enumerates_every_distinct_split_once() -> None:
    sizes = [3, 2, 2]
    rows = all_relabellings(sizes)
    assert rows.shape == (n_relabellings(sizes), 7) and n_relabellings(sizes) == math.factorial(7) // (6 * 2 * 2)
    assert all(sorted(r) == list(range(7)) for r in rows.tolist())
    splits = {(frozenset(r[:3]), frozenset(r[3:5]), frozenset(r[5:])) for r in rows.tolist()}
    assert len(splits) == rows.shape[0]


def test_exact_max_gap_test_equals_scipy() -> None:
    rng = np.random.default_rng(2)
    samples = [rng.normal(0.5, 1, 3), rng.normal(0, 1, 3), rng.normal(0, 1, 2)]  # 560 relabellings: exact
    values = np.concatenate(samples)
    groups = np.repeat([0, 1, 2], [3, 3, 2])
    ours = permutation_max_gap(values, groups)
    ref = stats.permutation_test(samples, _max_gap, vectorized=True, alternative="greater")
    assert ours.exact and ours.n_resamples == 560
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_random_max_gap_test_equals_scipy_with_same_generator() -> None:
    rng = np.random.default_rng(3)
    samples = [rng.beta(8, 2, 20), rng.beta(7, 2, 30), rng.beta(8, 2, 15)]
    # Table rows interleave the groups; within a group they keep the order of its sample.
    groups = rng.permutation(np.repeat(["a", "b", "c"], [20, 30, 15]))
    values = np.empty(groups.size)
    for label, sample in zip("abc", samples, strict=True):
        values[groups == label] = sample
    ours = permutation_max_gap(values, groups, n_resamples=500, seed=np.random.default_rng(4))
    ref = stats.permutation_test(samples, _max_gap, vectorized=True, alternative="greater", n_resamples=500,
                                 rng=np.random.default_rng(4))
    assert not ours.exact
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    np.testing.assert_allclose(ours.null_distribution, ref.null_distribution, rtol=1e-10, atol=1e-14)


def test_max_gap_test_detects_a_shifted_group_and_not_a_null_one() -> None:
    rng = np.random.default_rng(5)
    groups = np.repeat([0, 1, 2, 3], 50)
    null_values = rng.beta(8, 2, 200)
    shifted = null_values - 0.08 * (groups == 3)
    assert permutation_max_gap(shifted, groups, n_resamples=999, seed=0).pvalue < 0.01
    assert permutation_max_gap(null_values, groups, n_resamples=999, seed=0).pvalue > 0.05


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kruskal([1.0, 2.0]), "at least 2 samples"),
        (lambda: kruskal([1.0, 2.0], []), r"`samples\[1\]` is empty"),
        (lambda: kruskal_groups([1.0, 2.0, 3.0], ["a", "a", "a"]), "at least two groups"),
        (lambda: kruskal_groups([1.0, np.nan, 3.0], ["a", "b", "a"]), "NaN"),
        (lambda: permutation_max_gap([1.0, 2.0, 3.0], ["a", "b"]), "`groups` has 2"),
        (lambda: permutation_max_gap([1.0, 2.0, 3.0], ["a", "b", "b"], seed=-1), "`seed`"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
