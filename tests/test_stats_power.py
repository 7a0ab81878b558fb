"""Power by the normal approximation: formula, inverse, and a small simulation of the z-test it models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from segaudit.audit.stats import minimum_detectable_difference, required_n


def test_minimum_detectable_difference_matches_normal_quantiles() -> None:
    se = np.sqrt(0.12**2 / 50 + 0.08**2 / 400)
    one = minimum_detectable_difference(50, 400, 0.12, 0.08, alpha=0.05, power=0.8)
    two = minimum_detectable_difference(50, 400, 0.12, 0.08, alpha=0.05, power=0.8, alternative="two-sided")
    assert one == pytest.approx((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * se, rel=1e-12)
    assert two == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se, rel=1e-12)
    exact_reference = minimum_detectable_difference(50, np.inf, 0.12)
    assert exact_reference == pytest.approx((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * 0.12 / np.sqrt(50))


def test_minimum_detectable_difference_broadcasts_over_groups() -> None:
    mdd = minimum_detectable_difference(np.array([12, 100, 1000]), 5000, np.array([0.1, 0.1, 0.1]), 0.1)
    assert isinstance(mdd, np.ndarray) and mdd.shape == (3,)
    assert np.all(np.diff(mdd) < 0)  # bigger groups reveal smaller gaps


def test_required_n_is_the_smallest_n_whose_detectable_difference_reaches_the_margin() -> None:
    for ratio in (1.0, 4.0, np.inf):
        n = required_n(0.01, 0.1, ratio=ratio)
        assert minimum_detectable_difference(n, n * ratio, 0.1) <= 0.01
        assert minimum_detectable_difference(n - 1, (n - 1) * ratio, 0.1) > 0.01
    # textbook: one-sided 5 %, 80 %, equal groups: n = 2 (1.645 + 0.842)^2 sd^2 / m^2 = 1236.5 for sd/m = 10
    assert required_n(0.01, 0.1) == 1237


def test_simulated_z_test_has_nominal_power_at_the_detectable_difference_and_size_alpha_at_zero() -> None:
    rng = np.random.default_rng(0)
    n_g, n_r, sd, n_sim = 40, 160, 0.1, 2000
    mdd = minimum_detectable_difference(n_g, n_r, sd)
    z_crit = stats.norm.ppf(0.95)
    se = np.sqrt(sd**2 / n_g + sd**2 / n_r)
    for shortfall, expected in ((mdd, 0.8), (0.0, 0.05)):
        group_means = rng.normal(0.8 - shortfall, sd, (n_sim, n_g)).mean(axis=1)
        reference_means = rng.normal(0.8, sd, (n_sim, n_r)).mean(axis=1)
        rate = np.mean((reference_means - group_means) / se > z_crit)
        assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / n_sim)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: minimum_detectable_difference(1, 100, 0.1), "`n_group` must be at least 2"),
        (lambda: minimum_detectable_difference(10, 0, 0.1), "`n_reference` must be positive"),
        (lambda: minimum_detectable_difference(10, 100, np.nan), "`sd_group`"),
        (lambda: minimum_detectable_difference(10, 100, 0.1, alpha=1.5), "`alpha`"),
        (lambda: minimum_detectable_difference(10, 100, 0.1, power=0.01), "`power`"),
        (lambda: minimum_detectable_difference(10, 100, 0.1, alternative="less"), "`alternative`"),
        (lambda: required_n(0.0, 0.1), "`margin` must be positive"),
        (lambda: required_n(0.01, -0.1), "`sd`"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
