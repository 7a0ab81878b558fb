"""What a privacy audit is asked: which images are members, which attacks, how many shadow models, how sure.

Every field has the default the CLI documents; a bad value is an `InputError` naming the field.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from segaudit.core import checks
from segaudit.core.errors import InputError

EXECUTORS = ("local", "ray")  # where shadows train (and the target is queried): here, or as Ray tasks
# Attacks in the order they are reported. "Needs shadows": they use shadow / reference models.
ATTACKS = ("loss", "population", "lira-offline", "lira-online", "rmia", "rmia-online", "loss-map-cnn",
           "label-only")
SHADOW_ATTACKS = ("lira-offline", "lira-online", "rmia", "rmia-online", "loss-map-cnn")
LABEL_ONLY_ATTACKS = ("label-only",)
# Reference (shadow) models an attack needs. LiRA fits a Gaussian per image from the in and the out models:
# with fewer than 4 (2 in, 2 out per image) it has no degrees of freedom left, its variance falls to the floor
# and its scores explode (1e13 at K = 2), so it is refused rather than reported.
MIN_REFERENCES = {"lira-offline": 4, "lira-online": 4, "rmia": 2, "rmia-online": 2, "loss-map-cnn": 2}


# PrivacyConfig fields that choose where shadows run, never what they compute (left out of privacy.json)
EXECUTOR_FIELDS = ("executor", "ray_address", "ray_task_memory_mb", "ray_max_retries")


def minimum_references(attack: str) -> int:
    """How many reference (shadow) models `attack` needs (0: none)."""
    return MIN_REFERENCES.get(attack, 0)


def default_cache_dir() -> Path:
    """$SEGAUDIT_CACHE/shadows, else $XDG_CACHE_HOME/segaudit/shadows, else ~/.cache/segaudit/shadows."""
    if os.environ.get("SEGAUDIT_CACHE"):
        return Path(os.environ["SEGAUDIT_CACHE"]) / "shadows"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "segaudit" / "shadows"


@dataclass(frozen=True)
class PrivacyConfig:
    """Settings of a membership-inference audit.

    members_split / nonmembers_split: the package splits the target was / was not trained on.
    population_split: the attacker's other photos from the same population (the population attack's reference
    and RMIA's z samples; also the shadows' validation images); None or an empty split: none.
    attacks: names from ATTACKS (None: every attack the threat model allows). label_only: the attacker sees only
    the argmax mask, so only label-only attacks run. shadow_models: K, trained on random halves of the audit
    pool in complementary pairs (each image is "in" for exactly K/2 of them when K is even).
    LiRA needs K >= 4 (see MIN_REFERENCES); per-image variances from K >= global_variance_below.
    shadow_epochs / shadow_steps_per_epoch: override the recipe (cheaper shadows, a weaker attack; recorded).
    global_variance_below: LiRA uses one variance for all images when K is smaller (Carlini et al. 2022).
    lira_signal: LiRA's statistic, "image" (logit of the image likelihood) or "pixel" (mean per-pixel logit).
    map_size: side of the downsampled loss maps. bootstrap / confidence: the raw AUC's descriptive CI.
    alpha: the rating's family-wise false-alarm rate. balance: rate on the balanced game (balance.py).
    leave_one_out: the recipe-level evaluation and null control with the shadows (loo.py).
    min_group: members and non-members a subgroup needs for its AUC.
    workers: processes training shadows side by side (each with one torch thread); None: min(K, cores).
    cache_dir: where trained shadows and their signals are kept, keyed by a hash of everything they depend on.
    device: where shadows train and models are queried ("cpu", "cuda", "cuda:N"; a .pte target always runs on
    the CPU). Not part of the results or of the cache key.
    executor: where the shadows train, "local" (a process pool of `workers`) or "ray" (one task per shadow on
    the Ray cluster at ray_address, default $RAY_ADDRESS, else a Ray started on this machine; executors.py); with
    "ray" the target's queries also run there, as tasks of executors.TARGET_CHUNK images each, and so does the
    whole audit's fairness inference (segaudit audit; executors.table_ray).
    ray_task_memory_mb / ray_max_retries: the memory each shadow task reserves, and how often Ray re-runs a task
    whose process or node died. None of the executor settings changes the results or the cache keys.
    """

    members_split: str = "train"
    nonmembers_split: str = "test"
    population_split: str | None = "val"
    attacks: tuple[str, ...] | None = None
    label_only: bool = False
    shadow_models: int = 8
    shadow_epochs: int | None = None
    shadow_steps_per_epoch: int | None = None
    global_variance_below: int = 32
    lira_signal: str = "image"
    map_size: int = 16
    cnn_epochs: int = 30
    rmia_gamma: float = 1.0
    rmia_a: float | None = None
    bootstrap: int = 1000
    confidence: float = 0.95
    alpha: float = 0.05
    balance: bool = True
    leave_one_out: bool = True
    min_group: int = 50
    batch_size: int = 16
    seed: int = 0
    workers: int | None = None
    cache_dir: Path | None = None
    device: str = "cpu"
    executor: str = "local"
    ray_address: str | None = None
    ray_task_memory_mb: int = 2048
    ray_max_retries: int = 3

    def __post_init__(self) -> None:
        if self.members_split == self.nonmembers_split:
            raise InputError(f"members and non-members are both the split {self.members_split!r}; they must "
                             "be different splits", field="nonmembers_split")
        if self.population_split in (self.members_split, self.nonmembers_split):
            raise InputError(f"the population split {self.population_split!r} is also the members' or the "
                             "non-members' split", field="population_split")
        if self.attacks is not None:
            attacks = tuple(dict.fromkeys(str(a).strip() for a in self.attacks))
            unknown = [a for a in attacks if a not in ATTACKS]
            if unknown or not attacks:
                raise InputError(f"unknown attack(s) {unknown}; the attacks are {', '.join(ATTACKS)}",
                                 field="attacks")
            if self.label_only and any(a not in LABEL_ONLY_ATTACKS for a in attacks):
                raise InputError(f"with label-only access only {', '.join(LABEL_ONLY_ATTACKS)} can run; "
                                 f"{[a for a in attacks if a not in LABEL_ONLY_ATTACKS]} need probabilities",
                                 field="attacks")
            object.__setattr__(self, "attacks", attacks)
        for name, minimum in (("shadow_models", 0), ("global_variance_below", 1), ("map_size", 4),
                              ("cnn_epochs", 1), ("bootstrap", 100), ("min_group", 2), ("batch_size", 1),
                              ("seed", 0)):
            checks.integer(getattr(self, name), name, minimum=minimum)
        for name in ("shadow_epochs", "shadow_steps_per_epoch", "workers"):
            checks.optional(checks.integer, getattr(self, name), name, minimum=1)
        checks.choice(self.lira_signal, ("image", "pixel"), "lira_signal")
        from segaudit.models.device import check_device

        check_device(self.device)
        checks.choice(self.executor, EXECUTORS, "executor")
        checks.integer(self.ray_task_memory_mb, "ray_task_memory_mb", minimum=1)
        checks.integer(self.ray_max_retries, "ray_max_retries", minimum=0)
        if self.executor == "ray":
            from segaudit.audit.privacy.executors import require_ray

            require_ray()
        checks.probability(self.confidence, "confidence")
        checks.number(self.alpha, "alpha", 0.0, 0.5, open_low=True)
        checks.boolean(self.balance, "balance")
        checks.boolean(self.leave_one_out, "leave_one_out")
        checks.optional(checks.number, self.rmia_a, "rmia_a", 0.0, 1.0)
        short = [a for a in self.selected_attacks() if minimum_references(a) > self.shadow_models]
        if short:
            needed = ", ".join(f"{a} {minimum_references(a)}" for a in short)
            raise InputError(f"too few shadow models ({self.shadow_models}) for {needed}; LiRA fits a Gaussian "
                             "per image from its in and out models and has no variance left below 4",
                             field="shadow_models")

    def selected_attacks(self) -> tuple[str, ...]:
        """The attacks to run: as asked, or every one the access and the number of shadows allow."""
        if self.attacks is not None:
            return self.attacks
        if self.label_only:
            return LABEL_ONLY_ATTACKS
        return tuple(a for a in ATTACKS if minimum_references(a) <= self.shadow_models)

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()

    def to_dict(self) -> dict[str, Any]:
        """The settings as they appear in privacy.json (the cache folder, workers, device and executor, which do
        not change what is measured, are left out)."""
        data = asdict(self)
        for key in ("cache_dir", "workers", "device", *EXECUTOR_FIELDS):
            data.pop(key)
        data["attacks"] = list(self.selected_attacks())
        return data

