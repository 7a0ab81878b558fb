"""`quantize_run`: a trained run folder -> RUN/model.pte (+ model.json sidecar) and RUN/quantization.json.

    checkpoint (RUN/best) -> prepare (QAT | PTQ) -> fine-tune | calibrate on the train split -> convert
    -> lower to .pte
    -> score float / Python int8 / .pte on the test split, time float eager vs .pte
    -> write the three files (each atomically; nothing is written if any step fails)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from segaudit.core import checks
from segaudit.core.atomic import recover_leftovers, staging_prefix
from segaudit.core.errors import InputError
from segaudit.models.checkpoint import WEIGHTS_FILE, load_checkpoint, read_checkpoint_config, sha256_file
from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.torch_dataset import make_loader
from segaudit.models.evaluate import SegmentationMetrics
from segaudit.models.quantize import lowering, pt2e
from segaudit.models.quantize.report import (
    REPORT_FILE,
    Agreement,
    QuantizationReport,
    executorch_thread_count,
    measure_latency,
    package_versions,
    torch_threads,
    write_json_atomic,
)

log = logging.getLogger(__name__)
PTE_FILE = "model.pte"
SIDECAR_FILE = "model.json"
PTE_BATCH = 1  # the program has a static batch of one image, as a phone runs it


@dataclass
class QuantizeConfig:
    """How to quantize a run; saved in the report."""

    method: str = "qat"  # "qat" (quantization-aware fine-tuning) or "ptq" (post-training calibration)
    qat_epochs: float = 1.0
    qat_max_steps: int | None = None
    qat_lr: float = 1e-4
    batch_size: int = 16
    calibration_batches: int = 32
    checkpoint: str = "best"
    seed: int = 0
    latency_runs: int = 50
    latency_warmup: int = 5

    def validate(self) -> None:
        checks.choice(self.method, ("qat", "ptq"), "method")
        if self.method == "qat":
            checks.number(self.qat_epochs, "qat_epochs", 0.0, open_low=True)
        for name in ("batch_size", "calibration_batches", "latency_runs"):
            checks.integer(getattr(self, name), name, minimum=1)
        checks.optional(checks.integer, self.qat_max_steps, "qat_max_steps", minimum=1)


def quantize_run(run_dir: str | Path, data_dir: str | Path, config: QuantizeConfig | None = None,
                 progress: bool = False,
                 quiet_for_timing: Callable[[], AbstractContextManager[Any]] | None = None) -> QuantizationReport:
    """Quantize the run's checkpoint to int8, write RUN/model.pte, RUN/model.json and RUN/quantization.json.

    `quiet_for_timing()`, when given, is entered while the latencies are measured: a caller with work of its
    own in the background (the demo's shadow models) pauses it there, so the timings have the CPU to themselves.
    """
    config = config or QuantizeConfig()
    config.validate()
    started = time.monotonic()
    run_dir = Path(run_dir)
    checkpoint_dir = _checkpoint_dir(run_dir, config.checkpoint)
    lowering.check_exportable(read_checkpoint_config(checkpoint_dir)["model"])  # refuse before loading weights
    float_model, checkpoint = load_checkpoint(checkpoint_dir)
    name = checkpoint["model"]
    package = load_package(data_dir)
    _check_package(package, checkpoint, config)
    size, parts = int(checkpoint["image_size"]), pt2e.quantized_parts(name)

    torch.manual_seed(config.seed)
    example = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(config.seed))
    train_loader = make_loader(package, "train", size=size, batch_size=config.batch_size,
                               augment=config.method == "qat", shuffle=True, seed=config.seed)
    try:
        prepared = pt2e.prepare(float_model, parts, example, qat=config.method == "qat")
    except Exception as exc:  # torch.export / the quantizer refuse the model's graph
        raise InputError(f"model {name!r} cannot be quantized: capturing its graph for PT2E failed: "
                         f"{lowering.describe_error(exc)}", field="model") from exc
    if config.method == "qat":
        result = pt2e.finetune_qat(prepared, train_loader, _criterion(run_dir, package), epochs=config.qat_epochs,
                                   lr=config.qat_lr, max_steps=config.qat_max_steps, progress=progress)
        training = {"qat_steps": result.steps, "qat_images": result.images, "qat_epochs": result.epochs,
                    "qat_final_loss": result.final_loss}
    else:
        seen = pt2e.calibrate(prepared, train_loader, config.calibration_batches, progress=progress)
        training = {"calibration_images": seen}
    int8_model = pt2e.convert(prepared, parts)

    try:
        buffer = lowering.lower(int8_model, parts, example)
    except lowering.ExportError as exc:
        raise InputError(f"model {name!r} cannot be exported to an ExecuTorch program: {exc}",
                         field="model") from exc

    recover_leftovers(run_dir / PTE_FILE)  # the staging of a quantize run killed before it could clean up
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(run_dir / PTE_FILE, "staging"), dir=run_dir))
    try:
        pte_path = staging / PTE_FILE
        pte_path.write_bytes(buffer)
        sidecar = _sidecar(checkpoint, checkpoint_dir, pte_path, config)
        (staging / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        measured = _measure(float_model, int8_model, pte_path, package, checkpoint, config, progress,
                            quiet_for_timing or contextlib.nullcontext)
        report = QuantizationReport(
            model=name, model_cfg=checkpoint["model_cfg"], method=config.method,
            quantized_parts=[part.name for part in parts],
            image_size=size, num_classes=checkpoint["num_classes"], float_checkpoint=str(checkpoint_dir),
            float_weights_bytes=(checkpoint_dir / WEIGHTS_FILE).stat().st_size, pte=str(run_dir / PTE_FILE),
            pte_bytes=pte_path.stat().st_size, pte_sha256=sidecar["pte_sha256"], training=training,
            provenance={"config": asdict(config), "package": {"name": package.spec.name,
                                                              "version": package.spec.version},
                        "versions": package_versions(), "seconds": round(time.monotonic() - started, 1)},
            **measured)
        os.replace(pte_path, run_dir / PTE_FILE)
        os.replace(staging / SIDECAR_FILE, run_dir / SIDECAR_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(run_dir / REPORT_FILE, report.to_dict())
    log.info("wrote %s (%d bytes), %s and %s", run_dir / PTE_FILE, report.pte_bytes, SIDECAR_FILE, REPORT_FILE)
    return report


def _checkpoint_dir(run_dir: Path, checkpoint: str) -> Path:
    if (run_dir / WEIGHTS_FILE).is_file():
        raise InputError(f"this is a checkpoint folder, not a run folder: give the run folder that holds "
                         f"{checkpoint}/ (model.pte and its {SIDECAR_FILE} are written next to it)", path=run_dir)
    path = run_dir / checkpoint
    if not path.is_dir():
        raise InputError(f"not a run folder: {checkpoint}/ (the checkpoint to quantize) is missing", path=run_dir)
    return path


def _check_package(package: DatasetPackage, checkpoint: dict[str, Any], config: QuantizeConfig) -> None:
    if package.spec.num_classes != checkpoint["num_classes"]:
        raise InputError(f"the checkpoint predicts {checkpoint['num_classes']} classes but the package declares "
                         f"{package.spec.num_classes}", path=package.root / "dataset.yaml", field="classes")
    for split, why in (("train", "QAT fine-tuning" if config.method == "qat" else "PTQ calibration"),
                       ("test", "the report's mIoU and agreement")):
        if package.split(split).empty:
            raise InputError(f"the package has no '{split}' images; {why} needs them", path=package.manifest_path,
                             field="split")


def _criterion(run_dir: Path, package: DatasetPackage) -> nn.Module:
    """The run's own training loss (config.json), with equal class weights; plain cross-entropy without one."""
    from segaudit.models.losses import build_loss

    loss = "ce"
    config_path = run_dir / "config.json"
    if config_path.is_file():
        try:
            loss = json.loads(config_path.read_text(encoding="utf-8")).get("loss", "ce")
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc}", path=config_path) from None
    return build_loss(loss, package.spec.num_classes, ignore_index=package.spec.ignore_index)


def _sidecar(checkpoint: dict[str, Any], checkpoint_dir: Path, pte_path: Path, config: QuantizeConfig) -> dict:
    """What a runtime needs next to the program: classes, input size, batch; and where it came from."""
    return {
        "format": "executorch-pte",
        "model": checkpoint["model"],
        "model_cfg": checkpoint["model_cfg"],
        "num_classes": checkpoint["num_classes"],
        "classes": checkpoint["classes"],
        "image_size": checkpoint["image_size"],
        "batch_size": PTE_BATCH,
        "input": "float32 [batch, 3, image_size, image_size], RGB in [0, 1] normalised with ImageNet mean/std",
        "output": "float32 logits [batch, num_classes, image_size, image_size]",
        "quantization": {"method": config.method, "scheme": "int8 symmetric, per-channel weights (XNNPACK)",
                         "parts": [p.name or "whole model" for p in pt2e.quantized_parts(checkpoint["model"])]},
        "pte_sha256": sha256_file(pte_path),
        "pte_bytes": pte_path.stat().st_size,
        "source_checkpoint": str(checkpoint_dir),
        "source_weights_sha256": checkpoint["weights_sha256"],
    }


@torch.inference_mode()
def _measure(float_model: nn.Module, int8_model: nn.Module, pte_path: Path, package: DatasetPackage,
             checkpoint: dict[str, Any], config: QuantizeConfig, progress: bool,
             quiet_for_timing: Callable[[], AbstractContextManager[Any]]) -> dict[str, Any]:
    """Score the three models on the test split (mIoU, agreement) and time float eager vs the program."""
    from tqdm import tqdm

    from segaudit.models.runtime import Segmenter

    segmenter = Segmenter(pte_path)
    num_classes, ignore = checkpoint["num_classes"], package.spec.ignore_index
    metrics = {k: SegmentationMetrics(num_classes, ignore_index=ignore) for k in ("float", "int8", "pte")}
    vs_int8, vs_float = Agreement(), Agreement()
    loader = make_loader(package, "test", size=checkpoint["image_size"], batch_size=config.batch_size,
                         shuffle=False)
    float_model.eval()
    int8_model.eval()
    for batch in tqdm(loader, desc="scoring", unit="batch", disable=not progress, leave=False):
        images, masks = batch["image"], batch["mask"]
        predicted = {"float": float_model(images).argmax(1), "int8": int8_model(images).argmax(1),
                     "pte": segmenter.logits(images).argmax(1)}
        for key, prediction in predicted.items():
            metrics[key].update(prediction, masks)
        vs_int8.update(predicted["pte"], predicted["int8"])
        vs_float.update(predicted["pte"], predicted["float"])
    scores = {k: m.compute() for k, m in metrics.items()}
    log.info("test mIoU float %.4f, int8 %.4f, pte %.4f; agreement pte vs int8 %.5f", scores["float"].miou,
             scores["int8"].miou, scores["pte"].miou, vs_int8.fraction)

    example = next(iter(loader))["image"][:1].contiguous()
    et_threads = executorch_thread_count()
    with quiet_for_timing(), torch_threads(et_threads) as threads:  # float PyTorch at the program's threads
        float_latency = measure_latency(lambda: float_model(example), config.latency_runs, config.latency_warmup,
                                        threads)
        pte_latency = measure_latency(lambda: segmenter.logits(example), config.latency_runs,
                                      config.latency_warmup, et_threads)
    return {
        "test_images": scores["pte"].num_images,
        "miou_float": scores["float"].miou, "miou_int8": scores["int8"].miou, "miou_pte": scores["pte"].miou,
        "iou_float": [float(v) for v in scores["float"].iou], "iou_pte": [float(v) for v in scores["pte"].iou],
        "agreement_pte_vs_int8": vs_int8.fraction, "agreement_pte_vs_float": vs_float.fraction,
        "agreement_pixels": vs_int8.total, "latency_float_eager": float_latency, "latency_pte": pte_latency,
    }
