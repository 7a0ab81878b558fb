"""The torch Dataset: deterministic preprocessing, seeded augmentation, masks never blended."""

from __future__ import annotations

from pathlib import Path

import torch

from segaudit.models.data import load_package
from segaudit.models.data.torch_dataset import IMAGENET_MEAN, IMAGENET_STD, SegmentationDataset, make_loader


def test_items_are_normalised_images_and_long_masks_at_the_requested_size(tiny_package: Path) -> None:
    dataset = SegmentationDataset(load_package(tiny_package), "train", size=64)
    item = dataset[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["mask"].shape == (64, 64) and item["mask"].dtype == torch.long
    assert set(item["mask"].unique().tolist()) == {0, 1}
    rgb = item["image"] * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    assert rgb.min() >= -1e-5 and rgb.max() <= 1 + 1e-5
    assert torch.equal(dataset[0]["image"], item["image"])


def test_augmentation_is_seeded_per_epoch_and_keeps_labels_valid(tiny_package: Path) -> None:
    package = load_package(tiny_package)
    first = SegmentationDataset(package, "train", size=32, augment=True, seed=3)
    second = SegmentationDataset(package, "train", size=32, augment=True, seed=3)
    assert torch.equal(first[1]["image"], second[1]["image"])
    assert torch.equal(first[1]["mask"], second[1]["mask"])
    draws = set()
    for epoch in range(6):
        first.set_epoch(epoch)
        item = first[1]
        assert set(item["mask"].unique().tolist()) <= {0, 1, 255}
        draws.add(item["image"].sum().item())
    assert len(draws) > 1


def test_loader_batches_and_shuffles_reproducibly(tiny_package: Path) -> None:
    package = load_package(tiny_package)
    ids_a = [b["id"] for b in make_loader(package, "train", size=32, batch_size=1, shuffle=True, seed=5)]
    ids_b = [b["id"] for b in make_loader(package, "train", size=32, batch_size=1, shuffle=True, seed=5)]
    assert ids_a == ids_b
    batch = next(iter(make_loader(package, "train", size=32, batch_size=2)))
    assert batch["image"].shape == (2, 3, 32, 32) and batch["mask"].shape == (2, 32, 32)


def test_a_training_loader_never_ends_on_a_batch_of_one_image(tmp_path: Path) -> None:
    # BatchNorm cannot train on one sample after global pooling: 5 training images at batch 4 used to crash
    from tests.conftest import write_tiny_package

    package = load_package(write_tiny_package(tmp_path / "pkg", n=15))
    assert len(package.split("train")) == 5
    loader = make_loader(package, "train", size=32, batch_size=4, augment=True)
    batches = [b["id"] for b in loader]
    assert [len(b) for b in batches] == [5] and len(loader) == 1  # the lone image joins the batch before
    assert sorted(batches[0]) == sorted(package.split("train")["id"])  # every image is still read
    assert [len(b["image"]) for b in make_loader(package, "train", size=32, batch_size=4)] == [4, 1]  # evaluation
    assert [len(b["image"]) for b in make_loader(package, "train", size=32, batch_size=3, augment=True)] == [3, 2]
    # other sizes keep exactly the shuffled order they had: a seeded plain DataLoader gives the same batches
    from torch.utils.data import DataLoader

    from segaudit.models.data.torch_dataset import SegmentationDataset

    plain = DataLoader(SegmentationDataset(package, "train", size=32, augment=True), batch_size=3, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    assert [b["id"] for b in plain] == [b["id"] for b in make_loader(package, "train", size=32, batch_size=3,
                                                                       augment=True)]
