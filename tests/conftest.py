"""Shared fixtures: a tiny, valid dataset package written through the real writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segaudit.models.data.spec import AttributeSpec, DatasetSpec
from segaudit.models.data.writer import PackageWriter

# Tests run as two xdist workers on two cores: one intra-op thread each avoids oversubscription, which
# makes small convolutions 20-30x slower.
torch.set_num_threads(1)

TINY_SPEC = DatasetSpec(
    name="tiny",
    version="1.0.0",
    description="A tiny package for tests.",
    license="CC0-1.0",
    provenance="written by tests/conftest.py",
    classes={0: "background", 1: "person"},
    attributes={
        "tone": AttributeSpec("tone", "ordinal", True, "annotated", values=("light", "medium", "dark")),
        "height_cm": AttributeSpec("height_cm", "continuous", False, "self-reported", unit="cm",
                                   range=(50.0, 250.0)),
    },
)


def write_tiny_package(out: Path, n: int = 6, size: int = 32, seed: int = 0) -> Path:
    """n random images with a filled rectangle 'person' in each; splits cycle train/val/test."""
    rng = np.random.default_rng(seed)
    tones = ("light", "medium", "dark")
    with PackageWriter(out, TINY_SPEC) as writer:
        for i in range(n):
            image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), dtype=np.uint8)
            mask[size // 4: 3 * size // 4, size // 3: 2 * size // 3] = 1
            attributes = {"tone": tones[i % 3], "height_cm": 150.0 + i} if i != n - 1 else {}
            writer.add(f"img-{i:03d}", image, mask, ("train", "val", "test")[i % 3], attributes)
    return out


@pytest.fixture
def tiny_package(tmp_path: Path) -> Path:
    return write_tiny_package(tmp_path / "tiny")


# The slowest files first. The two test workers take whole files (`--dist loadfile`) in collection order; a slow
# file collected last (these sort late alphabetically) leaves one worker idle while the other finishes it.
SLOWEST_FIRST = ("test_privacy_ray.py", "test_privacy_audit.py", "test_quantize_alisnet.py", "test_privacy_dp.py",
                 "test_quantize_patterns.py", "test_privacy_program.py", "test_quantize.py", "test_full_audit.py",
                 "test_gate_smoke.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order
