"""Shadow (reference) models: trained like the target on random halves of the attacker's images, and queried.

Plan: the audit pool (members + non-members, P images) is split K/2 times into a random half and its complement;
shadow 2j trains on the half, shadow 2j+1 on the complement (an odd K adds one more random half). So every image
is "in" for exactly K/2 shadows and "out" for the other K/2 (LiRA online needs both), and every shadow sees
P/2 images. Each shadow is `models.train.train` with the target's recipe (architecture, input size, epochs,
optimizer, DP settings) and its own seed, on a view of the dataset package (`DatasetPackage.view`, its files
read in place) whose train split is its half and whose val split is the population split (or, without one, its
out-half, used for checkpoint selection only).

Cache: a shadow lives in CACHE/<key>/ where key hashes the recipe, the seed, and the ids and file sha256 of its
train and val images; its signals on the pool and population in CACHE/<key>/signals-<query key>.npz. A second
audit with the same data, recipe and seed trains nothing, and reads no image to hash it: the sha256 are cached
by path, size and mtime beside the cache (digests.py). Entries are written into a temporary folder and
renamed into place, so an interrupted run never leaves a half-trained shadow in the cache.

Parallel: missing shadows train in `workers` processes (spawned, one torch thread each: on a small CPU several
one-thread processes beat one many-thread process, and never oversubscribe), or, with a `RaySettings`, as one
Ray task each on a cluster (executors.py); both run `run_job` on the same jobs, so their results are identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from segaudit.audit.privacy.digests import cached_digests
from segaudit.audit.privacy.executors import RaySettings
from segaudit.audit.privacy.signals import Signals, compute_signals
from segaudit.models.train import TrainConfig

log = logging.getLogger(__name__)
CACHE_VERSION = 1


def plan_shadows(n_pool: int, k: int, seed: int) -> np.ndarray:
    """Inclusion matrix [K, P] (bool): which pool images each shadow trains on (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x5AD0])
    inclusion = np.zeros((k, n_pool), dtype=bool)
    for j in range(0, k, 2):
        half = rng.permutation(n_pool)[: n_pool // 2 + int(n_pool % 2 and rng.random() < 0.5)]
        inclusion[j, half] = True
        if j + 1 < k:
            inclusion[j + 1] = ~inclusion[j]
    return inclusion


@dataclass(frozen=True)
class ShadowJob:
    """Everything a worker process needs to train (or find) one shadow and query it; picklable."""

    index: int
    package_root: str
    train_rows: tuple[dict[str, str], ...]  # manifest rows (id, image, mask) of its training images
    val_rows: tuple[dict[str, str], ...]
    query_rows: tuple[dict[str, str], ...]  # pool then population, in audit order
    n_population: int
    recipe: dict[str, Any]
    query: dict[str, Any]  # signals settings: map_size, probabilities, label_only, seed, batch_size
    key: str
    query_key: str
    cache: str
    # [id, sha256(image), sha256(mask)] of train_rows then val_rows: what `key` was computed from, so that a task
    # on another node can check it reads the same bytes (executors.verify_files)
    digests: tuple[tuple[str, str, str], ...] = ()

    @property
    def folder(self) -> Path:
        return Path(self.cache) / self.key

    @property
    def signals_path(self) -> Path:
        return self.folder / f"signals-{self.query_key}.npz"


@dataclass
class Shadows:
    """Trained shadows' signals on the pool and on the population, and who trained on what."""

    inclusion: np.ndarray  # [K, P]
    pool: list[Signals]
    population: list[Signals]
    folders: list[Path]
    trained: int  # how many were trained now (the rest came from the cache)
    recipe: dict[str, Any]


def shadow_recipe(recipe: TrainConfig, trained: dict[str, Any], epochs: int | None,
                  steps_per_epoch: int | None, device: str = "cpu") -> TrainConfig:
    """The target's recipe for a shadow: deterministic (no time budget: a run stopped by its budget gives its
    epochs run instead), no loader workers, the audit's overrides, on the audit's device."""
    if epochs is None:
        epochs = int(trained["epochs_run"]) if trained.get("stopped") == "time-budget" else recipe.epochs
    return replace(recipe, epochs=epochs, max_minutes=None, workers=0, device=device,
                   steps_per_epoch=steps_per_epoch if steps_per_epoch is not None else recipe.steps_per_epoch)


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def file_digests(root: Path, rows: list[dict[str, str]], cache: str | Path | None = None) -> list[list[str]]:
    """[id, sha256(image), sha256(mask)] per row: what the cache key depends on. With the shadow cache `cache`,
    through the digest cache beside it (digests.py), so a rerun reads only the files that changed."""
    return cached_digests(root, rows, cache)


def make_jobs(package_root: Path, pool_rows: list[dict[str, str]], population_rows: list[dict[str, str]],
              inclusion: np.ndarray, recipe: TrainConfig, query: dict[str, Any], seed: int,
              cache: Path) -> list[ShadowJob]:
    """One job per shadow, with its cache keys."""
    rows = [{k: r[k] for k in ("id", "image", "mask")} for r in pool_rows]
    population = [{k: r[k] for k in ("id", "image", "mask")} for r in population_rows]
    digests = file_digests(package_root, rows + population, cache)
    pool_digests, population_digests = digests[: len(rows)], digests[len(rows):]
    query_key = digest({"v": CACHE_VERSION, "query": query, "images": digests})
    jobs = []
    for k, included in enumerate(inclusion):
        train = [r for r, inside in zip(rows, included, strict=True) if inside]
        val = population or [r for r, inside in zip(rows, included, strict=True) if not inside]
        shadow_config = replace(recipe, seed=int(seed) * 1000 + k)
        train_digests = [d for d, inside in zip(pool_digests, included, strict=True) if inside]
        val_digests = population_digests or [d for d, inside in zip(pool_digests, included, strict=True)
                                             if not inside]
        key = digest({"v": CACHE_VERSION, "recipe": _recipe_key(shadow_config), "train": train_digests,
                      "val": val_digests})
        jobs.append(ShadowJob(index=k, package_root=str(package_root), train_rows=tuple(train),
                              val_rows=tuple(val), query_rows=tuple(rows + population),
                              n_population=len(population), recipe=asdict(shadow_config), query=query, key=key,
                              query_key=query_key, cache=str(cache),
                              digests=tuple(tuple(d) for d in train_digests + val_digests)))
    return jobs


def _recipe_key(recipe: TrainConfig) -> dict[str, Any]:
    """The recipe as the cache key sees it: where it runs (device) is left out, so a shadow trained on a GPU is
    found by a CPU audit and the keys of shadows cached before the device option existed still hold."""
    data = asdict(recipe)
    data.pop("device", None)
    return data


def run_shadows(jobs: list[ShadowJob], inclusion: np.ndarray, workers: int | None,
                progress: bool = False, ray: RaySettings | None = None) -> Shadows:
    """Train and query every shadow not in the cache (in `workers` local processes, or as Ray tasks when `ray` is
    given), then load all signals."""
    from segaudit.audit.privacy.executors import run_local, run_ray

    missing = [job for job in jobs if not job.signals_path.is_file()]
    trained_before = {job.index for job in missing if _is_trained(job.folder)}
    bar = tqdm(total=len(missing), desc="shadow models", unit="model", disable=not progress or not missing)
    try:
        if ray is not None and missing:
            run_ray(missing, ray, bar)
        else:
            run_local(missing, workers, bar)
    finally:
        bar.close()
    signals = [Signals.load(job.signals_path) for job in jobs]
    n_pool = inclusion.shape[1]
    return Shadows(inclusion=inclusion, pool=[s.take(slice(0, n_pool)) for s in signals],
                   population=[s.take(slice(n_pool, None)) for s in signals],
                   folders=[job.folder for job in jobs],
                   trained=len([j for j in missing if j.index not in trained_before]),
                   recipe=_recipe_key(TrainConfig(**jobs[0].recipe)) if jobs else {})


def run_job(job: ShadowJob) -> Path:
    """Train the shadow if the cache lacks it, then compute and store its signals; returns the signals file."""
    from segaudit.models.data.package import load_package
    from segaudit.models.runtime import Segmenter

    if not _is_trained(job.folder):
        _train(job)
    package = load_package(job.package_root)
    rows = list(job.query_rows)
    images = [package.read_image(r) for r in rows]
    masks = [package.read_mask(r) for r in rows]
    segmenter = Segmenter(job.folder / "run" / "best", batch_size=job.query["batch_size"],
                          device=job.recipe.get("device", "cpu"))
    n_pool = len(rows) - job.n_population
    settings = {k: job.query[k] for k in ("map_size", "seed", "batch_size")}
    pool = compute_signals(segmenter, images[:n_pool], masks[:n_pool], package.spec.ignore_index,
                           probabilities=job.query["probabilities"], label_only=job.query["label_only"], **settings)
    parts = [pool]
    if job.n_population:
        parts.append(compute_signals(segmenter, images[n_pool:], masks[n_pool:], package.spec.ignore_index,
                                     probabilities=job.query["probabilities"], label_only=False, **settings))
        if pool.label_iou is not None:  # keep the arrays stackable: population has no label-only signal
            parts[1].label_iou = np.full((job.n_population, pool.label_iou.shape[1]), np.nan)
    from segaudit.audit.privacy.signals import concat

    concat(parts).save(job.signals_path)
    return job.signals_path


def _is_trained(folder: Path) -> bool:
    return (folder / "run" / "result.json").is_file() and (folder / "run" / "best" / "model.json").is_file()


def _train(job: ShadowJob) -> None:
    from segaudit.core.atomic import recover_leftovers, staging_prefix
    from segaudit.models.data.package import load_package
    from segaudit.models.train import quiet_training, train

    folder = job.folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover_leftovers(folder)  # a shadow whose process was killed mid-training
    tmp = Path(tempfile.mkdtemp(prefix=staging_prefix(folder, "tmp"), dir=folder.parent))
    try:
        # a view of the package with the half as its train split and the val rows as its val split, in the job's
        # order: the files are read in place (no copy, no hard links), and training sees the same images in the
        # same order as from the copied package shadows once trained on, so the weights and the key are unchanged
        data = load_package(job.package_root).view({"train": [r["id"] for r in job.train_rows],
                                                    "val": [r["id"] for r in job.val_rows]})
        with quiet_training():
            train(data, tmp / "run", TrainConfig(**job.recipe))
        shutil.rmtree(tmp / "run" / "last", ignore_errors=True)
        (tmp / "shadow.json").write_text(json.dumps({"index": job.index, "key": job.key, "recipe": job.recipe,
                                                     "train_ids": [r["id"] for r in job.train_rows],
                                                     "val_ids": [r["id"] for r in job.val_rows]}, indent=1))
        if folder.exists():  # another process finished the same shadow first
            shutil.rmtree(tmp)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
