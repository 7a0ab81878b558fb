"""`synthesize`: write a whole synthetic dataset package (the embedded default dataset).

Splits are assigned first, from their own seeded stream (a shuffled list with exact split sizes), so they do
not depend on how attributes are drawn. Each sample is then rendered from `default_rng([seed, index])` with
its split's attribute weights, PNG-encoded in worker processes and written in index order: the same arguments
give byte-identical files whatever the number of workers.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from segaudit.core import checks
from segaudit.models.data.spec import DatasetSpec
from segaudit.models.data.synth.attributes import ATTRIBUTES, Weights, check_group_weights
from segaudit.models.data.synth.parts import FASHION_CLASSES
from segaudit.models.data.synth.render import render_sample
from segaudit.models.data.writer import SPLITS, PackageWriter, check_fractions, encode_png

log = logging.getLogger(__name__)

LABEL_SETS: dict[str, dict[int, str]] = {
    "person": {0: "background", 1: "person"},
    "fashion": dict(FASHION_CLASSES),
}
_LOOKUP = {
    "person": np.array([0, 1, 1, 1, 1, 1, 1], dtype=np.uint8),
    "fashion": np.arange(7, dtype=np.uint8),
}
SPLIT_STREAM = 0x5B117
"""Spawn key of the split-assignment stream, apart from every per-sample stream."""
VERSION = "1.0.0"
T = TypeVar("T")
R = TypeVar("R")


def _check(n: int, seed: int, size: int, label_set: str, split_fractions: tuple[float, float, float],
           workers: int | None) -> None:
    checks.integer(n, "n", minimum=1)
    checks.integer(seed, "seed", minimum=0)
    checks.integer(size, "size", minimum=64, multiple_of=32)
    checks.choice(label_set, LABEL_SETS, "label_set")
    check_fractions(split_fractions)
    checks.optional(checks.integer, workers, "workers", minimum=1)


def assign_splits(n: int, seed: int, split_fractions: tuple[float, float, float]) -> list[str]:
    """Exact split sizes (largest remainder), shuffled by a stream of their own."""
    raw = np.array(split_fractions, dtype=np.float64) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    labels = np.repeat(np.arange(3), counts)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_STREAM,)))
    return [SPLITS[i] for i in rng.permutation(labels)]


def dataset_spec(label_set: str, description: str, provenance: str) -> DatasetSpec:
    return DatasetSpec(
        name=f"segaudit-synthetic-{label_set}",
        version=VERSION,
        description=description,
        license="CC0-1.0",
        provenance=provenance,
        classes=dict(LABEL_SETS[label_set]),
        attributes=dict(ATTRIBUTES),
    )


Task = tuple[int, int, int, str, dict[str, np.ndarray]]
"""(index, seed, size, label_set, attribute probabilities of the sample's split)"""


def _encode(task: Task) -> tuple[int, bytes, bytes, dict[str, Any]]:
    """Worker: render one sample and encode its PNGs (runs in a child process or inline)."""
    index, seed, size, label_set, probabilities = task
    image, labels, person = render_sample(seed, index, size, probabilities)
    mask = _LOOKUP[label_set][labels]
    return index, encode_png(image), encode_png(mask), person.manifest()


def _results(tasks: list[Task], workers: int) -> Iterator[tuple[int, bytes, bytes, dict[str, Any]]]:
    return ordered_map(_encode, tasks, workers)


def ordered_map(fn: Callable[[T], R], tasks: list[T], workers: int) -> Iterator[R]:
    """fn over tasks in task order, in `workers` processes (inline with one): the generators' worker pool.

    fork on Linux (like torch's DataLoader): works from any script, children only use numpy/PIL/scipy; spawn
    elsewhere (macOS, Windows), where the caller needs the usual `if __name__ == "__main__"` guard."""
    if workers == 1:
        yield from map(fn, tasks)
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    chunk = max(1, min(32, len(tasks) // (workers * 8)))
    with context.Pool(workers) as pool:
        yield from pool.imap(fn, tasks, chunksize=chunk)


def synthesize(out: str | Path, n: int = 600, seed: int = 0, size: int = 128, label_set: str = "person",
               split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
               group_weights: Weights | None = None,
               workers: int | None = None, overwrite: bool = False, progress: bool = False) -> Path:
    """Generate a synthetic people dataset package at `out` and return its path.

    n images of size x size, one standing person each, with exact masks in `label_set` ("person" or
    "fashion", see LABEL_SETS) and the attributes skin_tone, body_shape, build, age_group, height_cm and
    lighting. `group_weights` ({split: {attribute: {value: weight}}}) skews a split's attribute draws;
    SKEWED_TRAIN is a preset. Written atomically; byte-identical for the same arguments, whatever `workers`.
    """
    _check(n, seed, size, label_set, split_fractions, workers)
    probabilities = check_group_weights(group_weights)
    n, seed, size = int(n), int(seed), int(size)
    if workers is None:
        workers = 1 if n < 64 else max(1, min(os.cpu_count() or 1, 8))
    splits = assign_splits(n, seed, split_fractions)
    arguments = {"n": n, "seed": seed, "size": size, "label_set": label_set,
                 "split_fractions": list(split_fractions), "group_weights": group_weights}
    description = (f"Synthetic full-body people ({n} images, {size}x{size} px) standing in cluttered rooms under "
                   "normal, low and backlit lighting, with exact masks. Attributes are the generator's own "
                   "ground truth, not estimates.")
    provenance = ("Generated by segaudit models.data.synth.synthesize with "
                  f"{json.dumps(arguments, sort_keys=True)}; no real people or photos were used.")
    tasks = [(i, seed, size, label_set, probabilities[splits[i]]) for i in range(n)]
    log.info("synthesising %d images at %d px with %d worker(s) into %s", n, size, workers, out)
    from tqdm import tqdm

    with PackageWriter(out, dataset_spec(label_set, description, provenance), overwrite=overwrite) as writer:
        results = tqdm(_results(tasks, workers), total=n, desc="synthesising", unit="img", disable=not progress)
        for index, image_png, mask_png, attributes in results:
            writer.add_encoded(f"synth-{index:06d}", image_png, mask_png, splits[index], attributes)
    return Path(out)
