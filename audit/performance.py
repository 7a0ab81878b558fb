"""Overall performance from the per-image table: dataset mIoU (pooled over pixels) with a bootstrap CI.

The dataset mIoU is the mean over classes of (Σ intersection) / (Σ union) over all images, the confusion-matrix
mIoU that `segaudit eval` prints; its CI resamples images (not pixels), since images are the independent units.
Per-image means (IoU, Dice, boundary IoU, pixel accuracy) are beside it: the fairness audit's unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segaudit.audit.metrics import class_keys
from segaudit.core.errors import InputError


def performance_summary(table: pd.DataFrame, classes: dict[int, str], split: str, alpha: float = 0.05,
                        bootstrap: int = 2000, seed: int = 0) -> dict[str, Any]:
    """audit.json's `performance` block for `table` (one row per image, with intersection_/union_ columns)."""
    keys = class_keys(classes)
    missing = [f"{kind}_{key}" for key in keys.values() for kind in ("intersection", "union")
               if f"{kind}_{key}" not in table.columns]
    if missing:
        raise InputError(f"the per-image table lacks the pixel-count columns {missing}, which the dataset mIoU "
                         "needs", field=missing[0])
    if table.empty:
        raise InputError("the per-image table has no rows", field="id")
    intersections = table[[f"intersection_{k}" for k in keys.values()]].to_numpy(float)
    unions = table[[f"union_{k}" for k in keys.values()]].to_numpy(float)
    per_class = _iou(intersections.sum(0), unions.sum(0))
    low, high = _bootstrap_ci(intersections, unions, alpha, bootstrap, seed)
    means = {name: float(table[name].mean()) for name in ("iou", "dice", "boundary_iou", "pixel_accuracy")
             if name in table.columns}
    return {
        "split": split, "n_images": int(len(table)),
        "miou": float(np.nanmean(per_class)), "miou_ci": [low, high], "confidence": 1 - alpha,
        "iou_per_class": {classes[i]: _none(per_class[j]) for j, i in enumerate(keys)},
        "pixel_accuracy": means.get("pixel_accuracy"),
        "mean_image_iou": means.get("iou"), "dice": means.get("dice"), "boundary_iou": means.get("boundary_iou"),
        "ci_method": f"percentile bootstrap over images, {bootstrap} resamples, seed {seed}",
    }


def _iou(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / np.where(union > 0, union, 1), np.nan)


def _bootstrap_ci(intersections: np.ndarray, unions: np.ndarray, alpha: float, bootstrap: int,
                  seed: int) -> tuple[float, float]:
    """Percentile CI of the pooled mIoU, resampling images: counts[b, i] = times image i is drawn in resample b.

    The same bootstrap as scipy.stats.bootstrap over image indices (tests/test_performance.py: equal within Monte
    Carlo error), but with multinomial counts where scipy draws indices: these draws made the committed reference
    audit's CI, which only a full re-audit of the bundled program could redraw.
    """
    n = len(intersections)
    rng = np.random.default_rng(seed)
    estimates = np.empty(bootstrap)
    for start in range(0, bootstrap, 256):  # in blocks, so memory stays at 256 x n counts
        block = min(256, bootstrap - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=block).astype(float)
        estimates[start:start + block] = np.nanmean(_iou(counts @ intersections, counts @ unions), axis=1)
    low, high = np.quantile(estimates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _none(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
