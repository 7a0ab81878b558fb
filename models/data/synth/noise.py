"""Smooth value noise: a random grid interpolated with smoothstep weights; the raw material of every texture.

Interpolation is separable and done with gathers, not matrix products: no BLAS threads (which crawl on a
busy machine) and bit-identical results everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=512)
def _taps(length: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of `length` pixels: the grid index to its left and the smoothstep weight of the right one."""
    u = (np.arange(length, dtype=np.float32) + 0.5) * np.float32(cells / length) + np.float32(0.5)
    index = np.floor(u).astype(np.intp)
    f = (u - index).astype(np.float32)
    weight = f * f * (3.0 - 2.0 * f)
    index.flags.writeable = False
    weight.flags.writeable = False
    return index, weight


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[float, float]) -> np.ndarray:
    """[h, w] float32 noise in 0..1 with about `cells` = (rows, cols) random values across the field.

    More cells along one axis than the other gives streaks (hair strands, cloth folds, wood grain).
    """
    rows, cols = max(1, round(cells[0])), max(1, round(cells[1]))
    grid = rng.random((rows + 2, cols + 2), dtype=np.float32)
    iy, wy = _taps(shape[0], rows)
    ix, wx = _taps(shape[1], cols)
    left, right = grid[:, ix], grid[:, ix + 1]
    across = left + wx[None, :] * (right - left)  # [rows + 2, w]: cheap, the grid has few rows
    top, bottom = across[iy], across[iy + 1]  # whole-row gathers
    return top + wy[:, None] * (bottom - top)


def fractal_noise(rng: np.random.Generator, shape: tuple[int, int], cells: float, octaves: int = 3) -> np.ndarray:
    """Sum of value noise at doubling frequencies, normalised to about 0..1."""
    total = np.zeros(shape, dtype=np.float32)
    weight = 0.0
    for octave in range(octaves):
        amplitude = 0.5 ** octave
        n = cells * 2 ** octave
        total += amplitude * value_noise(rng, shape, (n, n))
        weight += amplitude
    return total / np.float32(weight)
