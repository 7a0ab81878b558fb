"""Which bundled models become an int8 ExecuTorch program: PTQ-quantize and lower each one, or show its refusal.

    python benchmarks/export_zoo.py                       # every bundled model at 64 px
    python benchmarks/export_zoo.py --models sinet,lraspp_mobilenet_v3_large --size 128

Each model is built untrained (weights=None), saved as a run, calibrated on a few synthetic images and lowered
through the same `quantize_run` as `segaudit quantize --ptq`. The table gives the .pte size, the share of pixels
where the .pte agrees with the Python int8 model, and the wall time; a refused model shows the reason it was
given. Accuracy is meaningless here (untrained weights): this checks the export path, not quality.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.app.cli.table import format_table  # noqa: E402
from segaudit.core.errors import InputError  # noqa: E402
from segaudit.models.checkpoint import save_checkpoint  # noqa: E402
from segaudit.models.data.synth import synthesize  # noqa: E402
from segaudit.models.quantize import QuantizeConfig, quantize_run  # noqa: E402
from segaudit.models.registry import MODELS, build  # noqa: E402


def export_one(name: str, data: Path, work: Path, size: int) -> list[str]:
    run = work / name
    model = build(name, num_classes=2)
    save_checkpoint(run / "best", model, model_name=name, num_classes=2, classes={0: "background", 1: "person"},
                    image_size=size)
    started = time.perf_counter()
    try:
        report = quantize_run(run, data, QuantizeConfig(method="ptq", calibration_batches=2, batch_size=4,
                                                        latency_runs=5, latency_warmup=1))
    except InputError as error:
        return [name, "refused", "-", "-", f"{time.perf_counter() - started:.0f}", str(error)[:110]]
    return [name, "exported", f"{report.pte_bytes / 1e6:.2f}", f"{report.agreement_pte_vs_int8:.4f}",
            f"{time.perf_counter() - started:.0f}", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: all)")
    parser.add_argument("--size", type=int, default=64, help="input side in pixels (default 64)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data"
        synthesize(data, n=16, seed=0, size=args.size, split_fractions=(0.5, 0.0, 0.5), workers=1)
        for name in args.models.split(","):
            rows.append(export_one(name, data, work, args.size))
            print(" ".join(rows[-1]), flush=True)
    print()
    print(format_table(["model", "result", ".pte MB", "agreement", "seconds", "reason"], rows))


if __name__ == "__main__":
    main()
