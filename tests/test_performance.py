"""Overall performance: the pooled mIoU equals the confusion-matrix mIoU, its CI agrees with scipy's bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segaudit.audit.metrics import image_metrics
from segaudit.audit.performance import performance_summary
from segaudit.core.errors import InputError
from segaudit.models.evaluate import SegmentationMetrics

CLASSES = {0: "background", 1: "person", 2: "bag"}


def scored_images(n: int = 40, seed: int = 0) -> tuple[pd.DataFrame, SegmentationMetrics]:
    rng = np.random.default_rng(seed)
    rows, pooled = [], SegmentationMetrics(3, ignore_index=255)
    for i in range(n):
        truth = rng.integers(0, 3, size=(16, 16)).astype(np.uint8)
        pred = np.where(rng.random((16, 16)) < 0.7 + 0.2 * (i % 2), truth, rng.integers(0, 3, (16, 16))).astype(
            np.uint8)
        truth[0, :4] = 255
        rows.append({"id": f"i{i}", **image_metrics(pred, truth, CLASSES)})
        pooled.update(pred, truth)
    return pd.DataFrame(rows), pooled


def test_dataset_miou_equals_the_confusion_matrix_miou_over_all_images() -> None:
    table, pooled = scored_images()
    summary = performance_summary(table, CLASSES, split="test", bootstrap=200)
    scores = pooled.compute()
    assert summary["miou"] == pytest.approx(scores.miou, abs=1e-12)
    assert summary["iou_per_class"] == pytest.approx(dict(zip(CLASSES.values(), scores.iou, strict=True)))
    assert summary["n_images"] == 40 and summary["mean_image_iou"] == pytest.approx(table["iou"].mean())


def test_the_ci_agrees_with_scipys_percentile_bootstrap_over_images() -> None:
    table, _ = scored_images(n=60, seed=1)
    summary = performance_summary(table, CLASSES, split="test", bootstrap=4000, seed=0)
    inter = table[[f"intersection_{k}" for k in ("background", "person", "bag")]].to_numpy(float)
    union = table[[f"union_{k}" for k in ("background", "person", "bag")]].to_numpy(float)

    def miou(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.asarray(index, dtype=int)
        return np.mean(inter[index].sum(-2) / union[index].sum(-2), axis=-1)

    reference = stats.bootstrap((np.arange(len(table)),), miou, n_resamples=4000, method="percentile",
                                vectorized=True, random_state=np.random.default_rng(5))
    low, high = summary["miou_ci"]
    assert low < summary["miou"] < high
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.004)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.004)


def test_a_table_without_pixel_counts_is_refused_naming_the_column() -> None:
    table, _ = scored_images(n=4)
    with pytest.raises(InputError, match="union_bag"):
        performance_summary(table.drop(columns=["union_bag"]), CLASSES, split="test")
