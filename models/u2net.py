"""U^2-Net small (u2netp; Qin et al., 2020, arXiv:2005.09007), multi-class variant.

Design (input x: [B, 3, H, W], H and W multiples of 32; C = num_classes; every stage has 64 output
channels and 16 internal channels):

    en1  RSU-7  -> [B, 64, H,    W   ]   pool /2
    en2  RSU-6  -> [B, 64, H/2,  W/2 ]   pool /2
    en3  RSU-5  -> [B, 64, H/4,  W/4 ]   pool /2
    en4  RSU-4  -> [B, 64, H/8,  W/8 ]   pool /2
    en5  RSU-4F -> [B, 64, H/16, W/16]   pool /2
    en6  RSU-4F -> [B, 64, H/32, W/32]
    de5..de1: the same blocks on cat(upsampled deeper stage, encoder skip) [B, 128, ...] -> [B, 64, ...]
    side_i: 3x3 conv 64 -> C on en6, de5, ..., de1, upsampled to [B, C, H, W]
    fuse:   1x1 conv on cat(side_1..side_6) [B, 6C, H, W] -> logits [B, C, H, W]

A residual U-block RSU-L is a small L-level U-Net inside one stage: an input conv (in -> out), an
encoder of L-1 convs (out -> mid) with 2x max-pooling between them, a dilated (d=2) bottom conv, a
decoder that upsamples and concatenates back up to mid -> out, and a residual add of the input conv.
RSU-4F replaces pooling by dilation (1, 2, 4, 8) because its input is already low resolution.
Training uses deep supervision: the loss is summed over the fused output and the six side outputs.
About 1.13M parameters (the paper's figure, for one output channel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RSU", "RSU4F", "U2Net", "u2netp"]


def _upsample_to(x: Tensor, ref: Tensor) -> Tensor:
    """Bilinearly resize x [B, C, h, w] to ref's spatial size [.., H, W]."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Sequential):
    """3x3 conv (dilation d, padding d) + BN + ReLU: [B, in, H, W] -> [B, out, H, W]."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class RSU(nn.Module):
    """Residual U-block of height L: [B, in, H, W] -> [B, out, H, W] (H, W divisible by 2**(L-2))."""

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv_in = ConvBNReLU(in_ch, out_ch)
        # encoder: L-1 convs at decreasing resolution, then the dilated bottom conv
        self.encoder = nn.ModuleList(ConvBNReLU(out_ch if i == 0 else mid_ch, mid_ch) for i in range(height - 1))
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.bottom = ConvBNReLU(mid_ch, mid_ch, dilation=2)
        # decoder: L-1 convs on cat(deeper, skip); the last one maps back to out_ch
        self.decoder = nn.ModuleList(
            ConvBNReLU(2 * mid_ch, out_ch if i == height - 2 else mid_ch) for i in range(height - 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        hx_in = self.conv_in(x)  # [B, out, H, W]
        skips = []
        h = hx_in
        for i, conv in enumerate(self.encoder):
            h = conv(self.pool(h) if i > 0 else h)  # [B, mid, H / 2**i, W / 2**i]
            skips.append(h)
        h = self.bottom(h)  # [B, mid, H / 2**(L-2), ...]
        for conv, skip in zip(self.decoder, reversed(skips), strict=True):
            h = conv(torch.cat([_upsample_to(h, skip), skip], dim=1))
        return h + hx_in


class RSU4F(nn.Module):
    """Dilated RSU-4 without pooling (dilations 1, 2, 4, 8): [B, in, H, W] -> [B, out, H, W]."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv_in = ConvBNReLU(in_ch, out_ch)
        self.encoder = nn.ModuleList(
            [ConvBNReLU(out_ch, mid_ch, 1), ConvBNReLU(mid_ch, mid_ch, 2), ConvBNReLU(mid_ch, mid_ch, 4)]
        )
        self.bottom = ConvBNReLU(mid_ch, mid_ch, 8)
        self.decoder = nn.ModuleList(
            [ConvBNReLU(2 * mid_ch, mid_ch, 4), ConvBNReLU(2 * mid_ch, mid_ch, 2), ConvBNReLU(2 * mid_ch, out_ch, 1)]
        )

    def forward(self, x: Tensor) -> Tensor:
        hx_in = self.conv_in(x)
        skips = []
        h = hx_in
        for conv in self.encoder:
            h = conv(h)  # [B, mid, H, W]
            skips.append(h)
        h = self.bottom(h)
        for conv, skip in zip(self.decoder, reversed(skips), strict=True):
            h = conv(torch.cat([h, skip], dim=1))
        return h + hx_in


class U2Net(nn.Module):
    """Two-level nested U-structure with six deeply supervised side outputs fused by a 1x1 conv."""

    def __init__(self, num_classes: int = 2, mid_ch: int = 16, stage_ch: int = 64) -> None:
        super().__init__()
        self.num_classes = num_classes
        c, m = stage_ch, mid_ch
        self.encoder = nn.ModuleList(
            [RSU(7, 3, m, c), RSU(6, c, m, c), RSU(5, c, m, c), RSU(4, c, m, c), RSU4F(c, m, c), RSU4F(c, m, c)]
        )
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        # decoder stages de5, de4, ..., de1 (deepest first)
        self.decoder = nn.ModuleList(
            [RSU4F(2 * c, m, c), RSU(4, 2 * c, m, c), RSU(5, 2 * c, m, c), RSU(6, 2 * c, m, c), RSU(7, 2 * c, m, c)]
        )
        # side heads on en6, de5, de4, de3, de2, de1 (deepest first)
        self.sides = nn.ModuleList(nn.Conv2d(c, num_classes, 3, padding=1) for _ in range(6))
        self.fuse = nn.Conv2d(6 * num_classes, num_classes, 1)

    def forward_all(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Fused logits [B, C, H, W] and the six side logits (deepest first), each [B, C, H, W]."""
        skips = []
        h = x
        for i, stage in enumerate(self.encoder):
            h = stage(self.pool(h) if i > 0 else h)  # [B, 64, H / 2**i, W / 2**i]
            skips.append(h)
        feats = [h]  # en6, then de5 .. de1
        for stage, skip in zip(self.decoder, reversed(skips[:-1]), strict=True):
            h = stage(torch.cat([_upsample_to(h, skip), skip], dim=1))
            feats.append(h)
        sides = [_upsample_to(head(f), x) for head, f in zip(self.sides, feats, strict=True)]
        # fuse in the original order side1 (finest) .. side6 (deepest)
        fused = self.fuse(torch.cat(sides[::-1], dim=1))
        return fused, sides

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_all(x)[0]

    def compute_loss(
        self, x: Tensor, target: Tensor, criterion: Callable[[Tensor, Tensor], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Deep supervision: criterion(fused) + sum of criterion(side_i) over the 6 sides; returns (loss, fused)."""
        fused, sides = self.forward_all(x)
        loss = criterion(fused, target)
        for side in sides:
            loss = loss + criterion(side, target)
        return loss, fused


def u2netp(num_classes: int = 2, **kwargs: Any) -> U2Net:
    """U^2-Net small (u2netp, about 1.13M parameters); weights are never downloaded."""
    return U2Net(num_classes=num_classes, **kwargs)
