"""The per-image table: metric conventions, the three ways in agreeing, and every bad input named."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from segaudit.audit.metrics import (
    check_table,
    class_keys,
    image_metrics,
    read_table,
    table_from_predictions,
    table_from_segmenter,
    write_table,
)
from segaudit.core.errors import InputError
from segaudit.models.checkpoint import save_checkpoint
from segaudit.models.data import load_package
from segaudit.models.evaluate import boundary_iou
from segaudit.models.registry import build
from segaudit.models.runtime import Segmenter
from tests.conftest import write_tiny_package

PERSON = {0: "background", 1: "person"}


def test_person_metrics_are_the_person_class_counted_by_hand() -> None:
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1  # 100 person pixels
    pred = np.zeros_like(truth)
    pred[5:15, 7:17] = 1  # 80 right, 20 false positives, 20 missed
    m = image_metrics(pred, truth, PERSON)
    assert m["iou"] == pytest.approx(80 / 120) and m["iou_person"] == m["iou"]
    assert m["dice"] == pytest.approx(160 / 200)
    assert m["pixel_accuracy"] == pytest.approx(1 - 40 / 400)
    assert m["boundary_iou"] == pytest.approx(boundary_iou(pred == 1, truth == 1))
    assert m["iou_background"] == pytest.approx(280 / 320)
    assert (m["intersection_person"], m["union_person"]) == (80, 120)


def test_ignored_pixels_count_nowhere() -> None:
    truth = np.zeros((20, 20), np.uint8)
    truth[5:15, 5:15] = 1
    pred = truth.copy()
    truth_ignored, pred_wrong = truth.copy(), pred.copy()
    truth_ignored[:, :3] = 255
    pred_wrong[:, :3] = 1  # wrong, but only where the truth is ignored
    clean = image_metrics(pred, truth, PERSON)
    ignored = image_metrics(pred_wrong, truth_ignored, PERSON)
    assert ignored["iou"] == clean["iou"] == 1.0
    assert ignored["pixel_accuracy"] == 1.0 and ignored["union_person"] == 100


def test_image_without_a_person_in_truth_or_prediction_scores_one_on_the_headline_only() -> None:
    empty = np.zeros((16, 16), np.uint8)
    m = image_metrics(empty, empty, PERSON)
    assert m["iou"] == m["dice"] == m["boundary_iou"] == 1.0
    assert math.isnan(m["iou_person"]) and m["iou_background"] == 1.0


def test_without_a_person_class_iou_is_the_mean_over_classes_present() -> None:
    classes = {0: "background", 1: "hair", 2: "glasses"}
    truth = np.zeros((10, 10), np.uint8)
    truth[:5] = 1
    pred = truth.copy()
    pred[:5, :5] = 0  # hair: 25 of 50 found; background: 50 of 75; glasses absent from both
    m = image_metrics(pred, truth, classes)
    assert math.isnan(m["iou_glasses"])
    assert m["iou"] == pytest.approx((25 / 50 + 50 / 75) / 2)


def test_an_image_whose_every_pixel_is_ignored_is_refused() -> None:
    with pytest.raises(ValueError, match="ignore_index"):
        image_metrics(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8), PERSON)


def test_class_names_become_distinct_column_suffixes() -> None:
    assert class_keys({0: "Upper Clothes", 1: "upper-clothes", 2: "Person"}) == {
        0: "upper_clothes_0", 1: "upper_clothes_1", 2: "person"}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """A tiny package, a (seeded, untrained) SINet checkpoint and its table over all images."""
    root = tmp_path_factory.mktemp("scored")
    package = write_tiny_package(root / "pkg", n=9, size=48)
    torch.manual_seed(0)
    model = build("sinet", num_classes=2).eval()
    save_checkpoint(root / "ckpt", model, model_name="sinet", num_classes=2, classes=PERSON, image_size=64)
    table = table_from_segmenter(root / "ckpt", package, split="all")
    return package, root / "ckpt", table


def test_three_ways_in_give_the_same_table(scored, tmp_path: Path) -> None:
    package_dir, checkpoint, from_model = scored
    package = load_package(package_dir)
    masks = Segmenter(checkpoint).predict_mask([package.read_image(r) for r in package.manifest.to_dict("records")])
    (tmp_path / "pred").mkdir()
    for sample_id, mask in zip(package.manifest["id"], masks, strict=True):
        Image.fromarray(mask).save(tmp_path / "pred" / f"{sample_id}.png")
    from_folder = table_from_predictions(package, tmp_path / "pred", split="all")
    pd.testing.assert_frame_equal(from_model, from_folder)
    for name in ("table.csv", "table.parquet"):
        from_file = read_table(write_table(from_model, tmp_path / name))
        pd.testing.assert_frame_equal(from_model, from_file)
    assert list(from_model.columns[:5]) == ["id", "split", "tone", "height_cm", "iou"]
    assert from_model["tone"].iloc[-1] == "unknown" and math.isnan(from_model["height_cm"].iloc[-1])
    assert from_model["iou"].between(0, 1).all() and from_model["iou"].std() > 0


def test_the_default_split_is_test(scored) -> None:
    package_dir, checkpoint, from_model = scored
    test_only = table_from_segmenter(checkpoint, package_dir)
    assert list(test_only["id"]) == list(from_model.loc[from_model["split"] == "test", "id"])


def test_predictions_folder_problems_name_the_file(scored, tmp_path: Path) -> None:
    package_dir, _, _ = scored
    folder = tmp_path / "pred"
    folder.mkdir()
    package = load_package(package_dir)
    test_ids = list(package.split("test")["id"])
    for sample_id in test_ids[1:]:
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(folder / f"{sample_id}.png")
    with pytest.raises(InputError, match=f"{test_ids[0]}.png"):
        table_from_predictions(package, folder)
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(folder / f"{test_ids[0]}.png")
    with pytest.raises(InputError, match="48x40") as info:
        table_from_predictions(package, folder)
    assert info.value.path == folder / f"{test_ids[0]}.png"
    Image.fromarray(np.full((48, 48), 7, np.uint8)).save(folder / f"{test_ids[0]}.png")
    with pytest.raises(InputError, match=r"values \[7\]"):
        table_from_predictions(package, folder)
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(folder / f"{test_ids[0]}.png")
    with pytest.raises(InputError, match="single-channel"):
        table_from_predictions(package, folder)
    with pytest.raises(InputError, match="not a folder"):
        table_from_predictions(package, tmp_path / "nowhere")


def test_a_model_with_other_classes_is_refused(scored, tmp_path: Path) -> None:
    package_dir, _, _ = scored
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "three", build("sinet", num_classes=3).eval(), model_name="sinet", num_classes=3,
                    classes={0: "a", 1: "b", 2: "c"}, image_size=64)
    with pytest.raises(InputError, match="3 classes"):
        table_from_segmenter(tmp_path / "three", package_dir)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "match", "row", "field"), [
    ("id,iou\na,0.9\nb,0.8\na,0.7\n", "duplicate id 'a'", 3, "id"),
    ("id,iou\n", "no rows", None, None),
    ("name,iou\na,0.9\n", "no 'id' column", None, "id"),
    ("id,iou\na,0.9\nb,high\n", "'high' is not a number", 2, "iou"),
    ("id,iou\na,0.9\nb,93.5\n", "outside \\[0, 1\\]", 2, "iou"),
    ("id,iou,intersection_person\na,0.9,-3\n", "pixel count", 1, "intersection_person"),
    ("id,iou\n,0.9\n", "empty id", 1, "id"),
])
def test_bad_tables_name_the_file_row_and_column(tmp_path: Path, text: str, match: str, row, field) -> None:
    path = _csv(tmp_path / "t.csv", text)
    with pytest.raises(InputError, match=match) as info:
        read_table(path)
    assert (info.value.path, info.value.row, info.value.field) == (path, row, field)
    assert str(path) in str(info.value)


def test_unreadable_or_unsupported_table_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported"):
        read_table(_csv(tmp_path / "t.xlsx", "x"))
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="readable"):
        read_table(_csv(tmp_path / "t.parquet", "not parquet"))
    with pytest.raises(InputError, match="readable"):
        read_table(_csv(tmp_path / "empty.csv", ""))


def test_read_table_types_attribute_columns_by_their_values(tmp_path: Path) -> None:
    table = read_table(_csv(tmp_path / "t.csv", "id,iou,iou_hair,tone,height\na,0.9,,dark,170.5\nb,0.8,0.5,,\n"))
    assert table["tone"].tolist() == ["dark", "unknown"]
    assert table["height"].dtype == np.float64 and math.isnan(table["height"].iloc[1])
    assert math.isnan(table["iou_hair"].iloc[0])  # a class absent from both may stay undefined


def test_check_table_names_the_missing_metric_nan_values_and_unknown_attributes(tmp_path: Path) -> None:
    table = read_table(_csv(tmp_path / "t.csv", "id,iou,iou_hair,tone\na,0.9,,dark\nb,0.8,0.5,light\n"))
    with pytest.raises(InputError, match="no metric column 'dice'.*'iou', 'iou_hair'") as info:
        check_table(table, "dice", [], path=tmp_path / "t.csv")
    assert info.value.field == "dice"
    with pytest.raises(InputError, match="missing \\(NaN\\)") as info:
        check_table(table, "iou_hair", [])
    assert (info.value.row, info.value.field) == (1, "iou_hair")
    with pytest.raises(InputError, match="no attribute column 'age'.*'tone'") as info:
        check_table(table, "iou", ["age"])
    assert info.value.field == "age"
    with pytest.raises(InputError, match="not a metric column"):
        check_table(table, "tone", [])


def test_a_written_table_reads_back_value_for_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"id": ["a", "b", "c,d", 'e"f'], "iou": rng.random(4), "tone": ["x", "y, z", "", "w"],
                          "height_cm": [150.5, np.nan, 1e-7, 170.0], "intersection_person": [1, 2, 3, 4]})
    for name in ("t.csv", "t.parquet"):
        back = read_table(write_table(table, tmp_path / name))
        assert back["id"].tolist() == table["id"].tolist()
        assert back["iou"].tolist() == table["iou"].tolist()  # exact: shortest round-trip floats
        assert back["tone"].tolist() == ["x", "y, z", "unknown", "w"]
        assert np.isnan(back["height_cm"].iloc[1]) and back["height_cm"].iloc[2] == 1e-7
