"""Wall time of the privacy audit on the synthetic 64-px task, and the float / int8 / DP-SGD comparison.

    OMP_NUM_THREADS=1 python benchmarks/privacy.py --work /tmp/privacy-bench [--compare]

Steps (each printed with its wall time): synthesize the package (members = train, non-members = test, population
= val), train the target (sinet at 64 px), the whole audit with K = 8 shadow models (cold cache: shadow training
dominates), the same audit again (every shadow from the cache). With --compare: quantize the target to an int8
.pte (PTQ) and audit it (the float shadows are reused: same recipe), train a DP-SGD target (epsilon 8) and audit it
(its shadows are DP-SGD too: the attacker copies the recipe), and print the comparison table (Markdown) written to
WORK/comparison/comparison.csv. Timings depend on the machine; tests never assert them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

# benchmarks/models.py would shadow the models package: the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECIPE = {"model": "sinet", "size": 64, "epochs": 20, "batch_size": 16, "lr": 5e-3, "weight_decay": 0.0,
          "early_stop_patience": 1000, "lr_patience": 1000}


def timed(label: str, func, *args, **kwargs):
    started = time.perf_counter()
    value = func(*args, **kwargs)
    print(f"{label}: {time.perf_counter() - started:.1f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (replaced)")
    parser.add_argument("--n", type=int, default=104, help="images: 48 members, 8 population, 48 non-members")
    parser.add_argument("--shadows", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="shadow-training processes (default 1)")
    parser.add_argument("--compare", action="store_true", help="also the int8 .pte and a DP-SGD target")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from segaudit.audit.privacy import PrivacyConfig, comparison_table, run_privacy_audit, write_outputs
    from segaudit.models.data.synth import synthesize
    from segaudit.models.train import TrainConfig, train

    shutil.rmtree(args.work, ignore_errors=True)
    val = 8 / args.n
    data = timed("synthesize", synthesize, args.work / "people", n=args.n, seed=0, size=64,
                 split_fractions=((1 - val) / 2, val, (1 - val) / 2), workers=1)
    timed("train target (float)", train, data, args.work / "float", TrainConfig(**RECIPE))
    config = PrivacyConfig(shadow_models=args.shadows, cache_dir=args.work / "cache", workers=args.workers)
    float_result = timed(f"audit, K={args.shadows}, cold cache", run_privacy_audit, args.work / "float", data, config)
    timed(f"audit, K={args.shadows}, cached rerun", run_privacy_audit, args.work / "float", data, config)
    print(f"  float: {float_result.members} members / {float_result.nonmembers} non-members, "
          f"seconds {float_result.seconds}, risk {float_result.risk_level}")
    results = {"float": float_result}
    if args.compare:
        from segaudit.models.quantize import QuantizeConfig, quantize_run

        timed("quantize (PTQ -> .pte)", quantize_run, args.work / "float", data,
              QuantizeConfig(method="ptq", latency_runs=5))
        results["int8 .pte"] = timed("audit int8 .pte (shadows cached)", run_privacy_audit,
                                     args.work / "float" / "model.pte", data, config)
        timed("train target (DP-SGD, epsilon 8)", train, data, args.work / "dp",
              TrainConfig(**{**RECIPE, "dp_epsilon": 8.0}))
        results["DP-SGD"] = timed("audit DP-SGD (DP shadows)", run_privacy_audit, args.work / "dp", data,
                                  replace(config))
    write_outputs(float_result, args.work / "comparison", {k: v for k, v in results.items() if k != "float"},
                  label="float")
    table = comparison_table(results)
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
