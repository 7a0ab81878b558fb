"""`segaudit dp-audit`: a lower bound on a training recipe's epsilon from one run with canaries, a thin layer over
audit.privacy.canary."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.app.cli.settings import default, given
from segaudit.audit.privacy.canary import DEFAULT_CANARIES, KINDS, CanaryConfig
from segaudit.core.errors import InputError

DESCRIPTION = """\
How much does a training recipe provably leak about one training image? A lower bound on its DP epsilon,
from ONE extra training run (Steinke, Nasr & Jagielski 2023, "Privacy auditing with one (1) training run").

Two kinds of canaries (--kind):

images (default; any recipe, black-box: the auditor sees only the trained model). Takes --canaries images the
recipe never trains on (--canary-split), mirrors each one's mask (the person labelled where their mirror image
would stand: a label only memorising that image can fit), flips a fair coin per canary to put it into the
training set or not, trains the recipe (--recipe, a run's config.json, with its DP-SGD settings if it has any)
once on its training images plus the chosen canaries, and then guesses from the trained model which canaries
were in: "in" for the ones whose mirrored mask it finds most likely, "out" for the least likely, abstaining on
the rest. What an outside attacker could do; on small models weak (a DP-SGD run at epsilon 8 gives 0).

gradients (DP-SGD recipes only, white-box: the auditor sees every noisy gradient of the run). Draws --canaries
random coordinates of the model's parameters; each canary is an extra example whose clipped gradient is the
clipping norm on its coordinate, put into the run on a fair coin and then Poisson-sampled into each step like
every example, before Opacus adds the noise. The guess ranks the canaries by the sum of the noisy gradients at
their coordinates. This is the strongest adversary DP-SGD's guarantee covers, so it is the audit of the DP
implementation and its accountant (a SINet recipe at epsilon 8 gives about 1.6-2.6; see the README).

Why the bound is valid: if training is (epsilon, delta)-DP, each guess is right with probability at most
e^eps / (1 + e^eps), whatever the data, model and scoring. So many right guesses are unlikely under every small
epsilon; the bound is the largest epsilon still rejected at --confidence (the binomial tail, plus the paper's
delta term). The guess counts are a small grid fixed beforehand and the best one is reported with a Bonferroni
correction, so choosing it does not inflate the confidence. A membership-inference audit (`segaudit privacy`)
cannot give such a bound: its members and non-members are fixed splits, not coin flips, so its figures
describe one attack on one model, not the training procedure.

How to read it: "epsilon >= 1.2 at 95 %" means the recipe is not (1.2, delta)-DP, with 95 % confidence over the
coin flips. For a DP-SGD recipe the bound must stay below the epsilon its accountant spent (printed beside it);
a bound above it would reveal a bug in the DP implementation or its accounting. A bound below it is normal:
one run sees only part of the worst case, and even when every guess is right the bound cannot exceed about
ln(m / 5) with m canaries (4.0 with 256, 7.0 with 5,000), nor, at delta 1e-5, about 6.5 however many. For a
recipe without DP any bound > 0 is measured leakage; 0 means this audit found none, not that there is none.

Writes --out (JSON: the bound, m, r, v, the guess grid, every canary's score and coin) atomically and prints
one line. Exit code 0, 2 on bad input (the file or field named)."""

EPILOG = """\
examples:
  segaudit dp-audit --recipe runs/sinet-dp/config.json --data data/people --out reports/dp-audit.json
  segaudit dp-audit --kind gradients --recipe runs/sinet-dp/config.json --data data/people \\
      --out reports/dp-audit-white-box.json
  segaudit dp-audit --recipe runs/sinet/config.json --data data/people --canaries 512 --seed 1 \\
      --work runs/dp-audit --out reports/dp-audit-sinet.json"""

OVERRIDES = ("kind", "canaries", "canary_split", "confidence", "seed")


def _d(name: str) -> object:
    return default(CanaryConfig, name)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("dp-audit", help="lower bound on a recipe's DP epsilon from one run with canaries",
                            description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, required=True, help="the training recipe: a run's config.json")
    p.add_argument("--data", type=Path, required=True, help="the dataset package the recipe trains on")
    p.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    p.add_argument("--kind", choices=KINDS, help=f"canary images (black-box, any recipe) or Dirac gradient "
                                                 f"canaries (white-box, DP-SGD recipes) (default {_d('kind')})")
    p.add_argument("--canaries", type=int, help=f"canaries m (default {DEFAULT_CANARIES['images']} images, fewer "
                                                "when the canary split holds fewer; "
                                                f"{DEFAULT_CANARIES['gradients']} gradient canaries)")
    p.add_argument("--canary-split", help=f"split the canary images come from, never trained on by the recipe "
                                          f"(default {_d('canary_split')})")
    p.add_argument("--confidence", type=float, help=f"confidence of the bound (default {_d('confidence')})")
    p.add_argument("--seed", type=int, help=f"seed of the canary choice and coin flips (default {_d('seed')})")
    p.add_argument("--work", type=Path, default=None,
                   help="keep the audit's dataset package and training run in a new folder inside WORK "
                        "(default: a temporary folder, removed)")
    p.set_defaults(handler=run_dp_audit)


def run_dp_audit(args: argparse.Namespace) -> int:
    from segaudit.audit.privacy.canary import run_canary_audit
    from segaudit.core.atomic import json_text, write_atomic

    config = CanaryConfig(**given(args, OVERRIDES))
    if args.out.is_dir():  # found before the training run, not after it
        raise InputError("is a folder; --out is the JSON file to write", path=args.out, field="--out")
    result = run_canary_audit(args.recipe, args.data, config, work_dir=args.work)
    write_atomic(args.out, json_text(result.to_dict()))
    print(result.summary())
    print(f"wrote {args.out}")
    return 0
