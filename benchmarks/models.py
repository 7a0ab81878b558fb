"""Print the bundled models' figures: parameters, size, float CPU latency, and (for trained runs) test mIoU.

    python benchmarks/models.py                          # every model, latency at 256x256
    python benchmarks/models.py --runs runs/alisnet runs/sinet --data reports/synthetic

Latency is the median of --repeats single-image forward passes in eval mode after --warmup passes, float
eager PyTorch on this machine's CPU with --threads intra-op threads. Test mIoU and training minutes come from
each run folder's best checkpoint (evaluated on --data's test split) and result.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.app.cli.table import format_table  # noqa: E402
from segaudit.models.registry import MODELS, build, count_parameters  # noqa: E402


def latency_ms(model: torch.nn.Module, size: int, warmup: int, repeats: int) -> float:
    x = torch.randn(1, 3, size, size)
    model.eval()
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="models to time (default: all)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", nargs="*", type=Path, default=[], help="trained run folders")
    parser.add_argument("--data", type=Path, default=None, help="package whose test split scores the runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    rows = []
    for name in args.models:
        model = build(name, num_classes=2)
        params = count_parameters(model)
        rows.append([name, params, round(params * 4 / 1e6, 2), round(latency_ms(model, args.size, args.warmup,
                                                                                 args.repeats), 1)])
    print(format_table(["model", "parameters", "size MB (fp32)", f"latency ms @{args.size}"], rows))
    if args.runs:
        from segaudit.models.train import evaluate_checkpoint

        run_rows = []
        for run in args.runs:
            result = json.loads((run / "result.json").read_text())
            config = json.loads((run / "config.json").read_text())
            scores = evaluate_checkpoint(run / "best", args.data, split="test")
            run_rows.append([run.name, config["model"], round(scores.miou * 100, 2), result["minutes"],
                             result["epochs_run"], result["stopped"]])
        print()
        print(format_table(["run", "model", "test mIoU %", "train minutes", "epochs", "stopped by"], run_rows))


if __name__ == "__main__":
    main()
