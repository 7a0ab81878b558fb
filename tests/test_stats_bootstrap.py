"""Stratified group bootstrap and differences of group means: agreement with scipy.stats.bootstrap, fixed
group sizes, reproducibility, coverage, one-sided bounds and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import segaudit.audit.stats.bootstrap as bootstrap_module
from segaudit.audit.stats import (
    bootstrap_means,
    group_bootstrap,
    mean_difference,
    mean_difference_ci,
    worst_to_average_gap,
)


def _three_groups(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = [rng.beta(8, 2, 30), rng.beta(6, 2, 25), rng.beta(8, 3, 20)]
    values = np.concatenate(samples)
    groups = np.repeat(["a", "b", "c"], [s.size for s in samples])
    return values, groups, samples


@pytest.mark.parametrize(("method", "scipy_method"), [("percentile", "percentile"), ("bca", "BCa")])
def test_single_group_ci_equals_scipy_bootstrap_with_same_generator(method: str, scipy_method: str) -> None:
    x = np.random.default_rng(1).beta(8, 2, 40)
    ours = group_bootstrap(x, None, n_resamples=500, seed=np.random.default_rng(7), method=method)
    ref = stats.bootstrap((x,), np.mean, n_resamples=500, method=scipy_method, rng=np.random.default_rng(7))
    np.testing.assert_allclose(ours.resampled_means[:, 0], ref.bootstrap_distribution, rtol=1e-12)
    np.testing.assert_allclose([ours.ci_low[0], ours.ci_high[0]], ref.confidence_interval, rtol=1e-10)


@pytest.mark.parametrize(("method", "scipy_method"), [("percentile", "percentile"), ("bca", "BCa")])
def test_group_minus_rest_ci_equals_scipy_stratified_bootstrap(method: str, scipy_method: str) -> None:
    values, groups, (a, b, c) = _three_groups()
    boot = group_bootstrap(values, groups, n_resamples=400, seed=np.random.default_rng(3), method=method)
    ours = mean_difference_ci(boot, "a", "rest")

    # rest = the stratified mean of the other groups, weights fixed at their sizes (25, 20) as in the design;
    # fixed weights also give BCa's jackknife the within-group influence of each observation.
    def a_minus_rest(x, y, z, axis):
        return np.mean(x, axis=axis) - (25 * np.mean(y, axis=axis) + 20 * np.mean(z, axis=axis)) / 45

    ref = stats.bootstrap((a, b, c), a_minus_rest, n_resamples=400, method=scipy_method, rng=np.random.default_rng(3))
    np.testing.assert_allclose(ours.difference, a.mean() - np.concatenate([b, c]).mean(), rtol=1e-12)
    np.testing.assert_allclose(ours.resampled, ref.bootstrap_distribution, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours.confidence_interval, ref.confidence_interval, rtol=1e-9)


def test_mean_difference_equals_scipy_two_sample_bootstrap() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.8, 0.1, 25), rng.normal(0.75, 0.15, 35)
    ours = mean_difference(x, y, n_resamples=300, seed=np.random.default_rng(9), method="bca")
    ref = stats.bootstrap((x, y), lambda u, v, axis: np.mean(u, axis=axis) - np.mean(v, axis=axis),
                          n_resamples=300, method="BCa", rng=np.random.default_rng(9))
    np.testing.assert_allclose(ours.confidence_interval, ref.confidence_interval, rtol=1e-9)
    np.testing.assert_allclose(ours.standard_error, ref.standard_error, rtol=1e-9)


def test_resamples_keep_each_group_size_fixed() -> None:
    # One 1 among zeros: a replicate mean is k / n_g where k counts draws of the 1, so every replicate mean times
    # n_g is an integer only if the group was resampled at exactly its own size from its own values.
    values = np.concatenate([np.r_[np.zeros(9), 1.0], np.r_[np.zeros(19), 1.0], np.r_[np.zeros(6), 1.0]])
    groups = np.repeat([0, 1, 2], [10, 20, 7])
    boot = group_bootstrap(values, groups, n_resamples=300, seed=0)
    scaled = boot.resampled_means * boot.n
    np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-9)
    assert np.all(boot.resampled_means <= 1.0)
    # and the counts of 1s are binomial(n_g, 1/n_g): mean 1 per replicate
    np.testing.assert_allclose(scaled.mean(axis=0), 1.0, atol=0.25)


def test_bootstrap_means_stream_does_not_depend_on_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(2).random(13)
    expected = x[np.random.default_rng(5).integers(0, 13, size=(50, 13))].mean(axis=1)
    monkeypatch.setattr(bootstrap_module, "CHUNK_ELEMENTS", 40)  # 3 rows per block
    np.testing.assert_array_equal(bootstrap_means(x, 50, np.random.default_rng(5)), expected)


def test_same_seed_gives_identical_results_and_other_seed_differs() -> None:
    values, groups, _ = _three_groups()
    first = group_bootstrap(values, groups, n_resamples=200, seed=11, method="bca")
    again = group_bootstrap(values, groups, n_resamples=200, seed=11, method="bca")
    other = group_bootstrap(values, groups, n_resamples=200, seed=12, method="bca")
    np.testing.assert_array_equal(first.resampled_means, again.resampled_means)
    np.testing.assert_array_equal(first.ci_low, again.ci_low)
    assert not np.array_equal(first.resampled_means, other.resampled_means)


def test_group_results_are_in_sorted_label_order_with_counts_and_means() -> None:
    values, groups, samples = _three_groups()
    perm = np.random.default_rng(0).permutation(values.size)  # row order must not matter
    boot = group_bootstrap(values[perm], groups[perm], n_resamples=50)
    assert boot.labels.tolist() == ["a", "b", "c"]
    assert boot.n.tolist() == [30, 25, 20]
    np.testing.assert_allclose(boot.mean, [s.mean() for s in samples], rtol=1e-12)
    np.testing.assert_allclose(boot.sd, [s.std(ddof=1) for s in samples], rtol=1e-12)
    record = boot.to_records()[1]
    assert record["group"] == "b" and record["n"] == 25 and record["ci_low"] < record["mean"] < record["ci_high"]
    assert boot.confidence_interval("c") == (boot.ci_low[2], boot.ci_high[2])


def test_percentile_ci_covers_true_mean_and_difference_at_about_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    mean_a, mean_b = 0.8, 6 / 8  # Beta(8, 2) and Beta(6, 2): skewed like per-image IoU
    hits_mean = hits_diff = 0
    n_sim = 200
    for _ in range(n_sim):
        values = np.concatenate([rng.beta(8, 2, 40), rng.beta(6, 2, 60)])
        boot = group_bootstrap(values, np.repeat([0, 1], [40, 60]), n_resamples=400, seed=rng)
        hits_mean += boot.ci_low[0] <= mean_a <= boot.ci_high[0]
        low, high = mean_difference_ci(boot, 0, "rest").confidence_interval
        hits_diff += low <= mean_a - mean_b <= high
    assert 0.88 <= hits_mean / n_sim <= 0.99
    assert 0.88 <= hits_diff / n_sim <= 0.99


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_one_sided_upper_bound_equals_two_sided_upper_end_at_twice_the_alpha(method: str) -> None:
    values, groups, _ = _three_groups()
    one_sided = group_bootstrap(values, groups, n_resamples=300, seed=5, method=method, confidence=0.95,
                                alternative="less")
    two_sided = group_bootstrap(values, groups, n_resamples=300, seed=5, method=method, confidence=0.90)
    np.testing.assert_allclose(one_sided.ci_high, two_sided.ci_high, rtol=1e-12)
    assert np.all(np.isneginf(one_sided.ci_low))
    diff_one = mean_difference_ci(one_sided, "b", "rest", confidence=0.95, alternative="less")
    diff_two = mean_difference_ci(two_sided, "b", "rest", confidence=0.90)
    assert diff_one.confidence_interval[1] == pytest.approx(diff_two.confidence_interval[1], rel=1e-12)
    greater = mean_difference_ci(two_sided, "b", "rest", confidence=0.95, alternative="greater")
    assert greater.confidence_interval[0] == pytest.approx(diff_two.confidence_interval[0], rel=1e-12)
    assert np.isposinf(greater.confidence_interval[1])


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_constant_group_has_zero_width_interval(method: str) -> None:
    values = np.r_[np.full(10, 0.1), np.linspace(0.2, 0.9, 12)]
    boot = group_bootstrap(values, np.repeat(["flat", "varied"], [10, 12]), n_resamples=100, method=method)
    assert boot.ci_low[0] == boot.ci_high[0] == boot.mean[0]
    assert np.all(boot.resampled_means[:, 0] == boot.mean[0])
    assert boot.ci_low[1] < boot.ci_high[1]


def test_references_best_average_overall_and_a_named_group() -> None:
    values, groups, (a, b, c) = _three_groups()
    boot = group_bootstrap(values, groups, n_resamples=200, seed=1)
    best = boot.labels[np.argmax(boot.mean)]
    to_best = mean_difference_ci(boot, "c", "best")
    assert to_best.reference == best
    assert to_best.difference == pytest.approx(c.mean() - boot.mean.max(), rel=1e-12)
    assert mean_difference_ci(boot, "c", "average").difference == pytest.approx(c.mean() - boot.mean.mean())
    assert mean_difference_ci(boot, "c", "overall").difference == pytest.approx(c.mean() - values.mean())
    named = mean_difference_ci(boot, "c", "a")
    np.testing.assert_allclose(named.resampled, boot.resampled_means[:, 2] - boot.resampled_means[:, 0])


def test_worst_to_average_gap_is_average_minus_worst_with_ci() -> None:
    values, groups, _ = _three_groups()
    boot = group_bootstrap(values, groups, n_resamples=300, seed=2)
    gap = worst_to_average_gap(boot)
    worst = int(np.argmin(boot.mean))
    assert gap.reference == boot.labels[worst] and gap.group == "average"
    assert gap.difference == pytest.approx(boot.mean.mean() - boot.mean[worst])
    assert gap.confidence_interval[0] < gap.difference < gap.confidence_interval[1]
    weighted = worst_to_average_gap(boot, weighting="n")
    assert weighted.difference == pytest.approx(values.mean() - boot.mean[worst])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": []}, "`values` is empty"),
        ({"values": [0.5, np.nan, 0.7], "groups": ["a", "a", "a"]}, "NaN"),
        ({"values": [0.5, 0.6, 0.7], "groups": ["a", "b"]}, "`values` has 3 entries but `groups` has 2"),
        ({"values": [0.5, 0.6, 0.7], "groups": ["a", "a", "b"]}, "fewer than 2 values"),
        ({"values": [0.5, 0.6, 0.7, 0.8], "groups": ["a", None, "a", "b"]}, "missing label"),
        ({"values": [0.5, 0.6, 0.7, 0.8], "groups": [1.0, np.nan, 1.0, 1.0]}, "NaN labels"),
        ({"values": [0.5, 0.6, 0.7], "groups": np.array(["a", pd.NA, "a"], dtype=object)}, "at index 1"),
        ({"values": [0.5, 0.6, 0.7], "groups": np.array(["a", 1, "a"], dtype=object)}, "mutually comparable"),
        ({"values": [0.5, 0.6], "method": "studentized"}, "`method`"),
        ({"values": [0.5, 0.6], "confidence": 95}, "`confidence`"),
        ({"values": [0.5, 0.6], "n_resamples": 0}, "`n_resamples`"),
        ({"values": [0.5, 0.6], "seed": None}, "`seed`"),
        ({"values": [0.5, 0.6], "alternative": "below"}, "`alternative`"),
        ({"values": [[0.5, 0.6]]}, "one-dimensional"),
        ({"values": ["high", "low"]}, "numeric"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(kwargs: dict, message: str) -> None:
    kwargs.setdefault("groups", None)
    with pytest.raises(ValueError, match=message):
        group_bootstrap(**kwargs)


def test_difference_errors_name_unknown_group_and_ambiguous_reference() -> None:
    boot = group_bootstrap([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], ["rest", "rest", "x", "x", "y", "y"], n_resamples=20)
    with pytest.raises(ValueError, match="unknown group 'z'"):
        mean_difference_ci(boot, "z")
    with pytest.raises(ValueError, match="ambiguous"):
        mean_difference_ci(boot, "x", "rest")
    with pytest.raises(ValueError, match="needs a group and at least one other"):
        mean_difference_ci(group_bootstrap([0.1, 0.2], None, n_resamples=20), "all", "rest")
