"""The quantization report: what the int8 program costs and what it gives up, measured, not estimated.

``RUN/quantization.json`` holds sizes in bytes (float checkpoint weights vs .pte), test-split mIoU of the float
model, the Python int8 model and the .pte, the .pte's pixel agreement with the Python int8 model (the check
that lowering changed nothing but rounding), and median single-image CPU latency (float eager PyTorch vs the
.pte through the ExecuTorch runtime). Measurement helpers live here; the pipeline fills the report.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

SCHEMA_VERSION = 1
REPORT_FILE = "quantization.json"


@dataclass
class Agreement:
    """Pixels where two models predict the same class (at the model's input resolution)."""

    equal: int = 0
    total: int = 0

    def update(self, a: torch.Tensor, b: torch.Tensor) -> None:
        self.equal += int((a == b).sum())
        self.total += a.numel()

    @property
    def fraction(self) -> float:
        return self.equal / self.total if self.total else float("nan")


@dataclass(frozen=True)
class Latency:
    """Single-image latency in milliseconds: median (and spread) of `runs` timed calls after `warmup`."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    warmup: int
    threads: int


def executorch_thread_count() -> int:
    """Threads of the ExecuTorch threadpool XNNPACK runs on (fixed at start-up: the core count); 0 if unknown.

    The pybindings can also resize the pool, but that call is marked unsafe and deadlocks or corrupts the heap
    in executorch 1.5.1; so float PyTorch is timed at this thread count instead.
    """
    try:
        from executorch.extension.pybindings import portable_lib

        return int(portable_lib._threadpool_get_thread_count())
    except (ImportError, AttributeError):
        return 0


@contextmanager
def torch_threads(threads: int) -> Iterator[int]:
    """Run PyTorch with `threads` intra-op threads (unchanged when `threads` < 1), then restore the count."""
    before = torch.get_num_threads()
    if threads >= 1:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def measure_latency(call: Callable[[], Any], runs: int = 50, warmup: int = 5, threads: int = 0) -> Latency:
    """Time `call()` `runs` times after `warmup` untimed calls (wall clock, perf_counter)."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    deciles = np.percentile(times, [10, 90])
    return Latency(median_ms=round(statistics.median(times), 3), p10_ms=round(float(deciles[0]), 3),
                   p90_ms=round(float(deciles[1]), 3), runs=runs, warmup=warmup, threads=threads)


@dataclass
class QuantizationReport:
    """Everything `segaudit quantize` measured; `to_dict()` is the JSON written to RUN/quantization.json."""

    model: str
    model_cfg: dict[str, Any]
    method: str  # "qat" or "ptq"
    quantized_parts: list[str]  # submodules made int8; [""] = the whole model
    image_size: int
    num_classes: int
    test_images: int
    float_checkpoint: str
    float_weights_bytes: int
    pte: str
    pte_bytes: int
    pte_sha256: str
    miou_float: float
    miou_int8: float  # the Python int8 model (convert_pt2e output, simulated quantization)
    miou_pte: float  # the on-device program
    iou_float: list[float]
    iou_pte: list[float]
    agreement_pte_vs_int8: float
    agreement_pte_vs_float: float
    agreement_pixels: int
    latency_float_eager: Latency | None
    latency_pte: Latency | None
    training: dict[str, Any] = field(default_factory=dict)  # QAT steps/epochs/lr or PTQ calibration images
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def miou_drop_points(self) -> float:
        """mIoU lost by the shipped program, in percentage points."""
        return round(100.0 * (self.miou_float - self.miou_pte), 3)

    @property
    def speedup(self) -> float | None:
        if self.latency_float_eager is None or self.latency_pte is None or self.latency_pte.median_ms <= 0:
            return None
        return round(self.latency_float_eager.median_ms / self.latency_pte.median_ms, 2)

    @property
    def size_ratio(self) -> float:
        return round(self.float_weights_bytes / self.pte_bytes, 2) if self.pte_bytes else float("nan")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(miou_drop_points=self.miou_drop_points, speedup=self.speedup, size_ratio=self.size_ratio)
        return _finite({"schema_version": data.pop("schema_version"), **data})

    def rows(self) -> list[list[object]]:
        """(figure, float, int8 .pte) rows for a printed table."""
        def ms(latency: Latency | None) -> object:
            return "-" if latency is None else latency.median_ms

        return [
            ["size (bytes)", self.float_weights_bytes, self.pte_bytes],
            ["median CPU latency (ms)", ms(self.latency_float_eager), ms(self.latency_pte)],
            ["test mIoU", round(self.miou_float, 4), round(self.miou_pte, 4)],
            ["test mIoU, Python int8 model", "-", round(self.miou_int8, 4)],
            ["pixel agreement with Python int8", "-", round(self.agreement_pte_vs_int8, 5)],
        ]


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("torch", "torchao", "executorch"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    from segaudit.core.atomic import write_atomic

    write_atomic(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _finite(value: Any) -> Any:
    """NaN (a class absent from the test split) becomes null: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
