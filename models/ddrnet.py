"""DDRNet-23-slim (Hong et al. 2021, "Deep Dual-resolution Networks for Real-time and Accurate Semantic
Segmentation of Road Scenes", arXiv:2101.06085).

A ResNet-like trunk splits at 1/8 into a high-resolution branch that stays at 1/8 and a low-resolution
branch that goes down to 1/64; two bilateral fusions exchange information between them (low -> high:
1x1 conv+BN then bilinear upsample; high -> low: strided 3x3 conv+BN), and DAPPM adds multi-scale context
on the 1/64 map. Widths are for ``planes=32`` (the slim model)::

    x [B, 3, H, W]
    stem     2 x (3x3 conv s2 + BN + ReLU)                      [B,  32, H/4]
    layer1   2 x Basic(32)                                      [B,  32, H/4]
    layer2   2 x Basic(32->64, s2)                              [B,  64, H/8]
    low:  layer3  2 x Basic(64->128, s2)      [B, 128, H/16]   high: layer3_  2 x Basic(64)   [B, 64, H/8]
          fusion 1: low += down3(high);  high += up(compress3(low))       (-> aux head input)
    low:  layer4  2 x Basic(128->256, s2)     [B, 256, H/32]   high: layer4_  2 x Basic(64)   [B, 64, H/8]
          fusion 2: low += down4(high);  high += up(compress4(low))
    low:  layer5  Bottleneck(256->512, s2)    [B, 512, H/64]   high: layer5_  Bottleneck(64->128) [B,128,H/8]
          DAPPM(512 -> 128), upsample to H/8, + high                        [B, 128, H/8]
    head     BN-ReLU-3x3 conv (64) - BN-ReLU-1x1 conv                       [B, C, H/8]
    upsample bilinear                                                        [B, C, H, W]

The auxiliary head (same shape of head on the high branch after fusion 1, [B, 64, H/8]) is only used by
``compute_loss``: loss = criterion(main) + 0.4 * criterion(aux); ``forward`` returns the main logits.

Input size: the deepest map is 1/64, but no padding or 64-multiple is required: strided convs use
padding 1 (so a 1/32 map of odd size, e.g. 3x3 at H=96, becomes 2x2) and every fusion and DAPPM resize
targets the size of the tensor it is added to. Any H, W that are multiples of 8 work (tested at 64 and 96).

Parameters: 5,734,278 at 19 classes with the auxiliary head (5,695,923 without it; paper: 5.7 M for
DDRNet-23-slim in the Cityscapes table of arXiv:2101.06085v2); 5,732,068 at 2 classes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DDRNet", "ddrnet23_slim"]

AUX_WEIGHT = 0.4


def _conv_bn(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_ch),
    ]


def _up(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class BasicBlock(nn.Module):
    """ResNet basic block: [B, C_in, h, w] -> [B, planes, h/s, w/s]; no final ReLU if ``last_relu=False``."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, last_relu: bool = True) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Sequential(*_conv_bn(in_ch, planes, 3, stride), nn.ReLU())
        self.conv2 = nn.Sequential(*_conv_bn(planes, out_ch, 3))
        self.shortcut = _shortcut(in_ch, out_ch, stride)
        self.relu = nn.ReLU() if last_relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 - 3x3 (stride s) - 1x1 residual block, expansion 2: [B, C_in, h, w] -> [B, 2*planes, h/s, w/s]."""

    expansion = 2

    def __init__(self, in_ch: int, planes: int, stride: int = 1, last_relu: bool = True) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Sequential(*_conv_bn(in_ch, planes, 1), nn.ReLU())
        self.conv2 = nn.Sequential(*_conv_bn(planes, planes, 3, stride), nn.ReLU())
        self.conv3 = nn.Sequential(*_conv_bn(planes, out_ch, 1))
        self.shortcut = _shortcut(in_ch, out_ch, stride)
        self.relu = nn.ReLU() if last_relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(*_conv_bn(in_ch, out_ch, 1, stride))


def _make_layer(
    block: type[BasicBlock] | type[Bottleneck], in_ch: int, planes: int, blocks: int, stride: int = 1
) -> nn.Sequential:
    """``blocks`` residual blocks, the first strided; as in DDRNet the last of >1 blocks has no final ReLU
    (its output is fused before the next ReLU)."""
    out_ch = planes * block.expansion
    layers: list[nn.Module] = [block(in_ch, planes, stride)]
    layers += [block(out_ch, planes, last_relu=i < blocks - 1) for i in range(1, blocks)]
    return nn.Sequential(*layers)


def _bn_relu_conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool = False) -> list[nn.Module]:
    return [
        nn.BatchNorm2d(in_ch),
        nn.ReLU(),
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias),
    ]


class DAPPM(nn.Module):
    """Deep Aggregation Pyramid Pooling Module: [B, C_in, h, w] -> [B, C_out, h, w].

    Five branches of width ``branch``: identity scale and avg-pools (k5 s2, k9 s4, k17 s8, global), each
    BN-ReLU-1x1; coarser scales are upsampled, added to the previous branch's output and refined by
    BN-ReLU-3x3 (hierarchical residual fusion); concat (5 x branch) -> BN-ReLU-1x1 -> C_out, plus a
    BN-ReLU-1x1 shortcut of the input.
    """

    def __init__(self, in_ch: int, branch: int, out_ch: int) -> None:
        super().__init__()
        pools: list[nn.Module] = [
            nn.Identity(),
            nn.AvgPool2d(5, stride=2, padding=2),
            nn.AvgPool2d(9, stride=4, padding=4),
            nn.AvgPool2d(17, stride=8, padding=8),
            nn.AdaptiveAvgPool2d(1),
        ]
        self.scales = nn.ModuleList(nn.Sequential(p, *_bn_relu_conv(in_ch, branch, 1)) for p in pools)
        self.process = nn.ModuleList(nn.Sequential(*_bn_relu_conv(branch, branch, 3)) for _ in pools[1:])
        self.compression = nn.Sequential(*_bn_relu_conv(branch * len(pools), out_ch, 1))
        self.shortcut = nn.Sequential(*_bn_relu_conv(in_ch, out_ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        y = self.scales[0](x)
        outs = [y]
        for scale, process in zip(self.scales[1:], self.process, strict=True):
            y = process(_up(scale(x), x) + y)
            outs.append(y)
        return self.compression(torch.cat(outs, dim=1)) + self.shortcut(x)


class SegHead(nn.Module):
    """BN-ReLU-3x3 conv -> BN-ReLU-1x1 conv (bias): [B, C_in, h, w] -> [B, num_classes, h, w]."""

    def __init__(self, in_ch: int, mid_ch: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_bn_relu_conv(in_ch, mid_ch, 3), *_bn_relu_conv(mid_ch, num_classes, 1, True)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class DDRNet(nn.Module):
    """Deep dual-resolution network (DDRNet-23 layout; ``planes=32, head_planes=64`` is the slim model)."""

    def __init__(
        self,
        num_classes: int = 2,
        planes: int = 32,
        spp_planes: int = 128,
        head_planes: int = 64,
        layers: tuple[int, int, int, int] = (2, 2, 2, 2),
        aux_head: bool = True,
    ) -> None:
        super().__init__()
        high = planes * 2
        self.stem = nn.Sequential(
            *_conv_bn(3, planes, 3, 2), nn.ReLU(), *_conv_bn(planes, planes, 3, 2), nn.ReLU()
        )
        self.layer1 = _make_layer(BasicBlock, planes, planes, layers[0])
        self.layer2 = _make_layer(BasicBlock, planes, planes * 2, layers[1], stride=2)
        self.layer3 = _make_layer(BasicBlock, planes * 2, planes * 4, layers[2], stride=2)
        self.layer4 = _make_layer(BasicBlock, planes * 4, planes * 8, layers[3], stride=2)
        self.layer5 = _make_layer(Bottleneck, planes * 8, planes * 8, 1, stride=2)
        self.layer3_ = _make_layer(BasicBlock, planes * 2, high, 2)
        self.layer4_ = _make_layer(BasicBlock, high, high, 2)
        self.layer5_ = _make_layer(Bottleneck, high, high, 1)
        # Bilateral fusion: low -> high (1x1 + BN, then upsample) and high -> low (strided 3x3 convs).
        self.compression3 = nn.Sequential(*_conv_bn(planes * 4, high, 1))
        self.compression4 = nn.Sequential(*_conv_bn(planes * 8, high, 1))
        self.down3 = nn.Sequential(*_conv_bn(high, planes * 4, 3, 2))
        self.down4 = nn.Sequential(
            *_conv_bn(high, planes * 4, 3, 2), nn.ReLU(), *_conv_bn(planes * 4, planes * 8, 3, 2)
        )
        self.relu = nn.ReLU()
        self.spp = DAPPM(planes * 16, spp_planes, planes * 4)
        self.head = SegHead(planes * 4, head_planes, num_classes)
        self.aux_head = SegHead(high, head_planes, num_classes) if aux_head else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for head in (self.head, self.aux_head):
            if head is not None:  # start near uniform class scores
                nn.init.normal_(head.body[-1].weight, std=0.01)

    def _features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """[B, 3, H, W] -> (head input [B, 4p, H/8, W/8], high branch after fusion 1 [B, 2p, H/8, W/8])."""
        x = self.layer1(self.stem(x))
        x2 = self.layer2(self.relu(x))  # [B, 2p, H/8]
        low = self.layer3(self.relu(x2))  # [B, 4p, H/16]
        high = self.layer3_(self.relu(x2))  # [B, 2p, H/8]
        low, high = low + self.down3(self.relu(high)), high + _up(self.compression3(self.relu(low)), high)
        fused1 = high
        low = self.layer4(self.relu(low))  # [B, 8p, H/32]
        high = self.layer4_(self.relu(high))
        low, high = low + self.down4(self.relu(high)), high + _up(self.compression4(self.relu(low)), high)
        high = self.layer5_(self.relu(high))  # [B, 4p, H/8]
        context = self.spp(self.layer5(self.relu(low)))  # [B, 4p, H/64]
        return _up(context, high) + high, fused1

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] (H, W multiples of 8) -> logits [B, num_classes, H, W]."""
        feats, _ = self._features(x)
        return F.interpolate(self.head(feats), size=x.shape[-2:], mode="bilinear", align_corners=False)

    def compute_loss(
        self, x: Tensor, target: Tensor, criterion: Callable[[Tensor, Tensor], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Deep supervision: criterion(main) + 0.4 * criterion(aux); returns (loss, main logits [B,C,H,W])."""
        feats, fused1 = self._features(x)
        size = x.shape[-2:]
        logits = F.interpolate(self.head(feats), size=size, mode="bilinear", align_corners=False)
        loss = criterion(logits, target)
        if self.aux_head is not None:
            aux = F.interpolate(self.aux_head(fused1), size=size, mode="bilinear", align_corners=False)
            loss = loss + AUX_WEIGHT * criterion(aux, target)
        return loss, logits


def ddrnet23_slim(num_classes: int = 2, **kwargs: object) -> DDRNet:
    """DDRNet-23-slim (~5.7 M parameters at 19 classes, with the auxiliary head)."""
    return DDRNet(num_classes, planes=32, spp_planes=128, head_planes=64, layers=(2, 2, 2, 2), **kwargs)
