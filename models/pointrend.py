"""PointRend building blocks (Kirillov et al., 2020, arXiv:1912.08193) for semantic segmentation.

Small pure functions plus one module, in the spirit of detectron2's ``point_features.py``:

* ``point_sample``       features [B, C, H, W] at normalized points [B, N, 2] -> [B, C, N]
* ``uncertainty``        logits [B, C, ...] -> [B, 1, ...]; high = uncertain
* ``sample_uncertain_points_train``  training points: mostly uncertain, some uniform random
* ``most_uncertain_points``          inference points: the N most uncertain grid cells
* ``PointHead``          per-point MLP (1x1 Conv1d) over [fine features || coarse logits] -> logits

Point coordinates are (x, y) in [0, 1] relative to the whole image, with the ``align_corners=False``
convention (pixel i of a W-wide map has its centre at (i + 0.5) / W). The same coordinates therefore
address maps of any resolution, which is what lets a stride-4 feature map be read at stride-1 cells.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "PointHead",
    "most_uncertain_points",
    "point_sample",
    "sample_uncertain_points_train",
    "uncertainty",
]


def point_sample(features: Tensor, coords: Tensor, mode: str = "bilinear") -> Tensor:
    """Read ``features`` [B, C, H, W] at ``coords`` [B, N, 2] ((x, y) in [0, 1]) -> [B, C, N].

    Bilinear by default, ``mode="nearest"`` for label maps. Uses ``grid_sample`` with
    ``align_corners=False`` and border padding, so it agrees exactly with
    ``F.interpolate(..., mode="bilinear", align_corners=False)`` everywhere, edges included
    (zero padding would pull points within half a pixel of the border towards 0).
    """
    grid = (2.0 * coords - 1.0).unsqueeze(2)  # [B, N, 1, 2] in [-1, 1]
    out = F.grid_sample(features, grid, mode=mode, padding_mode="border", align_corners=False)
    return out.squeeze(3)  # [B, C, N, 1] -> [B, C, N]


def uncertainty(logits: Tensor) -> Tensor:
    """Uncertainty of logits [B, C, ...] -> [B, 1, ...]; larger means less certain.

    One logit (binary, sigmoid): ``-|logit|`` (0 at the decision boundary). Several logits: the negated
    gap between the two largest, ``-(top1 - top2)``, which is 0 when the two best classes tie.
    """
    if logits.shape[1] == 1:
        return -logits.abs()
    top2 = torch.topk(logits, k=2, dim=1).values
    return top2[:, 1:2] - top2[:, 0:1]


def sample_uncertain_points_train(
    coarse_logits: Tensor, num_points: int, oversample_ratio: float = 3.0, importance_ratio: float = 0.75
) -> Tensor:
    """Training points [B, N, 2] chosen on coarse logits [B, C, h, w] (PointRend, Sec. 3.1).

    Draws ``k*N`` uniform random points (k = ``oversample_ratio``), keeps the ``beta*N`` most uncertain
    of them (beta = ``importance_ratio``) and fills the remaining ``(1 - beta)*N`` with fresh uniform
    random points, so the head sees mostly boundary points but still some of everything.
    No gradient flows through the choice.
    """
    b = coarse_logits.shape[0]
    num_sampled = int(num_points * oversample_ratio)
    num_uncertain = int(importance_ratio * num_points)
    num_random = num_points - num_uncertain
    device, dtype = coarse_logits.device, coarse_logits.dtype
    with torch.no_grad():
        candidates = torch.rand(b, num_sampled, 2, device=device, dtype=dtype)  # [B, kN, 2]
        unc = uncertainty(point_sample(coarse_logits.detach(), candidates))[:, 0]  # [B, kN]
        idx = torch.topk(unc, k=num_uncertain, dim=1).indices  # [B, beta*N]
        chosen = torch.gather(candidates, 1, idx.unsqueeze(-1).expand(-1, -1, 2))  # [B, beta*N, 2]
        extra = torch.rand(b, num_random, 2, device=device, dtype=dtype)  # [B, (1-beta)*N, 2]
        return torch.cat([chosen, extra], dim=1)  # [B, N, 2]


def most_uncertain_points(uncertainty_map: Tensor, num_points: int) -> tuple[Tensor, Tensor]:
    """The ``num_points`` most uncertain cells of ``uncertainty_map`` [B, 1, H, W].

    Returns (flat indices [B, N] into H*W, cell-centre coords [B, N, 2] as (x, y) in [0, 1]).
    ``num_points`` is clamped to H*W with a Python ``min`` on static shapes, so it exports.
    """
    b, _, h, w = uncertainty_map.shape
    n = min(num_points, h * w)
    idx = torch.topk(uncertainty_map.reshape(b, h * w), k=n, dim=1).indices  # [B, N]
    x = ((idx % w).to(uncertainty_map.dtype) + 0.5) / w
    y = (torch.div(idx, w, rounding_mode="floor").to(uncertainty_map.dtype) + 0.5) / h
    return idx, torch.stack([x, y], dim=2)


class PointHead(nn.Module):
    """Per-point MLP: fine features [B, F, N] and coarse logits [B, C, N] -> point logits [B, C, N].

    ``num_layers`` 1x1 Conv1d + ReLU layers of width ``hidden``; as in PointRend's standard head the
    coarse prediction is concatenated again before every layer, keeping the class evidence at hand.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 256, num_layers: int = 3) -> None:
        super().__init__()
        layers = []
        width = in_channels
        for _ in range(num_layers):
            layers.append(nn.Conv1d(width + num_classes, hidden, kernel_size=1))
            width = hidden
        self.layers = nn.ModuleList(layers)
        self.relu = nn.ReLU()
        self.predictor = nn.Conv1d(width + num_classes, num_classes, kernel_size=1)
        for m in self.layers:
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        nn.init.normal_(self.predictor.weight, std=0.001)
        nn.init.zeros_(self.predictor.bias)

    def forward(self, fine: Tensor, coarse: Tensor) -> Tensor:
        x = fine
        for layer in self.layers:
            x = self.relu(layer(torch.cat([x, coarse], dim=1)))
        return self.predictor(torch.cat([x, coarse], dim=1))
