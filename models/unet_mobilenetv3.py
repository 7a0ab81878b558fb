"""U-Net with a MobileNetV3-small encoder: the face-parsing diploma's baseline (Ronneberger et al. 2015,
Howard et al. 2019).

Encoder = torchvision ``mobilenet_v3_small(weights=None).features`` tapped at five strides; decoder = five
U-Net blocks (upsample x2, concat skip, two 3x3 conv+BN+ReLU), then a 3x3 conv classifier::

    x [B, 3, H, W]
    encoder  features[0]     s2  [B,  16, H/2]     features[1]   s4 [B, 16, H/4]
             features[2:4]   s8  [B,  24, H/8]     features[4:9] s16 [B, 48, H/16]
             features[9:13]  s32 [B, 576, H/32]    (bottleneck)
    decoder  s32 -> up, cat s16 -> [B, d0, H/16] -> up, cat s8 -> [B, d1, H/8] -> up, cat s4 -> [B, d2, H/4]
             -> up, cat s2 -> [B, d3, H/2] -> up (no skip) -> [B, d4, H, W]
    head     3x3 conv -> logits [B, C, H, W]

With the default ``decoder_channels=(256, 128, 64, 32, 16)`` (segmentation_models_pytorch's U-Net
default, which the diploma used) the model has 3,585,794 parameters at 2 classes (3,588,259 at 19):
0.93 M encoder + 2.66 M decoder, matching the diploma's "3.6 M" for ``unet / mobilenetv3_small_100``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import mobilenet_v3_small

__all__ = ["UNetMobileNetV3", "unet_mobilenetv3"]

# Indices into ``mobilenet_v3_small().features`` whose outputs are the stride-2/4/8/16/32 features.
_TAPS = (0, 1, 3, 8, 12)


def _conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    """3x3 conv (no bias) + BN + ReLU, spatial size kept."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
    )


class DecoderBlock(nn.Module):
    """[B, C_in, h, w] -> upsample x2, concat skip [B, C_skip, 2h, 2w] -> 2 x conv -> [B, C_out, 2h, 2w]."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels + skip_channels, out_channels)
        self.conv2 = _conv_bn_relu(out_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        if skip is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            # The target size is the skip's: x2 for inputs that are multiples of 32.
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UNetMobileNetV3(nn.Module):
    """U-Net on torchvision's MobileNetV3-small feature extractor; logits at input resolution.

    ``self.encoder`` is exactly ``mobilenet_v3_small().features``, so an ImageNet state dict for that
    module loads into it unchanged (``model.encoder.load_state_dict(...)``); nothing is downloaded here.
    """

    def __init__(
        self,
        num_classes: int = 2,
        decoder_channels: tuple[int, int, int, int, int] = (256, 128, 64, 32, 16),
    ) -> None:
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(f"decoder_channels needs 5 entries (one per stride), got {decoder_channels!r}")
        self.encoder = mobilenet_v3_small(weights=None).features
        for m in self.encoder.modules():
            if isinstance(m, nn.ReLU | nn.Hardswish | nn.Hardsigmoid):
                m.inplace = False  # keep the graph functional for export/quantization
        tap_channels = [self._out_channels(self.encoder[i]) for i in _TAPS]  # [16, 16, 24, 48, 576]
        skip_channels = [*tap_channels[-2::-1], 0]  # s16, s8, s4, s2, none
        in_channels = [tap_channels[-1], *decoder_channels[:-1]]
        self.decoder = nn.ModuleList(
            DecoderBlock(i, s, o)
            for i, s, o in zip(in_channels, skip_channels, decoder_channels, strict=True)
        )
        self.classifier = nn.Conv2d(decoder_channels[-1], num_classes, 3, padding=1)
        for m in self.decoder.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _out_channels(block: nn.Module) -> int:
        return [m for m in block.modules() if isinstance(m, nn.Conv2d)][-1].out_channels

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, 3, H, W] (H, W multiples of 32) -> logits [B, num_classes, H, W]."""
        feats: list[Tensor] = []
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i in _TAPS:
                feats.append(x)  # s2, s4, s8, s16, s32
        x = feats[-1]
        skips: list[Tensor | None] = [*feats[-2::-1], None]
        for block, skip in zip(self.decoder, skips, strict=True):
            x = block(x, skip)
        return self.classifier(x)


def unet_mobilenetv3(
    num_classes: int = 2,
    decoder_channels: tuple[int, int, int, int, int] = (256, 128, 64, 32, 16),
    **kwargs: object,
) -> UNetMobileNetV3:
    """U-Net/MobileNetV3-small baseline (~3.60 M parameters at the default decoder widths, 2 classes)."""
    return UNetMobileNetV3(num_classes, decoder_channels=decoder_channels, **kwargs)
