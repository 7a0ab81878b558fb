"""Validity of the verdicts, shown by seeded simulation: many audits of data with a known truth.

Each simulated audit runs the real per-attribute analysis (`analyse_grouping`: stratified bootstrap, Mann-Whitney
against the rest, Holm, power, verdict) on per-image IoU drawn from Beta distributions with mean ~0.9 and sd
0.05, like a good person segmenter's. To stay fast it calls the analysis directly (no DataFrame) with B = 200
bootstrap resamples: B only sets the Monte-Carlo precision of the CI ends, not what they estimate.

Monte-Carlo tolerance: a rate estimated from R audits has standard error sqrt(p (1 - p) / R); bounds below
allow 2.5 standard errors. Every test is seeded, so it either always passes or always fails.
"""

from __future__ import annotations

import numpy as np

from audit.fairness import FairnessConfig, Grouping, analyse_grouping

SD = 0.05
B = 200


def beta_params(mean: float, sd: float = SD) -> tuple[float, float]:
    total = mean * (1 - mean) / sd**2 - 1
    return mean * total, (1 - mean) * total


def simulate(means: list[float], n: int, repeats: int, seed: int, **settings) -> dict[str, float]:
    """Share of audits ending in each verdict; group g has `n` images with true mean IoU `means[g]`."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(len(means)), n)
    grouping = Grouping(name="tone", scope="attribute", kind="categorical", attributes=("tone",),
                        labels=tuple(f"g{i}" for i in range(len(means))), codes=codes, min_size=2)
    a, b = np.array([beta_params(m) for m in means]).T
    verdicts = []
    for r in range(repeats):
        values = rng.beta(a[codes], b[codes])
        config = FairnessConfig(bootstrap=B, seed=r, **settings)
        verdicts.append(analyse_grouping(values, grouping, config).verdict)
    return {v: verdicts.count(v) / repeats for v in ("pass", "fail", "inconclusive")}


def tolerance(rate: float, repeats: int) -> float:
    return 2.5 * np.sqrt(rate * (1 - rate) / repeats)


def test_without_disparity_the_fail_rate_stays_within_alpha() -> None:
    rates = simulate([0.9] * 4, n=300, repeats=300, seed=10)
    assert rates["fail"] <= 0.05 + tolerance(0.05, 300)


def test_without_disparity_and_no_margin_holm_keeps_the_family_wise_rate_within_alpha() -> None:
    # margin 0: a fail is any significant shortfall, so this is the size of the corrected tests themselves
    rates = simulate([0.9] * 6, n=100, repeats=400, seed=11, margin=0.0)
    assert rates["fail"] <= 0.05 + tolerance(0.05, 400)
    assert rates["pass"] == 0.0  # with no margin, equivalence can never be shown


def test_without_disparity_and_no_margin_benjamini_hochberg_stays_within_alpha() -> None:
    # under the global null the false discovery rate is the family-wise rate
    rates = simulate([0.9] * 6, n=100, repeats=400, seed=12, margin=0.0, correction="bh")
    assert rates["fail"] <= 0.05 + tolerance(0.05, 400)


def test_a_true_two_point_shortfall_in_one_group_of_300_is_failed_at_least_80_percent_of_the_time() -> None:
    rates = simulate([0.9, 0.9, 0.9, 0.88], n=300, repeats=200, seed=13)
    assert rates["fail"] >= 0.80


def test_a_two_tenths_point_shortfall_with_2000_per_group_passes() -> None:
    rates = simulate([0.9, 0.9, 0.9, 0.898], n=2000, repeats=40, seed=14)
    assert rates["pass"] >= 0.95 and rates["fail"] == 0.0


def test_a_true_shortfall_at_the_margin_is_almost_never_passed() -> None:
    # the equivalence side: claiming "fair within 1 point" when one group truly falls 1 point short
    rates = simulate([0.9, 0.9, 0.9, 0.89], n=300, repeats=300, seed=15)
    assert rates["pass"] <= 0.05 + tolerance(0.05, 300)


def test_small_groups_with_no_disparity_stay_inconclusive_rather_than_pass() -> None:
    # 'not significant' is not 'fair': with 20 images per group nothing is significant and nothing passes
    rates = simulate([0.9] * 3, n=20, repeats=100, seed=16)
    assert rates["pass"] == 0.0 and rates["inconclusive"] >= 0.9
