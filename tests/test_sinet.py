"""SINet: shapes, size, information-blocking decoder, trainability and torch.export."""

import math

import pytest
import torch
from torch import nn

import segaudit.models.sinet as sinet_module
from segaudit.models.sinet import S2Block, S2Module, information_blocking, sinet


@pytest.mark.parametrize("num_classes", [2, 7])
@pytest.mark.parametrize(("train", "batch"), [(True, 2), (False, 1)])
def test_forward_returns_logits_at_input_resolution(num_classes: int, train: bool, batch: int) -> None:
    torch.manual_seed(0)
    model = sinet(num_classes).train(train)
    with torch.no_grad():
        out = model(torch.randn(batch, 3, 64, 64))
    assert out.shape == (batch, num_classes, 64, 64)
    assert torch.isfinite(out).all()


def test_non_square_input_keeps_its_resolution() -> None:
    model = sinet(2).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 96)).shape == (1, 2, 64, 96)


def test_parameter_count_matches_paper_within_5_percent() -> None:
    n = sum(p.numel() for p in sinet(2).parameters())
    assert abs(n - 86_900) / 86_900 < 0.05, n


def test_information_blocking_is_one_minus_max_softmax() -> None:
    # pixel 0: probs (0.7, 0.2, 0.1) -> 0.3; pixel 1: uniform -> 2/3; pixel 2: near one-hot -> ~0
    probs = torch.tensor([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [1 - 2e-6, 1e-6, 1e-6]])
    logits = probs.log().T.reshape(1, 3, 1, 3) + 5.0  # softmax is shift-invariant
    block = information_blocking(logits)
    assert block.shape == (1, 1, 1, 3)
    torch.testing.assert_close(block.flatten(), torch.tensor([0.3, 2 / 3, 2e-6]), atol=1e-5, rtol=0)


def test_decoder_gates_the_skip_with_the_blocking_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the block forced to 0 the high-resolution skip has no effect; with the real block it does."""
    torch.manual_seed(0)
    model = sinet(2).eval()
    x = torch.randn(1, 3, 64, 64)

    def outputs_with_and_without_skip_change() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            before = model(x)
            saved = model.skip[0].weight.clone()
            model.skip[0].weight.mul_(-3.0).add_(1.0)
            after = model(x)
            model.skip[0].weight.copy_(saved)
        return before, after

    before, after = outputs_with_and_without_skip_change()
    assert not torch.allclose(before, after)

    monkeypatch.setattr(sinet_module, "information_blocking", lambda low: torch.zeros_like(low[:, :1]))
    before, after = outputs_with_and_without_skip_change()
    torch.testing.assert_close(before, after)


def test_s2_block_squeezes_then_restores_resolution() -> None:
    block = S2Block(8, 6, kernel=3, pool=4).eval()
    x = torch.randn(1, 8, 16, 16)
    seen: list[torch.Size] = []
    block.depthwise.register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    assert block(x).shape == (1, 6, 16, 16)
    assert seen == [torch.Size([1, 8, 4, 4])]


def test_s2_module_adds_residual_only_when_shapes_match() -> None:
    widen = S2Module(16, 48, ((3, 1), (5, 1))).eval()
    same = S2Module(8, 8, ((3, 1), (3, 2))).eval()
    assert (widen.residual, same.residual) == (False, True)
    assert widen(torch.randn(1, 16, 8, 8)).shape == (1, 48, 8, 8)
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        with_residual = same(x)
        same.residual = False
        without_residual = same(x)
    assert with_residual.shape == (1, 8, 8, 8)
    assert not torch.allclose(with_residual, without_residual)


def test_loss_falls_when_overfitting_one_batch() -> None:
    torch.manual_seed(0)
    model = sinet(2).train()
    x = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 64, 64, dtype=torch.long)
    target[:, 16:48, 20:44] = 1
    target[:, :2] = 255  # ignored rows
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], losses


def test_torch_export_matches_eager() -> None:
    torch.manual_seed(0)
    model = sinet(2).eval()
    x = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))
