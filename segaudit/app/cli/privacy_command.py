"""`segaudit privacy`: membership-inference audit of a model, a thin layer over audit.privacy."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.app.cli.settings import default, given
from segaudit.app.cli.table import format_table
from segaudit.audit.privacy.config import EXECUTORS, PrivacyConfig
from segaudit.core.errors import InputError

DESCRIPTION = """\
Can someone who holds the shipped model tell whether a given person's photo was in its training set?

Threat model: the attacker has the model file (a .pte, queried like the app queries it: per-pixel class
probabilities, or with --label-only the predicted mask only) and photos with masks from the same population.
Members are the images of --members-split (what the model was trained on), non-members those of
--nonmembers-split; --population-split (default val) holds the attacker's other photos.

Signals per image, on the image and its mirror: mean logit-scaled true-class confidence, mean loss, the
per-pixel loss map; label-only: the IoU of the predicted mask under augmentations.

Attacks (--attacks, default all that the access and --shadow-models allow):
  loss          threshold on the loss (Yeom et al. 2018)
  population    confidence against its distribution on population images (Ye et al. 2022)
  lira-offline  likelihood ratio against shadow models that did not train on the image (Carlini et al. 2022);
                needs K >= 4 (below, a per-image Gaussian has no variance left); one global variance when K < 32
  lira-online   ... and against those that did
  rmia          robust MIA with reference models, offline, mixing parameter tuned on a reference model
                (its partner left out)
  rmia-online   robust MIA with the in and the out reference models
  loss-map-cnn  a small CNN over structured loss maps, trained on shadow models (Segmentations-Leak)
  label-only    mask IoU under augmentations, calibrated by the shadows (argmax mask only)

Shadow models: K models trained with the target's recipe (the run's config.json: architecture, input size,
epochs, DP settings; found from --model, or --recipe) on random halves of members + non-members. They are
cached in --cache by a hash of everything they depend on, so a rerun trains nothing, and trained in --workers
processes with one torch thread each.

A valid game: members and non-members are first compared on every declared attribute and two image
statistics (chi-square per factor); when they differ, the game is balanced by stratified subsampling, because
an attack would otherwise find the data mix (a skewed training split against a balanced test split), not
membership. The raw figures are reported beside.

The rating is a test (alpha 0.05 family-wise, Bonferroni over 2 claims per attack): per attack the AUC with
DeLong bounds and the TPR at 1% FPR with a threshold fixed on one half of the game and Clopper-Pearson bounds
on the other (excess = TPR lower - FPR upper). high: AUC lower >= 0.75 or excess >= 19 points; medium: >= 0.60
or >= 4 points; low: AUC lower > 0.5 or excess > 0; none: every AUC upper < 0.55 (and TPR upper < 5%);
otherwise inconclusive, with the
smallest AUC / TPR the audit detects at 80% power for its sizes. Its false alarms and power are measured by
benchmarks/privacy_rating.py (README).

Beside it, with shadows: leave-one-shadow-out (each shadow plays the target, K x P trials: the recipe's leak,
resolving 0.1% FPR) and a composition-only null control (the real labels on images no model saw: an AUC above
0.5 there is the data mix). Per subgroup (>= --min-group members and non-members): AUC with its CI and
Cochran's Q test of whether groups differ, Holm-adjusted. For a valid DP lower bound use `segaudit dp-audit`
(one-run canary audit). --compare audits more models (e.g. the float checkpoint, the int8 .pte, a DP-SGD run)
on the same data and attacks into comparison.csv.

Where shadows train: --executor local (default) trains them in --workers processes on this machine; --executor
ray runs each shadow as a task on the Ray cluster at --ray-address (default $RAY_ADDRESS; without either, a Ray
started on this machine for the run). Same seeds, same cache keys, byte-identical results. Needs the extra
segaudit[ray]; the package and --cache must be on a filesystem every node shares, at the same path (checked on
every node before scheduling). A task whose process or node dies is re-run (3 times).

Writes OUT/privacy.json, OUT/roc.png (log-log ROC), OUT/comparison.csv and OUT/scores.csv, atomically.
Exit code 0 whatever the risk (the gate judges it), 2 on bad input, 4 when shadow models failed for good on
the cluster (the others are cached: rerun to resume)."""

EPILOG = """\
examples:
  segaudit privacy --model runs/sinet/model.pte --data data/people --shadow-models 8 --out reports/privacy
  segaudit privacy --model runs/sinet --data data/people --attacks loss,lira-online --seed 1 --out reports/p1
  segaudit privacy --model runs/sinet/model.pte --data data/people --label-only --out reports/p-label
  segaudit privacy --model runs/sinet/model.pte --data data/people --compare float=runs/sinet \\
      --compare dp-sgd=runs/sinet-dp --out reports/privacy
  RAY_ADDRESS=head:6379 segaudit privacy --model runs/sinet/model.pte --data /shared/people \\
      --cache /shared/shadows --shadow-models 64 --executor ray --out reports/privacy"""


# options whose default is PrivacyConfig's (None here: given or not)
OVERRIDES = ("members_split", "nonmembers_split", "population_split", "shadow_models", "shadow_epochs",
             "shadow_steps_per_epoch", "bootstrap", "confidence", "alpha", "balance", "leave_one_out", "min_group",
             "seed", "workers", "device", "executor", "ray_address")


def _d(name: str) -> object:
    return default(PrivacyConfig, name)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("privacy", help="membership-inference attacks, exposure and risk (privacy audit)",
                            description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_argument_group("input")
    source.add_argument("--model", type=Path, required=True,
                        help="the target: a .pte program, a checkpoint folder or a run folder (RUN/best)")
    source.add_argument("--data", type=Path, required=True, help="dataset package folder")
    source.add_argument("--recipe", type=Path, default=None,
                        help="the target run's config.json, when it cannot be found from --model")
    source.add_argument("--members-split", help=f"split the target was trained on ({_d('members_split')})")
    source.add_argument("--nonmembers-split", help=f"split it never saw ({_d('nonmembers_split')})")
    source.add_argument("--population-split",
                        help=f"the attacker's other photos; 'none' for none ({_d('population_split')})")
    attack = p.add_argument_group("attacks")
    attack.add_argument("--attacks", type=_names, default=None, metavar="A,B",
                        help="attacks to run (default: all the access and --shadow-models allow)")
    attack.add_argument("--label-only", action="store_true",
                        help="the attacker sees only the predicted mask: run label-only attacks only")
    attack.add_argument("--shadow-models", type=int,
                        help=f"shadow models K (default {_d('shadow_models')}; 0: none)")
    attack.add_argument("--shadow-epochs", type=int, default=None,
                        help="override the recipe's epochs for shadows (cheaper, weaker attack; recorded)")
    attack.add_argument("--shadow-steps-per-epoch", type=int, default=None,
                        help="override the recipe's steps per epoch for shadows")
    attack.add_argument("--cache", type=Path, default=None,
                        help="shadow cache folder (default $SEGAUDIT_CACHE/shadows or ~/.cache/segaudit/shadows)")
    attack.add_argument("--device", default=None,
                        help=f"where shadows train and checkpoints are queried: cpu, cuda or cuda:N (default "
                             f"{_d('device')}; a .pte target runs on the CPU, as on a phone)")
    attack.add_argument("--workers", type=int, default=None,
                        help="processes training shadows (default: min(K, cores)); results do not depend on it")
    add_executor_options(attack)
    stats = p.add_argument_group("statistics")
    stats.add_argument("--bootstrap", type=int, help=f"bootstrap resamples of the AUC CI ({_d('bootstrap')})")
    stats.add_argument("--confidence", type=float, help=f"confidence of the raw AUC CI ({_d('confidence')})")
    stats.add_argument("--alpha", type=float,
                       help=f"the rating's family-wise false-alarm rate (default {_d('alpha')})")
    stats.add_argument("--no-balance", dest="balance", action="store_const", const=False, default=None,
                       help="rate the raw game even when members and non-members differ in composition")
    stats.add_argument("--no-leave-one-out", dest="leave_one_out", action="store_const", const=False,
                       default=None, help="skip leave-one-shadow-out and the null control")
    stats.add_argument("--min-group", type=int,
                       help=f"members and non-members a subgroup needs for its AUC (default {_d('min_group')})")
    stats.add_argument("--seed", type=int, help=f"seed of shadows, splits and resampling (default {_d('seed')})")
    out = p.add_argument_group("output")
    out.add_argument("--compare", action="append", type=_labelled, default=[], metavar="LABEL=MODEL",
                     help="also audit MODEL (same data and attacks) into comparison.csv (repeatable)")
    out.add_argument("--out", type=Path, required=True,
                     help="output folder (new, empty, or a previous privacy output, which is replaced)")
    out.add_argument("--no-plots", action="store_true", help="skip roc.png")
    p.set_defaults(handler=run_privacy)


def run_privacy(args: argparse.Namespace) -> int:
    from segaudit.audit.privacy import run_privacy_audit, write_outputs

    config = privacy_config(args)
    labels = [label for label, _ in args.compare]
    if len(set(labels)) != len(labels) or "target" in labels:
        raise InputError(f"--compare labels must be unique and not 'target', got {labels}", field="--compare")
    result = run_privacy_audit(args.model, args.data, config, recipe=args.recipe, progress=True)
    compared = {label: run_privacy_audit(model, args.data, config, progress=True) for label, model in args.compare}
    write_outputs(result, args.out, compared, plots=not args.no_plots)
    _print_summary(result, compared)
    print(f"wrote {args.out}/privacy.json, comparison.csv, scores.csv" + ("" if args.no_plots else ", roc.png"))
    return 0


def add_executor_options(group: argparse._ArgumentGroup) -> None:
    """--executor and --ray-address (shared by privacy, audit and demo)."""
    group.add_argument("--executor", choices=EXECUTORS, default=None,
                       help=f"where shadow models train and the target is queried (with segaudit audit, also "
                            f"the fairness inference): local processes or tasks on a Ray cluster "
                            f"({_d('executor')}; ray needs the extra segaudit[ray])")
    group.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                       help="the Ray cluster of --executor ray (default $RAY_ADDRESS; without it, a Ray started on "
                            "this machine)")


def privacy_config(args: argparse.Namespace) -> PrivacyConfig:
    """PrivacyConfig's defaults with the options given on the command line on top."""
    settings = given(args, OVERRIDES)
    if str(settings.get("population_split", "")).lower() == "none":  # the word, not an option left out
        settings["population_split"] = None
    return PrivacyConfig(**settings, attacks=args.attacks, label_only=args.label_only, cache_dir=args.cache)


def _print_summary(result, compared: dict) -> None:
    print(f"{result.members} members, {result.nonmembers} non-members, {result.shadows.get('count', 0)} shadow "
          f"models ({result.shadows.get('from_cache', 0)} from the cache)")
    levels = {a["name"]: a["level"] for a in result.rating.get("attacks", [])}
    rows = [[a.name, a.auc, f"{a.auc_ci[0]:.3f}-{a.auc_ci[1]:.3f}", 100 * a.tpr_at_fpr["0.01"],
             100 * a.tpr_at_fpr["0.001"], a.advantage, levels.get(a.name, "not rated")] for a in result.attacks]
    print("raw game:")
    print(format_table(["attack", "AUC", "95% CI", "TPR@1%FPR %", "TPR@0.1%FPR %", "advantage", "rated"], rows))
    loo = result.leave_one_out.get("attacks", [])
    if loo:
        print("leave-one-shadow-out (the recipe):")
        print(format_table(["attack", "trials", "AUC", "TPR@1%FPR %", "TPR@0.1%FPR %"],
                           [[r["name"], r["trials"], r["auc"], 100 * r["tpr_at_fpr"]["0.01"],
                             100 * r["tpr_at_fpr"]["0.001"]] for r in loo]))
    print(f"risk: {result.risk_level}: {result.risk_reason}")
    for note in result.notes:
        print(f"- {note}")
    for label, other in compared.items():
        print(f"compared {label} ({other.target['format']}): risk {other.risk_level}: {other.risk_reason}")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated attack names")
    return names


def _labelled(text: str) -> tuple[str, Path]:
    label, sep, model = text.partition("=")
    if not sep or not label.strip() or not model.strip():
        raise argparse.ArgumentTypeError(f"expected LABEL=MODEL (e.g. dp-sgd=runs/sinet-dp), got {text!r}")
    return label.strip(), Path(model.strip())
