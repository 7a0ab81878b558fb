"""SINet: extremely lightweight portrait segmentation (Park et al., 2019, arXiv:1911.09099).

Design (input x: [B, 3, H, W], H and W multiples of 32; C = num_classes):

    level1    ConvBNPReLU 3x3/2                        -> f1  [B, 12, H/2, W/2]
    level2_0  SE depthwise-separable conv 3x3/2        -> f2a [B, 16, H/4, W/4]
    level2    2 x S2Module                             -> f2  [B, 48, H/4, W/4]
    bn_act2   BN + PReLU on cat(f2a, f2)               ->     [B, 64, H/4, W/4]
    level3_0  SE depthwise-separable conv 3x3/2        -> f3a [B, 48, H/8, W/8]
    level3    8 x S2Module                             -> f3  [B, 96, H/8, W/8]
    bn_act3   BN + PReLU on cat(f3a, f3), 1x1 conv     -> low [B, C, H/8, W/8]
    decoder   up x2 + BN                               -> low [B, C, H/4, W/4]
              block = 1 - max_c softmax(low)           ->     [B, 1, H/4, W/4]
              up x2 + BN of (ConvBNPReLU1x1(f2) * block + low) -> [B, C, H/2, W/2]
              up x2, 3x3 conv                          -> logits [B, C, H, W]

An S2 module is a grouped 1x1 conv + channel shuffle feeding two parallel S2 blocks whose outputs are
concatenated (plus a residual when shapes match), then BN + PReLU. An S2 block squeezes the spatial
resolution with average pooling (kernel = stride = p), applies a depthwise kxk conv + BN, PReLU and a
pointwise conv, and bilinearly upsamples back: a large receptive field at the cost of a tiny conv.
The information-blocking decoder lets the high-resolution skip only refine pixels where the coarse
prediction is uncertain (1 - max softmax is ~0 where the low-resolution map is confident).
About 86.9K parameters at C = 2, as in the paper.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SINet", "information_blocking", "sinet"]

# (kernel size, average-pool size) of the two parallel S2 blocks of each S2 module, from the paper's table.
_LEVEL2_CONFIG: list[tuple[tuple[int, int], tuple[int, int]]] = [((3, 1), (5, 1)), ((3, 1), (3, 1))]
_LEVEL3_CONFIG: list[tuple[tuple[int, int], tuple[int, int]]] = [
    ((3, 1), (5, 1)),
    ((3, 1), (3, 1)),
    ((5, 1), (3, 2)),
    ((5, 2), (3, 4)),
    ((3, 1), (3, 1)),
    ((5, 1), (5, 1)),
    ((3, 2), (3, 4)),
    ((3, 1), (5, 2)),
]
_BN_EPS = 1e-3


def information_blocking(low_logits: Tensor) -> Tensor:
    """Uncertainty map 1 - max_c softmax(low_logits): [B, C, h, w] -> [B, 1, h, w], values in [0, 1 - 1/C]."""
    return 1.0 - torch.softmax(low_logits, dim=1).amax(dim=1, keepdim=True)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` groups: [B, C, H, W] -> [B, C, H, W]."""
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ConvBNPReLU(nn.Sequential):
    """kxk conv (no bias) + BN + PReLU: [B, in, H, W] -> [B, out, H/stride, W/stride]."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch, eps=_BN_EPS),
            nn.PReLU(out_ch),
        )


class BNPReLU(nn.Sequential):
    """BN + PReLU: [B, C, H, W] -> [B, C, H, W]."""

    def __init__(self, channels: int) -> None:
        super().__init__(nn.BatchNorm2d(channels, eps=_BN_EPS), nn.PReLU(channels))


class SqueezeExcitation(nn.Module):
    """Channel gating: global average pool, two 1x1 convs, hard-sigmoid gate. [B, C, H, W] -> same."""

    def __init__(self, channels: int, reduction: int = 1) -> None:
        super().__init__()
        hidden = channels // reduction
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.PReLU(hidden),
            nn.Conv2d(hidden, channels, 1),
            nn.Hardsigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.fc(self.pool(x))  # gate [B, C, 1, 1]


class SEDepthwiseSeparable(nn.Module):
    """Depthwise kxk/stride conv, SE, pointwise conv, BN, PReLU: [B, in, H, W] -> [B, out, H/s, W/s]."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, se_reduction: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel, stride, padding=kernel // 2, groups=in_ch, bias=False)
        self.se = SqueezeExcitation(in_ch, se_reduction)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn_act = BNPReLU(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn_act(self.pointwise(self.se(self.depthwise(x))))


class S2Block(nn.Module):
    """Spatial-squeeze block: avgpool /p, dw kxk + BN, PReLU, 1x1, bilinear up x p, BN.

    [B, in, H, W] -> [B, out, H, W]; with p = 1 the pooling and upsampling are identities.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, pool: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(pool, pool) if pool > 1 else nn.Identity()
        self.depthwise = nn.Sequential(
            nn.Conv2d(in_ch, in_ch, kernel, padding=kernel // 2, groups=in_ch, bias=False),
            nn.BatchNorm2d(in_ch, eps=_BN_EPS),
        )
        self.act = nn.PReLU(in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=_BN_EPS)
        self.upsample = pool > 1  # fixed at construction, not data-dependent

    def forward(self, x: Tensor) -> Tensor:
        y = self.pointwise(self.act(self.depthwise(self.pool(x))))  # [B, out, H/p, W/p]
        if self.upsample:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.bn(y)


class S2Module(nn.Module):
    """Grouped 1x1 conv + shuffle, two parallel S2 blocks concatenated, residual, BN + PReLU.

    [B, in, H, W] -> [B, out, H, W]; the residual is added only when in == out.
    """

    def __init__(self, in_ch: int, out_ch: int, config: tuple[tuple[int, int], tuple[int, int]]) -> None:
        super().__init__()
        groups = len(config)
        mid = out_ch // groups
        extra = out_ch - groups * mid  # first branch absorbs the remainder
        self.groups = groups
        self.reduce = nn.Conv2d(in_ch, mid, 1, groups=groups, bias=False)
        self.branches = nn.ModuleList(
            S2Block(mid, mid + (extra if i == 0 else 0), kernel, pool) for i, (kernel, pool) in enumerate(config)
        )
        self.residual = in_ch == out_ch
        self.bn_act = BNPReLU(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        y = channel_shuffle(self.reduce(x), self.groups)  # [B, mid, H, W]
        y = torch.cat([branch(y) for branch in self.branches], dim=1)  # [B, out, H, W]
        if self.residual:
            y = y + x
        return self.bn_act(y)


class SINet(nn.Module):
    """SINet encoder (S2 modules) + information-blocking decoder; logits at input resolution."""

    def __init__(self, num_classes: int = 2, dims: tuple[int, int, int] = (16, 48, 96)) -> None:
        super().__init__()
        d1, d2, d3 = dims
        self.num_classes = num_classes
        # encoder
        self.level1 = ConvBNPReLU(3, 12, 3, stride=2)
        self.level2_0 = SEDepthwiseSeparable(12, d1, 3, stride=2, se_reduction=1)
        self.level2 = nn.Sequential(*(S2Module(d1 if i == 0 else d2, d2, cfg) for i, cfg in enumerate(_LEVEL2_CONFIG)))
        self.bn_act2 = BNPReLU(d1 + d2)
        self.level3_0 = SEDepthwiseSeparable(d1 + d2, d2, 3, stride=2, se_reduction=2)
        self.level3 = nn.Sequential(*(S2Module(d2 if i == 0 else d3, d3, cfg) for i, cfg in enumerate(_LEVEL3_CONFIG)))
        self.bn_act3 = BNPReLU(d2 + d3)
        self.encoder_head = nn.Conv2d(d2 + d3, num_classes, 1, bias=False)
        # information-blocking decoder
        self.bn_low = nn.BatchNorm2d(num_classes, eps=_BN_EPS)
        self.skip = ConvBNPReLU(d2, num_classes, 1)
        self.bn_mid = nn.BatchNorm2d(num_classes, eps=_BN_EPS)
        self.classifier = nn.Conv2d(num_classes, num_classes, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        f1 = self.level1(x)  # [B, 12, H/2, W/2]
        f2a = self.level2_0(f1)  # [B, d1, H/4, W/4]
        f2 = self.level2(f2a)  # [B, d2, H/4, W/4]
        f3a = self.level3_0(self.bn_act2(torch.cat([f2a, f2], dim=1)))  # [B, d2, H/8, W/8]
        f3 = self.level3(f3a)  # [B, d3, H/8, W/8]
        low = self.encoder_head(self.bn_act3(torch.cat([f3a, f3], dim=1)))  # [B, C, H/8, W/8]

        low = self.bn_low(F.interpolate(low, size=f2.shape[-2:], mode="bilinear", align_corners=False))
        block = information_blocking(low)  # [B, 1, H/4, W/4]
        mid = self.skip(f2) * block + low  # [B, C, H/4, W/4]
        mid = self.bn_mid(F.interpolate(mid, size=f1.shape[-2:], mode="bilinear", align_corners=False))
        out = F.interpolate(mid, size=size, mode="bilinear", align_corners=False)  # [B, C, H, W]
        return self.classifier(out)


def sinet(num_classes: int = 2, **kwargs: Any) -> SINet:
    """SINet as in the paper (about 86.9K parameters at num_classes=2); weights are never downloaded."""
    return SINet(num_classes=num_classes, **kwargs)
