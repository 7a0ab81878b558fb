"""Input checks shared by the statistics: every error says what was expected, what came in and where."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

ALTERNATIVES = ("two-sided", "less", "greater")

# Resampling works on blocks of about this many elements (512 KiB of float64): memory stays bounded and the
# block stays in cache, which measured faster than larger blocks.
CHUNK_ELEMENTS = 1 << 16

Seed = int | np.random.Generator | np.random.SeedSequence


def as_sample(x: Any, name: str, *, min_size: int = 1) -> np.ndarray:
    """Return `x` as a finite 1-D float64 array with at least `min_size` values, or raise ValueError."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be numeric; could not convert it to floats ({err})") from None
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty; at least {min_size} value(s) are needed")
    if arr.size < min_size:
        raise ValueError(f"`{name}` has {arr.size} value(s); at least {min_size} are needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`{name}` contains {int(bad.sum())} NaN or infinite value(s), the first at index {first}")
    return arr


def encode_groups(groups: Any, n: int, name: str = "groups") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode group labels as integer codes.

    Returns (labels [G] in sorted order, codes [n] in 0..G-1, counts [G]). Unknown values must already carry
    an explicit label (e.g. "unknown"): None and NaN labels are rejected so no row is dropped silently.
    """
    arr = np.asarray(groups)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got an array of shape {arr.shape}")
    if arr.size != n:
        raise ValueError(f"`values` has {n} entries but `{name}` has {arr.size}; they must match one to one")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"`{name}` contains NaN labels; give unknown values an explicit label such as 'unknown'")
    if arr.dtype == object:
        missing = _missing_objects(arr)
        if missing.any():
            raise ValueError(f"`{name}` has a missing label (None/NaN/NA) at index {int(np.flatnonzero(missing)[0])};"
                             " give unknown values an explicit label such as 'unknown'")
        if all(isinstance(v, str) for v in arr):
            arr = arr.astype(str)  # sorting fixed-width strings is ~10x faster than sorting Python objects
    try:
        labels, codes, counts = np.unique(arr, return_inverse=True, return_counts=True)
    except TypeError as err:
        raise ValueError(f"`{name}` labels must be mutually comparable (e.g. all strings): {err}") from None
    return labels, codes.reshape(-1), counts


def _missing_objects(arr: np.ndarray) -> np.ndarray:
    """Which entries of an object array are None, NaN, NaT or pandas.NA."""
    try:
        with np.errstate(invalid="ignore"):
            return np.equal(arr, None) | np.asarray(arr != arr, dtype=bool)
    except TypeError:  # pandas.NA refuses to be a bool
        return np.array([v is None or type(v).__name__ == "NAType" or bool(v != v) for v in arr], dtype=bool)


def check_samples(samples: Sequence[Any], *, min_groups: int = 2, min_size: int = 1) -> list[np.ndarray]:
    """Validate several samples (`samples[i]` named `samples[i]` in errors)."""
    if len(samples) < min_groups:
        raise ValueError(f"need at least {min_groups} samples, got {len(samples)}")
    return [as_sample(s, f"samples[{i}]", min_size=min_size) for i, s in enumerate(samples)]


def check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"`alternative` must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def check_probability(value: float, name: str) -> float:
    """A probability strictly between 0 and 1 (confidence, alpha, power)."""
    if not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"`{name}` must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def check_n_resamples(n_resamples: int, minimum: int = 1) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < minimum:
        raise ValueError(f"`n_resamples` must be an integer >= {minimum}, got {n_resamples!r}")
    return int(n_resamples)


def as_generator(seed: Seed) -> np.random.Generator:
    """A Generator from an int seed, a SeedSequence or a Generator (used as is, so its state advances).

    None is refused on purpose: every number an audit reports must be reproducible from its seed.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"`seed` must be a non-negative int, a numpy SeedSequence or Generator, got {seed!r}")
