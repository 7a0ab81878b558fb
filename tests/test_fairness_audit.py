"""The audit from Python: statistics equal scipy's, verdicts follow the rules with reasons, results are
reproducible, and bad input is an InputError naming the file, row and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.fairness import FairnessConfig, audit_fairness, fairness_json
from audit.fairness.analysis import grouping_seed
from models.data import AttributeSpec
from models.errors import InputError

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


def test_group_means_tests_and_corrections_equal_scipy() -> None:
    table = make_table({"a": (60, 0.90), "b": (50, 0.88), "c": (40, 0.91)})
    r = audit_fairness(table, None, config()).attributes["tone"]
    x = {g: table.loc[table["tone"] == g, "iou"].to_numpy() for g in "abc"}
    kw = stats.kruskal(*x.values())
    assert r.omnibus.statistic == pytest.approx(kw.statistic, rel=1e-12)
    assert r.omnibus.p_value == pytest.approx(kw.pvalue, rel=1e-10)
    raw = []
    for c in r.comparisons:
        rest = np.concatenate([v for k, v in x.items() if k != c.group])
        mw = stats.mannwhitneyu(x[c.group], rest)
        assert c.p_value == pytest.approx(mw.pvalue, rel=1e-10)
        assert c.difference == pytest.approx(x[c.group].mean() - rest.mean(), abs=1e-12)
        assert c.ci_low < c.difference < c.ci_high
        pairs = np.sign(x[c.group][:, None] - rest[None, :])
        assert c.effect_size == pytest.approx(pairs.mean(), abs=1e-12)  # Cliff's delta by brute force
        raw.append(c.p_value)
    order = np.argsort(raw)
    holm = np.minimum(1, np.maximum.accumulate((3 - np.arange(3)) * np.array(raw)[order]))
    assert [c.p_adjusted for c in np.array(r.comparisons)[order]] == pytest.approx(holm.tolist(), rel=1e-12)
    for g in r.groups:
        assert g.mean == pytest.approx(x[g.group].mean()) and g.ci_low < g.mean < g.ci_high
        assert g.sd == pytest.approx(x[g.group].std(ddof=1))


def test_benjamini_hochberg_equals_scipy_false_discovery_control() -> None:
    table = make_table({"a": (60, 0.90), "b": (50, 0.88), "c": (40, 0.91), "d": (30, 0.90)})
    r = audit_fairness(table, None, config(correction="bh")).attributes["tone"]
    raw = [c.p_value for c in r.comparisons]
    expected = stats.false_discovery_control(raw, method="bh")
    assert [c.p_adjusted for c in r.comparisons] == pytest.approx(expected.tolist(), rel=1e-12)


def test_reference_best_compares_every_other_group_with_the_best() -> None:
    table = make_table({"a": (60, 0.90), "b": (50, 0.86), "c": (40, 0.93)})
    r = audit_fairness(table, None, config(reference="best")).attributes["tone"]
    assert [c.group for c in r.comparisons] == ["a", "b"] and {c.reference for c in r.comparisons} == {"c"}
    best = table.loc[table["tone"] == "c", "iou"]
    for c in r.comparisons:
        group = table.loc[table["tone"] == c.group, "iou"]
        assert c.p_value == pytest.approx(stats.mannwhitneyu(group, best).pvalue, rel=1e-10)
        assert c.difference == pytest.approx(group.mean() - best.mean())


def test_permutation_test_option_tests_the_difference_in_means() -> None:
    table = make_table({"a": (40, 0.90), "b": (40, 0.85)})
    r = audit_fairness(table, None, config(test="permutation", permutations=500)).attributes["tone"]
    assert {c.test for c in r.comparisons} == {"permutation-mean-difference"}
    # the same relabellings as scipy.stats.permutation_test draws from the grouping's own stream
    rng = np.random.default_rng(grouping_seed(0, "tone").spawn(3)[2])
    for c in r.comparisons:
        group, rest = (table.loc[table["tone"] == c.group, "iou"], table.loc[table["tone"] != c.group, "iou"])
        expected = stats.permutation_test((group, rest), lambda u, v: np.mean(u) - np.mean(v), n_resamples=500,
                                          rng=rng, vectorized=False)
        assert c.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_a_significant_shortfall_beyond_the_margin_fails_with_the_group_named() -> None:
    r = audit_fairness(make_table({"light": (300, 0.90), "medium": (300, 0.90), "dark": (300, 0.87)}), None,
                       config()).attributes["tone"]
    assert r.verdict == "fail"
    assert "group 'dark' (n=300) falls short of the rest by" in r.reason and "holm" in r.reason
    assert r.gap.worst == "dark" and r.gap.gap > 0


def test_equivalence_within_the_margin_passes() -> None:
    r = audit_fairness(make_table({"light": (2000, 0.90), "dark": (2000, 0.90)}), None, config()).attributes["tone"]
    assert r.verdict == "pass" and "below the 1.00-point margin" in r.reason


def test_not_significant_is_never_pass_a_small_group_is_inconclusive_with_its_detectable_gap() -> None:
    r = audit_fairness(make_table({"light": (400, 0.90), "dark": (12, 0.90)}), None, config()).attributes["tone"]
    assert r.verdict == "inconclusive"
    assert not any(c.significant for c in r.comparisons)
    assert "group 'dark' has n=12" in r.reason and "smallest detectable gap at this n is" in r.reason
    dark = r.group("dark")
    assert dark.detectable_shortfall > 0.01 and dark.n_needed > 12


def test_a_group_of_one_image_is_reported_insufficient_and_blocks_pass() -> None:
    table = make_table({"light": (2000, 0.90), "medium": (2000, 0.90), "dark": (1, 0.90)})
    r = audit_fairness(table, None, config()).attributes["tone"]
    dark = r.group("dark")
    assert (dark.n, dark.status, dark.ci_low, dark.sd) == (1, "insufficient", None, None)
    assert dark.mean == pytest.approx(table["iou"].iloc[-1])
    assert r.verdict == "inconclusive" and "group 'dark' has n=1, fewer than the 2 images" in r.reason
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
    assert cells.verdict == "inconclusive" and "cell 'light × broad' has n=" in cells.reason
    assert "fewer than the 30 images" in cells.reason


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


def test_same_inputs_and_seed_give_identical_json_and_attributes_do_not_depend_on_each_other() -> None:
    table = make_table({"light": (80, 0.9), "dark": (70, 0.89)})
    table["shape"] = np.where(np.arange(len(table)) % 2, "slim", "broad")
    both = config(intersections=(("tone", "shape"),), min_group_size=10)
    first = fairness_json(audit_fairness(table, None, both))
    assert first == fairness_json(audit_fairness(table, None, both))
    threaded = FairnessConfig(**{**both.__dict__, "workers": 3})
    assert fairness_json(audit_fairness(table, None, threaded)) == first
    alone = audit_fairness(table, None, config(attributes=("tone",))).attributes["tone"]
    assert alone == audit_fairness(table, None, both).attributes["tone"]
    other_seed = audit_fairness(table, None, config(seed=1)).attributes["tone"]
    assert other_seed.groups[0].ci_low != alone.groups[0].ci_low and other_seed.groups[0].mean == alone.groups[0].mean


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
                                           "p_adjusted", "effect_size"}
    assert tone["verdict"] in ("pass", "fail", "inconclusive") and tone["reason"]
    assert "tone × height" in doc["intersections"] and "height" in doc["trends"]
    assert len(result.by_group) == sum(len(r.groups) for r in result.results())
    assert set(result.verdicts["attribute"]) == {"tone", "height", "tone × height"}
    frame = result.to_frame()
    assert {"scope", "attribute", "group", "metric", "n", "mean", "diff", "p_adjusted", "verdict"} <= set(frame)
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
                                               ({"bootstrap": 10}, "bootstrap"), ({"bins": {"h": [3, 2]}}, "bins.h")])
def test_config_refuses_bad_values_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        FairnessConfig(**kwargs)
    assert info.value.field == field


def test_audit_accepts_a_table_read_from_file(tmp_path: Path) -> None:
    from audit.metrics import read_table, write_table

    table = make_table({"light": (30, 0.9), "dark": (30, 0.9)})
    assert audit_fairness(read_table(write_table(table, tmp_path / "t.csv")), None, config()).n_images == 60
