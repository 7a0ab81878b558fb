"""Shadow models on Ray against the local pool, and what K = 64 / 256 would take on a cluster.

    python benchmarks/scale.py --work /tmp/scale-bench [--shadows 8] [--per-shadow-minutes 24]

On this machine: synthesize a small package (24 images at 64 px), train a tiny SINet target (32 px), then train
and query the same K shadows (default 8) twice from a cold cache: in the local spawn pool (--workers processes,
one torch thread each) and as Ray tasks on a Ray started here with as many CPUs (its start-up timed apart; with
$RAY_ADDRESS set, that cluster is used instead). Prints both wall times, their ratio (Ray's overhead), whether the
signals files are byte-identical, and the measured cost of one shadow in core-seconds (pool wall x workers / K).

Projection: K shadows on N nodes of C cores each take ceil(K / (N x C)) rounds of one shadow's wall time (one
shadow per core, as both executors run them) plus Ray's measured cost per round, plus Ray's start-up; printed for
K = 64 and 256 from the measured per-shadow cost, and from --per-shadow-minutes (one ALiSNet shadow at the
demo's recipe: about 24 core-minutes on this CPU) when given. Timings depend on the machine; tests never assert them.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

# benchmarks/models.py would shadow the models package: the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECIPE = {"model": "sinet", "size": 32, "epochs": 3, "batch_size": 8, "lr": 5e-3, "early_stop_patience": 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (replaced)")
    parser.add_argument("--shadows", type=int, default=8, help="K measured on this machine (8)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local processes = Ray CPUs")
    parser.add_argument("--cores-per-node", type=int, default=16, help="C of the projection (16)")
    parser.add_argument("--nodes", default="1,4,16,64", help="N of the projection (1,4,16,64)")
    parser.add_argument("--per-shadow-minutes", type=float, default=None,
                        help="also project from this per-shadow cost (core-minutes), e.g. 24 for ALiSNet")
    args = parser.parse_args()

    import ray

    from segaudit.audit.privacy import PrivacyConfig
    from segaudit.audit.privacy.audit import plan_audit, plan_shadows_for
    from segaudit.audit.privacy.executors import RaySettings
    from segaudit.audit.privacy.shadows import run_shadows
    from segaudit.audit.privacy.target import read_recipe, read_trained
    from segaudit.models.data.package import load_package
    from segaudit.models.data.synth import synthesize
    from segaudit.models.train import TrainConfig, train

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    people = synthesize(args.work / "people", n=24, seed=0, size=64, split_fractions=(10 / 24, 4 / 24, 10 / 24),
                        workers=1)
    train(people, args.work / "run", TrainConfig(**RECIPE))
    recipe = args.work / "run" / "config.json"
    package = load_package(people)

    def plan(cache: Path):
        config = PrivacyConfig(shadow_models=args.shadows, attacks=("rmia", "lira-online"), cache_dir=cache)
        jobs, inclusion, _ = plan_shadows_for(package, plan_audit(package, config), config, read_recipe(recipe),
                                              read_trained(recipe))
        return jobs, inclusion

    started = time.perf_counter()
    run_shadows(*plan(args.work / "local"), args.workers)
    local = time.perf_counter() - started

    started = time.perf_counter()
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], logging_level="WARNING", log_to_driver=False)
    else:
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    ray_start = time.perf_counter() - started
    try:
        started = time.perf_counter()
        run_shadows(*plan(args.work / "ray"), None, ray=RaySettings())
        on_ray = time.perf_counter() - started
    finally:
        ray.shutdown()

    identical = _signals(args.work / "local") == _signals(args.work / "ray")
    per_shadow = local * args.workers / args.shadows  # core-seconds of one shadow, one thread
    per_task = max(0.0, on_ray - local) / math.ceil(args.shadows / args.workers)  # Ray's cost per round of tasks
    print(f"K = {args.shadows} tiny SINet shadows (32 px, {RECIPE['epochs']} epochs, 10 training images), "
          f"{args.workers} cores:")
    print(f"  local pool ({args.workers} processes): {local:.1f} s")
    print(f"  Ray ({args.workers} CPUs): {on_ray:.1f} s after {ray_start:.1f} s of start-up; overhead ratio "
          f"{on_ray / local:.2f} (with start-up {(on_ray + ray_start) / local:.2f})")
    print(f"  signals byte-identical: {'yes' if identical else 'NO'}")
    print(f"  one shadow: {per_shadow:.1f} core-seconds (pool wall x workers / K); Ray adds {per_task:.1f} s per "
          "round of tasks")
    costs = [("tiny SINet (measured)", per_shadow)]
    if args.per_shadow_minutes:
        costs.append((f"{args.per_shadow_minutes:g} core-min per shadow", args.per_shadow_minutes * 60))
    nodes = [int(n) for n in args.nodes.split(",")]
    for label, seconds in costs:
        print(f"\nprojected wall time, {label}, {args.cores_per_node} cores per node, one shadow per core, "
              f"+{ray_start:.0f} s Ray start-up:")
        print("| K | " + " | ".join(f"{n} node{'s' if n > 1 else ''}" for n in nodes) + " |")
        print("|---|" + "---|" * len(nodes))
        for k in (64, 256):
            cells = [_duration(math.ceil(k / (n * args.cores_per_node)) * (seconds + per_task) + ray_start)
                     for n in nodes]
            print(f"| {k} | " + " | ".join(cells) + " |")


def _signals(cache: Path) -> dict[str, bytes]:
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in sorted(cache.glob("*/signals-*.npz"))}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


if __name__ == "__main__":
    main()
