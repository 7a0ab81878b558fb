"""What every importer shares: checked reading of images and masks, split assignment, and the write loop.

Each importer scans and validates its source first (folders, pairing, annotation files), then streams the
samples through `write_samples`, which decodes and converts them (optionally on a few threads, in a fixed
order) and hands the PNG bytes to `PackageWriter`. Any error discards the half-written package.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.models.data.spec import DatasetSpec, spec_from_dict
from segaudit.models.data.writer import ID_PATTERN, SPLITS, PackageWriter, encode_instances_png, encode_png

log = logging.getLogger(__name__)

PERSON_CLASSES: dict[int, str] = {0: "background", 1: "person"}
IGNORE_INDEX = 255
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SINGLE_CHANNEL_MODES = ("1", "L", "P", "I", "I;16")
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
MAX_REPORTED = 20
_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)
T = TypeVar("T")
R = TypeVar("R")


# --- checks on what the user gave --------------------------------------------------------------------------

def require_folder(path: Path, what: str) -> Path:
    """`path` if it is a folder, else an InputError saying what was expected there."""
    if not path.is_dir():
        raise InputError(f"missing folder: expected {what}", path=path)
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"missing file: expected {what}", path=path)
    return path


def check_id(sample_id: str, path: Path) -> str:
    """A sample id (a file stem) that the package format accepts, else an InputError naming the file."""
    if not ID_PATTERN.match(sample_id):
        raise InputError(f"file stem {sample_id!r} is not a usable sample id (letters, digits, '.', '_', '-', "
                         "not starting with '.', '_' or '-'); rename the file", path=path)
    return sample_id


def check_classes(classes: Mapping[int, str]) -> dict[int, str]:
    """Class ids 0..n-1 (n >= 2) with names; 255 stays reserved for ignore_index."""
    try:
        parsed = {int(k): str(v) for k, v in classes.items()}
    except (TypeError, ValueError, AttributeError):
        raise InputError(f"must map integer class ids to names, got {classes!r}", field="classes") from None
    if len(parsed) < 2 or sorted(parsed) != list(range(len(parsed))) or len(parsed) > IGNORE_INDEX:
        raise InputError(f"class ids must be 0..n-1 (at least two, below {IGNORE_INDEX}), got {sorted(parsed)}",
                         field="classes")
    return dict(sorted(parsed.items()))


def check_split(split: str) -> str:
    return checks.choice(split, SPLITS, "split")


def raise_all(problems: Sequence[InputError], where: Path) -> None:
    """Raise the one problem found, or one InputError listing them all (the first MAX_REPORTED)."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:MAX_REPORTED])
        more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise InputError(f"{len(problems)} problems found:\n  {shown}{more}", path=where)


# --- reading pixels ----------------------------------------------------------------------------------------

def read_rgb(path: Path) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB (grey, palette and alpha images are converted; EXIF is not applied,
    so pixels stay aligned with masks drawn on the stored array)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except _READ_ERRORS as exc:
        raise InputError(f"unreadable or truncated image: {exc}", path=path) from None


def read_single_channel(path: Path) -> np.ndarray:
    """A single-channel PNG (grey, palette indices, 16/32-bit, 1-bit) as an HxW integer array."""
    try:
        with Image.open(path) as image:
            if image.mode not in SINGLE_CHANNEL_MODES:
                raise InputError(f"must be a single-channel PNG of ids (grey or palette), got mode {image.mode}",
                                 path=path)
            array = np.asarray(image)
    except _READ_ERRORS as exc:
        raise InputError(f"unreadable or truncated mask: {exc}", path=path) from None
    return array.astype(np.uint8) if array.dtype == bool else array


def check_same_size(image: np.ndarray, mask: np.ndarray, mask_path: Path, image_path: Path) -> None:
    if image.shape[:2] != mask.shape[:2]:
        raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path.name} is "
                         f"{image.shape[1]}x{image.shape[0]}", path=mask_path)


def class_mask(ids: np.ndarray, classes: Mapping[int, str], path: Path) -> np.ndarray:
    """A mask of class ids as uint8, checked against the declared classes (and ignore_index 255)."""
    values = np.unique(ids)
    bad = [int(v) for v in values if int(v) not in classes and int(v) != IGNORE_INDEX]
    if bad:
        raise InputError(f"mask values {bad[:10]} are not declared classes {sorted(classes)} "
                         f"(or ignore_index {IGNORE_INDEX})", path=path)
    return ids.astype(np.uint8)


# --- ids, splits, spec -------------------------------------------------------------------------------------

def natural_key(text: str) -> list[Any]:
    """Sort key that puts '2' before '10' (CelebA and PennFudan ids are numbered)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def random_splits(ids: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """Seeded random split of `ids` by (train, val, test) fractions; the same ids and seed give the same split
    whatever order they come in."""
    ordered = sorted(ids, key=natural_key)
    order = np.random.default_rng(seed).permutation(len(ordered))
    bounds = np.round(np.cumsum(fractions) * len(ordered)).astype(int)
    bounds[-1] = len(ordered)
    return {ordered[index]: SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
            for rank, index in enumerate(order)}


def build_spec(*, name: str, description: str, license: str, provenance: str, classes: Mapping[int, str],
               attributes: Mapping[str, Any] | None = None, instances: bool = False) -> DatasetSpec:
    """A DatasetSpec, validated exactly as `load_package` will validate the dataset.yaml written from it.

    `instances=True` makes a schema-version-2 spec whose samples carry instance-id masks (every job's `load`
    then returns one); without it the spec, and so the dataset.yaml, is the schema-version-1 one as before."""
    spec = DatasetSpec(name=name, version="1.0", description=description, license=license,
                       provenance=provenance, classes=dict(classes), attributes=dict(attributes or {}),
                       ignore_index=IGNORE_INDEX, instances=instances)
    return spec_from_dict(spec.to_dict())


def package_name(name: str | None, out: Path) -> str:
    chosen = (name if name is not None else Path(out).name).strip()
    if not chosen:
        raise InputError("the dataset needs a non-empty name", field="name")
    return chosen


# --- writing -----------------------------------------------------------------------------------------------

Sample = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]
"""What a job loads: (image, mask), or (image, mask, instance ids) for a spec that declares instances."""


@dataclass(frozen=True)
class Job:
    """One sample to write: `load()` returns (image HxWx3 uint8, mask HxW uint8 class ids) or, for a spec with
    `instances`, (image, mask, instance ids HxW: 0 no person, 1..65535 the people), or raises InputError naming
    the source file."""

    sample_id: str
    split: str
    attributes: Mapping[str, Any]
    load: Callable[[], Sample]


def _encode(job: Job) -> tuple[bytes, bytes, bytes | None]:
    """PNG bytes of (image, mask, instance ids or None); runs on the worker threads."""
    image, mask, *rest = job.load()
    if not rest:
        return encode_png(image), encode_png(mask), None
    (instances,) = rest
    if instances.shape != mask.shape:
        raise ValueError(f"{job.sample_id}: instances {instances.shape} and mask {mask.shape} differ in size")
    return encode_png(image), encode_png(mask), encode_instances_png(instances)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`map(fn, items)` on up to `workers` threads, results in input order, at most 2*workers in flight.

    Threads suffice: PIL decodes and zlib compresses with the GIL released.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segaudit-import")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def write_samples(out: Path, spec: DatasetSpec, jobs: Sequence[Job], overwrite: bool = False,
                  workers: int = 1, progress: bool = False) -> Path:
    """Write all jobs (in the given order) through PackageWriter and move the package into place; a job returns
    an instance mask exactly when `spec.instances` (PackageWriter refuses a mismatch)."""
    from tqdm import tqdm

    if not jobs:
        raise InputError("found no samples to import", path=out)
    with PackageWriter(out, spec, overwrite=overwrite) as writer, \
            closing(ordered_map(_encode, jobs, max(1, int(workers)))) as encoded:
        for job, (image_png, mask_png, instances_png) in tqdm(zip(jobs, encoded, strict=True), total=len(jobs),
                                                              desc="importing", unit="img", disable=not progress):
            writer.add_encoded(job.sample_id, image_png, mask_png, job.split, dict(job.attributes),
                               instances_png=instances_png)
    counts = {s: sum(job.split == s for job in jobs) for s in SPLITS}
    log.info("wrote %d samples to %s (%s)", len(jobs), out, ", ".join(f"{s} {n}" for s, n in counts.items()))
    return Path(out)
