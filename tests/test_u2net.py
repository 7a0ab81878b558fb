"""U^2-Net small (u2netp): shapes, size, deep-supervised loss, trainability and torch.export."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segaudit.models.u2net import RSU, RSU4F, u2netp


@pytest.mark.parametrize("num_classes", [2, 7])
@pytest.mark.parametrize(("train", "batch"), [(True, 2), (False, 1)])
def test_forward_returns_fused_logits_at_input_resolution(num_classes: int, train: bool, batch: int) -> None:
    torch.manual_seed(0)
    model = u2netp(num_classes).train(train)
    with torch.no_grad():
        out = model(torch.randn(batch, 3, 64, 64))
    assert out.shape == (batch, num_classes, 64, 64)
    assert torch.isfinite(out).all()


def test_side_outputs_have_num_classes_channels_at_input_resolution() -> None:
    model = u2netp(7).eval()
    with torch.no_grad():
        fused, sides = model.forward_all(torch.randn(1, 3, 64, 96))
    assert fused.shape == (1, 7, 64, 96)
    assert [s.shape for s in sides] == [torch.Size([1, 7, 64, 96])] * 6


def test_parameter_count_matches_paper_within_5_percent() -> None:
    n = sum(p.numel() for p in u2netp(2).parameters())
    assert abs(n - 1_130_000) / 1_130_000 < 0.05, n


@pytest.mark.parametrize(("block", "bottom_size"), [(RSU(7, 5, 4, 6), 2), (RSU(4, 5, 4, 6), 16), (RSU4F(5, 4, 6), 64)])
def test_rsu_block_is_a_residual_u_net(block: nn.Module, bottom_size: int) -> None:
    """Output = input conv + inner U-Net output; RSU-L pools L-2 times, RSU-4F never."""
    block.eval()
    seen: dict[str, torch.Tensor] = {}
    block.conv_in.register_forward_hook(lambda _m, _i, out: seen.update(conv_in=out))
    block.decoder[-1].register_forward_hook(lambda _m, _i, out: seen.update(inner=out))
    block.bottom.register_forward_hook(lambda _m, _i, out: seen.update(bottom=out))
    with torch.no_grad():
        out = block(torch.randn(1, 5, 64, 64))
    assert out.shape == (1, 6, 64, 64)
    assert seen["bottom"].shape[-2:] == (bottom_size, bottom_size)
    torch.testing.assert_close(out, seen["conv_in"] + seen["inner"])


def test_compute_loss_is_fused_plus_six_side_terms() -> None:
    torch.manual_seed(0)
    model = u2netp(3).eval()
    x = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, 3, (2, 64, 64))
    target[:, :4] = 255
    criterion = nn.CrossEntropyLoss(ignore_index=255)

    # capture the raw side-head outputs and the fuse conv output with hooks
    heads: list[torch.Tensor] = []
    for head in model.sides:
        head.register_forward_hook(lambda _m, _i, out: heads.append(out))
    fused_seen: list[torch.Tensor] = []
    model.fuse.register_forward_hook(lambda _m, _i, out: fused_seen.append(out))
    with torch.no_grad():
        loss, logits = model.compute_loss(x, target, criterion)

    assert len(heads) == 6 and len(fused_seen) == 1
    sides = [F.interpolate(h, size=(64, 64), mode="bilinear", align_corners=False) for h in heads]
    by_hand = criterion(fused_seen[0], target) + sum(criterion(s, target) for s in sides)
    torch.testing.assert_close(loss, by_hand)
    torch.testing.assert_close(logits, fused_seen[0])
    # the fuse conv sees the six sides, finest first
    torch.testing.assert_close(fused_seen[0], model.fuse(torch.cat(sides[::-1], dim=1)))
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits)


def test_compute_loss_calls_criterion_seven_times_on_full_resolution_logits() -> None:
    model = u2netp(2).eval()
    calls: list[torch.Size] = []

    def criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(logits.shape)
        return logits.mean()

    with torch.no_grad():
        model.compute_loss(torch.randn(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.long), criterion)
    assert calls == [torch.Size([1, 2, 64, 64])] * 7


def test_loss_falls_when_overfitting_one_batch() -> None:
    # 32x32 keeps this fast on CPU; it is still a multiple of 32 (the deepest stage is 1x1)
    torch.manual_seed(0)
    model = u2netp(2).train()
    x = torch.randn(2, 3, 32, 32)
    target = torch.zeros(2, 32, 32, dtype=torch.long)
    target[:, 8:24, 10:22] = 1
    target[:, :2] = 255  # ignored rows
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss, _ = model.compute_loss(x, target, criterion)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], losses


def test_torch_export_matches_eager() -> None:
    torch.manual_seed(0)
    model = u2netp(2).eval()
    x = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))
