"""Per-group instance mask AP: does an instance model find some people worse than others?

The ground truth is a package with instances (dataset.yaml schema version 2): every instance id of an image's
instance mask is one person. The persons are grouped by an attribute: a person attribute (persons.csv), or an
image attribute (manifest) that every person of the image takes; a person attribute wins when both blocks
declare the name. Unknown values form the group 'unknown'; continuous attributes are binned (cut points or
quantile bins of the persons' values, as the fairness audit bins them).

Metric of group g (COCO mask AP, pycocotools COCOeval, iouType="segm", every image of the evaluated rows):

* the persons of g are the positives;
* the persons of every other group are marked *ignore*, exactly as COCO's area ranges ignore people outside
  the range: a detection is matched to a person of g when it can be (IoU >= the threshold, best IoU first),
  else to the best-overlapping ignored person, and a detection matched to an ignored person is neither a true
  nor a false positive; each person is matched at most once, so a second detection of the same person of
  another group is a false positive;
* a detection matched to nobody is a false positive in every group (it is not anyone's detection);
* regions of the class mask at `ignore_index` (e.g. COCO crowd regions) are COCO crowd regions (iscrowd=1,
  with `ignore_regions`): a detection lying mostly inside one (intersection over the detection's area >=
  the IoU threshold) and matched to no person is ignored; a crowd region is never a positive.

AP is the mean of the interpolated precision over IoU thresholds 0.50:0.05:0.95 and 101 recall points (at
most 100 detections per image), AP50 and AP75 at one threshold; NaN for a group without persons. The
interval is a percentile bootstrap over images: the evaluated images are resampled with replacement
(`n_boot` times, default 1000, one seeded generator; the same resamples for every group, so the groups'
intervals are comparable), each resample's AP recomputed from COCOeval's per-image matches (an image drawn k
times counts k times); resamples without a person of the group are left out (`n_boot` in the output counts
the rest).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, AttributeSpec, DatasetPackage
from segaudit.models.data.spec import SPEC_FILE

log = logging.getLogger(__name__)

MASKRCNN = "maskrcnn_resnet50_fpn"
"""The registry name of the one instance model (models/maskrcnn.py)."""
PERSON = 1
ALL = "(all)"
"""The group label of the overall row: every person is a positive."""
DEFAULT_BOOTSTRAP = 1000
MAX_DETECTIONS = 100
AREA_ALL = [0.0, 1e10]
COLUMNS = ("attribute", "group", "n_persons", "n_images", "AP", "AP50", "AP75", "AP_ci_low", "AP_ci_high", "n_boot")

Prediction = Mapping[str, Any]
"""One image's detections: {"scores": [N], and "masks": [N, 1, H, W] or [N, H, W] probabilities (binarised at
`mask_threshold`) or booleans, or "rles": N COCO RLEs of size [H, W]; optional "labels": [N] (person = 1)}."""


# --- checks ----------------------------------------------------------------------------------------------------

def check_instances(package: DatasetPackage) -> None:
    """InputError unless the package has instance-id masks (per-group AP needs the people, not just pixels)."""
    if not package.spec.instances:
        raise InputError("this package has no instance masks: per-person mask AP needs dataset.yaml "
                         "`schema_version: 2` and `instances: true` (the PennFudan and COCO importers write them)",
                         path=package.root / SPEC_FILE, field="instances")


def resolve_attribute(package: DatasetPackage, attribute: str) -> tuple[AttributeSpec, str]:
    """(declaration, level) of `attribute`: level "person" (persons.csv) or "image" (manifest); InputError
    naming the declared attributes when it is neither."""
    if attribute in package.spec.person_attributes:
        return package.spec.person_attributes[attribute], "person"
    if attribute in package.spec.attributes:
        return package.spec.attributes[attribute], "image"
    raise InputError(f"unknown attribute {attribute!r}; person attributes: {list(package.spec.person_attributes)}, "
                     f"image attributes: {list(package.spec.attributes)}", path=package.root / SPEC_FILE,
                     field="--by")


def split_rows(package: DatasetPackage, split: str) -> pd.DataFrame:
    """The manifest rows of a split ("all": every row); InputError when there are none."""
    rows = package.manifest.reset_index(drop=True) if split == "all" else package.split(split)
    if rows.empty:
        raise InputError(f"split {split!r} has no images", path=package.manifest_path, field="split")
    return rows


# --- ground truth ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Image:
    sample_id: str
    height: int
    width: int
    persons: list[tuple[dict, Any]]
    """(RLE, attribute value) per person."""
    crowd: dict | None


def _ground_truth(package: DatasetPackage, rows: pd.DataFrame, attribute: AttributeSpec, level: str,
                  ignore_regions: bool) -> list[_Image]:
    missing = math.nan if attribute.kind == "continuous" else UNKNOWN
    images, absent = [], 0
    for row in rows.to_dict("records"):
        instances = package.read_instances(row)
        listed = package.persons_of(str(row["id"]), instances)
        present = np.unique(instances)
        present = present[present > 0]
        if level == "image":
            value_of: dict[int, Any] = {}
            default = row[attribute.name]
        else:
            value_of = dict(zip(listed["instance"].astype(int), listed[attribute.name], strict=True))
            default = missing  # an instance without a persons.csv row: a person of unknown attributes
        absent += len(set(listed["instance"].astype(int)) - set(present.tolist()))
        persons = [(_rle(instances == k), value_of.get(int(k), default)) for k in present]
        crowd = None
        if ignore_regions:
            region = package.read_mask(row) == package.spec.ignore_index
            crowd = _rle(region) if region.any() else None
        images.append(_Image(str(row["id"]), *instances.shape, persons, crowd))
    if absent:
        log.warning("%d persons of persons.csv have no pixel in their instance mask; they are not evaluated", absent)
    return images


def _rle(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def _prediction_rles(prediction: Prediction, height: int, width: int, threshold: float,
                     sample_id: str) -> tuple[list[dict], np.ndarray]:
    """(RLEs, scores) of one image's person detections, checked against the image's size."""
    scores = np.asarray(_numpy(prediction["scores"]), dtype=np.float64).reshape(-1)
    if "rles" in prediction:
        rles = list(prediction["rles"])
        sizes = {tuple(int(v) for v in r["size"]) for r in rles}
    else:
        masks = _numpy(prediction["masks"])
        masks = masks[:, 0] if masks.ndim == 4 else masks
        if masks.ndim != 3:
            raise ValueError(f"{sample_id}: masks must be [N, H, W] or [N, 1, H, W], got {list(masks.shape)}")
        binary = masks >= threshold if masks.dtype.kind == "f" else masks.astype(bool)
        rles = [_rle(m) for m in binary]
        sizes = {tuple(masks.shape[1:])} if len(masks) else set()
    if sizes - {(height, width)}:
        raise ValueError(f"{sample_id}: predicted masks are {sorted(sizes)}, the image is {(height, width)}")
    if len(rles) != len(scores):
        raise ValueError(f"{sample_id}: {len(rles)} masks but {len(scores)} scores")
    if prediction.get("labels") is not None:
        keep = np.asarray(_numpy(prediction["labels"])).reshape(-1) == PERSON
        rles, scores = [r for r, k in zip(rles, keep, strict=True) if k], scores[keep]
    return rles, scores


def _numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        return values.detach().cpu().numpy()
    return np.asarray(values)


# --- evaluation --------------------------------------------------------------------------------------------------

class _GroupEval(COCOeval):
    """COCOeval whose ground truth of other groups is ignored: after pycocotools sets `ignore` from `iscrowd`,
    every annotation whose `group` is not `positive` (None: every person) is ignored too."""

    def __init__(self, gt: COCO, dt: COCO, positive: int | None) -> None:
        super().__init__(gt, dt, iouType="segm")
        self.positive = positive
        self.params.areaRng, self.params.areaRngLbl = [AREA_ALL], ["all"]
        self.params.maxDets = [MAX_DETECTIONS]

    def _prepare(self) -> None:
        super()._prepare()
        for listed in self._gts.values():
            for gt in listed:
                gt["ignore"] = bool(gt["ignore"]) or (self.positive is not None and gt["group"] != self.positive)


def _coco(images: list[dict], annotations: list[dict]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": [{"id": PERSON, "name": "person"}]}
    coco.createIndex()
    return coco


def _annotation(rle: dict, image_id: int, number: int, **extra: Any) -> dict:
    return {"id": number, "image_id": image_id, "category_id": PERSON, "segmentation": rle,
            "area": float(mask_utils.area(rle)), "bbox": mask_utils.toBbox(rle).tolist(), **extra}


@dataclass(frozen=True)
class _Matches:
    """Per-detection results of one COCOeval run, in COCOeval's accumulation order (score, then image)."""

    image: np.ndarray  # [D] index of the detection's image among the evaluated images
    tp: np.ndarray  # [T, D] matched to a positive person
    fp: np.ndarray  # [T, D] matched to nobody (and not ignored)
    positives: np.ndarray  # [n_images] persons of the group per image
    rec_thrs: np.ndarray
    iou_thrs: np.ndarray


def _matches(evaluator: COCOeval, n_images: int) -> _Matches:
    """COCOeval's per-image results (one category, one area range: `evalImgs[i]` is image id i + 1)."""
    image, scores, tp, fp = [], [], [], []
    positives = np.zeros(n_images, dtype=np.int64)
    for index, result in enumerate(evaluator.evalImgs):
        if result is None:
            continue
        matched = np.asarray(result["dtMatches"])[:, :MAX_DETECTIONS] > 0
        ignored = np.asarray(result["dtIgnore"])[:, :MAX_DETECTIONS].astype(bool)
        tp.append(matched & ~ignored)
        fp.append(~matched & ~ignored)
        scores.append(np.asarray(result["dtScores"][:MAX_DETECTIONS], dtype=np.float64))
        image.append(np.full(len(scores[-1]), index))
        positives[index] = int(np.count_nonzero(np.asarray(result["gtIgnore"]) == 0))
    n_thresholds = len(evaluator.params.iouThrs)
    if scores:
        order = np.argsort(-np.concatenate(scores), kind="mergesort")  # as COCOeval.accumulate orders them
        image_of, tp_all, fp_all = np.concatenate(image)[order], np.hstack(tp)[:, order], np.hstack(fp)[:, order]
    else:
        image_of = np.zeros(0, dtype=np.int64)
        tp_all = fp_all = np.zeros((n_thresholds, 0), dtype=bool)
    return _Matches(image_of, tp_all, fp_all, positives, np.asarray(evaluator.params.recThrs),
                    np.asarray(evaluator.params.iouThrs))


def weighted_precision(matches: _Matches, weights: np.ndarray) -> np.ndarray | None:
    """COCOeval.accumulate's interpolated precision [T, R] with image i counted `weights[i]` times (all ones:
    exactly COCOeval's); None when no positive person is counted."""
    n_positive = float(weights @ matches.positives)
    if n_positive == 0:
        return None
    n_thresholds, n_recall = matches.tp.shape[0], matches.rec_thrs.size
    if matches.image.size == 0:
        return np.zeros((n_thresholds, n_recall))
    w = weights[matches.image].astype(np.float64)
    tp = np.cumsum(matches.tp * w, axis=1)
    fp = np.cumsum(matches.fp * w, axis=1)
    recall = tp / n_positive
    precision = tp / (tp + fp + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    out = np.zeros((n_thresholds, n_recall))
    last = envelope.shape[1]
    for t in range(n_thresholds):
        index = np.searchsorted(recall[t], matches.rec_thrs, side="left")
        found = index < last
        out[t, found] = envelope[t, index[found]]
    return out


def _summary(precision: np.ndarray, iou_thrs: np.ndarray) -> tuple[float, float, float]:
    """(AP, AP50, AP75) from a precision array [T, R] as COCOeval.summarize averages it."""
    def at(threshold: float) -> float:
        return float(precision[int(np.argmin(np.abs(iou_thrs - threshold)))].mean())
    return float(precision.mean()), at(0.5), at(0.75)


# --- the audit ---------------------------------------------------------------------------------------------------

def mask_ap_by_group(predictions: Mapping[str, Prediction] | Sequence[Prediction], package: DatasetPackage,
                     rows: pd.DataFrame | str, attribute: str, *, bins: int | Sequence[float] = 4,
                     n_boot: int = DEFAULT_BOOTSTRAP, confidence: float = 0.95, seed: int = 0,
                     mask_threshold: float = 0.5, ignore_regions: bool = True, overall: bool = True) -> pd.DataFrame:
    """Per-group COCO mask AP of instance predictions against a package's people (see the module docstring).

    predictions: per image of `rows`, by sample id (mapping) or in row order (sequence), see `Prediction`;
    masks at the image's own size. rows: manifest rows (e.g. `package.split("test")`) or a split name ("all":
    every row). attribute: a person or image attribute; bins: cut points or a number of quantile bins for a
    continuous one. n_boot: bootstrap resamples of images (0: no interval). overall: add a first row, group
    "(all)", where every person is a positive.

    Returns one row per group: attribute, group, n_persons, n_images (images with a person of the group), AP,
    AP50, AP75, AP_ci_low, AP_ci_high (percentile interval at `confidence`), n_boot (resamples with a person
    of the group). `frame.attrs` records level, images, n_boot, confidence and seed.
    """
    from segaudit.audit.fairness.subgroups import attribute_grouping

    check_instances(package)
    spec, level = resolve_attribute(package, attribute)
    if isinstance(rows, str):
        rows = split_rows(package, rows)
    rows = rows.reset_index(drop=True)
    if not 0 < confidence < 1 or n_boot < 0:
        raise ValueError(f"need 0 < confidence < 1 and n_boot >= 0, got {confidence}, {n_boot}")
    truth = _ground_truth(package, rows, spec, level, ignore_regions)

    people = pd.DataFrame({attribute: [value for image in truth for _, value in image.persons]},
                          dtype="float64" if spec.kind == "continuous" else "object")
    grouping = attribute_grouping(people, spec, bins=bins, min_size=2)
    codes = iter(grouping.codes.tolist())

    coco_images, gt_annotations, dt_annotations = [], [], []
    if isinstance(predictions, Mapping):
        missing = [image.sample_id for image in truth if image.sample_id not in predictions]
        if missing:
            raise ValueError(f"no predictions for {len(missing)} images, e.g. {missing[:5]}")
        ordered = [predictions[image.sample_id] for image in truth]
    else:
        ordered = list(predictions)
        if len(ordered) != len(truth):
            raise ValueError(f"{len(ordered)} predictions for {len(truth)} rows")
    image_codes: list[list[int]] = []
    for image_id, (image, prediction) in enumerate(zip(truth, ordered, strict=True), start=1):
        coco_images.append({"id": image_id, "height": image.height, "width": image.width})
        own = []
        for rle, _ in image.persons:
            own.append(next(codes))  # ids start at 1: COCOeval reads 0 as "unmatched"
            gt_annotations.append(_annotation(rle, image_id, len(gt_annotations) + 1, iscrowd=0, group=own[-1]))
        image_codes.append(own)
        if image.crowd is not None:
            gt_annotations.append(_annotation(image.crowd, image_id, len(gt_annotations) + 1, iscrowd=1, group=-1))
        rles, scores = _prediction_rles(prediction, image.height, image.width, mask_threshold, image.sample_id)
        for rle, score in zip(rles, scores, strict=True):
            dt_annotations.append(_annotation(rle, image_id, len(dt_annotations) + 1, score=float(score)))

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt, dt = _coco(coco_images, gt_annotations), _coco(coco_images, dt_annotations)
    n_images = len(truth)
    rng = np.random.default_rng(seed)
    resamples = [np.bincount(rng.integers(0, n_images, n_images), minlength=n_images) for _ in range(n_boot)]

    groups: list[tuple[str, int | None]] = [(ALL, None)] if overall else []
    groups += [(label, code) for code, label in enumerate(grouping.labels)]
    records = []
    for label, code in groups:
        mine = [sum(c == code for c in own) if code is not None else len(own) for own in image_codes]
        record = {"attribute": attribute, "group": label, "n_persons": int(sum(mine)),
                  "n_images": int(sum(m > 0 for m in mine)), "AP": math.nan, "AP50": math.nan, "AP75": math.nan,
                  "AP_ci_low": math.nan, "AP_ci_high": math.nan, "n_boot": 0}
        if record["n_persons"]:
            record.update(_evaluate(gt, dt, code, n_images, resamples, confidence))
        records.append(record)
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    frame.attrs.update(level=level, images=n_images, n_boot=n_boot, confidence=confidence, seed=seed,
                       bins=grouping.bins)
    return frame


def _evaluate(gt: COCO, dt: COCO, code: int | None, n_images: int, resamples: list[np.ndarray],
              confidence: float) -> dict[str, Any]:
    evaluator = _GroupEval(gt, dt, code)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, 0]  # [T, R]: the one category, area range, maxDets
    ap, ap50, ap75 = _summary(precision, np.asarray(evaluator.params.iouThrs))
    out: dict[str, Any] = {"AP": ap, "AP50": ap50, "AP75": ap75}
    if resamples:
        matches = _matches(evaluator, n_images)
        values = [p.mean() for p in (weighted_precision(matches, w) for w in resamples) if p is not None]
        if values:
            tail = (1 - confidence) / 2
            low, high = np.quantile(values, [tail, 1 - tail])
            out.update(AP_ci_low=float(low), AP_ci_high=float(high), n_boot=len(values))
    return out


# --- running a Mask R-CNN ----------------------------------------------------------------------------------------

def load_maskrcnn(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(model in eval mode on `device`, checkpoint config) of a Mask R-CNN checkpoint or run folder (its best/);
    InputError for a .pte program or a checkpoint of another model, before any weights are read."""
    from segaudit.models.checkpoint import load_checkpoint, read_checkpoint_config
    from segaudit.models.device import resolve_device
    from segaudit.models.runtime import resolve_model_path

    path = resolve_model_path(Path(path))
    if path.suffix == ".pte":
        raise InputError("an ExecuTorch program returns merged person logits, not instances; give the Mask R-CNN "
                         "checkpoint (or its run folder)", path=path)
    config = read_checkpoint_config(path)
    if config["model"] != MASKRCNN:
        raise InputError(f"model {config['model']!r} is not a Mask R-CNN ({MASKRCNN}); mask AP needs a model that "
                         "predicts instances", path=path, field="model")
    model, config = load_checkpoint(path)
    return model.to(resolve_device(device)).eval(), config


def predict_split(model: Any, package: DatasetPackage, rows: pd.DataFrame, image_size: int, *,
                  batch_size: int = 4, mask_threshold: float = 0.5,
                  progress: bool = False) -> dict[str, dict[str, Any]]:
    """{sample id: {"rles", "scores"}}: `model.predict_instances` on each image preprocessed as for every
    bundled model (resize to `image_size`, ImageNet normalisation), each mask probability resized back to the
    image's size (bilinear) and binarised at `mask_threshold`. Kept as RLEs, so a large split fits in memory."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from segaudit.models.data.torch_dataset import to_model_input

    device = next(model.parameters()).device
    records = rows.to_dict("records")
    out: dict[str, dict[str, Any]] = {}
    with torch.inference_mode(), tqdm(total=len(records), desc="instances", unit="img", disable=not progress) as bar:
        for start in range(0, len(records), max(1, batch_size)):
            batch = records[start:start + max(1, batch_size)]
            images = [package.read_image(row) for row in batch]
            inputs = torch.stack([to_model_input(image, image_size) for image in images]).to(device)
            for row, image, detections in zip(batch, images, model.predict_instances(inputs), strict=True):
                height, width = image.shape[:2]
                rles = []
                for chunk in detections["masks"].split(16):  # [n, 1, S, S] probabilities, resized a few at a time
                    resized = F.interpolate(chunk.float(), size=(height, width), mode="bilinear", align_corners=False)
                    rles += [_rle(m) for m in (resized[:, 0] >= mask_threshold).cpu().numpy()]
                keep = (detections["labels"] == PERSON).cpu().numpy()
                out[str(row["id"])] = {"rles": [r for r, k in zip(rles, keep, strict=True) if k],
                                       "scores": detections["scores"].cpu().numpy()[keep]}
            bar.update(len(batch))
    return out


def mask_ap_for_model(model_path: str | Path, package: DatasetPackage, attribute: str, *, split: str = "test",
                      bins: int | Sequence[float] = 4, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                      batch_size: int = 4, device: str = "cpu", progress: bool = False) -> pd.DataFrame:
    """Run a Mask R-CNN checkpoint over a split and return `mask_ap_by_group`; the package and the attribute
    are checked before the model is loaded."""
    check_instances(package)
    resolve_attribute(package, attribute)
    rows = split_rows(package, split)
    model, config = load_maskrcnn(model_path, device)
    predictions = predict_split(model, package, rows, int(config["image_size"]), batch_size=batch_size,
                                progress=progress)
    frame = mask_ap_by_group(predictions, package, rows, attribute, bins=bins, n_boot=n_boot, seed=seed)
    frame.attrs.update(split=split, model=str(model_path))
    return frame
