"""ALiSNet: accurate and lightweight mobile human segmentation (Seifoddini et al., arXiv:2304.07533).

Semantic-FPN-style segmenter on a MnasNet backbone, without the FPN top-down path, refined by PointRend::

    x [B, 3, H, W]
    CoarseNet (quantizable: plain Conv/BN/ReLU, static shapes)
      MnasNet(width_mult) taps   s4 [B, 24a, H/4]  s8 [B, 40a, H/8]  s16 [B, 96a, H/16]  s32 [B, 320a, H/32]
      each tap: 1x1 conv+BN+ReLU -> [B, A, ...], bilinear upsample to H/4, sum -> fine   [B, A, H/4, W/4]
      head: 2 x (3x3 conv+BN+ReLU), 1x1 conv                                -> coarse [B, C, H/4, W/4]
    Refinement (PointRend, float)
      train: coarse upsampled to H x W for the criterion + point loss at N uncertain/random points
      eval:  2 subdivision steps: upsample x2, re-predict the S most uncertain cells with PointHead
             from [fine || coarse] sampled there, scatter back                 -> logits [B, C, H, W]

At width 1.0, 2 classes and the defaults (A=128) the model has ~3.2 M parameters (~3 MB as int8).
Quantization (PT2E) is meant for ``model.coarse`` only; the PointRend part stays on float kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.mnasnet import MNASNet

from segaudit.models.pointrend import (
    PointHead,
    most_uncertain_points,
    point_sample,
    sample_uncertain_points_train,
    uncertainty,
)

__all__ = ["ALiSNet", "CoarseNet", "alisnet"]

# Indices into torchvision's ``MNASNet.layers`` after which the stride-4/8/16/32 features are tapped.
# layers[8] ends stride 4, [9] stride 8, [11] stride 16 (96 ch), [13] stride 32 (320 ch);
# [14:] is the 1280-channel conv for the classifier, which ALiSNet drops.
_TAP_ENDS = (9, 10, 12, 14)
_OUTPUT_STRIDE = 4
_DETAIL_END = 8  # layers[:8] end at stride 2 (16 channels at width 1.0)


def _conv_bn_relu(in_ch: int, out_ch: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
    )


class CoarseNet(nn.Module):
    """MnasNet backbone + flat multi-scale aggregation + conv head.

    ``x`` [B, 3, H, W] -> (coarse logits [B, C, H/4, W/4], fine features [B, A, H/4, W/4]).
    Only Conv/BN/ReLU, residual adds and bilinear resizes of static size: ready for
    ``torch.export`` + ``prepare_pt2e``/``prepare_qat_pt2e`` with the XNNPACK quantizer.
    """

    def __init__(self, num_classes: int, width_mult: float = 1.0, agg_channels: int = 64,
                 detail_channels: int = 0) -> None:
        super().__init__()
        layers = list(MNASNet(alpha=width_mult).layers.children())
        for m in layers:
            for sub in m.modules():
                if isinstance(sub, nn.ReLU):
                    sub.inplace = False  # keep the graph functional for export/quantization
                if isinstance(sub, nn.BatchNorm2d):
                    # torchvision's MnasNet keeps TensorFlow's momentum (3e-4), tuned for long ImageNet runs;
                    # trained from scratch for minutes, the running statistics would lag far behind.
                    sub.momentum = 0.1
        starts = (0, *_TAP_ENDS[:-1])
        self.stages = nn.ModuleList(nn.Sequential(*layers[a:b]) for a, b in zip(starts, _TAP_ENDS, strict=True))
        tap_channels = [self._out_channels(s) for s in self.stages]
        self.lateral = nn.ModuleList(_conv_bn_relu(c, agg_channels, 1) for c in tap_channels)
        self.head = nn.Sequential(
            _conv_bn_relu(agg_channels, agg_channels, 3),
            _conv_bn_relu(agg_channels, agg_channels, 3),
        )
        self.classifier = nn.Conv2d(agg_channels, num_classes, 1)
        # Optional stride-2 detail for the point head: MnasNet's stride-2 output (layers[:_DETAIL_END]) through a
        # 1x1 conv. At 128 px a person's limbs are 3-4 px wide, finer than the stride-4 grid can hold.
        self.detail = _conv_bn_relu(self._out_channels(nn.Sequential(*layers[:_DETAIL_END])), detail_channels, 1) \
            if detail_channels > 0 else None

    @property
    def fine_channels(self) -> int:
        """Channels of the fine features handed to the point head."""
        extra = self.detail[0].out_channels if self.detail is not None else 0
        return self.lateral[0][0].out_channels + extra

    @staticmethod
    def _out_channels(stage: nn.Sequential) -> int:
        convs = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        taps = []
        detail = None
        for index, stage in enumerate(self.stages):
            if index == 0 and self.detail is not None:
                x = stage[:_DETAIL_END](x)
                detail = self.detail(x)
                x = stage[_DETAIL_END:](x)
            else:
                x = stage(x)
            taps.append(x)
        size = taps[0].shape[-2:]  # stride 4
        fine = self.lateral[0](taps[0])
        for lateral, tap in zip(self.lateral[1:], taps[1:], strict=True):
            fine = fine + F.interpolate(lateral(tap), size=size, mode="bilinear", align_corners=False)
        coarse = self.classifier(self.head(fine))
        if detail is not None:  # fine features at stride 2: the aggregation upsampled, with the detail beside it
            up = F.interpolate(fine, size=detail.shape[-2:], mode="bilinear", align_corners=False)
            fine = torch.cat([up, detail], dim=1)
        return coarse, fine


class PointRendRefiner(nn.Module):
    """PointRend point selection, point head and subdivision inference on CoarseNet's outputs."""

    def __init__(
        self,
        num_classes: int,
        fine_channels: int,
        num_points: int,
        subdivision_points: int,
        subdivision_steps: int,
        oversample_ratio: float = 3.0,
        importance_ratio: float = 0.75,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.num_points = num_points
        self.subdivision_points = subdivision_points
        self.subdivision_steps = subdivision_steps
        self.oversample_ratio = oversample_ratio
        self.importance_ratio = importance_ratio
        self.point_head = PointHead(fine_channels, num_classes, hidden=hidden)

    def predict_points(self, coarse: Tensor, fine: Tensor, coords: Tensor) -> Tensor:
        """Point logits [B, C, N] at ``coords`` [B, N, 2] from coarse [B, C, h, w] and fine [B, A, h, w]."""
        return self.point_head(point_sample(fine, coords), point_sample(coarse, coords))

    def train_points(self, coarse: Tensor, fine: Tensor) -> tuple[Tensor, Tensor]:
        """Training points: (coords [B, N, 2], point logits [B, C, N])."""
        coords = sample_uncertain_points_train(coarse, self.num_points, self.oversample_ratio, self.importance_ratio)
        return coords, self.predict_points(coarse, fine, coords)

    def subdivide_step(self, logits: Tensor, coarse: Tensor, fine: Tensor) -> Tensor:
        """One subdivision step: logits [B, C, h, w] -> [B, C, 2h, 2w].

        Bilinear x2 upsampling, then the ``subdivision_points`` most uncertain cells are replaced by the
        point head's prediction there; all other cells keep the upsampled value.
        """
        b, c, h, w = logits.shape
        up = F.interpolate(logits, size=(2 * h, 2 * w), mode="bilinear", align_corners=False)
        idx, coords = most_uncertain_points(uncertainty(up), self.subdivision_points)  # [B, N], [B, N, 2]
        point_logits = self.predict_points(coarse, fine, coords)  # [B, C, N]
        flat = up.reshape(b, c, 4 * h * w)
        flat = flat.scatter(2, idx.unsqueeze(1).expand(-1, c, -1), point_logits)
        return flat.reshape(b, c, 2 * h, 2 * w)

    def forward(self, coarse: Tensor, fine: Tensor) -> Tensor:
        """Subdivision inference: coarse [B, C, h, w] -> refined logits [B, C, h*2^steps, w*2^steps]."""
        logits = coarse
        for _ in range(self.subdivision_steps):
            logits = self.subdivide_step(logits, coarse, fine)
        return logits


class ALiSNet(nn.Module):
    """ALiSNet = ``coarse`` (CoarseNet, quantizable) + ``refine`` (PointRendRefiner, float).

    ``forward(x)`` [B, 3, H, W] -> logits [B, C, H, W]: the upsampled coarse logits in train mode, the
    PointRend-subdivided logits in eval mode. Train with ``compute_loss``.
    """

    def __init__(
        self,
        num_classes: int = 2,
        width_mult: float = 1.0,
        agg_channels: int = 64,
        num_points: int = 512,
        subdivision_points: int = 1024,
        oversample_ratio: float = 3.0,
        importance_ratio: float = 0.75,
        point_hidden: int = 256,
        detail_channels: int = 0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.coarse = CoarseNet(num_classes, width_mult=width_mult, agg_channels=agg_channels,
                                detail_channels=detail_channels)
        self.refine = PointRendRefiner(
            num_classes,
            fine_channels=self.coarse.fine_channels,
            num_points=num_points,
            subdivision_points=subdivision_points,
            subdivision_steps=int(math.log2(_OUTPUT_STRIDE)),
            oversample_ratio=oversample_ratio,
            importance_ratio=importance_ratio,
            hidden=point_hidden,
        )

    def forward(self, x: Tensor) -> Tensor:
        coarse, fine = self.coarse(x)
        if self.training:
            return F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(coarse, fine)

    def compute_loss(self, x: Tensor, target: Tensor, criterion) -> tuple[Tensor, Tensor]:
        """(criterion on upsampled coarse logits + point CE at sampled points, logits [B, C, H, W]).

        Point labels are read from ``target`` [B, H, W] by nearest sampling; 255 is ignored.
        """
        coarse, fine = self.coarse(x)
        logits = F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)
        coords, point_logits = self.refine.train_points(coarse, fine)  # [B, N, 2], [B, C, N]
        with torch.no_grad():
            labels = point_sample(target.unsqueeze(1).to(coarse.dtype), coords, mode="nearest")
            labels = labels.squeeze(1).round().long()  # [B, N]
        num_valid = (labels != 255).sum().clamp(min=1)
        point_loss = F.cross_entropy(point_logits, labels, ignore_index=255, reduction="sum") / num_valid
        return criterion(logits, target) + point_loss, logits


def alisnet(
    num_classes: int = 2,
    width_mult: float = 1.0,
    agg_channels: int = 64,
    num_points: int = 512,
    subdivision_points: int = 1024,
    **kwargs,
) -> ALiSNet:
    """ALiSNet with a MnasNet(``width_mult``) backbone; ``weights=None`` (random init, nothing downloaded).

    Defaults are sized for the 128-256 px inputs of the on-device model (detectron2's 2048/8192 points are for
    1024x2048 street scenes): at 128 px, 1024 points are the uncertain quarter of the stride-4 grid, and a
    64-channel aggregation keeps the stride-4 head cheaper than the backbone.

    ``num_points``: points per image for the training point loss; ``subdivision_points``: cells
    re-predicted per subdivision step at inference. Other kwargs go to :class:`ALiSNet`.
    """
    return ALiSNet(
        num_classes,
        width_mult=width_mult,
        agg_channels=agg_channels,
        num_points=num_points,
        subdivision_points=subdivision_points,
        **kwargs,
    )
