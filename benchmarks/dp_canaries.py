"""What the one-run canary audit (segaudit dp-audit) bounds on DP-SGD runs, white-box and black-box, and whether
it catches a DP bug.

    OMP_NUM_THREADS=1 python benchmarks/dp_canaries.py --work /tmp/dp-canaries [--seeds 2]

The recipe and data are benchmarks/privacy.py's: SINet at 64 px, 20 epochs, batch 16, on the 48 training images
of the synthetic 64-px package (104 images). For each target epsilon (delta 1e-5) the recipe trains once per seed
with 5,000 Dirac gradient canaries (white-box: the auditor sees every noisy gradient), and the bound at 95 % is
printed beside the epsilon the accountant spent. Then, for contrast:

- a DP bug on purpose: Opacus adding a twentieth of the noise its accountant charges for, at epsilon 1: a sound
  audit must give a bound above the claimed epsilon;
- black-box canary images (the 48 test images with mirrored masks; the auditor sees only the final model) at
  epsilon 8 and without DP.

Prints one Markdown table (and each run's wall time). Bounds depend on the seeds, not on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

# benchmarks/models.py would shadow the models package: the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECIPE = {"model": "sinet", "size": 64, "epochs": 20, "batch_size": 16, "lr": 5e-3, "weight_decay": 0.0,
          "early_stop_patience": 1000, "lr_patience": 1000}
EPSILONS = (1.0, 2.0, 4.0, 8.0)
GRADIENT_CANARIES = 5000


@contextlib.contextmanager
def fraction_of_the_noise(fraction: float) -> Iterator[None]:
    """Opacus adds `fraction` of the noise its accountant charges for (a DP bug made on purpose)."""
    import opacus.optimizers.optimizer as dp_optimizer

    generate = dp_optimizer._generate_noise
    dp_optimizer._generate_noise = lambda std, reference, **kwargs: generate(std * fraction, reference, **kwargs)
    try:
        yield
    finally:
        dp_optimizer._generate_noise = generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (replaced)")
    parser.add_argument("--seeds", type=int, default=2, help="canary draws per epsilon (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    from segaudit.audit.privacy.canary import CanaryConfig, run_canary_audit
    from segaudit.models.data.synth import synthesize
    from segaudit.models.train import TrainConfig

    shutil.rmtree(args.work, ignore_errors=True)
    n, val = 104, 8 / 104
    data = synthesize(args.work / "people", n=n, seed=0, size=64, split_fractions=((1 - val) / 2, val, (1 - val) / 2),
                      workers=1)

    def audit(label: str, recipe: dict, config: CanaryConfig) -> object:
        started = time.perf_counter()
        result = run_canary_audit(TrainConfig(**recipe), data, config)
        print(f"{label}: {result.summary()} [{time.perf_counter() - started:.0f} s]", flush=True)
        return result

    rows = []
    for epsilon in EPSILONS:
        bounds, spent = [], None
        for seed in range(args.seeds):
            result = audit(f"white-box, epsilon {epsilon:g}, seed {seed}", {**RECIPE, "dp_epsilon": epsilon},
                           CanaryConfig(kind="gradients", canaries=GRADIENT_CANARIES, seed=seed))
            bounds.append(result.epsilon_lower_bound)
            spent = result.dp_epsilon_spent
        rows.append(("DP-SGD", f"{spent:.2f}", f"gradients (white-box), m = {GRADIENT_CANARIES}", bounds))
    with fraction_of_the_noise(1 / 20):
        bug = audit("white-box, epsilon 1, a twentieth of the noise", {**RECIPE, "dp_epsilon": 1.0},
                    CanaryConfig(kind="gradients", canaries=GRADIENT_CANARIES, seed=0))
    rows.append(("DP-SGD with a bug: 1/20 of the noise", f"{bug.dp_epsilon_spent:.2f} (claimed)",
                 f"gradients (white-box), m = {GRADIENT_CANARIES}", [bug.epsilon_lower_bound]))
    for label, recipe in (("DP-SGD", {**RECIPE, "dp_epsilon": 8.0}), ("no DP", RECIPE)):
        result = audit(f"black-box, {label}", recipe, CanaryConfig(kind="images", canary_split="test", seed=0))
        spent = "-" if result.dp_epsilon_spent is None else f"{result.dp_epsilon_spent:.2f}"
        rows.append((label, spent, f"images (black-box), m = {result.m}", [result.epsilon_lower_bound]))

    print("\n| training | epsilon spent | canaries | epsilon lower bound at 95 % (median, range over seeds) |")
    print("|---|---|---|---|")
    for training, spent, canaries, bounds in rows:
        span = f" ({min(bounds):.2f}-{max(bounds):.2f})" if len(bounds) > 1 else ""
        print(f"| {training} | {spent} | {canaries} | {statistics.median(bounds):.2f}{span} |")


if __name__ == "__main__":
    main()
