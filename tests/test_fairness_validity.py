"""Validity of the verdicts, shown by seeded simulation: many audits of data with a known truth.

These run the real `audit_fairness` through audit/fairness/validity.py (the code behind
benchmarks/fairness_validity.py, whose full table is in the README) with fewer replicates. Per-image IoU is
Beta with mean 0.9 and sd 0.05 (left-skewed, like a good person segmenter's).

Monte-Carlo tolerance: a rate estimated from R audits has standard error sqrt(p (1 - p) / R); bounds below
allow 2.5 standard errors. Every test is seeded, so it either always passes or always fails.
"""

from __future__ import annotations

import numpy as np

from segaudit.audit.fairness import FairnessConfig
from segaudit.audit.fairness.validity import Attribute, group_coverage, verdict_rates


def tolerance(rate: float, repeats: int) -> float:
    return 2.5 * np.sqrt(rate * (1 - rate) / repeats)


def one_group(n: int, shift: float, others: int = 300, groups: int = 4) -> list[Attribute]:
    return [Attribute("g", (others,) * (groups - 1) + (n,), (0.0,) * (groups - 1) + (shift,))]


def test_a_shortfall_exactly_at_the_margin_is_failed_at_most_alpha_of_the_time() -> None:
    # the old rule (point beyond the margin + significant against zero) failed this ~44 % of the time
    rates = verdict_rates(one_group(300, -0.01), replicates=150, seed=10)
    assert rates.attribute_fail <= 0.05 + tolerance(0.05, 150)


def test_without_disparity_and_no_margin_the_whole_audit_fails_at_most_alpha() -> None:
    # margin 0: every fail test is a test against zero; three attributes + one intersection share one Holm family
    attributes = [Attribute("a", (150,) * 4), Attribute("b", (200,) * 3), Attribute("c", (300,) * 2)]
    rates = verdict_rates(attributes, replicates=150, seed=11, intersections=(("a", "b"),),
                          config=FairnessConfig(margin=0.0))
    assert rates.audit_fail <= 0.05 + tolerance(0.05, 150)
    assert rates.audit_pass == 0.0  # with no margin, equivalence can never be shown


def test_a_true_two_point_shortfall_in_a_group_of_300_is_usually_failed() -> None:
    rates = verdict_rates(one_group(300, -0.02), replicates=60, seed=13)
    assert rates.attribute_fail >= 0.5


def test_tiny_groups_never_earn_a_pass_even_with_a_true_three_point_shortfall() -> None:
    for n in (2, 5):
        rates = verdict_rates(one_group(n, -0.03), replicates=40, seed=14 + n)
        assert rates.attribute_pass == 0.0


def test_two_groups_six_points_apart_never_pass_though_each_is_close_to_the_rest() -> None:
    hidden = [Attribute("g", (1500,) * 6 + (150,), (0.0,) * 6 + (0.06,))]
    rates = verdict_rates(hidden, replicates=20, seed=16)
    assert rates.attribute_pass == 0.0 and rates.attribute_fail == 1.0


def test_equivalence_is_shown_for_a_truly_fair_attribute_with_enough_images() -> None:
    rates = verdict_rates([Attribute("g", (3000,) * 2)], replicates=20, seed=17)
    assert rates.attribute_pass >= 0.9


def test_intervals_cover_at_small_n_and_subjects_keep_coverage_that_images_lose() -> None:
    cov = group_coverage(10, replicates=400, seed=18)
    for key in ("mean", "shortfall_upper", "shortfall_lower"):
        assert cov[key] >= 0.95 - 0.02 - tolerance(0.95, 400), key
    clustered = group_coverage(100, replicates=300, seed=19, photos_per_subject=5, subject_sd=0.03)
    naive = group_coverage(100, replicates=300, seed=19, photos_per_subject=5, subject_sd=0.03, use_subjects=False)
    assert clustered["mean"] >= 0.95 - tolerance(0.95, 300) and naive["mean"] < 0.90
