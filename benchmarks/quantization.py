"""Print the int8 table of a quantized run: size, CPU latency, test mIoU and pixel agreement, float vs int8 .pte.

    python benchmarks/quantization.py --run runs/alisnet-q                 # after `segaudit quantize`
    python benchmarks/quantization.py --run runs/alisnet-q --runs 200

Sizes are the bytes of the float checkpoint's weights (RUN/best/model.safetensors) and of RUN/model.pte.
Latency is the median of --runs single-image calls after --warmup calls, at the model's input size: float eager
PyTorch (the checkpoint in eval mode under inference_mode) vs the .pte through executorch's Python runtime, both
with as many threads as the ExecuTorch threadpool XNNPACK runs on (fixed at start-up: this machine's cores). The
two are timed alternately, call by call, so that a change in background load hits both alike. Test mIoU and pixel
agreement come from RUN/quantization.json, which `segaudit quantize` measured on the whole test split (the
agreement needs the Python int8 model, which lives only during quantization).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.app.cli.table import format_table  # noqa: E402
from segaudit.models.checkpoint import WEIGHTS_FILE, load_checkpoint  # noqa: E402
from segaudit.models.quantize.report import REPORT_FILE, Latency, executorch_thread_count  # noqa: E402
from segaudit.models.runtime import Segmenter  # noqa: E402


def interleaved_latency(first: Callable[[], object], second: Callable[[], object], runs: int, warmup: int,
                        threads: tuple[int, int]) -> tuple[Latency, Latency]:
    """Latency of two calls timed alternately: (first, second), each over `runs` calls after `warmup`."""
    times: tuple[list[float], list[float]] = ([], [])
    for step in range(warmup + runs):
        for call, sink in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            call()
            if step >= warmup:
                sink.append((time.perf_counter() - start) * 1000.0)
    return tuple(Latency(median_ms=round(statistics.median(t), 3), p10_ms=round(float(np.percentile(t, 10)), 3),
                         p90_ms=round(float(np.percentile(t, 90)), 3), runs=runs, warmup=warmup, threads=n)
                 for t, n in zip(times, threads, strict=True))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder quantized by `segaudit quantize`")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per model (>= 50; default 100)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.runs < 50:
        parser.error("--runs must be at least 50")
    report_path = args.run / REPORT_FILE
    if not report_path.is_file():
        parser.error(f"{report_path} is missing: run `segaudit quantize --run {args.run} --data DIR` first")
    report = json.loads(report_path.read_text())
    checkpoint = Path(report["float_checkpoint"])
    if not checkpoint.is_dir():
        checkpoint = args.run / "best"

    threads = executorch_thread_count() or torch.get_num_threads()
    torch.set_num_threads(threads)
    float_model, config = load_checkpoint(checkpoint)
    program = Segmenter(args.run / "model.pte")
    size = int(config["image_size"])
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        float_latency, pte_latency = interleaved_latency(lambda: float_model(x), lambda: program.logits(x),
                                                         args.runs, args.warmup, (threads, threads))

    float_bytes = (checkpoint / WEIGHTS_FILE).stat().st_size
    pte_bytes = (args.run / "model.pte").stat().st_size
    speedup = float_latency.median_ms / pte_latency.median_ms
    drop = 100 * (report["miou_float"] - report["miou_pte"])
    print(f"{report['model']}{' ' + json.dumps(report['model_cfg']) if report['model_cfg'] else ''} at "
          f"{size}x{size}, int8 by {report['method'].upper()} "
          f"(int8: {', '.join(p or 'whole model' for p in report['quantized_parts'])}); "
          f"{report['test_images']} test images")
    print(f"CPU: {cpu_name()}, {threads} thread(s); torch "
          f"{torch.__version__}, executorch {report['provenance']['versions'].get('executorch', '?')}")
    rows = [
        ["size (bytes)", float_bytes, pte_bytes, f"{float_bytes / pte_bytes:.2f}x smaller"],
        [f"median CPU latency, ms ({args.runs} runs)", float_latency.median_ms, pte_latency.median_ms,
         f"{speedup:.2f}x faster"],
        ["test mIoU", round(report["miou_float"], 4), round(report["miou_pte"], 4), f"{-drop:+.2f} points"],
        ["pixel agreement, .pte vs Python int8", "-", round(report["agreement_pte_vs_int8"], 5),
         f"{report['agreement_pixels']} pixels"],
    ]
    print(format_table(["", "float (eager PyTorch)", "int8 .pte (ExecuTorch)", ""], rows))
    if args.json:
        print(json.dumps({"float_bytes": float_bytes, "pte_bytes": pte_bytes, "float_latency": asdict(float_latency),
                          "pte_latency": asdict(pte_latency), "speedup": round(speedup, 2),
                          "miou_float": report["miou_float"], "miou_pte": report["miou_pte"],
                          "miou_int8": report["miou_int8"], "agreement": report["agreement_pte_vs_int8"]},
                         indent=2, default=str))


if __name__ == "__main__":
    main()
