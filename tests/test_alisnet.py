"""ALiSNet (MnasNet + flat aggregation + PointRend): shapes, point utilities, refinement, training, export."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segaudit.models.alisnet import ALiSNet, alisnet
from segaudit.models.pointrend import (
    PointHead,
    most_uncertain_points,
    point_sample,
    sample_uncertain_points_train,
    uncertainty,
)


@pytest.fixture(autouse=True)
def _seed_and_one_thread() -> Iterator[None]:
    # One intra-op thread: on a small shared CPU, OpenMP threads contending with other processes make
    # depthwise-conv backward ~20x slower than single-threaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _small(num_classes: int = 2, **kwargs) -> ALiSNet:
    return alisnet(num_classes, width_mult=0.5, agg_channels=32, **kwargs)


# ----------------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("num_classes", [2, 7])
def test_train_and_eval_outputs_are_logits_at_input_resolution(num_classes: int) -> None:
    model = _small(num_classes, num_points=64, subdivision_points=128)
    x = torch.randn(2, 3, 64, 96)
    model.train()
    assert model(x).shape == (2, num_classes, 64, 96)
    loss, logits = model.compute_loss(x, torch.randint(0, num_classes, (2, 64, 96)), nn.CrossEntropyLoss())
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.shape == (2, num_classes, 64, 96)
    model.eval()
    with torch.no_grad():
        assert model(x[:1]).shape == (1, num_classes, 64, 96)
        coarse, fine = model.coarse(x[:1])
    assert coarse.shape == (1, num_classes, 16, 24)  # stride 4
    assert fine.shape == (1, 32, 16, 24)


def test_stride_two_detail_reaches_the_point_head_at_stride_two() -> None:
    model = _small(detail_channels=8, num_points=64, subdivision_points=128)
    x = torch.randn(1, 3, 64, 96)
    model.eval()
    with torch.no_grad():
        coarse, fine = model.coarse(x)
        assert coarse.shape == (1, 2, 16, 24) and fine.shape == (1, 32 + 8, 32, 48)
        assert model(x).shape == (1, 2, 64, 96)
    assert model.refine.point_head.layers[0].in_channels == 32 + 8 + 2  # fine features + coarse logits
    extra = sum(p.numel() for p in model.coarse.detail.parameters())
    plain = sum(p.numel() for p in _small().parameters())
    point_head_growth = 8 * model.refine.point_head.layers[0].out_channels
    assert sum(p.numel() for p in model.parameters()) == plain + extra + point_head_growth


def test_parameter_count_at_width_one_is_about_three_million() -> None:
    model = alisnet(2)
    n = sum(p.numel() for p in model.parameters())
    assert 2.8e6 <= n <= 3.2e6, n  # measured 2,945,776 (64-channel aggregation): ~3 MB as int8
    # the 1280-channel conv and classifier of MnasNet are gone
    assert not any(isinstance(m, nn.Conv2d) and m.out_channels == 1280 for m in model.modules())


def test_backbone_has_no_inplace_relu() -> None:
    model = _small()
    assert all(not m.inplace for m in model.modules() if isinstance(m, nn.ReLU))


# ------------------------------------------------------------------------------------------ point utils
def _manual_bilinear(img: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """img [C, H, W]; (x, y) in [0, 1] with the align_corners=False convention, border-clamped."""
    _, h, w = img.shape
    px = min(max(x * w - 0.5, 0.0), w - 1.0)
    py = min(max(y * h - 0.5, 0.0), h - 1.0)
    x0, y0 = int(px), int(py)
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    ax, ay = px - x0, py - y0
    top = (1 - ax) * img[:, y0, x0] + ax * img[:, y0, x1]
    bottom = (1 - ax) * img[:, y1, x0] + ax * img[:, y1, x1]
    return (1 - ay) * top + ay * bottom


def test_point_sample_matches_manual_bilinear_interpolation() -> None:
    feats = torch.randn(2, 3, 5, 7)
    pts = [(0.5, 0.5), (0.13, 0.77), (0.91, 0.05), (0.02, 0.98), (1 / 14, 1 / 10)]
    coords = torch.tensor(pts).unsqueeze(0).repeat(2, 1, 1)  # [2, N, 2]
    out = point_sample(feats, coords)
    assert out.shape == (2, 3, len(pts))
    for b in range(2):
        for i, (x, y) in enumerate(pts):
            torch.testing.assert_close(out[b, :, i], _manual_bilinear(feats[b], x, y))
    # pixel centre of (row 0, col 0) returns that pixel exactly
    torch.testing.assert_close(out[:, :, 4], feats[:, :, 0, 0])


def test_point_sample_at_cell_centres_equals_bilinear_upsampling() -> None:
    feats = torch.randn(1, 2, 4, 6)
    ys, xs = torch.meshgrid((torch.arange(8) + 0.5) / 8, (torch.arange(12) + 0.5) / 12, indexing="ij")
    coords = torch.stack([xs.flatten(), ys.flatten()], dim=1).unsqueeze(0)
    up = F.interpolate(feats, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(point_sample(feats, coords), up.flatten(2))


def test_point_sample_nearest_keeps_labels_exact() -> None:
    labels = torch.tensor([[[[0.0, 1.0], [255.0, 1.0]]]])  # [1, 1, 2, 2]
    coords = torch.tensor([[[0.1, 0.1], [0.9, 0.2], [0.3, 0.8], [0.6, 0.6]]])
    out = point_sample(labels, coords, mode="nearest")
    assert out.tolist() == [[[0.0, 1.0, 255.0, 1.0]]]


def test_uncertainty_is_neg_abs_logit_or_neg_top2_gap() -> None:
    one = torch.tensor([[[3.0, -0.5, 0.0, -2.0]]])  # [1, 1, N]
    torch.testing.assert_close(uncertainty(one), torch.tensor([[[-3.0, -0.5, 0.0, -2.0]]]))
    many = torch.tensor([[[5.0, 1.0], [1.0, 1.0], [-1.0, 3.0]]])  # [1, C=3, N=2]
    # point 0: top2 = 5, 1 -> -4; point 1: top2 = 3, 1 -> -2
    torch.testing.assert_close(uncertainty(many), torch.tensor([[[-4.0, -2.0]]]))


def test_most_uncertain_points_picks_the_known_cells_and_their_centres() -> None:
    unc = -torch.ones(2, 1, 4, 5)
    hot = {0: [(1, 2), (3, 4), (0, 0)], 1: [(2, 1), (2, 3), (3, 0)]}  # (row, col)
    for b, cells in hot.items():
        for r, c in cells:
            unc[b, 0, r, c] = 1.0
    idx, coords = most_uncertain_points(unc, 3)
    assert idx.shape == (2, 3) and coords.shape == (2, 3, 2)
    for b, cells in hot.items():
        assert sorted(idx[b].tolist()) == sorted(r * 5 + c for r, c in cells)
        got = sorted((round(x * 5 - 0.5), round(y * 4 - 0.5)) for x, y in coords[b].tolist())
        assert got == sorted((c, r) for r, c in cells)
    torch.testing.assert_close(point_sample(unc, coords), torch.ones(2, 1, 3))
    # N larger than the number of cells is clamped
    idx, coords = most_uncertain_points(unc, 1000)
    assert idx.shape == (2, 20) and sorted(idx[0].tolist()) == list(range(20))


def test_training_points_are_mostly_the_uncertain_ones() -> None:
    # one logit growing with x: uncertainty (-|logit|) is highest at the left border
    xs = torch.linspace(0, 10, 32).view(1, 1, 1, 32).expand(2, 1, 16, 32)
    coords = sample_uncertain_points_train(xs, num_points=400, oversample_ratio=3, importance_ratio=0.75)
    assert coords.shape == (2, 400, 2)
    assert coords.min() >= 0 and coords.max() <= 1
    important, random = coords[:, :300, 0], coords[:, 300:, 0]
    # top 300 of 1200 uniform candidates by smallest x -> x below ~0.25 (plus sampling slack)
    assert important.max() < 0.33
    assert random.max() > 0.6 and 0.35 < random.mean() < 0.65


def test_point_head_maps_fine_and_coarse_points_to_class_logits() -> None:
    head = PointHead(in_channels=16, num_classes=7, hidden=32)
    out = head(torch.randn(2, 16, 50), torch.randn(2, 7, 50))
    assert out.shape == (2, 7, 50)


# ---------------------------------------------------------------------------------------- refinement
def test_subdivision_step_changes_only_the_most_uncertain_cells() -> None:
    model = _small(3, subdivision_points=40).eval()
    with torch.no_grad():
        coarse, fine = model.coarse(torch.randn(1, 3, 64, 64))  # [1, 3, 16, 16]
        out = model.refine.subdivide_step(coarse, coarse, fine)  # [1, 3, 32, 32]
        base = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
        idx, coords = most_uncertain_points(uncertainty(base), 40)
        expected = model.refine.predict_points(coarse, fine, coords)  # [1, 3, 40]
    assert out.shape == base.shape == (1, 3, 32, 32)
    changed = (out != base).any(dim=1).flatten()
    assert 0 < changed.sum() <= 40
    assert set(changed.nonzero().flatten().tolist()) <= set(idx[0].tolist())
    torch.testing.assert_close(out.flatten(2)[:, :, idx[0]], expected)
    keep = torch.ones(32 * 32, dtype=torch.bool)
    keep[idx[0]] = False
    torch.testing.assert_close(out.flatten(2)[:, :, keep], base.flatten(2)[:, :, keep])


def test_eval_forward_is_two_subdivision_steps_not_plain_upsampling() -> None:
    model = _small(2, subdivision_points=100).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        coarse, fine = model.coarse(x)
        step1 = model.refine.subdivide_step(coarse, coarse, fine)
        step2 = model.refine.subdivide_step(step1, coarse, fine)
        plain = F.interpolate(
            F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False),
            scale_factor=2,
            mode="bilinear",
            align_corners=False,
        )
    torch.testing.assert_close(out, step2)
    assert not torch.allclose(out, plain)
    # most pixels are untouched by the 100 + 100 re-predicted points
    assert (out != plain).any(dim=1).float().mean() < 0.5


# ------------------------------------------------------------------------------------------ training
def test_loss_falls_when_overfitting_one_batch() -> None:
    model = _small(2, num_points=256).train()
    x = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 64, 64, dtype=torch.long)
    target[:, 12:56, 20:44] = 1  # a "person" box
    target[:, :4] = 255  # ignored rows
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, logits = model.compute_loss(x, target, criterion)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert logits.shape == (2, 2, 64, 64)
    assert losses[-1] < 0.5 * losses[0], losses
    # the point head receives gradient from the point loss
    assert model.refine.point_head.predictor.weight.grad.abs().sum() > 0


def test_point_loss_ignores_255_labels() -> None:
    model = _small(2, num_points=128).train()
    x = torch.randn(2, 3, 64, 64)
    zero = lambda logits, target: logits.sum() * 0.0  # noqa: E731  isolates the point loss
    loss_all_ignored, _ = model.compute_loss(x, torch.full((2, 64, 64), 255), zero)
    assert loss_all_ignored.item() == 0.0
    loss, _ = model.compute_loss(x, torch.ones(2, 64, 64, dtype=torch.long), zero)
    assert loss.item() > 0.0


# -------------------------------------------------------------------------------------------- export
def test_torch_export_of_eval_model_succeeds_and_matches_eager() -> None:
    model = alisnet(2).eval()
    x = torch.randn(1, 3, 128, 128)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))
