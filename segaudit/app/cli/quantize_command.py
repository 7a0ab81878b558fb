"""`segaudit quantize`: a trained run -> its int8 on-device program (RUN/model.pte) and the quantization report."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.app.cli.table import format_table


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "quantize", help="quantize a trained run to an int8 ExecuTorch program (.pte)",
        description="PT2E int8 quantization of RUN's best checkpoint with executorch's XNNPACK quantizer "
        "(symmetric int8, per-channel weights): quantization-aware fine-tuning on the train split (default) "
        "or post-training calibration (--ptq); then lowering to an ExecuTorch program with the XNNPACK "
        "partitioner (parts XNNPACK cannot take, such as ALiSNet's PointRend top-k and grid sampling, run on "
        "the portable kernels inside the same program). Writes RUN/model.pte, its sidecar RUN/model.json and "
        "RUN/quantization.json (sizes, test mIoU float vs int8, pixel agreement of the program with the "
        "Python int8 model, median CPU latency float eager vs the program).",
        epilog="example: segaudit quantize --run runs/alisnet --data data/people4k --qat-epochs 1")
    parser.add_argument("--run", type=Path, required=True, help="run folder holding best/ (from segaudit train)")
    parser.add_argument("--data", type=Path, required=True, help="dataset package folder (train and test splits)")
    method = parser.add_mutually_exclusive_group()
    method.add_argument("--qat-epochs", type=float, default=1.0, metavar="E",
                        help="quantization-aware fine-tuning epochs, fractions allowed (default 1)")
    method.add_argument("--ptq", action="store_true", help="post-training calibration instead of QAT")
    parser.add_argument("--qat-steps", type=int, default=None, metavar="N", help="cap on QAT optimizer steps")
    parser.add_argument("--qat-lr", type=float, default=1e-4, help="QAT learning rate (default 1e-4)")
    parser.add_argument("--calibration-batches", type=int, default=32, metavar="N",
                        help="PTQ: train batches run through the observers (default 32)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--checkpoint", default="best", help="checkpoint subfolder of RUN (default best)")
    parser.add_argument("--latency-runs", type=int, default=50, metavar="N",
                        help="timed single-image runs per model after 5 warm-up runs (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    from segaudit.models.quantize import QuantizeConfig, quantize_run

    config = QuantizeConfig(
        method="ptq" if args.ptq else "qat", qat_epochs=args.qat_epochs, qat_max_steps=args.qat_steps,
        qat_lr=args.qat_lr, batch_size=args.batch_size, calibration_batches=args.calibration_batches,
        checkpoint=args.checkpoint, seed=args.seed, latency_runs=args.latency_runs)
    report = quantize_run(args.run, args.data, config, progress=True)
    parts = ", ".join(part or "whole model" for part in report.quantized_parts)
    print(f"{report.model} {report.method.upper()} int8 ({parts}), {report.test_images} test images at "
          f"{report.image_size} px")
    print(format_table(["", "float", "int8 .pte"], report.rows()))
    speedup = f"{report.speedup}x faster" if report.speedup is not None else "latency not measured"
    print(f"mIoU drop {report.miou_drop_points:+.2f} points, {report.size_ratio}x smaller, {speedup}")
    print(f"wrote {report.pte}, its sidecar model.json and quantization.json")
    return 0
