"""From the Python int8 model to an ExecuTorch program (.pte): XNNPACK for int8, portable kernels for the rest.

Whole-model quantization lowers the usual way: ``torch.export`` -> ``to_edge_transform_and_lower`` with the
XNNPACK partitioner -> ``to_executorch``. A model quantized in parts (ALiSNet: int8 ``coarse`` and point head,
float point selection and sampling) is lowered in two steps. Each int8 part is lowered on its own and must
become one XNNPACK delegate; the model is then exported with those delegates in place, and the float remainder
is lowered around them (resizes to XNNPACK; top-k, gather, scatter, grid sampling to the portable kernels).
Lowering everything in one go lets the partitioner end a delegate on an int8 tensor that another delegate
dequantizes, and executorch 1.5.1 then mixes up that delegate's outputs at run time ("Failed to resize output
tensor for XNNExecutor").
"""

from __future__ import annotations

import logging
import operator

from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge_transform_and_lower
from executorch.exir.delegate import executorch_call_delegate
from torch import Tensor, nn
from torch.export import export
from torch.utils import _pytree as pytree

from segaudit.core.errors import InputError
from segaudit.models.quantize.pt2e import Part, get_part, part_calls, set_part

log = logging.getLogger(__name__)

# Bundled models that cannot become an on-device program, and why (checked before any work is done).
NOT_EXPORTABLE: dict[str, str] = {
    "maskrcnn_resnet50_fpn": "an instance detector: the number of detections, the RoIAlign boxes and the mask "
    "pasting depend on the data, and torchvision's detection post-processing does not export to a "
    "static-shape ExecuTorch program",
}


class ExportError(RuntimeError):
    """A model that torch.export or the ExecuTorch lowering cannot take; the message says which stage."""


def check_exportable(model_name: str) -> None:
    """Refuse up front (InputError, exit code 2) the bundled models known not to export."""
    if model_name in NOT_EXPORTABLE:
        raise InputError(f"model {model_name!r} cannot be quantized to an ExecuTorch program: "
                         f"{NOT_EXPORTABLE[model_name]}", field="model")


class DelegatedPart(nn.Module):
    """An already-lowered XNNPACK delegate standing in for a submodule, with its original output structure."""

    def __init__(self, lowered: nn.Module, order: list[int], out_spec: pytree.TreeSpec) -> None:
        super().__init__()
        self.lowered = lowered
        self.order = order  # position in the submodule's flat outputs -> index among the delegate's outputs
        self.out_spec = out_spec

    def forward(self, *args: Tensor):
        outputs = self.lowered(*args)
        return pytree.tree_unflatten([outputs[i] for i in self.order], self.out_spec)


def lower(int8_model: nn.Module, parts: tuple[Part, ...], example: Tensor) -> bytes:
    """The .pte bytes of `int8_model` (eval mode, input shaped like `example`), XNNPACK-delegated."""
    int8_model.eval()
    if [part.name for part in parts] == [""]:
        return _to_executorch(int8_model, example, what="the int8 model")
    originals = {part.name: get_part(int8_model, part.name) for part in parts}
    delegated = {name: _delegate_whole(module, _static_inputs(int8_model, name, example), name)
                 for name, module in originals.items()}
    for name, module in delegated.items():
        set_part(int8_model, name, module)
    try:
        return _to_executorch(int8_model, example, what="the model around its int8 delegates")
    finally:
        for name, module in originals.items():
            set_part(int8_model, name, module)


def _static_inputs(model: nn.Module, part: str, example: Tensor) -> tuple[Tensor, ...]:
    """The inputs of `part` for one image; a part called several times must see one shape (one delegate)."""
    calls = part_calls(model, part, example)
    shapes = {tuple(tuple(t.shape) for t in call) for call in calls}
    if len(shapes) > 1:
        raise ExportError(f"the int8 part {part!r} is called with different input shapes {sorted(shapes)}; "
                          "its static-shape delegate fits one")
    return calls[0]


def _to_executorch(model: nn.Module, example: Tensor, what: str) -> bytes:
    """Lower, emit, and run the program once: a program that loads but fails at run time is refused here."""
    edge = _lower_to_edge(model, (example,), what)
    try:
        buffer = edge.to_executorch().buffer
    except Exception as exc:
        raise ExportError(f"emitting the ExecuTorch program of {what} failed: {describe_error(exc)}") from exc
    try:
        run_program(buffer, example)
    except RuntimeError as exc:
        raise ExportError(f"the ExecuTorch program of {what} fails at run time: {describe_error(exc)}") from exc
    return buffer


def _lower_to_edge(model: nn.Module, inputs: tuple[Tensor, ...], what: str):
    try:
        program = export(model, inputs)
    except Exception as exc:
        raise ExportError(f"torch.export of {what} failed: {describe_error(exc)}") from exc
    try:
        return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    except Exception as exc:
        raise ExportError(f"lowering {what} to XNNPACK failed: {describe_error(exc)}") from exc


def _delegate_whole(module: nn.Module, inputs: tuple[Tensor, ...], part: str) -> DelegatedPart:
    """Lower `module` alone; it must become exactly one XNNPACK delegate fed by its own inputs."""
    edge = _lower_to_edge(module, inputs, f"the int8 part {part!r}")
    program = edge.exported_program()
    graph = program.graph_module.graph
    calls = [n for n in graph.nodes if n.op == "call_function" and n.target is executorch_call_delegate]
    leftovers = sorted({getattr(n.target, "__name__", str(n.target)) for n in graph.nodes if n.op == "call_function"
                        and n.target is not executorch_call_delegate and n.target is not operator.getitem})
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(calls) != 1 or leftovers or list(calls[0].args[1:]) != placeholders:
        hint = (" (GroupNorm, as in DP-SGD checkpoints, has no XNNPACK kernel)"
                if any("group_norm" in op for op in leftovers) else "")
        raise ExportError(f"XNNPACK did not take the whole int8 part {part!r} as one delegate "
                          f"({len(calls)} delegates; left outside: {', '.join(leftovers) or 'none'}){hint}")
    order = []
    for node in graph.output_node().args[0]:
        if not (node.op == "call_function" and node.target is operator.getitem and node.args[0] is calls[0]):
            raise ExportError(f"an output of the int8 part {part!r} does not come from its delegate")
        order.append(int(node.args[1]))
    lowered = getattr(program.graph_module, calls[0].args[0].target)
    log.debug("int8 part %r lowered to one XNNPACK delegate, output order %s", part, order)
    return DelegatedPart(lowered, order, program.call_spec.out_spec)


def describe_error(exc: BaseException) -> str:
    """`Type: first line of the message`, short enough for an error message."""
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0][:400]}"


def run_program(buffer: bytes, inputs: Tensor) -> Tensor:
    """Run a .pte held in memory on one batch (the smoke test right after lowering)."""
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(buffer).load_method("forward")
    return method.execute([inputs.contiguous()])[0].clone()
