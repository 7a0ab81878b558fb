"""`segaudit models`, `segaudit train` and `segaudit eval`: the bundled models and their training."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segaudit.app.cli.table import format_table
from segaudit.core.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("models", help="list the bundled models with their size",
                                  description="A table of every bundled model: parameters and float32 size "
                                  "at the given number of classes, and the seed document it comes from.")
    listing.add_argument("--classes", type=int, default=2, help="number of classes to build with (default 2)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=run_models)

    train = commands.add_parser(
        "train", help="train a bundled model on a dataset package",
        description="Train MODEL on the train split of a package, validating on its val split. The run "
        "folder gets config.json, history.csv, best/ and last/ checkpoints (safetensors + JSON) and "
        "learning_curve.png. ReduceLROnPlateau (patience 2, factor 0.1) and early stopping (patience 3) "
        "watch validation mIoU. With --dp-epsilon the run uses Opacus DP-SGD and records the epsilon spent.",
        epilog="example: segaudit train --data reports/synthetic --model alisnet --out runs/alisnet --epochs 20")
    train.add_argument("--data", type=Path, required=True, help="dataset package folder")
    train.add_argument("--model", required=True, help="model name (see `segaudit models`)")
    train.add_argument("--out", type=Path, required=True, help="run folder to create (or continue with --resume)")
    train.add_argument("--model-cfg", type=json.loads, default={}, metavar="JSON",
                       help='builder keyword arguments, e.g. \'{"width_mult": 0.5}\'')
    train.add_argument("--size", type=int, default=128, help="input side in pixels, multiple of 32 (128)")
    train.add_argument("--epochs", type=int, default=30, help="maximum epochs (30)")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--optimizer", choices=("adam", "adamw"), default="adamw")
    train.add_argument("--lr", type=float, default=2e-3, help="learning rate (2e-3)")
    train.add_argument("--weight-decay", type=float, default=1e-4)
    train.add_argument("--loss", default="ce",
                       help="ce, bce, focal, dice, tversky, bias, lovasz or a sum like ce+dice (default ce)")
    train.add_argument("--class-weights", choices=("equal", "empirical", "proportional"), default="equal")
    train.add_argument("--empirical-weights", type=_floats, default=None, metavar="W0,W1,...",
                       help="the per-class weights for --class-weights empirical")
    train.add_argument("--early-stop", type=int, default=3, help="epochs without improvement before stopping")
    train.add_argument("--max-minutes", type=float, default=None,
                       help="time budget: no epoch starts that would end past it")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--workers", type=int, default=0, help="data loader worker processes (0)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    train.add_argument("--dp-epsilon", type=float, default=None, help="train with DP-SGD to this epsilon")
    train.add_argument("--dp-delta", type=float, default=1e-5, help="DP delta (1e-5)")
    train.add_argument("--max-grad-norm", type=float, default=1.0, help="DP per-sample clipping norm (1.0)")
    train.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser("eval", help="evaluate a trained run or checkpoint on a package split",
                                   description="Confusion-matrix mIoU, per-class IoU, pixel accuracy, F1 and "
                                   "boundary IoU of a run's best checkpoint on one split.")
    evaluate.add_argument("--run", type=Path, required=True, help="run folder (uses best/) or checkpoint folder")
    evaluate.add_argument("--data", type=Path, required=True, help="dataset package folder")
    evaluate.add_argument("--split", choices=("train", "val", "test"), default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(handler=run_eval)


def run_models(args: argparse.Namespace) -> int:
    from segaudit.models.registry import model_table

    rows = model_table(num_classes=args.classes)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(format_table(["model", "parameters", "size MB (fp32)", "seed", "summary"],
                       [[r["name"], r["parameters"], r["size_mb"], r["seed"], r["summary"]] for r in rows]))
    return 0


def run_train(args: argparse.Namespace) -> int:
    from segaudit.models.train import TrainConfig, train

    if not isinstance(args.model_cfg, dict):
        raise InputError("must be a JSON object", field="--model-cfg")
    config = TrainConfig(
        model=args.model, model_cfg=args.model_cfg, size=args.size, epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        loss=args.loss, class_weights=args.class_weights, empirical_weights=args.empirical_weights,
        early_stop_patience=args.early_stop, max_minutes=args.max_minutes, seed=args.seed,
        workers=args.workers, dp_epsilon=args.dp_epsilon, dp_delta=args.dp_delta,
        max_grad_norm=args.max_grad_norm, device=args.device)
    from segaudit.models.registry import model_info

    model_info(config.model)
    result = train(args.data, args.out, config, resume=args.resume, progress=True)
    print(f"{config.model}: best val mIoU {result.best_val_miou:.4f} at epoch {result.best_epoch + 1} "
          f"({result.epochs_run} epochs, {result.minutes} min, stopped by {result.stopped})")
    if result.dp_epsilon_spent is not None:
        print(f"DP-SGD: epsilon spent {result.dp_epsilon_spent:.3f} at delta {config.dp_delta:g}")
    print(f"run folder: {result.run_dir}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from segaudit.models.runtime import resolve_model_path
    from segaudit.models.train import evaluate_checkpoint

    checkpoint = resolve_model_path(args.run)
    scores = evaluate_checkpoint(checkpoint, args.data, split=args.split, progress=True)
    if args.json:
        print(json.dumps(scores.to_dict(), indent=2))
        return 0
    print(f"{args.split}: mIoU {scores.miou:.4f}, pixel accuracy {scores.pixel_accuracy:.4f}, "
          f"mean F1 {scores.mean_f1:.4f}, mean boundary IoU {scores.mean_boundary_iou:.4f} "
          f"({scores.num_images} images)")
    from segaudit.models.checkpoint import read_checkpoint_config

    names = read_checkpoint_config(checkpoint)["classes"]
    rows = [[names.get(str(i), str(i)), float(scores.iou[i]), float(scores.f1[i]),
             float(scores.boundary_iou[i]) if scores.boundary_iou is not None else float("nan")]
            for i in range(len(scores.iou))]
    print(format_table(["class", "IoU", "F1", "boundary IoU"], rows))
    return 0


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
