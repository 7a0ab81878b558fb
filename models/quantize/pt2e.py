"""PT2E int8 quantization of a model's quantizable part: export -> prepare (QAT or PTQ) -> train/calibrate -> convert.

The quantized parts are named submodules (ALiSNet: ``coarse``, i.e. backbone, aggregation and head, and
PointRend's per-point MLP ``refine.point_head``) or the whole model (``""``). Each is captured with
``torch.export`` (batch dimension dynamic), annotated by executorch's ``XNNPACKQuantizer`` (symmetric int8
activations, per-channel symmetric int8 weights) and put back in place as a GraphModule. The model's own
``forward`` and ``compute_loss`` therefore drive QAT fine-tuning and evaluation unchanged, while the rest of
the model (PointRend's point selection and sampling) stays float.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
    XNNPACKQuantizer,
    get_symmetric_quantization_config,
)
from torch import Tensor, nn
from torch.export import Dim, export
from torchao.quantization.pt2e import (
    allow_exported_model_train_eval,
    move_exported_model_to_eval,
    move_exported_model_to_train,
)
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e, prepare_qat_pt2e
from tqdm import tqdm

from segaudit.models.quantize import patterns

log = logging.getLogger(__name__)
MAX_DIM = 1 << 16

@dataclass(frozen=True)
class Part:
    """A submodule that becomes int8 ("" = the whole model); `dynamic_dims` stay free in its exported graph."""

    name: str = ""
    dynamic_dims: tuple[int, ...] = (0,)  # the batch; ALiSNet's point head also takes any number of points


# Models quantized in parts; every other model is quantized whole. ALiSNet: CoarseNet and PointRend's per-point
# MLP become int8; point selection and sampling (top-k, grid sampling, scatter) stay float.
QUANTIZED_PARTS: dict[str, tuple[Part, ...]] = {
    "alisnet": (Part("coarse"), Part("refine.point_head", dynamic_dims=(0, 2))),
}
WHOLE_MODEL = (Part(),)


def quantized_parts(model_name: str) -> tuple[Part, ...]:
    """The parts of `model_name` that become int8."""
    return QUANTIZED_PARTS.get(model_name, WHOLE_MODEL)


def get_part(model: nn.Module, part: str) -> nn.Module:
    return model.get_submodule(part) if part else model


def set_part(model: nn.Module, part: str, module: nn.Module) -> nn.Module:
    """`model` with submodule `part` replaced by `module` (or `module` itself when `part` is "")."""
    if not part:
        return module
    parent_name, _, child = part.rpartition(".")
    setattr(model.get_submodule(parent_name), child, module)
    return model


def xnnpack_quantizer(qat: bool) -> XNNPACKQuantizer:
    """Symmetric int8 with per-channel weights: what XNNPACK runs fastest on phones and on x86."""
    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=qat))


def part_calls(model: nn.Module, part: str, example: Tensor) -> list[tuple[Tensor, ...]]:
    """The positional inputs of every call of `part` while `model` runs on `example` ([(example,)] for "")."""
    if not part:
        return [(example,)]
    captured: list[tuple[Tensor, ...]] = []
    handle = get_part(model, part).register_forward_pre_hook(lambda _m, args: captured.append(args))
    try:
        with torch.no_grad():
            model(example)
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"submodule {part!r} is never called in eval mode")
    return captured


def prepare(model: nn.Module, parts: tuple[Part, ...], example: Tensor, qat: bool) -> nn.Module:
    """A copy of `model` whose `parts` are exported graphs with fake-quantizers (QAT) or observers (PTQ).

    QAT captures the training-mode graph (batch-statistics BatchNorm, folded into the convolutions with
    simulated quantization); PTQ captures the eval-mode graph. Each part's `dynamic_dims` stay dynamic.
    """
    with patterns.faster_pattern_matching():
        return _prepare(model, parts, example, qat)


def _prepare(model: nn.Module, parts: tuple[Part, ...], example: Tensor, qat: bool) -> nn.Module:
    model = copy.deepcopy(model)
    # Two samples: export specialises a batch of one to a constant, and train-mode BatchNorm needs two.
    example = example[:1].expand(2, *example.shape[1:]).contiguous()
    calls = {part.name: part_calls(model.eval(), part.name, example)[0] for part in parts}
    model.train(qat)
    for part in parts:
        inputs = calls[part.name]
        dims = {d: Dim(f"d{d}", min=1, max=MAX_DIM) for d in part.dynamic_dims}  # shared by all inputs
        graph = export(get_part(model, part.name), inputs,
                       dynamic_shapes=tuple({d: dims[d] for d in part.dynamic_dims} for _ in inputs)).module()
        quantizer = xnnpack_quantizer(qat)
        prepared = prepare_qat_pt2e(graph, quantizer) if qat else prepare_pt2e(graph, quantizer)
        # Let model.train()/model.eval() reach the graph: they swap its BatchNorm/dropout between modes.
        allow_exported_model_train_eval(prepared)
        if qat:
            move_exported_model_to_train(prepared)
        else:
            move_exported_model_to_eval(prepared)
        model = set_part(model, part.name, prepared)
    return model


def convert(prepared_model: nn.Module, parts: tuple[Part, ...]) -> nn.Module:
    """Freeze observers/fake-quantizers into quantize/dequantize ops: the Python int8 reference model."""
    with patterns.faster_pattern_matching():
        return _convert(prepared_model, parts)


def _convert(prepared_model: nn.Module, parts: tuple[Part, ...]) -> nn.Module:
    model = prepared_model
    for part in parts:
        graph = get_part(model, part.name)
        move_exported_model_to_eval(graph)
        model = set_part(model, part.name, allow_exported_model_train_eval(convert_pt2e(graph)))
    model.eval()  # (a GraphModule's patched eval() returns None: no chaining)
    return model


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[dict], max_batches: int | None = None,
              progress: bool = False) -> int:
    """PTQ: run eval-mode batches through observers so they record activation ranges; returns images seen."""
    model.eval()
    seen = 0
    for step, batch in enumerate(tqdm(batches, desc="calibrating", unit="batch", disable=not progress,
                                      leave=False)):
        if max_batches is not None and step >= max_batches:
            break
        model(batch["image"])
        seen += int(batch["image"].shape[0])
    return seen


@dataclass(frozen=True)
class QATResult:
    steps: int
    images: int
    epochs: float
    final_loss: float


def finetune_qat(model: nn.Module, loader, criterion: nn.Module, *, epochs: float = 1.0, lr: float = 1e-4,
                 weight_decay: float = 1e-4, max_steps: int | None = None, progress: bool = False) -> QATResult:
    """Quantization-aware fine-tuning: the model's own loss through the fake-quantized part.

    `epochs` may be fractional (0.5 = half of the train split); `max_steps` caps the optimizer steps. AdamW at
    a learning rate well below training's: QAT only adapts trained weights to the int8 grid. Batches of one
    image are skipped (BatchNorm needs two samples in training mode).
    """
    from segaudit.models.train import compute_loss

    total = math.ceil(epochs * len(loader))
    if max_steps is not None:
        total = min(total, max_steps)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=weight_decay)
    model.train()
    steps, images, losses = 0, 0, []
    bar = tqdm(total=total, desc="QAT", unit="batch", disable=not progress, leave=False)
    epoch = 0
    while steps < total:
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)
        for batch in loader:
            if steps >= total:
                break
            x, target = batch["image"], batch["mask"]
            if x.shape[0] < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss, _ = compute_loss(model, x, target, criterion)
            loss.backward()
            optimizer.step()
            steps += 1
            images += int(x.shape[0])
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.4f}")
            bar.update()
        epoch += 1
        if epoch > math.ceil(epochs) + 1:  # a loader of single-image batches would never fill `total`
            break
    bar.close()
    model.eval()
    final = sum(losses[-20:]) / len(losses[-20:]) if losses else math.nan
    log.info("QAT: %d steps, %d images, final loss %.4f", steps, images, final)
    return QATResult(steps=steps, images=images, epochs=round(images / max(1, len(loader.dataset)), 3),
                     final_loss=final)
