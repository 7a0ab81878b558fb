"""U-Net/MobileNetV3-small, RegSeg and DDRNet-23-slim: shapes, sizes, trainability and export."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import Tensor, nn

from segaudit.models.ddrnet import DDRNet, ddrnet23_slim
from segaudit.models.regseg import regseg
from segaudit.models.unet_mobilenetv3 import unet_mobilenetv3

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "unet_mobilenetv3": unet_mobilenetv3,
    "regseg": regseg,
    "ddrnet23_slim": ddrnet23_slim,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # The models are tiny at 64x64; on a shared 2-core box extra intra-op threads only add contention.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(batch: int = 2, height: int = 64, width: int = 64) -> tuple[Tensor, Tensor]:
    """Noisy images of a bright disc (class 1) on a dark background (class 0); a 4-row ignore band on top."""
    rows = torch.arange(height).view(1, -1, 1)
    cols = torch.arange(width).view(1, 1, -1)
    centre = torch.rand(batch, 2, 1, 1) * 0.5 + 0.25
    radius = min(height, width) / 4
    disc = (rows - centre[:, 0] * height) ** 2 + (cols - centre[:, 1] * width) ** 2 < radius**2
    x = torch.randn(batch, 3, height, width) + disc.unsqueeze(1).float()
    target = disc.long()
    target[:, :4] = 255
    return x, target


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("num_classes", [2, 11])
def test_forward_returns_logits_at_input_resolution_in_train_and_eval(name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](num_classes)
    x, _ = _batch(2)
    assert model.train()(x).shape == (2, num_classes, 64, 64)
    with torch.no_grad():
        assert model.eval()(x[:1]).shape == (1, num_classes, 64, 64)


@pytest.mark.parametrize("name", BUILDERS)
def test_non_square_input_that_is_not_a_multiple_of_64_keeps_its_size(name: str) -> None:
    # 96 = 3 x 32: DDRNet's 1/32 map is 3 px high and its 1/64 map 2 px; no padding is needed.
    torch.manual_seed(0)
    model = BUILDERS[name](2).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 64)).shape == (1, 2, 96, 64)


# (builder, num_classes, documented count in the module docstring, published figure and where it is from)
PARAMETER_COUNTS = [
    # Diploma (face-segmentation seed), "unet / mobilenetv3_small_100": 3.6 M parameters, 11 classes.
    ("unet_mobilenetv3", 11, 3_587_099, 3.6e6),
    # RegSeg paper (Gao 2021, arXiv:2111.09957), Cityscapes table + RolandGao/RegSeg README: 3.34 M, 19 cls.
    ("regseg", 19, 3_334_951, 3.34e6),
    # DDRNet paper (Hong et al. 2021, arXiv:2101.06085v2), Cityscapes table: DDRNet-23-slim 5.7 M, 19 cls.
    ("ddrnet23_slim", 19, 5_734_278, 5.7e6),
]


@pytest.mark.parametrize(("name", "num_classes", "documented", "published"), PARAMETER_COUNTS)
def test_parameter_count_is_within_5_percent_of_documented_and_published_figures(
    name: str, num_classes: int, documented: int, published: float
) -> None:
    count = sum(p.numel() for p in BUILDERS[name](num_classes).parameters())
    assert abs(count - documented) <= 0.05 * documented
    assert abs(count - published) <= 0.05 * published


def test_ddrnet_compute_loss_adds_weighted_aux_loss_to_main_loss() -> None:
    torch.manual_seed(0)
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    x, target = _batch(2)
    model = ddrnet23_slim(2).train()
    loss, logits = model.compute_loss(x, target, criterion)
    assert loss.ndim == 0 and logits.shape == (2, 2, 64, 64)
    assert loss.item() > criterion(logits, target).item()  # the aux term is a positive CE

    plain = ddrnet23_slim(2, aux_head=False).train()
    loss, logits = plain.compute_loss(x, target, criterion)
    torch.testing.assert_close(loss, criterion(logits, target))


@pytest.mark.parametrize("name", BUILDERS)
def test_loss_falls_when_overfitting_one_batch(name: str) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](2).train()
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, target = _batch(2)
    losses = []
    for _ in range(25):
        if isinstance(model, DDRNet):
            loss, _ = model.compute_loss(x, target, criterion)
        else:
            loss = criterion(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("name", BUILDERS)
def test_torch_export_matches_eager_eval_output(name: str) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](2).eval()
    x = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x), rtol=1e-4, atol=1e-4)
