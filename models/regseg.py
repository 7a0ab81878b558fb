"""RegSeg (Gao 2021, "Rethinking Dilated Convolution for Real-time Semantic Segmentation", arXiv:2111.09957).

A RegNetY-like backbone whose blocks split the grouped 3x3 conv into two dilation branches, so the
field-of-view grows inside the backbone and no context module is needed; a light decoder fuses strides
4/8/16. This is the paper's final "exp48_decoder26" model (the diploma's final face parser)::

    x [B, 3, H, W]
    stem     3x3 conv s2 + BN + ReLU                                   [B,  32, H/2]
    stage4   D(32->48, s2)                                       -> x4  [B,  48, H/4]
    stage8   D(48->128, s2), 2 x D(128)                          -> x8  [B, 128, H/8]
    stage16  D(128->256, s2), D(256, d=1), D(256, d=1,2), 4 x D(256, d=1,4),
             6 x D(256, d=1,14), D(256->320, d=1,14)             -> x16 [B, 320, H/16]
    decoder  x16: 1x1 -> 128, up to H/8, + (x8: 1x1 -> 128), 3x3 -> 64, up to H/4,
             cat (x4: 1x1 -> 8), 3x3 -> 64, 1x1 classifier                  [B, C, H/4]
    upsample bilinear                                                        [B, C, H, W]

D block ("Y block" when it has a single dilation 1): 1x1 conv+BN+ReLU -> grouped 3x3 conv (group width
16) split into one branch per dilation rate, each over its share of the channels, concat, BN+ReLU -> SE
(bottleneck = in_channels/4) -> 1x1 conv+BN -> + shortcut -> ReLU. With stride 2 the 3x3 convs stride and
the shortcut is 2x2 avg-pool (ceil) + 1x1 conv + BN.

Parameters: 3,334,951 at 19 classes (paper: 3.34 M in the Cityscapes comparison table of
arXiv:2111.09957 and the README of github.com/RolandGao/RegSeg); 3,333,846 at 2 classes.
Strided convs pad, pooling uses ceil mode and every fusion resizes to the tensor it joins, so any H, W
works; the convention's multiples of 32 are not needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DBlock", "RegSeg", "regseg"]

_GROUP_WIDTH = 16


def _conv_bn_relu(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
    )


class SqueezeExcite(nn.Module):
    """Channel attention: global avg-pool -> 1x1 (C -> r) -> ReLU -> 1x1 (r -> C) -> sigmoid -> scale x."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class DilatedGroupConv(nn.Module):
    """Grouped 3x3 conv with one branch per dilation rate, each over an equal slice of the channels.

    [B, C, h, w] -> split into len(dilations) x [B, C/k, h, w] -> 3x3 conv (dilation d_i, stride s,
    group width 16) each -> concat -> [B, C, h/s, w/s].
    """

    def __init__(self, channels: int, dilations: tuple[int, ...], stride: int) -> None:
        super().__init__()
        if channels % len(dilations):
            raise ValueError(f"{channels} channels cannot be split into {len(dilations)} dilation branches")
        self.split = channels // len(dilations)
        self.branches = nn.ModuleList(
            nn.Conv2d(
                self.split,
                self.split,
                3,
                stride=stride,
                padding=d,
                dilation=d,
                groups=self.split // _GROUP_WIDTH,
                bias=False,
            )
            for d in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        parts = torch.split(x, self.split, dim=1)
        return torch.cat([conv(p) for conv, p in zip(self.branches, parts, strict=True)], dim=1)


class DBlock(nn.Module):
    """RegSeg's dilated block: [B, C_in, h, w] -> [B, C_out, h/stride, w/stride] (see module docstring)."""

    def __init__(
        self, in_channels: int, out_channels: int, dilations: tuple[int, ...], stride: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, out_channels, 1)
        self.conv2 = DilatedGroupConv(out_channels, dilations, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.se = SqueezeExcite(out_channels, in_channels // 4)
        self.conv3 = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu3 = nn.ReLU()
        self.shortcut: nn.Module
        if stride != 1:
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(2, 2, ceil_mode=True),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        elif in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu2(self.bn2(self.conv2(self.conv1(x))))
        y = self.bn3(self.conv3(self.se(y)))
        return self.relu3(y + self.shortcut(x))


class Decoder(nn.Module):
    """The paper's decoder ("decoder26"): (x4 [B,48,H/4], x8 [B,128,H/8], x16 [B,320,H/16]) -> [B, C, H/4]."""

    def __init__(
        self, num_classes: int, channels4: int = 48, channels8: int = 128, channels16: int = 320
    ) -> None:
        super().__init__()
        self.head16 = _conv_bn_relu(channels16, 128, 1)
        self.head8 = _conv_bn_relu(channels8, 128, 1)
        self.head4 = _conv_bn_relu(channels4, 8, 1)
        self.conv8 = _conv_bn_relu(128, 64, 3)
        self.conv4 = _conv_bn_relu(64 + 8, 64, 3)
        self.classifier = nn.Conv2d(64, num_classes, 1)

    def forward(self, x4: Tensor, x8: Tensor, x16: Tensor) -> Tensor:
        x8 = self.head8(x8)
        x8 = x8 + F.interpolate(self.head16(x16), size=x8.shape[-2:], mode="bilinear", align_corners=False)
        x4 = self.head4(x4)
        x8 = F.interpolate(self.conv8(x8), size=x4.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(self.conv4(torch.cat([x8, x4], dim=1)))


def _stage16_dilations() -> list[tuple[int, ...]]:
    """Dilation rates of the stride-16 blocks after the first (strided) one: exp48's growing schedule."""
    return [(1,), (1, 2), *[(1, 4)] * 4, *[(1, 14)] * 7]


class RegSeg(nn.Module):
    """RegSeg exp48_decoder26: [B, 3, H, W] -> logits [B, num_classes, H, W]."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.stem = _conv_bn_relu(3, 32, 3, stride=2)
        self.stage4 = DBlock(32, 48, (1,), stride=2)
        self.stage8 = nn.Sequential(
            DBlock(48, 128, (1,), stride=2),
            DBlock(128, 128, (1,)),
            DBlock(128, 128, (1,)),
        )
        dilations = _stage16_dilations()
        self.stage16 = nn.Sequential(
            DBlock(128, 256, (1,), stride=2),
            *[DBlock(256, 256, d) for d in dilations[:-1]],
            DBlock(256, 320, dilations[-1]),
        )
        self.decoder = Decoder(num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.decoder.classifier.weight, std=0.01)  # start near uniform class scores

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] -> logits [B, num_classes, H, W]."""
        size = x.shape[-2:]
        x4 = self.stage4(self.stem(x))
        x8 = self.stage8(x4)
        x16 = self.stage16(x8)
        logits = self.decoder(x4, x8, x16)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def regseg(num_classes: int = 2, **kwargs: object) -> RegSeg:
    """RegSeg exp48_decoder26 (~3.34 M parameters at 19 classes, as in the paper)."""
    return RegSeg(num_classes, **kwargs)
