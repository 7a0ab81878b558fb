"""Time `synthesize`: images per second for the embedded synthetic dataset.

    .venv/bin/python benchmarks/synth_speed.py --n 2000 --size 128 --workers 2 --repeat 2

Writes into a temporary folder (deleted afterwards) and prints the machine load next to the timing, since
other processes sharing the CPU slow it down.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.models.data.synth import synthesize  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="images to generate (default 2000)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--label-set", default="person", choices=("person", "fashion"))
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"cores: {os.cpu_count()}  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for run in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="synth-speed-") as tmp:
            start, cpu = time.perf_counter(), time.process_time()
            synthesize(Path(tmp) / "data", n=args.n, seed=args.seed, size=args.size, label_set=args.label_set,
                       workers=args.workers)
            elapsed = time.perf_counter() - start
        print(f"run {run}: {args.n} images at {args.size}px with workers={args.workers or 'auto'}: "
              f"{elapsed:.2f} s total, {args.n / elapsed:.1f} images/s "
              f"(parent CPU {time.process_time() - cpu:.2f} s; load average now "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
