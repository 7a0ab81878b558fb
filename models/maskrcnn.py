"""Mask R-CNN (He et al., 2017) for person instance segmentation, adapted to the house conventions.

torchvision's ``maskrcnn_resnet50_fpn`` (random init, nothing downloaded) wrapped by
``MaskRCNNSegmenter`` so it trains and evaluates like the semantic models:

* Input: already ImageNet-normalized [B, 3, H, W] at the training size. torchvision's
  ``GeneralizedRCNNTransform`` would renormalise and resize to ``min_size``; ``KeepInputTransform``
  replaces it and only batches, so the detector sees exactly the tensor the other models see and every
  output is at input resolution (no un-normalising, no resize: works for any H, W).
* ``compute_loss(x, target, criterion)``: the semantic target [B, H, W] is turned into instance targets
  (``semantic_to_instances``: 8-connected components of the person pixels, 255 = background), the loss
  is the sum of torchvision's five losses (RPN objectness + box, box classifier + regression, mask).
  ``criterion`` is unused. The returned logits come from the cheap path: the same backbone features
  and RPN proposals are run through the *inference* box/mask heads under ``no_grad`` and merged with
  ``instances_to_semantic`` (no second backbone pass). They carry no gradient.
* ``forward(x)``: person/background logits [B, 2, H, W] = ``instances_to_semantic(predict_instances(x))``
  (detections with score >= ``score_threshold``; person probability p = max mask probability over
  them; logits = [log(1 - p), log(p)] with p clamped to [eps, 1 - eps]). In train mode the backbone
  runs with batch-statistics BatchNorm; the heads always run their inference path.
* ``predict_instances(x)``: torchvision's list of dicts (boxes [N, 4], labels [N], scores [N],
  masks [N, 1, H, W] probabilities).
* ``coco_mask_metrics``: COCO mask AP, AP50, AP75, AR@100 with pycocotools.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy import ndimage
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection import maskrcnn_resnet50_fpn as _tv_maskrcnn_resnet50_fpn
from torchvision.models.detection.transform import GeneralizedRCNNTransform

__all__ = [
    "KeepInputTransform",
    "MaskRCNNSegmenter",
    "coco_mask_metrics",
    "instances_to_semantic",
    "maskrcnn_resnet50_fpn",
    "semantic_to_instances",
]

logger = logging.getLogger(__name__)

PERSON_LABEL = 1  # torchvision detection label of a person; 0 is the implicit background class


class KeepInputTransform(GeneralizedRCNNTransform):
    """``GeneralizedRCNNTransform`` that neither normalises nor resizes: it only pads/batches.

    Our inputs are ImageNet-normalized and already at the working size (multiples of 32, so padding
    to ``size_divisible=32`` is a no-op). Boxes and masks therefore stay in input pixel coordinates.
    """

    def __init__(self, size_divisible: int = 32) -> None:
        # min_size / max_size / mean / std are never read: normalize() and resize() are overridden.
        super().__init__(1, 1, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], size_divisible=size_divisible)

    def normalize(self, image: Tensor) -> Tensor:
        return image

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor] | None]:
        return image, target


def semantic_to_instances(target: Tensor, min_area: int = 10, ignore_index: int = 255) -> list[dict[str, Tensor]]:
    """Semantic label maps [B, H, W] -> torchvision instance targets, one dict per image.

    Person pixels are all classes except 0 (background) and ``ignore_index`` (counted as background),
    so binary person masks and part/clothing labels both work. Each 8-connected component with at
    least ``min_area`` pixels (smaller ones are annotation speckle) becomes one instance:
      boxes  float32 [N, 4] (x0, y0, x1, y1) in pixel-edge coordinates: x1, y1 are one past the last
             column/row, so a single pixel has a 1x1 box (torchvision rejects zero-size boxes)
      labels int64 [N], all ``PERSON_LABEL``
      masks  uint8 [N, H, W]
    An image without person pixels gets N = 0, which torchvision trains on as pure background.
    """
    device = target.device
    eight_connected = np.ones((3, 3), dtype=bool)
    out = []
    for sem in target.detach().cpu().numpy():
        h, w = sem.shape
        components, n = ndimage.label((sem != 0) & (sem != ignore_index), structure=eight_connected)
        areas = np.bincount(components.ravel(), minlength=n + 1)
        boxes, masks = [], []
        for idx, (rows, cols) in enumerate(ndimage.find_objects(components), start=1):
            if areas[idx] < min_area:
                continue
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            masks.append(components == idx)
        masks_np = np.stack(masks) if masks else np.zeros((0, h, w), dtype=bool)
        out.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32, device=device).reshape(-1, 4),
                "labels": torch.full((len(boxes),), PERSON_LABEL, dtype=torch.int64, device=device),
                "masks": torch.from_numpy(masks_np).to(device=device, dtype=torch.uint8),
            }
        )
    return out


def instances_to_semantic(
    detections: Sequence[dict[str, Tensor]], score_threshold: float = 0.5, eps: float = 1e-4
) -> Tensor:
    """Per-image detections (masks [N, 1, H, W] probabilities, scores [N]) -> logits [B, 2, H, W].

    p = max mask probability over detections with score >= ``score_threshold`` (0 where none), so
    overlapping people do not add up; logits = [log(1 - p), log(p)] with p in [eps, 1 - eps], whose
    softmax gives back (1 - p, p) and whose argmax is ``p > 0.5``.
    """
    logits = []
    for det in detections:
        masks = det["masks"][:, 0]  # [N, H, W]
        kept = masks[det["scores"] >= score_threshold]
        p = torch.cat([masks.new_zeros((1, *masks.shape[-2:])), kept]).amax(dim=0)  # [H, W]
        p = p.clamp(eps, 1.0 - eps)
        logits.append(torch.stack([torch.log1p(-p), torch.log(p)]))
    return torch.stack(logits)


@contextlib.contextmanager
def _mode(modules: Sequence[nn.Module], training: bool) -> Iterator[None]:
    """Temporarily put ``modules`` (and their children) in train/eval mode; restore every flag after."""
    saved = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.train(training)
    try:
        yield
    finally:
        for m, flag in saved:
            m.training = flag


class MaskRCNNSegmenter(nn.Module):
    """torchvision ``MaskRCNN`` (person vs background) with the house forward / compute_loss.

    ``net.transform`` must keep the input as is (``KeepInputTransform``); ``net.backbone`` maps the
    batch to FPN features, ``net.rpn`` proposes boxes, ``net.roi_heads`` classifies them and predicts
    28x28 masks. Calling these pieces ourselves lets one backbone pass serve both the training losses
    and the detections the logits are made from.
    """

    def __init__(
        self,
        net: MaskRCNN,
        score_threshold: float = 0.5,
        min_instance_area: int = 10,
        ignore_index: int = 255,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.net = net
        self.score_threshold = score_threshold
        self.min_instance_area = min_instance_area
        self.ignore_index = ignore_index
        self.eps = eps

    def _features(self, x: Tensor, targets: list[dict[str, Tensor]] | None = None) -> tuple[Any, Any, Any]:
        images, targets = self.net.transform(list(x), targets)  # ImageList: tensors [B, 3, H, W]
        return images, targets, self.net.backbone(images.tensors)  # OrderedDict of FPN levels

    def _detect(
        self, images: Any, features: Any, proposals: list[Tensor] | None = None, min_score: float = 0.0
    ) -> list[dict]:
        """Inference-path heads on computed features -> detections at input resolution.

        ``min_score`` raises the box head's score cut (torchvision default 0.05) so that the mask head,
        the costly part (4 convs per box), only runs on detections that will be used.
        """
        heads = self.net.roi_heads
        default_thresh = heads.score_thresh
        # torchvision keeps scores > score_thresh; the margin keeps score == min_score (merged with >=).
        heads.score_thresh = max(default_thresh, min_score - 1e-6)
        try:
            with _mode([self.net.transform, self.net.rpn, heads], training=False):
                if proposals is None:
                    proposals, _ = self.net.rpn(images, features)
                detections, _ = heads(features, proposals, images.image_sizes)
                # Pastes each 28x28 mask into its box at image size (no rescaling: sizes are unchanged).
                return self.net.transform.postprocess(detections, images.image_sizes, images.image_sizes)
        finally:
            heads.score_thresh = default_thresh

    def predict_instances(self, x: Tensor) -> list[dict[str, Tensor]]:
        """[B, 3, H, W] -> per image {boxes [N, 4], labels [N], scores [N], masks [N, 1, H, W]}.

        Keeps torchvision's low score cut (``box_score_thresh``, 0.05) as COCO AP needs the full ranking.
        """
        images, _, features = self._features(x)
        return self._detect(images, features)

    def forward(self, x: Tensor) -> Tensor:
        """[B, 3, H, W] -> person/background logits [B, 2, H, W] merged from the instance masks."""
        images, _, features = self._features(x)
        detections = self._detect(images, features, min_score=self.score_threshold)
        return instances_to_semantic(detections, self.score_threshold, self.eps)

    def compute_loss(self, x: Tensor, target: Tensor, criterion: Any = None) -> tuple[Tensor, Tensor]:
        """(sum of torchvision's detection losses, merged logits [B, 2, H, W] without gradient).

        ``target`` [B, H, W] semantic labels; ``criterion`` is unused (Mask R-CNN has its own losses).
        The heads compute their losses in train mode even when the model is in eval mode (validation
        loss); the backbone keeps the model's mode.
        """
        instances = semantic_to_instances(target, self.min_instance_area, self.ignore_index)
        images, instances, features = self._features(x, instances)
        with _mode([self.net.rpn, self.net.roi_heads], training=True):
            proposals, rpn_losses = self.net.rpn(images, features, instances)
            _, head_losses = self.net.roi_heads(features, proposals, images.image_sizes, instances)
        loss = torch.stack([*rpn_losses.values(), *head_losses.values()]).sum()
        with torch.no_grad():
            # RPN proposals are already detached; reuse them rather than run the RPN again.
            detections = self._detect(images, features, proposals, min_score=self.score_threshold)
        return loss, instances_to_semantic(detections, self.score_threshold, self.eps)


_TRANSFORM_KWARGS = ("min_size", "max_size", "image_mean", "image_std", "fixed_size")


def maskrcnn_resnet50_fpn(
    num_classes: int = 2,
    score_threshold: float = 0.5,
    min_instance_area: int = 10,
    **kwargs: Any,
) -> MaskRCNNSegmenter:
    """Mask R-CNN ResNet-50-FPN for person instance segmentation, random init (BatchNorm, all trainable).

    ``num_classes`` counts the background and must be 2 (background, person). ``kwargs`` go to
    torchvision's ``MaskRCNN`` (e.g. ``rpn_post_nms_top_n_train``, ``box_batch_size_per_image``,
    ``box_detections_per_img``); resize/normalisation options are rejected because the input is used
    as given (see ``KeepInputTransform``).
    """
    if num_classes != 2:
        raise ValueError(f"Mask R-CNN here segments person vs background: num_classes must be 2, got {num_classes}")
    rejected = sorted(set(kwargs) & set(_TRANSFORM_KWARGS))
    if rejected:
        raise TypeError(f"{rejected} not supported: inputs are already normalized and never resized")
    net = _tv_maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    net.transform = KeepInputTransform()
    return MaskRCNNSegmenter(net, score_threshold=score_threshold, min_instance_area=min_instance_area)


def _numpy_masks(masks: Tensor | np.ndarray, threshold: float) -> np.ndarray:
    """[N, H, W] or [N, 1, H, W] probabilities/binary masks -> bool [N, H, W]."""
    arr = masks.detach().cpu().numpy() if isinstance(masks, Tensor) else np.asarray(masks)
    if arr.ndim == 4:
        arr = arr[:, 0]
    return arr >= threshold if arr.dtype.kind == "f" else arr.astype(bool)


def _numpy(values: Tensor | np.ndarray | None, default: np.ndarray) -> np.ndarray:
    if values is None:
        return default
    return values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)


def _encode(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))  # RLE {"size", "counts"}


def coco_mask_metrics(
    predictions: Sequence[dict[str, Any]],
    targets: Sequence[dict[str, Any] | Tensor | np.ndarray],
    mask_threshold: float = 0.5,
) -> dict[str, float]:
    """COCO mask metrics (pycocotools COCOeval, iouType="segm") over a list of images.

    ``predictions[i]``: {"masks": [N, 1, H, W] or [N, H, W] probabilities (binarised at
    ``mask_threshold``) or bool, "scores": [N], optional "labels": [N]} (``predict_instances`` output).
    ``targets[i]``: {"masks": [M, H, W], optional "labels": [M]} (``semantic_to_instances`` output) or
    the [M, H, W] mask array itself. Labels default to person.
    Returns {"AP", "AP50", "AP75", "AR100"} in [0, 1]; NaN where undefined (no ground truth at all).
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
    images, gt_anns, dt_anns, categories = [], [], [], {PERSON_LABEL}
    for image_id, (pred, tgt) in enumerate(zip(predictions, targets, strict=True)):
        tgt = tgt if isinstance(tgt, dict) else {"masks": tgt}
        gt_masks = _numpy_masks(tgt["masks"], 0.5)
        h, w = gt_masks.shape[-2:]
        images.append({"id": image_id, "height": h, "width": w})
        gt_labels = _numpy(tgt.get("labels"), np.full(len(gt_masks), PERSON_LABEL))
        for mask, label in zip(gt_masks, gt_labels, strict=True):
            rle = _encode(mask)
            gt_anns.append(
                {
                    "id": len(gt_anns) + 1,  # COCOeval treats id 0 as "unmatched": start at 1
                    "image_id": image_id,
                    "category_id": int(label),
                    "segmentation": rle,
                    "area": float(mask_utils.area(rle)),
                    "bbox": mask_utils.toBbox(rle).tolist(),
                    "iscrowd": 0,
                }
            )
        dt_masks = _numpy_masks(pred["masks"], mask_threshold)
        scores = _numpy(pred["scores"], np.ones(len(dt_masks)))
        dt_labels = _numpy(pred.get("labels"), np.full(len(dt_masks), PERSON_LABEL))
        for mask, score, label in zip(dt_masks, scores, dt_labels, strict=True):
            rle = _encode(mask)
            dt_anns.append(
                {
                    "id": len(dt_anns) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "segmentation": rle,
                    "area": float(mask_utils.area(rle)),
                    "bbox": mask_utils.toBbox(rle).tolist(),
                    "score": float(score),
                }
            )
        categories.update(int(c) for c in (*gt_labels, *dt_labels))

    cats = [{"id": c, "name": str(c)} for c in sorted(categories)]
    log = io.StringIO()
    with contextlib.redirect_stdout(log):  # pycocotools prints its progress and summary table
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset = {"images": images, "annotations": gt_anns, "categories": cats}
        coco_dt.dataset = {"images": images, "annotations": dt_anns, "categories": cats}
        coco_gt.createIndex()
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    logger.debug("COCOeval output:\n%s", log.getvalue())
    stats = evaluator.stats  # 0 AP, 1 AP50, 2 AP75, ..., 8 AR maxDets=100 (all areas); -1 = undefined
    return {
        name: float("nan") if stats[i] < 0 else float(stats[i])
        for name, i in (("AP", 0), ("AP50", 1), ("AP75", 2), ("AR100", 8))
    }
