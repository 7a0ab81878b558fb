"""A torch Dataset and DataLoader over one split of a dataset package.

Preprocessing is deterministic: resize to `size` (bilinear image, nearest mask), ImageNet normalisation.
Training augmentation (horizontal flip, scale-crop, colour jitter) draws from a generator seeded by
(seed, epoch, index), so a run is repeatable whatever the number of loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from segaudit.models.data.package import DatasetPackage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Augmentation:
    """Training augmentation ranges."""

    flip_probability: float = 0.5
    scale_range: tuple[float, float] = (0.75, 1.25)
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25


def normalize(images: torch.Tensor) -> torch.Tensor:
    """[B?, 3, H, W] floats in [0, 1] -> ImageNet-normalised, the input every bundled model expects."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype).view(3, 1, 1)
    return (images - mean) / std


def to_model_input(image: np.ndarray, size: int | tuple[int, int]) -> torch.Tensor:
    """HxWx3 uint8 RGB -> [3, h, w] normalised float tensor at `size` (the deterministic preprocessing)."""
    height, width = (size, size) if isinstance(size, int) else size
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255.0)
    if tensor.shape[1:] != (height, width):
        tensor = F.interpolate(tensor[None], size=(height, width), mode="bilinear", align_corners=False,
                               antialias=True)[0]
    return normalize(tensor.clamp(0.0, 1.0))


def resize_mask(mask: np.ndarray, size: int | tuple[int, int]) -> torch.Tensor:
    """HxW uint8 class ids -> [h, w] long tensor at `size`, nearest neighbour (labels are never blended)."""
    height, width = (size, size) if isinstance(size, int) else size
    tensor = torch.from_numpy(np.ascontiguousarray(mask)).long()
    if tensor.shape != (height, width):
        tensor = F.interpolate(tensor[None, None].float(), size=(height, width), mode="nearest")[0, 0].long()
    return tensor


class SegmentationDataset(Dataset):
    """One split of a package as (normalised image [3,H,W], mask [H,W] long, id) items."""

    def __init__(self, package: DatasetPackage, split: str, size: int | tuple[int, int] = 128,
                 augment: bool = False, seed: int = 0, augmentation: Augmentation | None = None) -> None:
        self.package = package
        self.rows = package.split(split).to_dict("records")
        self.size = size
        self.augment = augment
        self.seed = seed
        self.augmentation = augmentation or Augmentation()
        self.ignore_index = package.spec.ignore_index
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw for a new epoch (call before iterating)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, object]:
        row = self.rows[index]
        image = to_model_input(self.package.read_image(row), self.size)
        mask = resize_mask(self.package.read_mask(row), self.size)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, mask = augment_pair(image, mask, rng, self.augmentation, self.ignore_index)
        return {"image": image, "mask": mask, "id": row["id"]}


def augment_pair(image: torch.Tensor, mask: torch.Tensor, rng: np.random.Generator, aug: Augmentation,
                 ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip, scale-crop (padding the mask with ignore_index) and colour-jitter one normalised pair."""
    _, height, width = image.shape
    if rng.random() < aug.flip_probability:
        image, mask = image.flip(-1), mask.flip(-1)
    scale = float(rng.uniform(*aug.scale_range))
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    image = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", align_corners=False)[0]
    mask = F.interpolate(mask[None, None].float(), size=(new_h, new_w), mode="nearest")[0, 0].long()
    if scale >= 1.0:
        top, left = int(rng.integers(0, new_h - height + 1)), int(rng.integers(0, new_w - width + 1))
        image = image[:, top:top + height, left:left + width]
        mask = mask[top:top + height, left:left + width]
    else:
        top, left = int(rng.integers(0, height - new_h + 1)), int(rng.integers(0, width - new_w + 1))
        padded_image = torch.zeros(3, height, width, dtype=image.dtype)  # 0 = the mean colour after normalising
        padded_mask = torch.full((height, width), ignore_index, dtype=torch.long)
        padded_image[:, top:top + new_h, left:left + new_w] = image
        padded_mask[top:top + new_h, left:left + new_w] = mask
        image, mask = padded_image, padded_mask
    return _colour_jitter(image, rng, aug), mask


def _colour_jitter(image: torch.Tensor, rng: np.random.Generator, aug: Augmentation) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    rgb = image * std + mean
    rgb = rgb * float(rng.uniform(1 - aug.brightness, 1 + aug.brightness))
    grey_mean = rgb.mean()
    rgb = (rgb - grey_mean) * float(rng.uniform(1 - aug.contrast, 1 + aug.contrast)) + grey_mean
    grey = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])[None]
    rgb = (rgb - grey) * float(rng.uniform(1 - aug.saturation, 1 + aug.saturation)) + grey
    return (rgb.clamp(0.0, 1.0) - mean) / std


def make_loader(package: DatasetPackage, split: str, size: int | tuple[int, int] = 128, batch_size: int = 16,
                augment: bool = False, shuffle: bool | None = None, seed: int = 0,
                num_workers: int = 0) -> DataLoader:
    """A DataLoader over one split; shuffling (default: when augmenting) is seeded.

    A training loader (augment) never ends an epoch on a batch of exactly one image: BatchNorm in training mode
    cannot normalise one sample after global pooling ("Expected more than 1 value per channel"), so a training
    set of k * batch_size + 1 images crashed. That image joins the batch before it (every image is still read,
    so a bad file is still found; other sizes give exactly the batches they gave before)."""
    dataset = SegmentationDataset(package, split, size=size, augment=augment, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    shuffle = augment if shuffle is None else shuffle
    if augment and len(dataset) > batch_size and len(dataset) % batch_size == 1:
        sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        return DataLoader(dataset, batch_sampler=NoLoneBatch(sampler, batch_size, drop_last=False),
                          num_workers=num_workers, generator=generator, persistent_workers=num_workers > 0)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, drop_last=False, persistent_workers=num_workers > 0)


class NoLoneBatch(BatchSampler):
    """Batches of `batch_size` whose last batch of one index is merged into the batch before it."""

    def __iter__(self):  # noqa: ANN204
        batches = list(super().__iter__())
        if len(batches) > 1 and len(batches[-1]) == 1:
            lone = batches.pop()
            batches[-1] = batches[-1] + lone
        yield from batches

    def __len__(self) -> int:
        count = super().__len__()
        return count - 1 if count > 1 and len(self.sampler) % self.batch_size == 1 else count
