"""What the attacker measures on each image by querying a model, on the image and on its mirror.

Per query (the image, its horizontal mirror), at the model's input resolution with the mask resized by nearest
neighbour exactly as in training, over the valid pixels (mask != ignore_index):
- `conf`: mean of the logit-scaled true-class confidence log p_y - log sum_{y' != y} p_y', computed from the
  log-probabilities with a logsumexp (stable where p_y is within float rounding of 1, where 1 - p_y is not);
- `loss`: mean cross-entropy -log p_y (the training loss);
- `maps`: the per-pixel loss map, average-pooled over valid pixels to map_size x map_size.
Label-only (the attacker sees the argmax mask only): `label_iou`, the mean IoU over classes of the predicted
mask with the ground truth under LABEL_AUGMENTATIONS (identity, mirror, shifts, brightness, noise).

The model is anything with `image_size` and `logits(inputs)`, i.e. `models.runtime.Segmenter` over a checkpoint
or a .pte program: the program's logits are what its probabilities are computed from, so they carry the same
information as the per-pixel probabilities an app exposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from segaudit.models.data.torch_dataset import resize_mask, to_model_input

QUERIES = ("image", "mirror")
LABEL_AUGMENTATIONS = ("identity", "mirror", "shift+", "shift-", "shift+-", "darker", "brighter", "noise")


class Model(Protocol):
    image_size: int

    def logits(self, inputs: torch.Tensor) -> torch.Tensor: ...


@dataclass
class Signals:
    """Per-image measurements of one model on n images (None where not measured)."""

    conf: np.ndarray | None = None  # [n, len(QUERIES)]
    loss: np.ndarray | None = None  # [n, len(QUERIES)]
    maps: np.ndarray | None = None  # [n, len(QUERIES), map_size, map_size] float32
    label_iou: np.ndarray | None = None  # [n, len(LABEL_AUGMENTATIONS)]

    def __len__(self) -> int:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                return int(value.shape[0])
        return 0

    def take(self, index: np.ndarray | slice) -> Signals:
        """The signals of a subset of the images."""
        return Signals(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
                          for f in fields(self)})

    def likelihood(self) -> np.ndarray:
        """Per image, the mean over queries of exp(-mean loss): the geometric-mean probability of the true
        labels, the "Pr(x | model)" of RMIA."""
        assert self.loss is not None
        return np.exp(-self.loss).mean(axis=1)

    def save(self, path: Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        from segaudit.core.atomic import atomic_file

        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> Signals:
        """The signals saved at `path`. The loss maps (by far the largest array: K shadows x P images x 2 x m x m)
        are memory-mapped from the file, not read: their pages are read only when an attack touches them (the
        loss-map attack), so the other attacks and a K = 256 audit do not hold every shadow's maps in memory."""
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files if name != "maps"}
            if "maps" in data.files:
                arrays["maps"] = _mapped(path, "maps")
                if arrays["maps"] is None:  # compressed (not written by `save`): read it
                    arrays["maps"] = data["maps"]
        return cls(**arrays)


def _mapped(path: Path, name: str) -> np.ndarray | None:
    """The array `name` of the .npz at `path` as a read-only memory map, or None when it is compressed.

    `np.load(..., mmap_mode="r")` maps only .npy files; `np.savez` stores each array uncompressed in the zip, so
    its bytes lie contiguous in the file after the member's local header and its .npy header: mapped from there.
    """
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)  # the local file header; its name and extra fields follow
        if local[:4] != b"PK\x03\x04":
            return None
        name_length, extra_length = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    if dtype.hasobject:
        return None
    if not shape or 0 in shape:
        return np.zeros(shape, dtype=dtype)
    mapped = np.memmap(path, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=offset)
    return np.asarray(mapped)  # a plain ndarray view of the map (no copy), so results keep their usual type


def concat(parts: Sequence[Signals]) -> Signals:
    """Signals of several image sets, one after the other."""
    out = {}
    for f in fields(Signals):
        values = [getattr(p, f.name) for p in parts]
        out[f.name] = None if any(v is None for v in values) else np.concatenate(values)
    return Signals(**out)


@torch.inference_mode()
def compute_signals(model: Model, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], ignore_index: int,
                    map_size: int = 16, probabilities: bool = True, label_only: bool = True,
                    batch_size: int = 16, seed: int = 0, first: int = 0) -> Signals:
    """Query `model` on every image (see the module docstring). Images: RGB uint8 [H, W, 3]; masks: [H, W].

    `first`: the position of images[0] in the whole list being queried, when this call queries one chunk of it
    (a Ray task, executors.query_ray): the label-only augmentations draw their noise from [seed, position], so
    chunks that start on a batch boundary give the same signals as one call over the whole list."""
    size = int(model.image_size)
    conf, loss, maps, label_iou = [], [], [], []
    for start in range(0, len(images), batch_size):
        batch = range(start, min(start + batch_size, len(images)))
        if probabilities:
            pairs = [(q_image, q_mask) for i in batch for q_image, q_mask in _mirrored(images[i], masks[i])]
            c, l_, m = _probability_signals(model, pairs, size, ignore_index, map_size)
            conf.append(c.reshape(len(batch), len(QUERIES)))
            loss.append(l_.reshape(len(batch), len(QUERIES)))
            maps.append(m.reshape(len(batch), len(QUERIES), map_size, map_size))
        if label_only:
            pairs = [pair for i in batch for pair in label_augmentations(images[i], masks[i], ignore_index,
                                                                         np.random.default_rng([seed, first + i]))]
            label_iou.append(_label_signals(model, pairs, size, ignore_index).reshape(len(batch), -1))
    return Signals(conf=np.concatenate(conf) if conf else None, loss=np.concatenate(loss) if loss else None,
                   maps=np.concatenate(maps) if maps else None,
                   label_iou=np.concatenate(label_iou) if label_iou else None)


def _mirrored(image: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(image, mask), (image[:, ::-1], mask[:, ::-1])]


def _inputs(model: Model, pairs: list[tuple[np.ndarray, np.ndarray]], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = torch.stack([to_model_input(np.ascontiguousarray(image), size) for image, _ in pairs])
    targets = torch.stack([resize_mask(np.ascontiguousarray(mask), size) for _, mask in pairs])
    return model.logits(inputs).float(), targets


def _probability_signals(model: Model, pairs: list[tuple[np.ndarray, np.ndarray]], size: int, ignore_index: int,
                         map_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logits, targets = _inputs(model, pairs, size)
    log_p = torch.log_softmax(logits, dim=1)
    valid = targets != ignore_index
    labels = torch.where(valid, targets, 0).clamp(max=log_p.shape[1] - 1)[:, None]
    log_p_true = log_p.gather(1, labels)[:, 0]
    log_p_rest = log_p.scatter(1, labels, float("-inf")).logsumexp(dim=1)
    weights = valid.float()
    count = weights.sum(dim=(1, 2)).clamp_min(1.0)
    conf = ((log_p_true - log_p_rest) * weights).sum(dim=(1, 2)) / count
    pixel_loss = -log_p_true * weights
    loss = pixel_loss.sum(dim=(1, 2)) / count
    pooled = F.adaptive_avg_pool2d(pixel_loss[:, None], map_size)[:, 0]
    coverage = F.adaptive_avg_pool2d(weights[:, None], map_size)[:, 0]
    maps = pooled / coverage.clamp_min(1e-6)
    return conf.numpy(), loss.numpy(), maps.numpy().astype(np.float32)


def _label_signals(model: Model, pairs: list[tuple[np.ndarray, np.ndarray]], size: int,
                   ignore_index: int) -> np.ndarray:
    logits, targets = _inputs(model, pairs, size)
    predicted = logits.argmax(dim=1)
    valid = targets != ignore_index
    scores = np.empty(len(pairs))
    for j in range(len(pairs)):
        p, t = predicted[j][valid[j]], targets[j][valid[j]]
        ious = []
        for c in torch.unique(torch.cat([p, t])).tolist():
            union = ((p == c) | (t == c)).sum().item()
            ious.append(((p == c) & (t == c)).sum().item() / union)
        scores[j] = float(np.mean(ious)) if ious else 0.0
    return scores


def label_augmentations(image: np.ndarray, mask: np.ndarray, ignore_index: int,
                        rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The LABEL_AUGMENTATIONS of one image and its mask (shifted-in mask pixels are ignore_index)."""
    d = max(1, round(image.shape[0] / 16))
    bright = image.astype(np.float32)
    noisy = np.clip(bright + rng.normal(0.0, 8.0, image.shape), 0, 255).astype(np.uint8)
    return [
        (image, mask),
        (image[:, ::-1], mask[:, ::-1]),
        (_shift(image, d, d, None), _shift(mask, d, d, ignore_index)),
        (_shift(image, -d, -d, None), _shift(mask, -d, -d, ignore_index)),
        (_shift(image, d, -d, None), _shift(mask, d, -d, ignore_index)),
        (np.clip(bright * 0.8, 0, 255).astype(np.uint8), mask),
        (np.clip(bright * 1.2, 0, 255).astype(np.uint8), mask),
        (noisy, mask),
    ]


def _shift(array: np.ndarray, dy: int, dx: int, fill: int | None) -> np.ndarray:
    """Translate by (dy, dx) pixels; images repeat their edge, masks get `fill`."""
    height, width = array.shape[:2]
    pad = [(abs(dy), abs(dy)), (abs(dx), abs(dx))] + [(0, 0)] * (array.ndim - 2)
    padded = np.pad(array, pad, mode="edge") if fill is None else np.pad(array, pad, constant_values=fill)
    top, left = abs(dy) - dy, abs(dx) - dx
    return padded[top:top + height, left:left + width]
