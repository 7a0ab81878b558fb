"""Segmentation evaluation arithmetic shared by training (validation mIoU) and the audits.

Conventions everywhere in this module:

- ``pred`` and ``target`` are integer class-index maps of the same shape (``[H, W]`` for one image,
  ``[B, H, W]`` for a batch), as numpy arrays or torch tensors (any device);
- ``target == ignore_index`` (255) pixels are left out of every count;
- a class absent from both prediction and target (no true positive, false positive or false negative) has no
  defined IoU / F1: it is ``NaN`` per class and left out of every mean, so that an image without glasses is
  neither rewarded nor punished for the glasses class. A mean over no defined class is ``NaN``.

Confusion matrices follow scikit-learn: rows are true classes, columns predicted classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

IGNORE_INDEX = 255

ArrayLike = np.ndarray | Tensor

__all__ = [
    "SegmentationMetrics",
    "SegmentationScores",
    "boundary_band",
    "boundary_iou",
    "boundary_width",
    "confusion_matrix",
    "dice",
    "iou_per_class",
    "pixel_accuracy",
]


def _to_numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def _nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN entries; NaN (without a RuntimeWarning) when there are none."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise as float64, NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


# ---------------------------------------------------------------------------------------------- confusion matrix


def confusion_matrix(
    pred: ArrayLike, target: ArrayLike, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Pixel confusion matrix, int64 ``[C, C]``; ``cm[t, p]`` counts pixels of true class t predicted as p.

    ``pred`` and ``target``: integer class maps of one shape (numpy or torch; torch inputs are counted on
    their own device with one ``bincount``). Pixels with ``target == ignore_index`` are skipped; any other
    target or prediction outside ``[0, num_classes)`` raises ``ValueError``.
    """
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    n = num_classes
    if isinstance(pred, Tensor) or isinstance(target, Tensor):
        device = pred.device if isinstance(pred, Tensor) else target.device
        p = torch.as_tensor(pred, device=device).reshape(-1).long()
        t = torch.as_tensor(target, device=device).reshape(-1).long()
        keep = t != ignore_index
        p, t = p[keep], t[keep]
        if t.numel():
            lo, hi = int(torch.minimum(t.min(), p.min())), int(torch.maximum(t.max(), p.max()))
            if lo < 0 or hi >= n:
                raise ValueError(
                    f"class indices must lie in [0, {n}) (target may also be {ignore_index}), "
                    f"found values in [{lo}, {hi}]"
                )
        counts = torch.bincount(t * n + p, minlength=n * n)
        return counts.reshape(n, n).cpu().numpy().astype(np.int64)
    p = np.asarray(pred).reshape(-1).astype(np.int64)
    t = np.asarray(target).reshape(-1).astype(np.int64)
    keep = t != ignore_index
    p, t = p[keep], t[keep]
    if t.size:
        lo, hi = int(min(t.min(), p.min())), int(max(t.max(), p.max()))
        if lo < 0 or hi >= n:
            raise ValueError(
                f"class indices must lie in [0, {n}) (target may also be {ignore_index}), found values in [{lo}, {hi}]"
            )
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n).astype(np.int64)


def _iou_from_cm(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm)
    return _safe_ratio(tp, cm.sum(0) + cm.sum(1) - tp)


def _f1_from_cm(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm)
    return _safe_ratio(2 * tp, cm.sum(0) + cm.sum(1))


def _accuracy_from_cm(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else math.nan


# ---------------------------------------------------------------------------------------------- per image


def iou_per_class(pred: ArrayLike, target: ArrayLike, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Per-class IoU ``TP / (TP + FP + FN)``, float64 ``[C]``; NaN for classes absent from both maps."""
    return _iou_from_cm(confusion_matrix(pred, target, num_classes, ignore_index))


def dice(pred: ArrayLike, target: ArrayLike, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Per-class Dice = F1 ``2 TP / (2 TP + FP + FN)``, float64 ``[C]``; NaN for classes absent from both."""
    return _f1_from_cm(confusion_matrix(pred, target, num_classes, ignore_index))


def pixel_accuracy(pred: ArrayLike, target: ArrayLike, ignore_index: int = IGNORE_INDEX) -> float:
    """Share of non-ignored pixels whose predicted class equals the target; NaN if every pixel is ignored."""
    p, t = _to_numpy(pred), _to_numpy(target)
    if p.shape != t.shape:
        raise ValueError(f"pred shape {p.shape} != target shape {t.shape}")
    keep = t != ignore_index
    n = int(keep.sum())
    return float((p[keep] == t[keep]).sum() / n) if n else math.nan


# ---------------------------------------------------------------------------------------------- boundary IoU


def boundary_width(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """Boundary band width ``d = max(1, round(dilation_ratio * image diagonal))`` in pixels (Cheng et al.)."""
    return max(1, int(round(dilation_ratio * math.hypot(height, width))))


def boundary_band(labels: np.ndarray, d: int) -> np.ndarray:
    """Inner boundary band of every region of a label map, bool ``[H, W]``.

    A pixel is in the band iff some pixel within chessboard distance ``d`` (a ``(2d+1)^2`` square, i.e. ``d``
    erosions by a 3x3 square) has another label or lies outside the image. For a binary mask this is
    ``mask & ~erode(mask, d)`` with the image frame counted as background, as in the Boundary IoU reference.
    """
    lab = np.asarray(labels).astype(np.int32)
    size = 2 * d + 1
    lo = ndimage.minimum_filter(lab, size=size, mode="constant", cval=-1)  # -1 outside: the frame is a contour
    hi = ndimage.maximum_filter(lab, size=size, mode="constant", cval=-1)
    return (lo != lab) | (hi != lab)


def boundary_iou(pred_mask: ArrayLike, gt_mask: ArrayLike, dilation_ratio: float = 0.02) -> float:
    """Boundary IoU of two binary masks ``[H, W]`` (Cheng et al. 2021, "Boundary IoU").

    ``|(G_d ∩ G) ∩ (P_d ∩ P)| / |(G_d ∩ G) ∪ (P_d ∩ P)|`` where ``X_d ∩ X`` are the pixels of mask ``X``
    within ``d = boundary_width(H, W, dilation_ratio)`` pixels of its contour. Unlike mask IoU it does not let
    the large, easy interior of a region hide a poor outline. NaN when both masks are empty.
    """
    p = _to_numpy(pred_mask).astype(bool)
    g = _to_numpy(gt_mask).astype(bool)
    if p.shape != g.shape or p.ndim != 2:
        raise ValueError(f"masks must be two [H, W] arrays of one shape, got {p.shape} and {g.shape}")
    d = boundary_width(*g.shape, dilation_ratio)
    gb = g & boundary_band(g, d)
    pb = p & boundary_band(p, d)
    union = int((gb | pb).sum())
    return float((gb & pb).sum() / union) if union else math.nan


def _boundary_counts(
    pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int, dilation_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class boundary intersection and union counts ``([C], [C])`` for one image ``[H, W]``.

    Bands come from the label maps (an ignored region is a region of its own in the target); ignored pixels
    are then left out of the counts.
    """
    d = boundary_width(*target.shape, dilation_ratio)
    valid = target != ignore_index
    gb = boundary_band(target, d) & valid
    pb = boundary_band(pred, d) & valid
    n = num_classes
    g_count = np.bincount(target[gb].astype(np.int64), minlength=n)[:n]
    p_count = np.bincount(pred[pb].astype(np.int64), minlength=n)[:n]
    both = gb & pb & (pred == target)
    inter = np.bincount(target[both].astype(np.int64), minlength=n)[:n]
    return inter, g_count + p_count - inter


# ---------------------------------------------------------------------------------------------- accumulator


@dataclass(frozen=True)
class SegmentationScores:
    """Scores over everything a ``SegmentationMetrics`` saw; per-class arrays are float64 ``[C]``, read-only.

    ``NaN`` marks a class absent from both prediction and target (for ``boundary_iou``: with an empty boundary
    band in both); means skip NaN entries. ``boundary_iou`` is None when boundaries were not computed.
    """

    confusion: np.ndarray
    iou: np.ndarray
    miou: float
    pixel_accuracy: float
    f1: np.ndarray
    mean_f1: float
    boundary_iou: np.ndarray | None = None
    mean_boundary_iou: float = math.nan
    num_images: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (lists, NaN as None)."""

        def clean(v: object) -> object:
            if isinstance(v, np.ndarray):
                return [clean(x) for x in v.tolist()]
            if isinstance(v, list):
                return [clean(x) for x in v]
            if isinstance(v, float) and math.isnan(v):
                return None
            return v

        return {k: clean(getattr(self, k)) for k in self.__dataclass_fields__}


class SegmentationMetrics:
    """Accumulates a dataset's confusion matrix (and boundary counts) batch by batch.

    >>> metrics = SegmentationMetrics(num_classes=2)
    >>> for images, masks in loader:                     # doctest: +SKIP
    ...     metrics.update(model(images), masks)         # logits [B,C,H,W] or class maps [B,H,W]
    >>> scores = metrics.compute()                       # doctest: +SKIP

    IoU, F1 and accuracy are dataset-level (from the summed confusion matrix, as in mIoU benchmarks);
    boundary IoU sums each class's band intersections and unions over images in the same way.
    ``boundary=False`` skips the boundary work (a few ms per image on CPU) for fast validation.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_index: int = IGNORE_INDEX,
        boundary: bool = True,
        dilation_ratio: float = 0.02,
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.boundary = boundary
        self.dilation_ratio = dilation_ratio
        self.reset()

    def __repr__(self) -> str:
        return (
            f"SegmentationMetrics(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"boundary={self.boundary}, dilation_ratio={self.dilation_ratio}, images={self._images})"
        )

    def reset(self) -> None:
        """Forget everything seen so far."""
        self._cm = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self._b_inter = np.zeros(self.num_classes, dtype=np.int64)
        self._b_union = np.zeros(self.num_classes, dtype=np.int64)
        self._images = 0

    def update(self, pred: ArrayLike, target: ArrayLike) -> None:
        """Add a batch: ``target`` ``[B, H, W]`` or ``[H, W]``; ``pred`` the class map of the same shape, or
        scores with a class axis before H, W (``[B, C, H, W]`` / ``[C, H, W]``), which are argmax-ed."""
        if pred.ndim == target.ndim + 1:
            pred = pred.argmax(-3) if isinstance(pred, Tensor) else np.asarray(pred).argmax(-3)
        self._cm += confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        if target.ndim == 2:
            pred, target = pred[None], target[None]
        self._images += int(target.shape[0])
        if not self.boundary:
            return
        p_all, t_all = _to_numpy(pred), _to_numpy(target)
        for p, t in zip(p_all, t_all, strict=True):
            inter, union = _boundary_counts(p, t, self.num_classes, self.ignore_index, self.dilation_ratio)
            self._b_inter += inter
            self._b_union += union

    def compute(self) -> SegmentationScores:
        """Scores over all batches seen since the last ``reset``."""
        cm = self._cm.copy()
        iou, f1 = _iou_from_cm(cm), _f1_from_cm(cm)
        b_iou = _safe_ratio(self._b_inter, self._b_union) if self.boundary else None
        for arr in (cm, iou, f1, b_iou):
            if arr is not None:
                arr.flags.writeable = False
        return SegmentationScores(
            confusion=cm,
            iou=iou,
            miou=_nanmean(iou),
            pixel_accuracy=_accuracy_from_cm(cm),
            f1=f1,
            mean_f1=_nanmean(f1),
            boundary_iou=b_iou,
            mean_boundary_iou=_nanmean(b_iou) if b_iou is not None else math.nan,
            num_images=self._images,
        )
