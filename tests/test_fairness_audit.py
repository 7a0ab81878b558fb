"""The audit from Python: statistics equal scipy's, verdicts follow the rules with reasons, results are
reproducible, and bad input is an InputError naming the file, row and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segaudit.audit.fairness import FairnessConfig, audit_fairness, fairness_json
from segaudit.core.errors import InputError
from segaudit.models.data import AttributeSpec
from tests.test_stats_corrections import _holm_by_definition

B = 300  # bootstrap resamples in these tests: enough for the verdict logic, fast


def beta_values(rng: np.random.Generator, n: int, mean: float, sd: float = 0.05) -> np.ndarray:
    """Per-image IoU-like values: Beta with the given mean and sd."""
    total = mean * (1 - mean) / sd**2 - 1
    return rng.beta(mean * total, (1 - mean) * total, n)


def make_table(groups: dict[str, tuple[int, float]], seed: int = 0, column: str = "tone") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.concatenate([[name] * n for name, (n, _) in groups.items()])
    values = np.concatenate([beta_values(rng, n, mean) for n, mean in groups.values()])
    return pd.DataFrame({"id": [f"img{i}" for i in range(labels.size)], column: labels, "iou": values})


def config(**kwargs) -> FairnessConfig:
    return FairnessConfig(**{"bootstrap": B, **kwargs})


def test_without_skew_correction_every_test_and_interval_equals_scipy_welch() -> None:
    table = make_table({"a": (60, 0.90), "b": (50, 0.88), "c": (40, 0.91)})
    r = audit_fairness(table, None, config(skew_correction="none", min_group_size=30)).attributes["tone"]
    x = {g: table.loc[table["tone"] == g, "iou"].to_numpy() for g in "abc"}
    kw = stats.kruskal(*x.values())
    assert r.omnibus.statistic == pytest.approx(kw.statistic, rel=1e-12)
    assert r.omnibus.p_value == pytest.approx(kw.pvalue, rel=1e-10)
    for c in r.comparisons:
        rest = np.concatenate([v for k, v in x.items() if k != c.group])
        # H0: shortfall = mean(rest) - mean(group) <= margin, one-sided Welch
        welch = stats.ttest_ind(rest - 0.01, x[c.group], equal_var=False, alternative="greater")
        assert c.p_value == pytest.approx(welch.pvalue, rel=1e-9)
        interval = stats.ttest_ind(x[c.group], rest, equal_var=False).confidence_interval(0.90)
        assert (c.ci_low, c.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
        assert c.difference == pytest.approx(x[c.group].mean() - rest.mean(), abs=1e-12)
        assert c.rank_p_value == pytest.approx(stats.mannwhitneyu(x[c.group], rest).pvalue, rel=1e-10)
        pairs = np.sign(x[c.group][:, None] - rest[None, :])
        assert c.effect_size == pytest.approx(pairs.mean(), abs=1e-12)  # Cliff's delta by brute force
    raw = np.array([c.p_value for c in r.comparisons] + [r.gap.p_value])
    expected = _holm_by_definition(raw).tolist()
    assert [c.p_adjusted for c in r.comparisons] + [r.gap.p_adjusted] == pytest.approx(expected)
    for g in r.groups:
        low, high = stats.t.interval(0.95, g.n - 1, loc=x[g.group].mean(), scale=stats.sem(x[g.group]))
        assert g.mean == pytest.approx(x[g.group].mean()) and (g.ci_low, g.ci_high) == pytest.approx((low, high))
        assert g.sd == pytest.approx(x[g.group].std(ddof=1))


def test_the_fail_test_and_the_bounds_agree_exactly_with_the_skewness_correction() -> None:
    # p <= alpha exactly when the lower bound of the shortfall clears the margin, for any margin
    table = make_table({"a": (200, 0.90), "b": (40, 0.87), "c": (300, 0.905)}, seed=3)
    for margin in np.linspace(0.0, 0.04, 17):
        r = audit_fairness(table, None, config(margin=float(margin))).attributes["tone"]
        for c in r.comparisons:
            assert (c.p_value <= 0.05) == (c.shortfall_lower > margin)
            assert c.shortfall_lower < c.shortfall < c.shortfall_upper


def test_hall_transformation_is_increasing_and_inverted_exactly() -> None:
    from segaudit.audit.stats.margin_tests import hall, hall_inverse

    t = np.linspace(-4, 4, 161)
    for a in (-0.2, -0.05, 0.0, 1e-10, 0.2):  # |a| <= 0.2: the clipping in shortfall_tests
        g = hall(t, np.full_like(t, a))
        assert np.all(np.diff(g) > 0)
        assert hall_inverse(g, np.full_like(t, a)) == pytest.approx(t, abs=1e-7)
    # a = 0 is Welch's own statistic
    assert hall(t, np.zeros_like(t)) == pytest.approx(t)


def test_the_family_is_the_whole_audit_and_benjamini_hochberg_equals_scipy() -> None:
    table = make_table({"a": (60, 0.90), "b": (50, 0.88), "c": (40, 0.91), "d": (30, 0.90)})
    table["shape"] = np.where(np.arange(len(table)) % 3 == 0, "slim", "broad")
    result = audit_fairness(table, None, config(correction="bh"))
    tests = [(c.p_value, c.p_adjusted) for r in result.results() for c in r.comparisons]
    tests += [(r.gap.p_value, r.gap.p_adjusted) for r in result.results() if r.gap is not None]
    expected = stats.false_discovery_control([p for p, _ in tests], method="bh")
    assert [q for _, q in tests] == pytest.approx(expected.tolist(), rel=1e-12)
    assert result.family["tests"] == len(tests) == 4 + 2 + 2
    alone = audit_fairness(table, None, config(correction="bh", family="grouping")).attributes["tone"]
    tone = [c.p_value for c in alone.comparisons] + [alone.gap.p_value]
    assert [c.p_adjusted for c in alone.comparisons] + [alone.gap.p_adjusted] == pytest.approx(
        stats.false_discovery_control(tone, method="bh").tolist(), rel=1e-12)


def test_reference_best_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError, match="largest-gap test") as info:
        FairnessConfig(reference="best")
    assert info.value.field == "reference"


def test_the_largest_gap_critical_value_for_two_groups_is_the_two_sided_t_quantile() -> None:
    from segaudit.audit.stats.margin_tests import max_gap_test, welch_df

    var, df = np.array([0.05**2 / 40, 0.05**2 / 60]), np.array([39.0, 59.0])
    res = max_gap_test(np.array([0.9, 0.88]), var, df, margin=0.01, alpha=0.05, seed=1, simulations=20000)
    welch = float(welch_df(var[0], df[0], var[1], df[1]))
    assert res.critical == pytest.approx(stats.t.ppf(0.975, welch), rel=0.02)
    se = float(np.sqrt(var.sum()))
    assert (res.lower, res.upper) == pytest.approx((0.02 - res.critical * se, 0.02 + res.critical * se))
    many = max_gap_test(np.linspace(0.8, 0.9, 200), np.full(200, 1e-4), np.full(200, 99.0), margin=0.01,
                        alpha=0.05)
    assert many.method.startswith("simultaneous (Bonferroni") and many.best == 199 and many.worst == 0
    assert many.critical == pytest.approx(stats.t.ppf(1 - 0.05 / (200 * 199), 99))


def test_two_groups_further_apart_than_the_margin_never_pass_even_when_each_is_close_to_the_rest() -> None:
    # six big groups at 0.90 and a small one at 0.96: against "the rest" nobody is short, but two groups
    # differ by 6 points
    groups = {f"g{i}": (1500, 0.90) for i in range(6)} | {"top": (150, 0.96)}
    r = audit_fairness(make_table(groups, seed=5), None, config(margin=0.01)).attributes["tone"]
    assert r.verdict == "fail" and r.gap.best == "top" and r.gap.ci_low > 0.01
    assert "the largest gap, 'top' - " in r.reason


def test_a_significant_shortfall_beyond_the_margin_fails_with_the_group_named() -> None:
    r = audit_fairness(make_table({"light": (300, 0.90), "medium": (300, 0.90), "dark": (300, 0.87)}), None,
                       config()).attributes["tone"]
    assert r.verdict == "fail"
    assert "group 'dark' (n=300) falls short of the rest by" in r.reason and "holm over the audit's" in r.reason
    dark = next(c for c in r.comparisons if c.group == "dark")
    assert dark.significant and dark.shortfall_lower > 0.01  # the bound, not only the point, beyond the margin
    assert r.gap.worst == "dark" and r.gap.gap > 0


def test_a_significant_shortfall_within_the_margin_does_not_fail() -> None:
    # 0.5 points short, thousands of images: significant against zero, but not beyond the 1-point margin
    r = audit_fairness(make_table({"light": (4000, 0.90), "dark": (4000, 0.895)}), None, config()).attributes["tone"]
    assert r.verdict != "fail"
    dark = next(c for c in r.comparisons if c.group == "dark")
    assert dark.rank_p_value < 0.05 and not dark.significant


def test_equivalence_within_the_margin_passes() -> None:
    r = audit_fairness(make_table({"light": (2000, 0.90), "dark": (2000, 0.90)}), None, config()).attributes["tone"]
    assert r.verdict == "pass" and "below the 1.00-point margin" in r.reason


def test_not_significant_is_never_pass_a_small_group_is_inconclusive_with_its_detectable_gap() -> None:
    r = audit_fairness(make_table({"light": (400, 0.90), "dark": (12, 0.90)}), None, config()).attributes["tone"]
    assert r.verdict == "inconclusive"
    assert not any(c.significant for c in r.comparisons)
    assert "insufficient: 1 group with fewer than the 30 subjects" in r.reason and "'dark' (n=12;" in r.reason
    assert "the fail rule would likely miss a shortfall below" in r.reason
    dark = r.group("dark")
    assert dark.status == "insufficient" and dark.ci_low is not None  # tested, but it cannot count towards a pass
    assert dark.detectable_shortfall > 0.01 and dark.n_needed > 12


def test_two_identical_images_at_the_common_mean_never_pass() -> None:
    table = make_table({"light": (2000, 0.90), "medium": (2000, 0.90)})
    mean = float(table["iou"].mean())
    extra = pd.DataFrame({"id": ["x1", "x2"], "tone": ["dark", "dark"], "iou": [mean, mean]})
    r = audit_fairness(pd.concat([table, extra], ignore_index=True), None, config()).attributes["tone"]
    assert r.verdict == "inconclusive" and "insufficient" in r.reason


def test_a_group_of_one_image_is_reported_insufficient_and_blocks_pass() -> None:
    table = make_table({"light": (2000, 0.90), "medium": (2000, 0.90), "dark": (1, 0.90)})
    r = audit_fairness(table, None, config()).attributes["tone"]
    dark = r.group("dark")
    assert (dark.n, dark.status, dark.ci_low, dark.sd) == (1, "insufficient", None, None)
    assert dark.mean == pytest.approx(table["iou"].iloc[-1])
    assert r.verdict == "inconclusive" and "'dark' (n=1)" in r.reason and "insufficient" in r.reason
    assert [c.group for c in r.comparisons] == ["light", "medium"]


def test_too_few_groups_to_compare_is_inconclusive() -> None:
    r = audit_fairness(make_table({"light": (50, 0.9), "dark": (1, 0.9)}), None, config()).attributes["tone"]
    assert r.verdict == "inconclusive" and "fewer than two groups" in r.reason and r.comparisons == ()


def test_intersection_cells_below_the_minimum_are_listed_and_keep_the_verdict_open() -> None:
    rng = np.random.default_rng(1)
    n = 400
    table = pd.DataFrame({"id": np.arange(n).astype(str), "tone": rng.choice(["light", "dark"], n),
                          "shape": np.where(np.arange(n) < 10, "broad", "slim"), "iou": beta_values(rng, n, 0.9)})
    result = audit_fairness(table, None, config(intersections=(("tone", "shape"),), min_group_size=30))
    cells = result.intersections["tone × shape"]
    broad = [g for g in cells.groups if g.group.endswith("× broad")]
    assert all(g.status == "insufficient" and g.n < 30 for g in broad) and sum(g.n for g in broad) == 10
    assert cells.verdict == "inconclusive" and "'light × broad' (n=" in cells.reason
    assert "cells with fewer than the 30 subjects" in cells.reason


def test_continuous_attributes_are_binned_and_trend_tested_like_scipy() -> None:
    rng = np.random.default_rng(2)
    n = 600
    height = rng.uniform(150, 200, n)
    iou = np.clip(0.95 - 0.001 * (height - 150) + rng.normal(0, 0.02, n), 0, 1)
    height[:7] = np.nan
    table = pd.DataFrame({"id": np.arange(n).astype(str), "height": height, "iou": iou})
    result = audit_fairness(table, {"height": AttributeSpec("height", "continuous", False, "self-reported",
                                                            unit="cm", range=(50, 250))}, config())
    groups = result.attributes["height"].groups
    assert [g.group for g in groups][-1] == "unknown" and len(groups) == 5
    t = result.trends["height"]
    known = ~np.isnan(height)
    rho, p = stats.spearmanr(height[known], iou[known])
    assert (t.n, t.n_unknown, t.x, t.unit) == (593, 7, "value", "cm")
    assert t.rho == pytest.approx(rho) and t.p_value == pytest.approx(p, rel=1e-9)
    assert t.ci_method == "bootstrap" and t.ci_low < t.rho < t.ci_high < 0
    closed = audit_fairness(table, None, config(trend_bootstrap_max_n=100)).trends["height"]
    assert closed.ci_method == "bonett-wright" and closed.ci_low < rho < closed.ci_high


def test_ordinal_attributes_get_a_trend_over_their_levels() -> None:
    table = make_table({"light": (100, 0.92), "medium": (100, 0.90), "dark": (100, 0.88)})
    tone = AttributeSpec("tone", "ordinal", True, "annotated", values=("light", "medium", "dark"))
    t = audit_fairness(table, {"tone": tone}, config()).trends["tone"]
    levels = table["tone"].map({"light": 1, "medium": 2, "dark": 3})
    assert t.x == "level" and t.rho == pytest.approx(stats.spearmanr(levels, table["iou"]).statistic)


def test_pooled_iou_sums_pixels_per_group_beside_the_mean_of_images() -> None:
    table = pd.DataFrame({"id": list("abcd"), "tone": ["x", "x", "y", "y"], "iou": [1.0, 0.5, 0.8, 0.8],
                          "intersection_person": [10, 50, 8, 80], "union_person": [10, 100, 10, 100]})
    result = audit_fairness(table, None, config())
    groups = {g.group: g for g in result.attributes["tone"].groups}
    assert groups["x"].mean == pytest.approx(0.75) and groups["x"].pooled == pytest.approx(60 / 110)
    assert groups["y"].pooled == pytest.approx(88 / 110)
    assert result.overall["pooled"] == pytest.approx(148 / 220)
    assert result.to_dict()["aggregation"] == "mean of per-image IoU"


def test_same_inputs_and_seed_give_identical_json_and_attributes_share_only_the_family() -> None:
    table = make_table({"light": (80, 0.9), "dark": (70, 0.89)})
    table["shape"] = np.where(np.arange(len(table)) % 2, "slim", "broad")
    both = config(intersections=(("tone", "shape"),), min_group_size=10)
    first = fairness_json(audit_fairness(table, None, both))
    assert first == fairness_json(audit_fairness(table, None, both))
    threaded = FairnessConfig(**{**both.__dict__, "workers": 3})
    assert fairness_json(audit_fairness(table, None, threaded)) == first
    # per attribute, the statistics do not depend on what else is audited; with family='grouping' neither do
    # the adjusted p-values and the verdict, with the default family='audit' they are adjusted over all tests
    alone = audit_fairness(table, None, config(attributes=("tone",), min_group_size=10, family="grouping"))
    together = audit_fairness(table, None, config(intersections=(("tone", "shape"),), min_group_size=10,
                                                  family="grouping"))
    assert alone.attributes["tone"] == together.attributes["tone"]
    whole = audit_fairness(table, None, both).attributes["tone"]

    def stats_of(groups):  # the detectable shortfall is for the fail rule at the family's size, so it differs
        return [(g.n, g.mean, g.ci_low, g.ci_high, g.sd) for g in groups]

    assert stats_of(whole.groups) == stats_of(alone.attributes["tone"].groups)
    assert [c.p_value for c in whole.comparisons] == [c.p_value for c in alone.attributes["tone"].comparisons]
    assert all(w.p_adjusted >= a.p_adjusted for w, a in zip(whole.comparisons, alone.attributes["tone"].comparisons,
                                                            strict=True))
    other_seed = audit_fairness(table, None, config(seed=1, min_group_size=10)).attributes["tone"]
    # the seed drives the simulated critical value of the largest gap; the t-intervals do not depend on it
    assert other_seed.gap.critical != whole.gap.critical and stats_of(other_seed.groups) == stats_of(whole.groups)


def test_json_and_tidy_views_carry_the_issue_fields() -> None:
    table = make_table({"light": (80, 0.9), "dark": (70, 0.89)})
    table["height"] = np.linspace(150, 190, len(table))
    result = audit_fairness(table, None, config(intersections=(("tone", "height"),), min_group_size=5))
    doc = json.loads(fairness_json(result))
    for key, value in {"metric": "iou", "alpha": 0.05, "margin": 0.01, "correction": "holm", "bootstrap": B,
                       "seed": 0}.items():
        assert doc[key] == value
    tone = doc["attributes"]["tone"]
    assert set(tone["groups"][0]) >= {"group", "n", "mean", "ci_low", "ci_high"}
    assert tone["omnibus"]["test"] == "kruskal" and set(tone["omnibus"]) >= {"statistic", "p_value"}
    assert set(tone["comparisons"][0]) >= {"group", "reference", "difference", "ci_low", "ci_high", "p_value",
                                           "p_adjusted", "effect_size", "rank_p_value", "se", "df"}
    assert set(tone["max_gap"]) >= {"gap", "ci_low", "ci_high", "p_value", "p_adjusted", "method"}
    assert {"ratio", "equity_scaled", "best", "worst"} <= set(tone)
    assert doc["family"]["scope"] == "audit" and "independent" in doc["unit"]
    assert tone["verdict"] in ("pass", "fail", "inconclusive") and tone["reason"]
    assert "tone × height" in doc["intersections"] and "height" in doc["trends"]
    assert len(result.by_group) == sum(len(r.groups) for r in result.results())
    assert set(result.verdicts["attribute"]) == {"tone", "height", "tone × height"}
    frame = result.to_frame()
    assert {"scope", "attribute", "group", "metric", "n", "mean", "diff", "p_adjusted", "verdict"} <= set(frame)
    assert "reason" not in frame  # stored once per attribute in fairness.json, not on every row
    assert (frame["scope"] == "trend").sum() == 1


@pytest.mark.parametrize(("change", "match", "field"), [
    ({"attributes": ("age",)}, "no attribute column 'age'.*present: \\['tone'\\]", "age"),
    ({"intersections": (("tone", "age"),)}, "unknown attribute 'age'", "age"),
    ({"metric": "dice"}, "no metric column 'dice'", "dice"),
    ({"bins": {"tone": 3}}, "continuous attributes only", "bins.tone"),
])
def test_bad_settings_are_input_errors_naming_the_table_and_field(change: dict, match: str, field: str) -> None:
    table = make_table({"light": (5, 0.9), "dark": (5, 0.9)})
    with pytest.raises(InputError, match=match) as info:
        audit_fairness(table, None, config(**change), source="per_image.csv")
    assert info.value.field == field and "per_image.csv" in str(info.value)


@pytest.mark.parametrize(("edit", "match", "row"), [
    (lambda t: t.assign(iou=t["iou"].where(t.index != 3, np.nan)), "missing \\(NaN\\)", 4),
    (lambda t: t.assign(iou=t["iou"].where(t.index != 2, 1.5)), "outside \\[0, 1\\]", 3),
    (lambda t: t.assign(id=t["id"].where(t.index != 4, "img0")), "duplicate id 'img0'", 5),
    (lambda t: t.iloc[:0], "no rows", None),
])
def test_bad_tables_are_input_errors_naming_the_row(edit, match: str, row) -> None:
    table = edit(make_table({"light": (5, 0.9), "dark": (5, 0.9)}))
    with pytest.raises(InputError, match=match) as info:
        audit_fairness(table, None, config())
    assert info.value.row == row


@pytest.mark.parametrize(("kwargs", "field"), [({"alpha": 1.5}, "alpha"), ({"margin": -0.1}, "margin"),
                                               ({"correction": "bonferroni"}, "correction"),
                                               ({"bootstrap": 10}, "bootstrap"), ({"bins": {"h": [3, 2]}}, "bins.h"),
                                               ({"family": "attribute"}, "family"),
                                               ({"skew_correction": "edgeworth"}, "skew_correction")])
def test_config_refuses_bad_values_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        FairnessConfig(**kwargs)
    assert info.value.field == field


def test_audit_accepts_a_table_read_from_file(tmp_path: Path) -> None:
    from segaudit.audit.metrics import read_table, write_table

    table = make_table({"light": (30, 0.9), "dark": (30, 0.9)})
    assert audit_fairness(read_table(write_table(table, tmp_path / "t.csv")), None, config()).n_images == 60


def test_largest_gap_difference_and_ratio_equal_fairlearn_and_equity_scaled_iou_follows_fairseg() -> None:
    from fairlearn.metrics import MetricFrame

    table = make_table({"a": (60, 0.90), "b": (50, 0.86), "c": (40, 0.93)})
    r = audit_fairness(table, None, config()).attributes["tone"]
    frame = MetricFrame(metrics=lambda y_true, y_pred: float(np.mean(y_pred)), y_true=table["iou"],
                        y_pred=table["iou"], sensitive_features=table["tone"])
    assert r.gap.gap == pytest.approx(frame.difference(method="between_groups"), rel=1e-12)
    assert r.gap.ratio == pytest.approx(frame.ratio(method="between_groups"), rel=1e-12)
    means = table.groupby("tone")["iou"].mean()
    overall = table["iou"].mean()
    assert r.gap.equity_scaled == pytest.approx(overall / (1 + np.abs(means - overall).sum()), rel=1e-12)


def test_subjects_are_the_unit_when_the_table_names_them() -> None:
    rng = np.random.default_rng(7)
    people = np.repeat(np.arange(80), 4)  # 80 people, 4 photos each, 40 people per group
    level = rng.normal(0.9, 0.03, 80)[people]
    table = pd.DataFrame({"id": [f"p{i}" for i in range(people.size)], "tone": np.where(people < 40, "a", "b"),
                          "iou": np.clip(level + rng.normal(0, 0.02, people.size), 0, 1),
                          "subject_id": [f"s{p}" for p in people]})
    clustered = audit_fairness(table, None, config()).attributes["tone"]
    naive = audit_fairness(table.drop(columns="subject_id"), None, config()).attributes["tone"]
    a = clustered.group("a")
    assert (a.n, a.subjects) == (160, 40) and naive.group("a").subjects == 160
    # the cluster-robust variance of a group mean, written out: K/(K-1) * sum_k (sum_i in k (x_i - mean))^2 / n^2
    x = table[table["tone"] == "a"]
    residual = (x["iou"] - x["iou"].mean()).groupby(x["subject_id"]).sum()
    var = 40 / 39 * (residual**2).sum() / 160**2
    half = stats.t.ppf(0.975, 39) * np.sqrt(var)
    assert (a.ci_low, a.ci_high) == pytest.approx((x["iou"].mean() - half, x["iou"].mean() + half))
    assert a.ci_high - a.ci_low > naive.group("a").ci_high - naive.group("a").ci_low
    # one photo per person is the same as no subject column
    single = table.drop_duplicates("subject_id").copy()
    assert audit_fairness(single, None, config()).attributes["tone"].groups == audit_fairness(
        single.drop(columns="subject_id"), None, config()).attributes["tone"].groups
    with pytest.raises(InputError, match="no subject") as info:
        audit_fairness(table.assign(subject_id=table["subject_id"].where(table.index != 5, "")), None, config())
    assert (info.value.row, info.value.field) == (6, "subject_id")


def test_an_infinite_value_of_a_continuous_attribute_is_an_error_naming_its_row() -> None:
    table = make_table({"light": (40, 0.9), "dark": (40, 0.9)})
    table["height"] = np.linspace(150, 190, len(table))
    table.loc[9, "height"] = np.inf
    spec = {"height": AttributeSpec("height", "continuous", False, "self-reported", unit="cm")}
    with pytest.raises(InputError, match="not a finite number") as info:
        audit_fairness(table, spec, config())
    assert (info.value.row, info.value.field) == (10, "height")


def test_outputs_grow_linearly_with_the_number_of_groups_and_reasons_stay_short(tmp_path: Path) -> None:
    from segaudit.audit.fairness import write_outputs

    rng = np.random.default_rng(8)
    n = 3000
    table = pd.DataFrame({"id": [f"i{i}" for i in range(n)], "iou": beta_values(rng, n, 0.9),
                          "who": np.repeat([f"v{i:04d}" for i in range(1500)], 2)})
    result = audit_fairness(table, None, config())
    who = result.attributes["who"]
    assert who.verdict == "inconclusive" and "and 1495 more" in who.reason and len(who.reason) < 2000
    write_outputs(result, tmp_path / "out", table, plots=False)
    csv = (tmp_path / "out" / "fairness.csv").read_text()
    assert len(csv.splitlines()) == 1 + 1500 and len(csv) < 1500 * 600


def test_labels_with_dollar_signs_are_plotted_as_plain_text(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from segaudit.audit.fairness.plots import write_plots

    table = make_table({"$a$": (40, 0.9), "50$ or more": (40, 0.88), r"\frac{x": (40, 0.9)})
    written = write_plots(audit_fairness(table, None, config()), tmp_path)
    assert len(written) == 2 and all(p.stat().st_size > 0 for p in written)
    assert plt.rcParams["text.parse_math"]  # switched off only while segaudit draws
