"""Evaluation arithmetic: agreement with scikit-learn, NaN for absent classes, boundary IoU by brute force."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, jaccard_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from segaudit.models.evaluate import (
    SegmentationMetrics,
    boundary_band,
    boundary_iou,
    boundary_width,
    confusion_matrix,
    dice,
    iou_per_class,
    pixel_accuracy,
)

C = 5


def _random_pair(seed: int, shape=(3, 16, 12), ignore_share: float = 0.1):
    """Random prediction and target of `shape` (all classes present) with ~ignore_share of target pixels = 255."""
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, C, size=shape)
    target = np.where(rng.random(shape) < 0.6, pred, rng.integers(0, C, size=shape))  # correlated, ~60% right
    target[rng.random(shape) < ignore_share] = 255
    return pred, target


def _valid(pred, target):
    keep = target != 255
    return target[keep], pred[keep]


# ---------------------------------------------------------------------------------------------- vs scikit-learn


@pytest.mark.parametrize("as_torch", [False, True])
def test_confusion_matrix_equals_sklearn(as_torch):
    pred, target = _random_pair(0)
    y_true, y_pred = _valid(pred, target)
    expected = sk_confusion_matrix(y_true, y_pred, labels=list(range(C)))
    args = (torch.from_numpy(pred), torch.from_numpy(target)) if as_torch else (pred, target)
    cm = confusion_matrix(*args, num_classes=C)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, expected)


def test_per_image_iou_dice_and_accuracy_equal_sklearn():
    pred, target = _random_pair(1, shape=(20, 20))
    y_true, y_pred = _valid(pred, target)
    labels = list(range(C))
    np.testing.assert_allclose(
        iou_per_class(pred, target, C), jaccard_score(y_true, y_pred, labels=labels, average=None)
    )
    np.testing.assert_allclose(dice(pred, target, C), f1_score(y_true, y_pred, labels=labels, average=None))
    assert pixel_accuracy(pred, target) == pytest.approx(accuracy_score(y_true, y_pred))


def test_accumulated_metrics_over_batches_equal_sklearn_on_all_pixels():
    metrics = SegmentationMetrics(C, boundary=False)
    preds, targets = [], []
    for seed in range(3):
        pred, target = _random_pair(10 + seed)
        metrics.update(torch.from_numpy(pred), torch.from_numpy(target))
        preds.append(pred)
        targets.append(target)
    y_true, y_pred = _valid(np.concatenate(preds), np.concatenate(targets))
    labels = list(range(C))
    scores = metrics.compute()
    iou = jaccard_score(y_true, y_pred, labels=labels, average=None)
    f1 = f1_score(y_true, y_pred, labels=labels, average=None)
    np.testing.assert_array_equal(scores.confusion, sk_confusion_matrix(y_true, y_pred, labels=labels))
    np.testing.assert_allclose(scores.iou, iou)
    np.testing.assert_allclose(scores.f1, f1)
    assert scores.miou == pytest.approx(iou.mean())
    assert scores.mean_f1 == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro"))
    assert scores.pixel_accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert scores.num_images == 9
    assert scores.boundary_iou is None and math.isnan(scores.mean_boundary_iou)


def test_update_accepts_logits_and_argmaxes_the_class_axis():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, C, 8, 8)).astype(np.float32)
    target = rng.integers(0, C, size=(2, 8, 8))
    from_logits, from_labels = SegmentationMetrics(C), SegmentationMetrics(C)
    from_logits.update(torch.from_numpy(logits), torch.from_numpy(target))
    from_labels.update(logits.argmax(1), target)
    np.testing.assert_array_equal(from_logits.compute().confusion, from_labels.compute().confusion)
    np.testing.assert_array_equal(from_logits.compute().boundary_iou, from_labels.compute().boundary_iou)


# ---------------------------------------------------------------------------------------------- absent classes, ignore


def test_classes_absent_from_prediction_and_target_are_nan_and_left_out_of_means():
    pred = np.array([[0, 0], [1, 1]])
    target = np.array([[0, 1], [1, 1]])
    iou = iou_per_class(pred, target, num_classes=4)
    np.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert np.isnan(iou[2:]).all()
    metrics = SegmentationMetrics(4)
    metrics.update(pred, target)
    scores = metrics.compute()
    assert scores.miou == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(scores.f1[2:]).all() and scores.mean_f1 == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_ignored_pixels_do_not_count_anywhere():
    pred = np.array([[0, 1, 2]])
    target = np.array([[0, 1, 255]])
    np.testing.assert_array_equal(confusion_matrix(pred, target, 3), [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert pixel_accuracy(pred, target) == 1.0
    assert math.isnan(pixel_accuracy(pred, np.full_like(target, 255)))
    metrics = SegmentationMetrics(3)
    metrics.update(pred, target)
    scores = metrics.compute()
    assert scores.miou == 1.0 and np.isnan(scores.iou[2])
    assert np.isnan(scores.boundary_iou[2])  # the class-2 prediction sits on an ignored pixel only


def test_out_of_range_labels_and_shape_mismatches_raise():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 7]), 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 3)


def test_scores_are_frozen_and_serialise_to_json():
    metrics = SegmentationMetrics(3)
    metrics.update(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [1, 0]]))
    scores = metrics.compute()
    with pytest.raises(AttributeError):
        scores.miou = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        scores.iou[0] = 1.0
    data = json.loads(json.dumps(scores.to_dict()))
    assert data["iou"][2] is None and data["num_images"] == 1


# ---------------------------------------------------------------------------------------------- boundary IoU


def _brute_force_band(mask: np.ndarray, d: int) -> np.ndarray:
    """Pixels of `mask` within chessboard distance d of a non-mask pixel or of the outside of the image."""
    h, w = mask.shape
    band = np.zeros_like(mask, dtype=bool)
    for i in range(h):
        for j in range(w):
            if not mask[i, j]:
                continue
            near_frame = min(i + 1, j + 1, h - i, w - j) <= d
            near_outside = any(
                not mask[a, b]
                for a in range(max(0, i - d), min(h, i + d + 1))
                for b in range(max(0, j - d), min(w, j + d + 1))
            )
            band[i, j] = near_frame or near_outside
    return band


def _brute_force_boundary_iou(pred: np.ndarray, gt: np.ndarray, d: int) -> float:
    pb, gb = _brute_force_band(pred, d), _brute_force_band(gt, d)
    return (pb & gb).sum() / (pb | gb).sum()


def _blob(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(4, h - 4), rng.uniform(4, w - 4), rng.uniform(3, 6)
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2) | (rng.random((h, w)) < 0.05)


def test_boundary_width_is_ratio_of_the_diagonal_at_least_one_pixel():
    assert boundary_width(300, 400) == 10  # 0.02 * 500
    assert boundary_width(10, 10) == 1
    assert boundary_width(256, 256, 0.05) == round(0.05 * math.hypot(256, 256))


def test_boundary_iou_is_one_for_identical_masks_and_below_one_for_a_shifted_mask():
    gt = np.zeros((64, 64), dtype=bool)
    gt[16:48, 20:44] = True
    assert boundary_iou(gt, gt) == 1.0
    shifted = np.roll(gt, 3, axis=1)
    assert 0.0 < boundary_iou(shifted, gt) < 1.0
    assert math.isnan(boundary_iou(np.zeros_like(gt), np.zeros_like(gt)))
    assert boundary_iou(torch.from_numpy(gt), torch.from_numpy(gt)) == 1.0


def test_boundary_band_counts_the_image_frame_as_a_contour():
    full = np.ones((5, 6), dtype=bool)
    ring = np.ones_like(full)
    ring[1:-1, 1:-1] = False
    np.testing.assert_array_equal(boundary_band(full, 1), ring)


@pytest.mark.parametrize(("seed", "ratio"), [(0, 0.02), (1, 0.05), (2, 0.1)])
def test_boundary_iou_matches_brute_force(seed, ratio):
    h, w = 18, 15
    gt, pred = _blob(h, w, seed), _blob(h, w, seed + 100)
    d = boundary_width(h, w, ratio)
    np.testing.assert_array_equal(boundary_band(gt, d) & gt, _brute_force_band(gt, d))
    assert boundary_iou(pred, gt, ratio) == pytest.approx(_brute_force_boundary_iou(pred, gt, d))


def test_boundary_iou_ignores_the_interior_that_mask_iou_rewards():
    gt = np.zeros((100, 100), dtype=bool)
    gt[10:90, 10:90] = True
    pred = np.zeros_like(gt)
    pred[12:88, 12:88] = True  # 2-pixel-thin miss all around the outline
    mask_iou = (gt & pred).sum() / (gt | pred).sum()
    assert boundary_iou(pred, gt) < mask_iou - 0.2


def test_accumulated_boundary_iou_per_class_equals_binary_boundary_iou_on_one_image():
    rng = np.random.default_rng(3)
    target = np.zeros((20, 24), dtype=np.int64)
    target[4:14, 5:15] = 1
    target[10:18, 12:22] = 2
    pred = np.roll(target, 1, axis=0)
    pred[rng.random(pred.shape) < 0.03] = 2
    metrics = SegmentationMetrics(3, dilation_ratio=0.05)
    metrics.update(pred[None], target[None])
    per_class = metrics.compute().boundary_iou
    expected = [boundary_iou(pred == c, target == c, dilation_ratio=0.05) for c in range(3)]
    np.testing.assert_allclose(per_class, expected)
