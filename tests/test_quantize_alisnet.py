"""The flagship int8 path: ALiSNet, QAT through its PointRend head, lowered with the point selection around two
XNNPACK delegates. A file of its own (the slowest lowering of the suite), so a test worker takes it beside
test_quantize.py; the blobs package and the helpers are test_quantize's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from segaudit.models.data.package import load_package
from segaudit.models.data.torch_dataset import make_loader
from segaudit.models.registry import build
from tests.test_quantize import AGREEMENT, SIZE, agreement, run_program, split_images, train_float, write_blobs_package

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This API is experimental"),
]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blobs_package(tmp_path_factory.mktemp("blobs") / "pkg")


def test_alisnet_qat_program_runs_pointrend_inside_and_agrees(package: Path) -> None:
    # The flagship path, seeded: a few QAT steps with ALiSNet's own point loss through the fake-quantized
    # CoarseNet and point head; then each becomes one XNNPACK delegate and the float point selection and
    # sampling (top-k, gather, scatter, grid sampling) run around them in the same program, which must agree
    # with the Python int8 model.
    from segaudit.models.quantize import lowering, pt2e

    torch.manual_seed(0)
    model = train_float(build("alisnet", 2, width_mult=0.25, agg_channels=16, num_points=64,
                              subdivision_points=128), package, steps=30)
    parts = pt2e.quantized_parts("alisnet")
    assert [p.name for p in parts] == ["coarse", "refine.point_head"]
    prepared = pt2e.prepare(model, parts, torch.randn(1, 3, SIZE, SIZE), qat=True)
    loader = make_loader(load_package(package), "train", size=SIZE, batch_size=4, augment=True)
    result = pt2e.finetune_qat(prepared, loader, nn.CrossEntropyLoss(ignore_index=255), max_steps=2)
    assert result.steps == 2 and np.isfinite(result.final_loss)  # ALiSNet's own point loss, fake-quantized
    int8 = pt2e.convert(prepared, parts)
    assert type(int8.refine).__name__ == "PointRendRefiner"  # point selection and sampling stay float
    for graph in (int8.coarse, int8.refine.point_head):
        assert any("quantize_per_tensor" in str(n.target) for n in graph.graph.nodes)
    buffer = lowering.lower(int8, parts, torch.randn(1, 3, SIZE, SIZE))
    images = split_images(package)
    with torch.no_grad():
        reference = int8(images)
    program = run_program(buffer, images)
    assert program.shape == (len(images), 2, SIZE, SIZE)
    assert agreement(program, reference) >= AGREEMENT
