"""Subgroups: declared order, unknown as its own group, binning, intersections, inferred kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segaudit.audit.fairness.subgroups import (
    attribute_grouping,
    available_attributes,
    bin_labels,
    infer_attribute,
    intersection_grouping,
)
from segaudit.core.errors import InputError
from segaudit.models.data import AttributeSpec

TONE = AttributeSpec("tone", "ordinal", True, "annotated", values=("light", "medium", "dark"))
HEIGHT = AttributeSpec("height", "continuous", False, "self-reported", unit="cm", range=(50.0, 250.0))


def _labels_of(grouping) -> list[str]:
    return [grouping.labels[c] for c in grouping.codes]


def test_groups_follow_the_declared_order_with_unknown_last_and_empty_values_kept() -> None:
    table = pd.DataFrame({"tone": ["dark", "unknown", "light", "dark"]})
    g = attribute_grouping(table, TONE)
    assert g.labels == ("light", "medium", "dark", "unknown")
    assert g.counts.tolist() == [1, 0, 2, 1]  # 'medium' has no image and is still listed
    assert _labels_of(g) == ["dark", "unknown", "light", "dark"]


def test_an_undeclared_value_is_an_input_error_naming_row_and_attribute() -> None:
    with pytest.raises(InputError, match="'beige' is not declared") as info:
        attribute_grouping(pd.DataFrame({"tone": ["light", "beige"]}), TONE)
    assert (info.value.row, info.value.field) == (2, "tone")


def test_cut_points_bin_continuous_values_left_closed_with_unknown_apart() -> None:
    table = pd.DataFrame({"height": [149.9, 150.0, 169.9, 170.0, 190.0, np.nan]})
    g = attribute_grouping(table, HEIGHT, bins=(150.0, 170.0))
    assert g.labels == ("< 150", "[150, 170)", ">= 170", "unknown")
    assert _labels_of(g) == ["< 150", "[150, 170)", "[150, 170)", ">= 170", ">= 170", "unknown"]
    assert g.bins == {"method": "cut points", "edges": [150.0, 170.0], "unit": "cm"}


def test_quantile_bins_split_the_known_values_evenly() -> None:
    x = np.arange(100, dtype=float)
    g = attribute_grouping(pd.DataFrame({"height": x}), HEIGHT, bins=4)
    assert g.counts.tolist() == [25, 25, 25, 25]
    assert g.bins["method"] == "4 quantile bins" and "unknown" not in g.labels


def test_quantile_bins_of_heavily_tied_values_never_leave_an_empty_first_bin() -> None:
    g = attribute_grouping(pd.DataFrame({"height": [160.0] * 8 + [170.0, 180.0]}), HEIGHT, bins=4)
    assert g.counts.min() > 0


def test_bin_labels_use_enough_digits_to_stay_distinct() -> None:
    labels = bin_labels(np.array([150.0001, 150.0002]))
    assert len(set(labels)) == 3 and labels[1] == "[150.0001, 150.0002)"


def test_a_non_numeric_value_of_a_continuous_attribute_names_its_row() -> None:
    with pytest.raises(InputError, match="'tall' is not a number") as info:
        attribute_grouping(pd.DataFrame({"height": ["170", "tall"]}), HEIGHT)
    assert (info.value.row, info.value.field) == (2, "height")


def test_intersections_list_every_cell_and_need_the_minimum_size() -> None:
    table = pd.DataFrame({"tone": ["light", "dark", "dark", "unknown"], "height": [150.0, 150.0, 180.0, 180.0]})
    a = attribute_grouping(table, TONE)
    b = attribute_grouping(table, HEIGHT, bins=(170.0,))
    cells = intersection_grouping(a, b, min_size=30)
    assert cells.name == "tone × height" and cells.min_size == 30
    assert len(cells.labels) == 4 * 2 and cells.axes == (a.labels, b.labels)
    assert _labels_of(cells) == ["light × < 170", "dark × < 170", "dark × >= 170", "unknown × >= 170"]


def test_kinds_are_inferred_from_values_without_a_declaration() -> None:
    assert infer_attribute("h", pd.Series(np.linspace(150, 190, 50))).kind == "continuous"
    level = infer_attribute("monk", pd.Series([3.0, 1.0, 10.0, np.nan]))
    assert level.kind == "ordinal" and level.values == ("1", "3", "10")
    assert infer_attribute("c", pd.Series(["b", "a", "unknown"])).values == ("a", "b")


def test_without_declarations_every_non_metric_column_is_an_attribute() -> None:
    table = pd.DataFrame({"id": ["a"], "split": ["test"], "iou": [0.9], "iou_person": [0.9],
                          "intersection_person": [3], "union_person": [4], "tone": ["dark"]})
    assert list(available_attributes(table, None)) == ["tone"]
    with pytest.raises(InputError, match="unknown attribute 'age'"):
        available_attributes(table, ["age"])
