"""`segaudit audit`: fairness + privacy + cards + report around one OUT/audit.json (the compliance review)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from segaudit.app.audit_config import AuditConfig
from segaudit.app.cli.privacy_command import add_executor_options
from segaudit.app.cli.settings import default, given
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.privacy.config import PrivacyConfig


def _a(name: str) -> object:
    return default(AuditConfig, name)


def _f(name: str) -> object:
    return default(FairnessConfig, name)


def _p(name: str) -> object:
    return default(PrivacyConfig, name)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "audit", help="the whole audit of a model: fairness, privacy, cards, report -> audit.json",
        description="Run the model (a .pte program, a checkpoint folder or a run folder) over a split of the "
        "dataset package through the same runtime a phone uses, then: overall performance (pooled mIoU with a "
        "bootstrap CI); the fairness audit of every declared attribute (see segaudit fairness); the "
        "membership-inference audit (see segaudit privacy; --no-privacy skips it); the model card from the "
        "card facts (YAML) and the audit, the dataset card, by_group.json and a self-contained report.html. "
        "Writes OUT/audit.json (docs/audit-json.md) beside OUT/fairness/, OUT/privacy/ and the cards, all at "
        "once when complete: an interrupted run leaves nothing half-written. An incomplete card is rendered as "
        "a draft with its gaps marked and recorded in audit.json (the gate's card rule decides).",
        epilog="example: segaudit audit --model runs/alisnet/model.pte --data data/people --card-facts "
        "cards/alisnet.yaml --out reports/audit && segaudit gate --audit reports/audit --policy gate.toml")
    parser.add_argument("--model", type=Path, required=True, help=".pte program, checkpoint folder or run folder")
    parser.add_argument("--data", type=Path, required=True, help="dataset package folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced if it holds an audit)")
    parser.add_argument("--card-facts", type=Path, default=None, metavar="F",
                        help="human-written model card facts (YAML, e.g. cards/alisnet.yaml); without it no model "
                        "card is written")
    parser.add_argument("--dataset-facts", type=Path, default=None, metavar="F",
                        help="human-written dataset card facts (YAML, e.g. cards/synthetic-people.yaml)")
    parser.add_argument("--split", help=f"split the fairness audit and performance use ({_a('split')})")
    parser.add_argument("--seed", type=int,
                        help=f"seed of every bootstrap and of the shadow models ({_a('seed')})")
    fair = parser.add_argument_group(
        "fairness (see segaudit fairness --help; defaults: FairnessConfig's, or the policy's with --policy)")
    fair.add_argument("--policy", type=Path, default=None, metavar="TOML",
                      help="analyse with the gate policy's fairness margin, alpha and correction (its [fairness] "
                      "table), so `segaudit gate` with the same policy judges exactly what was computed; an "
                      "option given here overrides the policy")
    fair.add_argument("--margin", type=float, help=f"largest fair shortfall, fraction ({_f('margin')})")
    fair.add_argument("--alpha", type=float, help=f"error rate of the verdicts ({_f('alpha')})")
    fair.add_argument("--correction", choices=("holm", "bh"), help=f"holm or bh ({_f('correction')})")
    fair.add_argument("--family", choices=("audit", "grouping"),
                      help=f"fail tests corrected over the whole audit or per attribute ({_f('family')})")
    fair.add_argument("--bootstrap", type=int, help=f"resamples of the trends' bootstrap ({_f('bootstrap')})")
    fair.add_argument("--intersections", default="", metavar="A:B,...",
                      help="attribute pairs to cross, e.g. skin_tone:body_shape")
    fair.add_argument("--min-group-size", type=int,
                      help="subjects (images without subject_id) a group needs to count towards a pass "
                      f"({_f('min_group_size')})")
    priv = parser.add_argument_group("privacy (see segaudit privacy --help)")
    priv.add_argument("--no-privacy", action="store_true", help="skip the membership-inference audit")
    priv.add_argument("--members-split", help=f"split the target was trained on ({_p('members_split')})")
    priv.add_argument("--nonmembers-split", help=f"split it never saw ({_p('nonmembers_split')})")
    priv.add_argument("--shadow-models", type=int, metavar="K", help=f"shadow models ({_p('shadow_models')})")
    priv.add_argument("--shadow-epochs", type=int, default=None, metavar="E",
                      help="override the recipe's epochs for shadows (cheaper, weaker attack; recorded)")
    priv.add_argument("--attacks", default=None, help="comma-separated attack names (default: all)")
    priv.add_argument("--label-only", action="store_true", help="the attacker sees only the mask")
    priv.add_argument("--recipe", type=Path, default=None, help="the target's training config.json, when it "
                      "cannot be found from --model")
    priv.add_argument("--cache", type=Path, default=None, help="shadow model cache folder")
    priv.add_argument("--workers", type=int, default=None, help="processes training shadow models side by side "
                      "(default: one per core)")
    priv.add_argument("--device", default=None, help="where the shadow models train and are queried: cpu, cuda "
                      f"or cuda:N ({_p('device')})")
    add_executor_options(priv)
    card = parser.add_argument_group("cards")
    card.add_argument("--templates", type=Path, default=None, metavar="DIR", help="your own card templates")
    card.add_argument("--card-min-group", type=int, metavar="N",
                      help=f"groups smaller than N are suppressed in published cards ({_a('card_min_group')})")
    card.add_argument("--no-report", action="store_true", help="skip report.html")
    parser.set_defaults(handler=run_audit_command)


def run_audit_command(args: argparse.Namespace) -> int:
    from segaudit.app.full_audit import run_audit

    pairs = tuple(tuple(p.split(":")) for p in args.intersections.split(",") if p.strip())
    seed = given(args, ("seed",))  # one seed for the audit, the fairness bootstrap and the shadows
    fairness = FairnessConfig(**fairness_settings(args), **seed, intersections=pairs)
    privacy = None
    if not args.no_privacy:
        privacy = PrivacyConfig(
            **given(args, ("members_split", "nonmembers_split", "shadow_models", "shadow_epochs", "workers",
                           "device", "executor", "ray_address")),
            **seed, attacks=tuple(a for a in args.attacks.split(",")) if args.attacks else None,
            label_only=args.label_only, cache_dir=args.cache)
    config = AuditConfig(**given(args, ("split", "card_min_group")), **seed, fairness=fairness, privacy=privacy,
                         facts=args.card_facts, dataset_facts=args.dataset_facts, templates=args.templates,
                         recipe=args.recipe, report=not args.no_report)
    command = shlex.join(["segaudit", *getattr(args, "argv", sys.argv[1:])])
    audit = run_audit(args.model, args.data, args.out, config, command=command, progress=True)
    _summary(audit, args.out)
    return 0


def fairness_settings(args: argparse.Namespace) -> dict:
    """One source of truth: FairnessConfig holds the defaults, a --policy file sets what it names, an option
    given on the command line overrides both."""
    settings: dict = {}
    if args.policy is not None:
        from segaudit.audit.gate import load_policy

        policy = load_policy(args.policy)
        if policy.fairness is not None:
            settings.update(margin=policy.fairness.margin, alpha=policy.fairness.alpha,
                            correction=policy.fairness.correction)
    given = {"margin": args.margin, "alpha": args.alpha, "correction": args.correction, "family": args.family,
             "bootstrap": args.bootstrap, "min_group_size": args.min_group_size}
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def _summary(audit: dict, out: Path) -> None:
    performance = audit["performance"]
    low, high = performance["miou_ci"]
    print(f"{audit['model']['name']} ({audit['model']['format']}) on {performance['n_images']} "
          f"{performance['split']} images: mIoU {100 * performance['miou']:.2f}% (95% CI {100 * low:.2f} to "
          f"{100 * high:.2f})")
    fairness = audit["fairness"]
    for scope in ("attributes", "intersections"):
        for name, result in fairness[scope].items():
            print(f"  fairness {name}: {result['verdict']}")
    if audit["privacy"]:
        print(f"  privacy: membership-inference risk {audit['privacy']['risk_level']} "
              f"({audit['privacy']['risk_reason']})")
    if audit["card"]:
        missing = audit["card"]["missing"]
        print("  model card: complete" if not missing else f"  model card: DRAFT, {len(missing)} facts missing")
    print(f"wrote {out}/audit.json and " + ", ".join(audit["outputs"].values()))
