"""Training a bundled model on a dataset package, top to bottom like torchvision's reference script.

args → data → model → loss → optimizer/scheduler → epochs (train, validate, checkpoint) → run folder:
`config.json`, `history.csv`, `best/` (the best checkpoint by validation mIoU), `last/` (+ training state for
`resume`; written at save points every SAVE_EVERY_SECONDS and at the end) and `learning_curve.png`.
ReduceLROnPlateau and early stopping both watch validation mIoU.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.models.checkpoint import load_training_state, save_checkpoint, save_training_state
from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.torch_dataset import make_loader
from segaudit.models.device import check_device, resolve_device
from segaudit.models.dp import DPConfig, GradientCanaries, epsilon_spent, make_private, replace_batchnorm
from segaudit.models.evaluate import SegmentationMetrics
from segaudit.models.losses import build_loss, class_weights, count_class_pixels
from segaudit.models.registry import build

log = logging.getLogger(__name__)
SAVE_EVERY_SECONDS = 30.0
HISTORY_FIELDS = ("epoch", "train_loss", "val_miou", "val_pixel_accuracy", "lr", "seconds")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's config.json."""

    model: str = "alisnet"
    model_cfg: dict[str, Any] = field(default_factory=dict)
    size: int = 128
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    loss: str = "ce"
    class_weights: str = "equal"
    empirical_weights: list[float] | None = None
    lr_patience: int = 2
    lr_factor: float = 0.1
    early_stop_patience: int = 3
    max_minutes: float | None = None
    steps_per_epoch: int | None = None
    seed: int = 0
    workers: int = 0
    dp_epsilon: float | None = None
    dp_delta: float = 1e-5
    max_grad_norm: float = 1.0
    device: str = "cpu"  # "cuda" / "cuda:N" trains on a GPU (models/device.py)

    def validate(self) -> None:
        check_device(self.device)
        checks.integer(self.size, "size", minimum=32, multiple_of=32)
        for name in ("epochs", "batch_size"):
            checks.integer(getattr(self, name), name, minimum=1)
        checks.choice(self.optimizer, ("adam", "adamw"), "optimizer")
        checks.choice(self.class_weights, ("equal", "empirical", "proportional"), "class_weights")

    @property
    def dp(self) -> DPConfig | None:
        if self.dp_epsilon is None:
            return None
        return DPConfig(self.dp_epsilon, self.dp_delta, self.max_grad_norm)


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_val_miou: float
    epochs_run: int
    minutes: float
    stopped: str
    dp_epsilon_spent: float | None = None


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def train(data_dir: str | Path | DatasetPackage, run_dir: str | Path, config: TrainConfig, resume: bool = False,
          progress: bool = False, canaries: GradientCanaries | None = None) -> TrainResult:
    """Train `config.model` on the package at `data_dir` into `run_dir`; see the module docstring. `data_dir` may
    also be a loaded package, e.g. a `DatasetPackage.view` of some of its rows (a shadow model's half, read in
    place instead of copied). `canaries`: Dirac gradient canaries injected into a DP-SGD run and observed (the
    white-box canary audit; models.dp.GradientCanaries)."""
    config.validate()
    if canaries is not None and config.dp is None:
        raise InputError("gradient canaries audit DP-SGD's clipping and noise; this recipe trains without DP "
                         "(set dp_epsilon)", field="dp_epsilon")
    run_dir = Path(run_dir)
    package = data_dir if isinstance(data_dir, DatasetPackage) else load_package(data_dir)
    for split in ("train", "val"):
        if package.split(split).empty:
            raise InputError(f"the package has no '{split}' images; training needs train and val splits",
                             path=package.manifest_path, field="split")
    _prepare_run_dir(run_dir, config, resume)
    seed_everything(config.seed)
    num_classes = package.spec.num_classes

    device = resolve_device(config.device)
    model = build(config.model, num_classes=num_classes, **config.model_cfg)
    # DP-SGD needs GroupNorm for BatchNorm; otherwise NHWC lets oneDNN take the convolutions (about 20 %
    # faster CPU training steps for ALiSNet).
    model = replace_batchnorm(model) if config.dp is not None else model.to(memory_format=torch.channels_last)
    model = model.to(device)
    criterion = build_loss(config.loss, num_classes, class_weights=_class_weights(package, config)).to(device)
    train_loader = make_loader(package, "train", size=config.size, batch_size=config.batch_size, augment=True,
                               seed=config.seed, num_workers=config.workers)
    val_loader = make_loader(package, "val", size=config.size, batch_size=config.batch_size, shuffle=False,
                             num_workers=config.workers)
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    engine = None
    if config.dp is not None:
        model, optimizer, train_loader, engine = make_private(model, optimizer, train_loader, config.dp,
                                                              config.epochs, config.seed, canaries)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=config.lr_factor,
                                                           patience=config.lr_patience)

    start_epoch, best_miou, best_epoch, bad_epochs, history = 0, -math.inf, -1, 0, []
    if resume and (run_dir / "last").is_dir():
        start_epoch, best_miou, best_epoch, bad_epochs, history = _restore(run_dir, model, optimizer, scheduler,
                                                                           engine)
        log.info("resuming %s at epoch %d (best val mIoU %.4f at epoch %d)", run_dir, start_epoch, best_miou,
                 best_epoch)

    started, stopped = time.monotonic(), "epochs"
    # Checkpoints and training state are written at save points (every SAVE_EVERY_SECONDS and at the end), not
    # after every epoch: on small images that writing took a third of the run (shadow models train many short
    # epochs). An interrupted run resumes from its last save point, at most that long ago.
    saved_at, best, pending = started, None, None
    epoch = start_epoch - 1
    epoch_seconds: list[float] = []
    for epoch in range(start_epoch, config.epochs):
        if _out_of_time(config.max_minutes, time.monotonic() - started, epoch_seconds):
            stopped = "time-budget"
            epoch -= 1
            break
        epoch_start = time.monotonic()
        train_loader.dataset.set_epoch(epoch)
        train_loss = _train_one_epoch(model, train_loader, optimizer, criterion, config, epoch, progress)
        scores = evaluate_model(_unwrap(model), val_loader, num_classes, package.spec.ignore_index, device=device)
        scheduler.step(scores.miou)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_miou": scores.miou,
                        "val_pixel_accuracy": scores.pixel_accuracy, "lr": optimizer.param_groups[0]["lr"],
                        "seconds": round(time.monotonic() - epoch_start, 2)})
        improved = scores.miou > best_miou
        if improved:
            best_miou, best_epoch, bad_epochs = scores.miou, epoch, 0
        else:
            bad_epochs += 1
        epsilon = epsilon_spent(engine.accountant.history, config.dp_delta) if engine is not None else None
        metadata = {"epoch": epoch, "val_miou": scores.miou, "dp": _dp_metadata(config, epsilon)}
        checkpoint_args = {"model_name": config.model, "num_classes": num_classes,
                           "classes": package.spec.classes, "image_size": config.size,
                           "model_cfg": config.model_cfg, "metadata": metadata}
        if improved:  # kept in memory until the next save point
            best = ({k: v.detach().clone() for k, v in _unwrap(model).state_dict().items()}, checkpoint_args)
        epoch_seconds.append(time.monotonic() - epoch_start)
        log.info("epoch %d: loss %.4f, val mIoU %.4f%s", epoch, train_loss, scores.miou,
                 f", epsilon {epsilon:.2f}" if epsilon is not None else "")
        pending = {"epoch": epoch, "best_miou": best_miou, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                   "checkpoint_args": checkpoint_args}
        if time.monotonic() - saved_at >= SAVE_EVERY_SECONDS or epoch == config.epochs - 1:
            _save_point(run_dir, _unwrap(model), optimizer, scheduler, engine, best, pending, history)
            pending, best, saved_at = None, None, time.monotonic()
        if bad_epochs >= config.early_stop_patience:
            stopped = "early-stopping"
            break
    if pending is not None:  # stopped early, or by the time budget, between two save points
        _save_point(run_dir, _unwrap(model), optimizer, scheduler, engine, best, pending, history)
    plot_learning_curve(run_dir)
    epsilon = epsilon_spent(engine.accountant.history, config.dp_delta) if engine is not None else None
    result = TrainResult(run_dir=run_dir, best_epoch=best_epoch, best_val_miou=best_miou,
                         epochs_run=epoch + 1, minutes=round((time.monotonic() - started) / 60, 2),
                         stopped=stopped, dp_epsilon_spent=epsilon)
    summary = {**asdict(result), "run_dir": str(run_dir)}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    return result


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Training without its per-epoch log lines, for runs inside another command (the privacy audit's shadows
    and canary run: K shadows x epochs lines would bury the audit's own output)."""
    logger = logging.getLogger(__name__)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _train_one_epoch(model: nn.Module, loader, optimizer, criterion, config: TrainConfig, epoch: int,
                     progress: bool) -> float:
    model.train()
    losses: list[float] = []
    total = len(loader) if config.steps_per_epoch is None else min(len(loader), config.steps_per_epoch)
    bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", disable=not progress,
               leave=False)
    for step, batch in enumerate(loader):
        if step >= total:
            break
        images, masks = (batch["image"], batch["mask"]) if isinstance(batch, dict) else batch
        images, masks = images.to(config.device), masks.to(config.device)
        optimizer.zero_grad(set_to_none=True)
        if images.shape[0] == 0:
            # Poisson sampling drew an empty batch: the DP optimizer still takes its (noise-only) step.
            optimizer.step()
            bar.update()
            continue
        if config.dp is None:
            images = images.contiguous(memory_format=torch.channels_last)
        loss, _ = compute_loss(model, images, masks, criterion)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        bar.update()
    bar.close()
    return float(np.mean(losses)) if losses else math.nan


def _out_of_time(max_minutes: float | None, elapsed_seconds: float, epoch_seconds: list[float]) -> bool:
    """True when another epoch (as long as the mean so far) would end past the time budget."""
    if max_minutes is None or not epoch_seconds:
        return False
    return elapsed_seconds + float(np.mean(epoch_seconds)) > max_minutes * 60


def compute_loss(model: nn.Module, images: torch.Tensor, masks: torch.Tensor,
                 criterion: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits): the model's own compute_loss when it has one (deep supervision, point losses)."""
    inner = _unwrap(model)
    if hasattr(inner, "compute_loss"):
        return inner.compute_loss(images, masks, criterion)
    logits = model(images)
    return criterion(logits, masks), logits


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, num_classes: int, ignore_index: int = 255,
                   boundary: bool = False, progress: bool = False, device: torch.device | str = "cpu"):
    """Dataset-level scores (confusion-matrix mIoU, per-class IoU, accuracy, F1, optional boundary IoU)."""
    model.eval()
    metrics = SegmentationMetrics(num_classes, ignore_index=ignore_index, boundary=boundary)
    for batch in tqdm(loader, desc="evaluating", unit="batch", disable=not progress, leave=False):
        metrics.update(model(batch["image"].to(device)).argmax(1).cpu(), batch["mask"])
    return metrics.compute()


def evaluate_checkpoint(checkpoint: str | Path, data_dir: str | Path, split: str = "test",
                        batch_size: int = 16, progress: bool = False):
    """Scores of a saved checkpoint on one split of a package, at the checkpoint's input size."""
    from segaudit.models.checkpoint import load_checkpoint

    package = load_package(data_dir)
    model, config = load_checkpoint(checkpoint)
    if package.spec.num_classes != config["num_classes"]:
        raise InputError(f"the checkpoint predicts {config['num_classes']} classes but the package declares "
                         f"{package.spec.num_classes}", path=package.root / "dataset.yaml", field="classes")
    if package.split(split).empty:
        raise InputError(f"the package has no '{split}' images", path=package.manifest_path, field="split")
    loader = make_loader(package, split, size=config["image_size"], batch_size=batch_size, shuffle=False)
    return evaluate_model(model, loader, config["num_classes"], package.spec.ignore_index, boundary=True,
                          progress=progress)


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside an Opacus GradSampleModule (whose state_dict keys carry a prefix)."""
    return getattr(model, "_module", model)


def _class_weights(package: DatasetPackage, config: TrainConfig) -> torch.Tensor | None:
    num_classes = package.spec.num_classes
    if config.class_weights == "equal":
        return None
    if config.class_weights == "empirical":
        if not config.empirical_weights or len(config.empirical_weights) != num_classes:
            raise InputError(f"empirical class weights need {num_classes} values", field="empirical_weights")
        return class_weights("empirical", empirical=config.empirical_weights)
    rows = package.split("train").to_dict("records")
    counts = count_class_pixels((package.read_mask(r) for r in rows), num_classes, package.spec.ignore_index)
    return class_weights("proportional", pixel_counts=counts)


def _dp_metadata(config: TrainConfig, epsilon: float | None) -> dict[str, Any] | None:
    if config.dp is None:
        return None
    return {"target_epsilon": config.dp_epsilon, "epsilon_spent": epsilon, "delta": config.dp_delta,
            "max_grad_norm": config.max_grad_norm, "accountant": "rdp", "replace_batchnorm": True}


def _prepare_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> None:
    config_path = run_dir / "config.json"
    wanted = asdict(config)
    if resume and config_path.exists():
        saved = json.loads(config_path.read_text())
        differing = sorted(k for k in wanted if k not in ("epochs", "max_minutes") and saved.get(k) != wanted[k])
        if differing:
            raise InputError(f"cannot resume with a different configuration: {differing} differ", path=config_path)
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise InputError("run folder exists and is not empty (use --resume to continue it, or another --out)",
                         path=run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(wanted, indent=2) + "\n")


def _save_point(run_dir: Path, model: nn.Module, optimizer, scheduler, engine,  # noqa: ANN001
                best: tuple[dict[str, torch.Tensor], dict[str, Any]] | None, epoch: dict[str, Any],
                history: list[dict]) -> None:
    """best/ (when it changed since the last save point), last/ with its training state, and history.csv: a
    consistent set to resume from."""
    if best is not None:
        save_checkpoint(run_dir / "best", best[0], **best[1])
    save_checkpoint(run_dir / "last", model, **epoch["checkpoint_args"])
    save_training_state(run_dir / "last", {
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        **{k: epoch[k] for k in ("epoch", "best_miou", "best_epoch", "bad_epochs")},
        "accountant": engine.accountant.state_dict() if engine is not None else None,
    })
    _write_history(run_dir, history)


def _restore(run_dir: Path, model, optimizer, scheduler, engine) -> tuple[int, float, int, int, list[dict]]:
    from safetensors.torch import load_file

    state = load_training_state(run_dir / "last")
    _unwrap(model).load_state_dict(load_file(str(run_dir / "last" / "model.safetensors")))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if engine is not None and state.get("accountant") is not None:
        engine.accountant.load_state_dict(state["accountant"])
    history = _read_history(run_dir)
    return (state["epoch"] + 1, state["best_miou"], state["best_epoch"], state["bad_epochs"], history)


def _write_history(run_dir: Path, history: list[dict]) -> None:
    tmp = run_dir / ".history.csv.tmp"
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    tmp.replace(run_dir / "history.csv")


def _read_history(run_dir: Path) -> list[dict]:
    path = run_dir / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(handle)]


def plot_learning_curve(run_dir: Path) -> Path | None:
    """learning_curve.png: training loss and validation mIoU per epoch."""
    history = _read_history(run_dir)
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] + 1 for row in history]
    fig, loss_axis = plt.subplots(figsize=(6, 3.5), dpi=120)
    loss_axis.plot(epochs, [row["train_loss"] for row in history], "o-", color="tab:red", label="train loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("train loss", color="tab:red")
    miou_axis = loss_axis.twinx()
    miou_axis.plot(epochs, [row["val_miou"] for row in history], "s-", color="tab:blue", label="val mIoU")
    miou_axis.set_ylabel("validation mIoU", color="tab:blue")
    fig.suptitle(f"{run_dir.name}: learning curve")
    fig.tight_layout()
    from segaudit.core.atomic import atomic_file

    out = run_dir / "learning_curve.png"
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
