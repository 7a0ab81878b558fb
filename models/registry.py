"""The bundled models by name: `build(name, num_classes, **cfg)` and a table of their sizes.

Builders are imported lazily so `segaudit --help` stays fast and one broken architecture never hides the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from segaudit.core.errors import InputError


@dataclass(frozen=True)
class ModelInfo:
    """Where a bundled model's builder lives and which seed document describes it."""

    name: str
    builder: str  # "module:function"
    seed: str
    summary: str

    def load_builder(self) -> Callable[..., nn.Module]:
        module_name, function = self.builder.split(":")
        return getattr(importlib.import_module(module_name), function)


MODELS: dict[str, ModelInfo] = {info.name: info for info in (
    ModelInfo("alisnet", "segaudit.models.alisnet:alisnet", "alisnet-model-card.md",
              "MnasNet + simple aggregation + PointRend; the flagship, shipped int8"),
    ModelInfo("sinet", "segaudit.models.sinet:sinet", "sinet-portrait-segmentation.md",
              "extreme-lightweight portrait model, S2 modules + information blocking"),
    ModelInfo("unet_mobilenetv3", "segaudit.models.unet_mobilenetv3:unet_mobilenetv3", "diploma-face-segmentation.md",
              "U-Net decoder over a MobileNetV3-small encoder (face-parsing baseline)"),
    ModelInfo("regseg", "segaudit.models.regseg:regseg", "diploma-face-segmentation.md",
              "dilated Y/D blocks, the diploma's final model"),
    ModelInfo("ddrnet23_slim", "segaudit.models.ddrnet:ddrnet23_slim", "diploma-face-segmentation.md",
              "deep dual-resolution network, 23-layer slim variant"),
    ModelInfo("u2netp", "segaudit.models.u2net:u2netp", "fashion-pixel-segmentation.md",
              "U²-Net small: nested RSU blocks with deep supervision"),
    ModelInfo("lraspp_mobilenet_v3_large", "segaudit.models.torchvision_zoo:lraspp_mobilenet_v3_large",
              "fashion-pixel-segmentation.md", "torchvision LR-ASPP over MobileNetV3-large"),
    ModelInfo("deeplabv3", "segaudit.models.torchvision_zoo:deeplabv3", "fashion-pixel-segmentation.md",
              "torchvision DeepLabV3 (MobileNetV3-large or ResNet-50 backbone)"),
    ModelInfo("maskrcnn_resnet50_fpn", "segaudit.models.maskrcnn:maskrcnn_resnet50_fpn",
              "maskrcnn-pedestrian-model-card.md", "torchvision Mask R-CNN, instances merged to person mask"),
)}


def model_info(name: str) -> ModelInfo:
    """The registry entry for `name`; an unknown name is an InputError listing the known ones."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(MODELS)}", field="model")
    return MODELS[name]


def build(name: str, num_classes: int = 2, **cfg: Any) -> nn.Module:
    """A freshly initialised bundled model (weights=None everywhere: nothing is downloaded)."""
    builder = model_info(name).load_builder()
    try:
        return builder(num_classes=num_classes, **cfg)
    except TypeError as exc:
        raise InputError(f"bad configuration for model {name!r}: {exc}", field="model_cfg") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_table(num_classes: int = 2) -> list[dict[str, Any]]:
    """One row per bundled model: name, parameters, float32 size in MB, source seed, summary."""
    rows = []
    for info in MODELS.values():
        model = build(info.name, num_classes=num_classes)
        params = count_parameters(model)
        buffers = sum(b.numel() * b.element_size() for b in model.buffers())
        rows.append({"name": info.name, "parameters": params,
                     "size_mb": round((params * 4 + buffers) / 1e6, 2),
                     "seed": info.seed, "summary": info.summary})
    return rows
