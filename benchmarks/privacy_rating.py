"""Operating characteristics of the membership-inference rating (audit/privacy/rating.py), by seeded simulation.

    python benchmarks/privacy_rating.py              # 500 simulated audits per row, about four minutes
    python benchmarks/privacy_rating.py --reps 200   # quicker, coarser

Each simulated audit has m attacks whose scores are correlated (rho, as attacks on the same signals are):
score_ij = d * member_i + sqrt(rho) u_i + sqrt(1 - rho) e_ij with u, e standard normal, so every attack has
the true AUC Phi(d / sqrt 2). Printed as Markdown tables (the README carries them):

1. the rule's levels by true AUC and sizes: false alarms under the null (AUC 0.5: any level above
   inconclusive), behaviour exactly at the margins (AUC 0.55: how often "none" is claimed; AUC 0.60: how often
   "medium"), power against AUC 0.55 / 0.60 / 0.70;
2. coverage of the DeLong 95 % interval at small sizes;
3. a composition shift without membership (members skewed to the tones the model is worse on): how often the
   raw game and the balanced game are rated a leak.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from segaudit.audit.privacy import rating
from segaudit.audit.privacy.attacks import AttackOutput
from segaudit.audit.privacy.audit import judge_game
from segaudit.audit.privacy.config import PrivacyConfig
from segaudit.audit.privacy.result import AttackResult
from segaudit.models.data.spec import spec_from_dict

# (label, members, non-members, attacks): the bundled ALiSNet audit raw and balanced, the README's SINet
# benchmark, the quick demo, and one leave-one-shadow-out pool (K = 8 shadows over 3,500 images)
SIZES = [("bundled audit, raw game", 3000, 500, 6), ("bundled audit, balanced game", 1390, 387, 6),
         ("SINet benchmark", 48, 48, 8), ("quick demo", 150, 150, 5), ("large (LOO-sized)", 7000, 7000, 6)]
AUCS = (0.5, 0.55, 0.6, 0.7)
TONES = [f"monk_{i:02d}" for i in range(1, 11)]


def simulate(rng: np.random.Generator, auc: float, n1: int, n0: int, attacks: int, rho: float) -> dict[str, np.ndarray]:
    shift = np.sqrt(2) * stats.norm.ppf(auc)
    member = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    shared = rng.normal(size=n1 + n0)
    return {f"attack{j}": shift * member + np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=n1 + n0)
            for j in range(attacks)}


def levels_table(reps: int, rho: float, seed: int) -> pd.DataFrame:
    rows = []
    for label, n1, n0, attacks in SIZES:
        member = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
        for auc in AUCS:
            rng = np.random.default_rng([seed, n1, n0, int(auc * 1000)])
            counts = dict.fromkeys(rating.LEVELS, 0)
            detectable = None
            for rep in range(reps):
                result = rating.rate(simulate(rng, auc, n1, n0, attacks, rho), member, seed=rep)
                counts[result.level] += 1
                detectable = result.detectable_auc
            share = {k: v / reps for k, v in counts.items()}
            rows.append({"sizes": f"{label}: {n1}/{n0}, {attacks} attacks", "true AUC": auc,
                         "none": share["none"], "inconclusive": share["inconclusive"],
                         "low or above": share["low"] + share["medium"] + share["high"],
                         "medium or above": share["medium"] + share["high"], "detectable AUC": detectable})
    return pd.DataFrame(rows)


def coverage_table(reps: int, seed: int) -> pd.DataFrame:
    rows = []
    z = stats.norm.ppf(0.975)
    for n in (24, 48, 150, 500):
        for auc in (0.5, 0.7, 0.9):
            rng = np.random.default_rng([seed, n, int(auc * 1000)])
            member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
            covered = 0
            for _ in range(reps):
                scores = simulate(rng, auc, n, n, 1, 0.0)["attack0"]
                estimate, se = rating.delong(scores, member)
                covered += estimate - z * se <= auc <= estimate + z * se
            rows.append({"members = non-members": str(n), "true AUC": auc,
                         "coverage of the 95 % interval": covered / reps})
    return pd.DataFrame(rows)


def shift_table(reps: int, seed: int) -> pd.DataFrame:
    spec = spec_from_dict({"name": "x", "version": "1", "description": "d", "license": "l", "provenance": "p",
                           "classes": {0: "background", 1: "person"},
                           "attributes": {"skin_tone": {"kind": "ordinal", "values": TONES, "sensitive": True,
                                                        "source": "synthetic"}}})
    rows = []
    for effect in (0.5, 1.0):
        rng = np.random.default_rng([seed, int(effect * 10)])
        raw = balanced = 0
        for rep in range(reps):
            n1, n0 = 3000, 500
            dark = rng.random(n1 + n0) < np.r_[np.full(n1, 0.046), np.full(n0, 0.3)]
            tones = np.where(dark, rng.choice(TONES[7:], n1 + n0), rng.choice(TONES[:7], n1 + n0))
            member = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
            scores = rng.normal(size=n1 + n0) - effect * dark
            results = [AttackResult.measure("loss", AttackOutput(scores=scores), member, 100, 0.95, 0)]
            judged = judge_game(pd.DataFrame({"skin_tone": tones}), spec, member, None, results,
                                PrivacyConfig(seed=rep))
            raw += judged.raw_rating["level"] in ("low", "medium", "high")
            balanced += judged.rating["level"] in ("low", "medium", "high")
        rows.append({"dark tones' score shift (SD)": effect, "raw game rated a leak": raw / reps,
                     "balanced game rated a leak": balanced / reps})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=500, help="simulated audits per row (default 500)")
    parser.add_argument("--rho", type=float, default=0.7, help="correlation between attacks (default 0.7)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"## Rating levels by true AUC ({args.reps} audits per row, attacks correlated rho = {args.rho})\n")
    print(levels_table(args.reps, args.rho, args.seed).to_markdown(index=False, floatfmt=".3f"))
    print(f"\n## DeLong 95 % interval coverage ({args.reps} samples per row)\n")
    print(coverage_table(args.reps, args.seed).to_markdown(index=False, floatfmt=".3f"))
    shift_reps = max(50, args.reps // 2)
    print(f"\n## Composition shift without membership ({shift_reps} audits per row, 3000 members with 4.6 % dark "
          "tones against 500 non-members with 30 %)\n")
    print(shift_table(shift_reps, args.seed).to_markdown(index=False, floatfmt=".3f"))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
