"""torchvision's semantic-segmentation models (LR-ASPP, DeepLabV3) adapted to the house conventions.

torchvision's models return a dict ``{"out": [B, C, H, W], "aux": [B, C, H, W]}``; the training loop
wants ``forward(x) -> logits``. ``TorchvisionSegmentation`` wraps the torchvision module unchanged
(``model.net``, so a torchvision ``state_dict`` loads into ``model.net``) and adds:

* ``forward(x)``      -> the ``"out"`` logits [B, C, H, W] at input resolution; the auxiliary head is
  skipped because it only feeds the training loss.
* ``compute_loss``    -> ``criterion(out) + aux_weight * criterion(aux)`` when there is an auxiliary
  head (DeepLabV3's FCN head on the stride-8/16 ``layer3`` features, weight 0.5 as in torchvision's
  reference recipe); just ``criterion(out)`` otherwise (LR-ASPP has none).

Everything is built with ``weights=None`` and ``weights_backbone=None``: nothing is downloaded, all
parameters are randomly initialised.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import segmentation as tv_seg

__all__ = ["TorchvisionSegmentation", "deeplabv3", "lraspp_mobilenet_v3_large"]

_DEEPLAB_BUILDERS = {
    "mobilenet_v3_large": tv_seg.deeplabv3_mobilenet_v3_large,
    "resnet50": tv_seg.deeplabv3_resnet50,
}


class TorchvisionSegmentation(nn.Module):
    """A torchvision segmentation model speaking the house convention (logits tensor, compute_loss).

    ``net`` is a torchvision ``DeepLabV3`` or ``LRASPP``: ``net.backbone`` returns a feature dict,
    ``net.classifier`` maps it to coarse logits, ``net.aux_classifier`` (DeepLabV3 only, may be None)
    maps ``features["aux"]`` to coarse auxiliary logits.
    """

    def __init__(self, net: nn.Module, aux_weight: float = 0.5) -> None:
        super().__init__()
        self.net = net
        self.aux_weight = aux_weight

    @property
    def has_aux(self) -> bool:
        return getattr(self.net, "aux_classifier", None) is not None

    def forward(self, x: Tensor) -> Tensor:
        """[B, 3, H, W] -> logits [B, C, H, W]. Equals ``net(x)["out"]`` without running the aux head."""
        features = self.net.backbone(x)  # {"out"/"high": ..., "aux"/"low": ...}
        # LR-ASPP's head fuses the low (stride 8) and high (stride 16) maps; DeepLab's reads "out" only.
        head_in = features if isinstance(self.net, tv_seg.LRASPP) else features["out"]
        logits = self.net.classifier(head_in)  # [B, C, H/s, W/s]
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def compute_loss(self, x: Tensor, target: Tensor, criterion: Any) -> tuple[Tensor, Tensor]:
        """(criterion(out) + aux_weight * criterion(aux), out logits [B, C, H, W]); target [B, H, W]."""
        outputs = self.net(x)
        logits = outputs["out"]
        loss = criterion(logits, target)
        if "aux" in outputs:
            loss = loss + self.aux_weight * criterion(outputs["aux"], target)
        return loss, logits


def lraspp_mobilenet_v3_large(num_classes: int = 2, **kwargs: Any) -> TorchvisionSegmentation:
    """LR-ASPP on a dilated MobileNetV3-Large (Howard et al., 2019), random init, no aux head.

    ``kwargs`` go to ``TorchvisionSegmentation``.
    """
    net = tv_seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes)
    return TorchvisionSegmentation(net, **kwargs)


def deeplabv3(
    num_classes: int = 2, backbone: str = "mobilenet_v3_large", aux_loss: bool = True, **kwargs: Any
) -> TorchvisionSegmentation:
    """DeepLabV3 (Chen et al., 2017: ASPP on a dilated backbone), random init.

    ``backbone``: "mobilenet_v3_large" (output stride 16) or "resnet50" (output stride 8).
    ``aux_loss``: add torchvision's FCN auxiliary head, used by ``compute_loss`` with ``aux_weight``.
    ``kwargs`` go to ``TorchvisionSegmentation``.
    """
    if backbone not in _DEEPLAB_BUILDERS:
        raise ValueError(f"backbone must be one of {sorted(_DEEPLAB_BUILDERS)}, got {backbone!r}")
    net = _DEEPLAB_BUILDERS[backbone](weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=aux_loss)
    return TorchvisionSegmentation(net, **kwargs)
