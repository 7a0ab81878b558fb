"""Pooled metric per group, reported beside the mean of per-image values.

The audit's group metric is the mean over the group's images of the per-image IoU: every person counts once,
whatever their size in the frame. The pooled IoU sums the group's pixels first (sum of intersections / sum of
unions, per class, then averaged over classes), as dataset-level mIoU benchmarks do; large figures weigh more.
Both are reported; a gap between them says the errors concentrate in small or large figures.

It needs the pixel counts `intersection_<class>`, `union_<class>` of the per-image table; a table without
them (or a metric that has no pooled form: boundary IoU, pixel accuracy) gets None.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

POOLED_DEFINITION = ("sum of the group's per-image intersections / sum of its unions (per class, then averaged "
                     "over classes), i.e. IoU of the group's pixels taken together")


def pooled_counts(table: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(intersections [n, K], unions [n, K], 'iou' | 'dice') for the classes behind `metric`, or None."""
    keys = sorted(c[len("intersection_"):] for c in table.columns if str(c).startswith("intersection_")
                  and f"union_{str(c)[len('intersection_'):]}" in table.columns)
    if not keys:
        return None
    if metric.startswith("iou_"):
        chosen, kind = [metric[len("iou_"):]], "iou"
    elif metric in ("iou", "dice"):
        chosen, kind = (["person"] if "person" in keys else keys), metric
    else:
        return None
    if any(k not in keys for k in chosen):
        return None
    inter = table[[f"intersection_{k}" for k in chosen]].to_numpy(dtype=np.float64)
    union = table[[f"union_{k}" for k in chosen]].to_numpy(dtype=np.float64)
    return inter, union, kind


def pooled_by_group(codes: np.ndarray, n_groups: int, counts: tuple[np.ndarray, np.ndarray, str]) -> np.ndarray:
    """Pooled metric of every group [G] (NaN for a group whose classes never appear)."""
    inter, union, kind = counts
    sums_i = np.stack([np.bincount(codes, weights=inter[:, k], minlength=n_groups) for k in range(inter.shape[1])],
                      axis=1)
    sums_u = np.stack([np.bincount(codes, weights=union[:, k], minlength=n_groups) for k in range(union.shape[1])],
                      axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = sums_i / sums_u if kind == "iou" else 2 * sums_i / (sums_i + sums_u)
    defined = ~np.isnan(per_class)
    total = np.where(defined, per_class, 0.0).sum(axis=1)
    n_defined = defined.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_defined > 0, total / np.maximum(n_defined, 1), np.nan)
