"""`run_privacy_audit`: a model and a dataset package in, every attack's exposure and a risk level out.

    >>> from audit.privacy import PrivacyConfig, run_privacy_audit, write_outputs
    >>> result = run_privacy_audit("runs/alisnet/model.pte", "data/people", PrivacyConfig(shadow_models=8))
    >>> result.risk_level, result.attack("lira-online").auc            # doctest: +SKIP
    >>> write_outputs(result, "reports/privacy")                          # doctest: +SKIP

Steps: resolve the target and its recipe -> the audit pool (members + non-members) and population images ->
the target's signals (here, or with the ray executor as chunked Ray tasks, byte for byte the same) -> shadow
models (cached) and their signals -> attacks (scores from signals only; the membership labels are used only to
measure them) -> the game's balance (balance.py) -> the rating on the balanced game (rating.py), the raw figures
beside it -> leave-one-shadow-out and the null control (loo.py) -> per-group metrics.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segaudit.audit.privacy.attacks import AttackData, run_attack
from segaudit.audit.privacy.balance import BalancedGame, balance_game, image_statistics
from segaudit.audit.privacy.config import ATTACKS, LABEL_ONLY_ATTACKS, SHADOW_ATTACKS, PrivacyConfig
from segaudit.audit.privacy.executors import RaySettings, query_chunks, query_ray, ray_session
from segaudit.audit.privacy.groups import by_group
from segaudit.audit.privacy.loo import leave_one_out
from segaudit.audit.privacy.rating import rate
from segaudit.audit.privacy.result import LABEL_ONLY_THREAT_MODEL, THREAT_MODEL, AttackResult, PrivacyResult
from segaudit.audit.privacy.shadows import ShadowJob, file_digests, make_jobs, plan_shadows, run_shadows, shadow_recipe
from segaudit.audit.privacy.signals import Signals, compute_signals
from segaudit.audit.privacy.target import Target, resolve_target
from segaudit.core.errors import InputError
from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.torch_dataset import resize_mask
from segaudit.models.train import TrainConfig

log = logging.getLogger(__name__)
VALIDATION_SPLIT = "val"  # the split models.train selects checkpoints on


@dataclass
class AuditPlan:
    """What the audit will query and attack, decided from the package and the settings alone (no model): the
    shadows ahead of the audit (`prefetch.train_shadows`) and the audit itself plan from the same function, so
    they agree on every cache key."""

    members: pd.DataFrame
    nonmembers: pd.DataFrame
    population: pd.DataFrame
    attacks: list[str]
    notes: list[str]
    probabilities: bool  # the attacker sees per-pixel probabilities (not label-only access)
    label: bool  # a label-only attack runs, so every query also takes the augmented label-only signal

    @property
    def pool(self) -> pd.DataFrame:
        return pd.concat([self.members, self.nonmembers], ignore_index=True)

    @property
    def member(self) -> np.ndarray:
        return np.r_[np.ones(len(self.members), dtype=bool), np.zeros(len(self.nonmembers), dtype=bool)]

    def query(self, config: PrivacyConfig) -> dict[str, Any]:
        """The signal settings every model is queried with (part of the shadows' cache key)."""
        return {"map_size": config.map_size, "probabilities": self.probabilities, "label_only": self.label,
                "seed": config.seed, "batch_size": config.batch_size}

    def wants_shadows(self, config: PrivacyConfig) -> bool:
        return config.shadow_models >= 2 and any(a in SHADOW_ATTACKS or a in LABEL_ONLY_ATTACKS
                                                 for a in self.attacks)


def plan_audit(package: DatasetPackage, config: PrivacyConfig) -> AuditPlan:
    """The splits, the attacks that can run on them and the kind of queries they need."""
    members, nonmembers, population = _splits(package, config)
    attacks = list(config.selected_attacks())
    notes: list[str] = []
    probabilities = not config.label_only
    if probabilities and population.empty and "population" in attacks:
        if config.attacks is not None:
            raise InputError(f"the population attack needs population images, but the split "
                             f"{config.population_split!r} is empty", path=package.manifest_path,
                             field="population_split")
        attacks.remove("population")
        notes.append(f"population attack skipped: no images in split {config.population_split!r}")
    label = any(a in LABEL_ONLY_ATTACKS for a in attacks)
    return AuditPlan(members=members, nonmembers=nonmembers, population=population, attacks=attacks,
                     notes=notes, probabilities=probabilities, label=label)


def plan_shadows_for(package: DatasetPackage, plan: AuditPlan, config: PrivacyConfig, recipe: TrainConfig,
                     trained: dict[str, Any]) -> tuple[list[ShadowJob], np.ndarray, TrainConfig]:
    """The shadow jobs (with their cache keys) and inclusion matrix for a target trained with `recipe`."""
    recipe_config = shadow_recipe(recipe, trained, config.shadow_epochs, config.shadow_steps_per_epoch,
                                  config.device)
    inclusion = plan_shadows(len(plan.pool), config.shadow_models, config.seed)
    jobs = make_jobs(package.root, plan.pool.to_dict("records"), plan.population.to_dict("records"), inclusion,
                     recipe_config, plan.query(config), config.seed, config.cache)
    return jobs, inclusion, recipe_config


def run_privacy_audit(model: str | Path, data_dir: str | Path, config: PrivacyConfig | None = None, *,
                      recipe: str | Path | None = None, progress: bool = False) -> PrivacyResult:
    """Audit `model` (run folder, checkpoint folder or .pte) for membership inference on `data_dir`."""
    config = config or PrivacyConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    package = load_package(data_dir)
    target, segmenter = resolve_target(model, recipe, device=config.device)
    segmenter.batch_size = config.batch_size
    _check_classes(package, segmenter)
    plan = plan_audit(package, config)
    pool, population, member, attacks, notes = plan.pool, plan.population, plan.member, plan.attacks, plan.notes
    if not population.empty and config.population_split == VALIDATION_SPLIT:
        notes.append(f"the population is the target's validation split {VALIDATION_SPLIT!r}, which chose its "
                     "checkpoint: not strictly unseen, so the population attack and RMIA's z make the attack a "
                     "little weaker, never stronger; a split of the attacker's own (--population-split) avoids it")
    images, masks = _read(package, pool, segmenter.image_size)
    population_images, population_masks = _read(package, population, segmenter.image_size)

    ray = RaySettings.from_config(config)
    with ray_session(ray):  # one connection (or one Ray started here) for the target's queries and the shadows
        if ray is None:
            target_pool = compute_signals(segmenter, images, masks, package.spec.ignore_index,
                                          map_size=config.map_size, probabilities=plan.probabilities,
                                          label_only=plan.label, batch_size=config.batch_size, seed=config.seed)
            target_population = None
            if plan.probabilities and not population.empty:
                target_population = compute_signals(segmenter, population_images, population_masks,
                                                    package.spec.ignore_index, map_size=config.map_size,
                                                    label_only=False, batch_size=config.batch_size, seed=config.seed)
        else:
            target_pool, target_population = _query_target(package, plan, config, target, ray)
        timings["target_queries"] = time.perf_counter() - started

        data = AttackData(target=target_pool, target_population=target_population, seed=config.seed)
        shadows_info: dict[str, Any] = {"count": 0}
        if plan.wants_shadows(config):
            step = time.perf_counter()
            jobs, inclusion, _ = plan_shadows_for(package, plan, config, target.recipe, target.trained)
            shadows = run_shadows(jobs, inclusion, config.workers, progress=progress, ray=ray)
            data.shadows, data.shadows_population, data.inclusion = shadows.pool, shadows.population, inclusion
            shadows_info = {"count": config.shadow_models, "trained_now": shadows.trained,
                            "from_cache": config.shadow_models - shadows.trained, "train_size": int(len(pool) // 2),
                            "target_train_size": len(plan.members), "recipe": shadows.recipe,
                            "val": "population split" if not population.empty else "each shadow's out-half",
                            "keys": [f.name for f in shadows.folders]}
            if abs(len(pool) // 2 - len(plan.members)) > 0.1 * len(plan.members):
                notes.append(f"shadows train on {len(pool) // 2} images (half the pool), the target on "
                             f"{len(plan.members)}: LiRA is most faithful when the non-members are as many as the "
                             "members")
            if config.shadow_epochs is not None or config.shadow_steps_per_epoch is not None:
                notes.append("shadow training departs from the target's recipe (--shadow-epochs / "
                             "--shadow-steps-per-epoch): cheaper, and a weaker attack than the recipe allows")
            timings["shadows"] = time.perf_counter() - step

    step = time.perf_counter()
    results: list[AttackResult] = []
    for name in attacks:
        output = run_attack(name, data, config)
        notes.extend(output.notes)
        results.append(AttackResult.measure(name, output, member, config.bootstrap, config.confidence,
                                            config.seed))
    timings["attacks"] = time.perf_counter() - step
    statistics = image_statistics(images, masks, package.spec.ignore_index)
    game = judge_game(pool, package.spec, member, statistics, results, config)
    notes.extend(game.notes)
    rating, raw_rating = game.rating, game.raw_rating
    loo: dict[str, Any] = {}
    if config.leave_one_out and data.shadows:
        step = time.perf_counter()
        loo = leave_one_out(data, [r.name for r in results], config, member, game.keep)
        timings["leave_one_out"] = time.perf_counter() - step
    groups, differences = by_group(pool, package.spec, member, {r.name: r.scores for r in results},
                                   config.min_group, config.alpha)
    timings["total"] = time.perf_counter() - started
    return PrivacyResult(
        target=target.to_dict(model), threat_model=LABEL_ONLY_THREAT_MODEL if config.label_only else THREAT_MODEL,
        ids=pool["id"].tolist(), member=member, population=len(population), shadows=shadows_info,
        attacks=results, by_group=groups, group_differences=differences, risk_level=rating["level"],
        risk_reason=rating["reason"],
        rating=rating, raw_rating=raw_rating, balance=game.balance, leave_one_out=loo,
        dataset={"name": package.spec.name, "version": package.spec.version,
                 "manifest_sha256": package.manifest_sha256, "members_split": config.members_split,
                 "nonmembers_split": config.nonmembers_split, "population_split": config.population_split},
        config=config.to_dict(), notes=notes, seconds={k: round(v, 2) for k, v in timings.items()})


@dataclass
class JudgedGame:
    """The game's balance, the images it keeps, and the ratings on the kept and on the raw game."""

    keep: np.ndarray
    balance: dict[str, Any]
    rating: dict[str, Any]
    raw_rating: dict[str, Any]
    notes: list[str]


def judge_game(pool: pd.DataFrame, spec: Any, member: np.ndarray, statistics: pd.DataFrame | None,
               results: list[AttackResult], config: PrivacyConfig) -> JudgedGame:
    """Balance the game (unless config.balance is off), then rate the attacks that learned on it; the same rule
    on the raw game is kept beside it. A pure function of scores and labels, so a rating can be redone from
    scores.csv and the manifest alone."""
    notes: list[str] = []
    game: BalancedGame | None = balance_game(pool, spec, member, statistics, [config.seed, 0xBA1]) \
        if config.balance else None
    keep = game.keep if game is not None else np.ones(member.size, dtype=bool)
    rated = {r.name: r.scores for r in results if r.rated}
    rating = rate({name: values[keep] for name, values in rated.items()}, member[keep], config.alpha,
                  seed=config.seed).to_dict()
    raw = rate(rated, member, config.alpha, seed=config.seed).to_dict()
    if game is not None and game.balanced:
        rating["reason"] += (f"; on the game balanced on {', '.join(game.strata)} ({rating['members']} members, "
                             f"{rating['nonmembers']} non-members); the raw game would rate '{raw['level']}'")
        notes.extend(game.notes)
    balance = game.to_dict(member) if game is not None else {"balanced_on": [], "disabled": True}
    return JudgedGame(keep=keep, balance=balance, rating=rating, raw_rating=raw, notes=notes)


def _query_target(package: DatasetPackage, plan: AuditPlan, config: PrivacyConfig, target: Target,
                  ray: RaySettings) -> tuple[Signals, Signals | None]:
    """The target's signals on the pool and the population as chunked Ray tasks (executors.query_ray): the same
    queries, settings and order as the driver's own `compute_signals`, so the same bytes."""
    query = {"map_size": config.map_size, "batch_size": config.batch_size, "seed": config.seed}
    pool_rows, population_rows = plan.pool.to_dict("records"), plan.population.to_dict("records")
    digests = file_digests(package.root, pool_rows + population_rows, config.cache)
    groups = [query_chunks(target.model_path, target.sha256, package.root, pool_rows, digests[:len(pool_rows)],
                           {**query, "probabilities": plan.probabilities, "label_only": plan.label}, config.device)]
    if plan.probabilities and population_rows:
        groups.append(query_chunks(target.model_path, target.sha256, package.root, population_rows,
                                   digests[len(pool_rows):], {**query, "probabilities": True, "label_only": False},
                                   config.device))
    signals = query_ray(groups, ray)
    return signals[0], signals[1] if len(signals) > 1 else None


def _check_classes(package: DatasetPackage, segmenter: Any) -> None:
    if segmenter.num_classes != package.spec.num_classes:
        raise InputError(f"the model predicts {segmenter.num_classes} classes {segmenter.classes} but the package "
                         f"declares {package.spec.num_classes} {package.spec.classes}",
                         path=package.root / "dataset.yaml", field="classes")


def _splits(package: DatasetPackage, config: PrivacyConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    members = package.split(config.members_split)
    nonmembers = package.split(config.nonmembers_split)
    roles = ((members, config.members_split, "members"), (nonmembers, config.nonmembers_split, "non-members"))
    for frame, split, role in roles:
        if frame.empty:
            raise InputError(f"no {role}: the split {split!r} has no images", path=package.manifest_path,
                             field="split")
    for frame, split, role in roles:
        if len(frame) < 2:
            raise InputError(f"{len(frame)} {role} in split {split!r}: the audit needs at least 2",
                             path=package.manifest_path, field="split")
    shared = sorted(set(members["image"]) & set(nonmembers["image"]))
    if shared:
        raise InputError(f"the members' and non-members' splits overlap: {len(shared)} image(s) in both, e.g. "
                         f"{shared[0]!r}", path=package.manifest_path, field="image")
    population = package.split(config.population_split) if config.population_split else members.iloc[:0]
    return members, nonmembers, population


def _read(package: DatasetPackage, rows: pd.DataFrame, size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, masks = [], []
    for index, row in enumerate(rows.to_dict("records")):
        images.append(package.read_image(row))
        masks.append(package.read_mask(row))
        if not (resize_mask(masks[-1], size) != package.spec.ignore_index).any():
            raise InputError(f"the mask of {row['id']!r} has no valid pixel at the model's input size (all "
                             f"ignore_index): nothing to measure", path=package.root / row["mask"], row=index + 1,
                             field="mask")
    return images, masks


__all__ = ["ATTACKS", "run_privacy_audit"]
