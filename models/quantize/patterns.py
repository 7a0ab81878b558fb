"""Make torchao's PT2E pattern matching cheaper without changing what it matches.

PT2E finds conv + BatchNorm (+ ReLU, dropout) by exporting small pattern functions with ``torch.export`` and
matching them against the model's graph: ``prepare_qat_pt2e`` and XNNPACK's annotator when a part is prepared,
``convert_pt2e`` when BatchNorm is folded (12 variants for each of conv1d, conv2d, conv_transpose1d and
conv_transpose2d). Each export takes about half a second on a CPU, so converting ALiSNet spent about 40 s
building pattern graphs for convolution kinds it does not have. Inside `with faster_pattern_matching():`
(prepare and convert use it) two things change, and everything is restored when the block ends:

- the conv + BN fuse and fold helpers skip a convolution kind the graph has no node of (its patterns cannot
  match; the graph clean-up the helper also does is still done by the call for a kind that is present);
- the pattern builder memoises its graphs, keyed by the pattern's code, the values it closes over, the example
  inputs' shapes and dtypes and the other arguments, and hands out deep copies, so a caller that edits its
  pattern cannot change the next caller's. Patterns the key cannot describe (closures over tensors, say) are
  built as before. This saves little in one quantization and a lot in a process that quantizes several
  models (the tests, the benchmarks); the cache outlives the block.

Both replace private torchao functions, so they are applied only to the torchao release they were written and
tested against (`TESTED_TORCHAO`); with any other release the block changes nothing and logs why.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.metadata
import logging
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import torch

log = logging.getLogger(__name__)

# Modules that imported the builder by name (`from .utils import _get_aten_graph_module_for_pattern`); the
# wrapper must replace each module's own reference. Modules that import it inside a function pick it up from
# torchao.quantization.pt2e.utils at call time.
_IMPORTERS = (
    "torchao.quantization.pt2e.utils",
    "torchao.quantization.pt2e.qat_utils",
    "executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils",
)
_NAME = "_get_aten_graph_module_for_pattern"
TESTED_TORCHAO = "0.18."
_lock = threading.Lock()
_install_lock = threading.RLock()
_depth = 0
_originals: list[tuple[Any, str, Any]] = []
_cache: dict[Any, torch.fx.GraphModule] = {}
_stats = {"hits": 0, "misses": 0, "uncached": 0, "skipped": 0}


class Unkeyable(Exception):
    """The pattern or its arguments hold something the cache key cannot describe by value."""


def _value_key(value: Any, tensors_by_shape: bool = True) -> Any:
    """A hashable description of `value`. Example inputs count by shape and dtype (export does not specialise
    on their values); a tensor a pattern closes over is a constant of its graph, so it makes it unkeyable."""
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype, torch.device)):
        return (type(value).__name__, value)
    if isinstance(value, torch.Tensor):
        if not tensors_by_shape:
            raise Unkeyable("a tensor constant")
        return ("tensor", tuple(value.shape), value.dtype, value.device.type, value.requires_grad)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_value_key(v, tensors_by_shape) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _value_key(v, tensors_by_shape)) for k, v in value.items())))
    if isinstance(value, types.FunctionType):
        return _function_key(value)
    if isinstance(value, (types.BuiltinFunctionType, torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return ("builtin", value)  # module-level operators: the same object for the whole process
    if isinstance(value, torch.nn.Module) and not list(value.parameters()) and not list(value.buffers()) \
            and callable(getattr(value, "fn", None)):
        return ("wrapper", type(value), _function_key(value.fn) if isinstance(value.fn, types.FunctionType)
                else _value_key(value.fn, tensors_by_shape=False))  # torchao's WrapperModule(fn)
    raise Unkeyable(type(value).__name__)


def _function_key(fn: types.FunctionType) -> Any:
    constant = functools.partial(_value_key, tensors_by_shape=False)
    cells = tuple(constant(cell.cell_contents) for cell in fn.__closure__ or ())
    return ("function", fn.__code__, cells, constant(fn.__defaults__ or ()), constant(fn.__kwdefaults__ or {}))


def _cached(build: Callable[..., torch.fx.GraphModule]) -> Callable[..., torch.fx.GraphModule]:
    @functools.wraps(build)
    def builder(pattern: Callable, example_inputs: tuple[Any, ...], is_cuda: bool = False, **kwargs: Any):
        try:
            key = (_value_key(pattern), _value_key(tuple(example_inputs)), is_cuda, _value_key(kwargs))
        except Unkeyable:
            _stats["uncached"] += 1
            return build(pattern, example_inputs, is_cuda, **kwargs)
        with _lock:
            graph = _cache.get(key)
        if graph is None:
            _stats["misses"] += 1
            graph = build(pattern, example_inputs, is_cuda, **kwargs)
            with _lock:
                _cache[key] = graph
        else:
            _stats["hits"] += 1
        return copy.deepcopy(graph)

    builder.__segaudit_cached__ = build  # type: ignore[attr-defined]
    return builder


# The conv + BN helpers torchao calls once per convolution kind, and the aten op each kind appears as.
_CONV_HELPERS = ("_fuse_conv_bn_qat_helper", "_fold_conv_bn_qat_helper")


def _conv_kinds() -> dict[Any, Any]:
    import torch.nn.functional as F

    aten = torch.ops.aten
    return {F.conv1d: aten.conv1d, F.conv2d: aten.conv2d, F.conv_transpose1d: aten.conv_transpose1d,
            F.conv_transpose2d: aten.conv_transpose2d}


def present_conv_kinds(graph: torch.fx.Graph) -> set[Any] | None:
    """The conv kinds (aten overload packets) in `graph`; None when it has a generic convolution node whose kind
    is not known from its op, so nothing may be skipped."""
    kinds = set(_conv_kinds().values())
    found = set()
    for node in graph.nodes:
        packet = getattr(node.target, "overloadpacket", None)
        if packet is torch.ops.aten.convolution or packet is torch.ops.aten._convolution:
            return None
        if packet in kinds:
            found.add(packet)
    return found


def _skipping_absent_kinds(helper: Callable[..., Any]) -> Callable[..., Any]:
    kinds = _conv_kinds()

    @functools.wraps(helper)
    def wrapped(m: torch.fx.GraphModule, conv_fn: Callable, example_inputs: tuple[Any, ...], is_cuda: bool):
        present = present_conv_kinds(m.graph)
        kind = kinds.get(conv_fn)
        if present and kind is not None and kind not in present:
            _stats["skipped"] += 1
            return m
        return helper(m, conv_fn, example_inputs, is_cuda)

    wrapped.__segaudit_wrapped__ = helper  # type: ignore[attr-defined]
    return wrapped


def supported() -> bool:
    """Whether the installed torchao is the release these patches were written for."""
    try:
        return importlib.metadata.version("torchao").startswith(TESTED_TORCHAO)
    except importlib.metadata.PackageNotFoundError:
        return False


@contextlib.contextmanager
def faster_pattern_matching() -> Iterator[bool]:
    """Within the block, torchao skips absent conv kinds and caches its pattern graphs; afterwards every replaced
    function is back. Re-entrant (nested blocks patch once). Yields whether the patches are in place."""
    global _depth
    with _install_lock:
        if _depth == 0:
            if supported():
                _patch()
            else:
                log.info("torchao %s is not the tested %sx: PT2E pattern matching runs unpatched",
                         _torchao_version(), TESTED_TORCHAO)
        _depth += 1
    try:
        yield bool(_originals)
    finally:
        with _install_lock:
            _depth -= 1
            if _depth == 0:
                _restore()


def _torchao_version() -> str:
    try:
        return importlib.metadata.version("torchao")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _patch() -> None:
    for name in _IMPORTERS:
        module = importlib.import_module(name)
        current = getattr(module, _NAME, None)
        if current is not None and not hasattr(current, "__segaudit_cached__"):
            _originals.append((module, _NAME, current))
            setattr(module, _NAME, _cached(current))
    qat_utils = importlib.import_module("torchao.quantization.pt2e.qat_utils")
    for name in _CONV_HELPERS:
        helper = getattr(qat_utils, name, None)
        if helper is not None and not hasattr(helper, "__segaudit_wrapped__"):
            _originals.append((qat_utils, name, helper))
            setattr(qat_utils, name, _skipping_absent_kinds(helper))


def _restore() -> None:
    while _originals:
        module, name, original = _originals.pop()
        setattr(module, name, original)


def stats() -> dict[str, int]:
    """Since the process started: cache hits, misses (graphs built), uncached calls, conv kinds skipped."""
    return dict(_stats)
