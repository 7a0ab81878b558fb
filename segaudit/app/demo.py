"""`run_demo`: the whole chain on the embedded synthetic people, stage by stage, each cached by a hash.

    data (synthesized; the train split skewed toward light skin tones, as real data is)
      -> train ALiSNet -> QAT int8 + ExecuTorch .pte
      -> audit of the .pte (fairness, privacy with shadow models, model card, dataset card, report.html)
      -> gate (gate.toml)

A stage's folder gets `.stage.json` with the hash of its inputs and settings when it completes; a rerun whose
hash matches reuses the folder, anything else reruns the stage from a clean folder (an interrupted stage has no
`.stage.json`, so it is simply redone). While quantization runs (one core, mostly Python), the audit's shadow
models already train in a second process: they need the recipe and the data, not the program. `QUICK` (400
images, two shadows of 2 epochs) finishes in a few minutes on a 2-core machine; `FULL` (1,200 images, shadows
with the target's own recipe) takes longer and attacks harder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from segaudit.core.errors import InputError

log = logging.getLogger(__name__)
STAGE_FILE = ".stage.json"
REPO = Path(__file__).resolve().parents[2]  # segaudit/app/demo.py -> the repository
FACTS = REPO / "cards" / "alisnet.yaml"
DATASET_FACTS = REPO / "cards" / "synthetic-people.yaml"
POLICY = REPO / "gate.toml"


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of the chain (all of it goes into the stage hashes)."""

    images: int = 800
    size: int = 64
    split: tuple[float, float, float] = (0.5, 0.125, 0.375)
    seed: int = 0
    model: str = "alisnet"
    epochs: int = 8
    batch_size: int = 16
    lr: float = 3e-3
    qat_epochs: float = 1.0
    shadow_models: int = 4
    shadow_epochs: int | None = None  # None: the target's own recipe; fewer: cheaper shadows, a weaker attack
    attacks: tuple[str, ...] | None = None  # None: every attack
    fairness_bootstrap: int = 1000
    fairness_margin: float = 0.02
    intersections: tuple[tuple[str, str], ...] = (("skin_tone", "body_shape"),)
    workers: int | None = None
    # where the audit's shadow models train (PrivacyConfig.executor / ray_address); not in any stage hash: the
    # results are the same either way
    executor: str = "local"
    ray_address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Quick: the label-only attack queries every image under 8 augmentations on every shadow; it is left out here.
# Two shadows (one "in", one "out" per image) of 2 epochs, trained while the model is quantized: the whole
# chain takes 4.3-4.8 min on a 2-core CPU, of which ExecuTorch's lowering about 110 s (README).
# LiRA needs 4 shadows (a per-image Gaussian from 1 in and 1 out model has no variance): the quick demo's 2
# shadows run the attacks that are sound with them
QUICK = DemoConfig(images=400, epochs=6, shadow_models=2, shadow_epochs=2,
                   attacks=("loss", "population", "rmia", "rmia-online", "loss-map-cnn"))
FULL = DemoConfig(images=1200, epochs=10, shadow_models=4, fairness_bootstrap=2000)


@dataclass
class StageResult:
    name: str
    folder: Path
    reused: bool
    seconds: float


@dataclass
class DemoResult:
    out: Path
    stages: list[StageResult]
    audit: dict[str, Any]
    gate_passed: bool
    gate_text: str


def stage_key(name: str, settings: dict[str, Any], upstream: str = "") -> str:
    """The hash that decides whether a finished stage can be reused."""
    text = json.dumps({"stage": name, "settings": settings, "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_stage(name: str, folder: Path, key: str, work: Callable[[Path], None]) -> StageResult:
    """Reuse `folder` when its .stage.json carries `key`; else clear it, run `work(folder)`, then mark it done."""
    started = time.perf_counter()
    if is_current(folder, key):
        return StageResult(name, folder, True, 0.0)
    if folder.exists():
        shutil.rmtree(folder)
    work(folder)
    (folder / STAGE_FILE).write_text(json.dumps({"stage": name, "key": key}) + "\n", encoding="utf-8")
    return StageResult(name, folder, False, time.perf_counter() - started)


def is_current(folder: Path, key: str) -> bool:
    """Whether `folder` holds a finished stage with this key."""
    marker = folder / STAGE_FILE
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("key") == key
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def run_demo(out: str | Path = "reports/demo", config: DemoConfig = QUICK, progress: bool = True,
             on_stage: Callable[[str, int, int], None] | None = None) -> DemoResult:
    """Run (or reuse) every stage into `out`; returns the audit and the gate's outcome."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / "data").is_dir():
        raise InputError("exists and holds other files; give a new folder or a previous demo's", path=out)
    out.mkdir(parents=True, exist_ok=True)
    stages: list[StageResult] = []
    names = ("data", "train", "quantize", "audit", "gate")

    def announce(name: str) -> None:
        if on_stage is not None:
            on_stage(name, names.index(name) + 1, len(names))

    announce("data")
    data_settings = {k: getattr(config, k) for k in ("images", "size", "split", "seed")}
    data_key = stage_key("data", data_settings)
    stages.append(run_stage("data", out / "data", data_key, lambda folder: _synthesize(folder, config, progress)))

    announce("train")
    train_config = _train_config(config)
    train_key = stage_key("train", asdict(train_config), data_key)
    stages.append(run_stage("train", out / "run", train_key,
                            lambda folder: _train(out / "data", folder, train_config, progress)))

    facts_text = FACTS.read_text(encoding="utf-8") if FACTS.is_file() else ""
    quantize_key = stage_key("quantize", {"qat_epochs": config.qat_epochs, "seed": config.seed}, train_key)
    audit_settings = {"shadow_models": config.shadow_models, "shadow_epochs": config.shadow_epochs,
                      "attacks": config.attacks,
                      "bootstrap": config.fairness_bootstrap,
                      "margin": config.fairness_margin, "intersections": config.intersections,
                      "facts": hashlib.sha256(facts_text.encode()).hexdigest(), "seed": config.seed}
    audit_key = stage_key("audit", audit_settings, quantize_key)

    announce("quantize")
    # The audit's shadow models need the recipe and the data, not the int8 program: they train on the second
    # core while this process quantizes and lowers (mostly one-threaded Python). When quantization is reused,
    # the audit trains them itself, in parallel.
    shadows = None
    # (With --executor ray the audit sends them to the cluster instead: nothing trains here in the background.)
    if config.executor == "local" and not is_current(out / "int8", quantize_key) \
            and not is_current(out / "audit", audit_key):
        shadows = ShadowsAhead.start(out, _privacy_config(out, config))
    try:
        stages.append(run_stage("quantize", out / "int8", quantize_key,
                                lambda folder: _quantize(out / "data", out / "run", folder, config, progress,
                                                         shadows)))
    except BaseException:
        if shadows is not None:
            shadows.stop()
        raise

    announce("audit")
    if shadows is not None:
        shadows.finish()
    stages.append(run_stage("audit", out / "audit", audit_key,
                            lambda folder: _audit(out, folder, config, progress)))

    announce("gate")
    from segaudit.audit.gate import run_gate, write_atomic

    started = time.perf_counter()
    outcome = run_gate(out / "audit", POLICY)
    write_atomic(out / "audit" / "gate-junit.xml", outcome.junit)
    write_atomic(out / "audit" / "gate-summary.md", outcome.markdown)
    stages.append(StageResult("gate", out / "audit", False, time.perf_counter() - started))
    audit = json.loads((out / "audit" / "audit.json").read_text(encoding="utf-8"))
    return DemoResult(out=out, stages=stages, audit=audit, gate_passed=outcome.passed, gate_text=outcome.text)


def _synthesize(folder: Path, config: DemoConfig, progress: bool) -> None:
    from segaudit.models.data.synth import SKEWED_TRAIN, synthesize

    synthesize(folder, n=config.images, seed=config.seed, size=config.size, split_fractions=config.split,
               group_weights=SKEWED_TRAIN, workers=config.workers, progress=progress)


def _train_config(config: DemoConfig):
    from segaudit.models.train import TrainConfig

    return TrainConfig(model=config.model, size=config.size, epochs=config.epochs, batch_size=config.batch_size,
                       lr=config.lr, seed=config.seed, early_stop_patience=3)


def _train(data: Path, folder: Path, train_config, progress: bool) -> None:
    from segaudit.models.train import train

    train(data, folder, train_config, progress=progress)


def _quantize(data: Path, run: Path, folder: Path, config: DemoConfig, progress: bool,
              shadows: ShadowsAhead | None) -> None:
    """QAT on the run, then the program and its reports copied into their own stage folder. One thread (the
    second core is the shadows'; and one thread count whether they train or not, so one program); shadows
    training alongside are paused while the program is timed."""
    from segaudit.models.quantize import QuantizeConfig, quantize_run
    from segaudit.models.quantize.report import torch_threads

    with torch_threads(1):
        quantize_run(run, data, QuantizeConfig(method="qat", qat_epochs=config.qat_epochs, seed=config.seed),
                     progress=progress, quiet_for_timing=shadows.paused if shadows is not None else None)
    folder.mkdir(parents=True)
    for name in ("model.pte", "model.json", "quantization.json"):
        shutil.move(str(run / name), folder / name)


def _privacy_config(out: Path, config: DemoConfig):
    from segaudit.audit.privacy import PrivacyConfig

    return PrivacyConfig(shadow_models=config.shadow_models, shadow_epochs=config.shadow_epochs,
                         attacks=config.attacks, seed=config.seed, workers=config.workers,
                         cache_dir=out / ".shadow-cache", executor=config.executor,
                         ray_address=config.ray_address)


def _audit(out: Path, folder: Path, config: DemoConfig, progress: bool) -> None:
    from segaudit.app.full_audit import AuditConfig, run_audit
    from segaudit.audit.fairness import FairnessConfig

    audit_config = AuditConfig(
        fairness=FairnessConfig(margin=config.fairness_margin, bootstrap=config.fairness_bootstrap,
                                seed=config.seed, intersections=config.intersections),
        privacy=_privacy_config(out, config),
        facts=FACTS if FACTS.is_file() else None,
        dataset_facts=DATASET_FACTS if DATASET_FACTS.is_file() else None, seed=config.seed,
        recipe=out / "run" / "config.json")
    run_audit(out / "int8" / "model.pte", out / "data", folder, audit_config, command="segaudit demo",
              progress=progress)


@dataclass
class ShadowsAhead:
    """The audit's shadow models training one after another in a background process (one torch thread), into
    the demo's shadow cache. Whatever is not finished when the audit starts, the audit trains itself, on every
    core; the cache only ever holds finished shadows."""

    process: Any
    cache: Path

    @classmethod
    def start(cls, out: Path, privacy) -> ShadowsAhead:
        import multiprocessing

        process = multiprocessing.get_context("spawn").Process(
            target=_train_shadows_ahead, args=(str(out / "run" / "config.json"), str(out / "data"), privacy),
            name="segaudit-shadows", daemon=True)
        process.start()
        return cls(process, Path(privacy.cache))

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the process still (SIGSTOP) while something is timed, then let it go on."""
        stop = getattr(signal, "SIGSTOP", None)
        held = stop is not None and self.process.is_alive()
        if held:
            os.kill(self.process.pid, stop)
        try:
            yield
        finally:
            if held:
                os.kill(self.process.pid, signal.SIGCONT)

    def finish(self) -> None:
        """Stop the process if it is still training (the audit trains what is missing, in parallel) and clear
        the half-trained shadow it leaves; report a failure."""
        if self.process.is_alive():
            log.info("the audit trains the shadow models not finished ahead of it")
            self.stop()
            return
        self.process.join()
        if self.process.exitcode != 0:
            log.warning("training the shadow models ahead of the audit failed (exit code %s); the audit trains "
                        "the missing ones itself", self.process.exitcode)

    def stop(self) -> None:
        """Terminate the process and remove its unfinished shadow (an interrupted demo, or the audit's turn)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        for partial in self.cache.glob(".*.tmp-*"):  # shadows.py trains into such a folder, then renames it
            shutil.rmtree(partial, ignore_errors=True)


def _train_shadows_ahead(recipe: str, data: str, privacy) -> None:
    import torch

    from segaudit.audit.privacy.prefetch import train_shadows

    torch.set_num_threads(1)  # leave the other core to quantization
    train_shadows(recipe, data, replace(privacy, workers=1))


def with_overrides(config: DemoConfig, **changes: Any) -> DemoConfig:
    """A copy of `config` with the given fields changed (None values ignored)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
