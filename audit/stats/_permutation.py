"""Null distributions of group sums under random relabelling, as scipy.stats.permutation_test builds them.

The samples are concatenated [n] and relabelled by permuting that vector: the first n_0 values form sample 0,
the next n_1 sample 1, and so on. Random relabellings are drawn as `rng.permuted` rows of a [b, n] block,
which consumes the Generator exactly as scipy's `rng.permutation(n)` per resample does, so with the same
Generator state our null distribution (and p-value) is scipy's. When `n_resamples` reaches the number of
distinct relabellings, all of them are enumerated instead (an exact test, as in scipy).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from segaudit.audit.stats._validation import CHUNK_ELEMENTS


def n_relabellings(sizes: list[int]) -> int:
    """Number of distinct ways to split sum(sizes) observations into samples of these sizes."""
    total, count = 0, 1
    for k in sizes:
        total += k
        count *= math.comb(total, k)
    return count


def all_relabellings(sizes: list[int]) -> np.ndarray:
    """Every distinct relabelling as an index order [M, n] (sample 0's indices first, then sample 1's, ...)."""
    n = sum(sizes)
    rows = np.empty((1, 0), dtype=np.intp)
    remaining = np.arange(n, dtype=np.intp)[None, :]
    for k in sizes[:-1]:
        r = remaining.shape[1]
        chosen_pos = np.array(list(combinations(range(r), k)), dtype=np.intp).reshape(-1, k)  # [C, k]
        keep = np.ones((chosen_pos.shape[0], r), dtype=bool)
        keep[np.arange(chosen_pos.shape[0])[:, None], chosen_pos] = False
        left_pos = np.nonzero(keep)[1].reshape(-1, r - k)  # [C, r - k]
        n_combos = chosen_pos.shape[0]
        rows = np.concatenate([np.repeat(rows, n_combos, axis=0), remaining[:, chosen_pos].reshape(-1, k)], axis=1)
        remaining = remaining[:, left_pos].reshape(-1, r - k)
    return np.concatenate([rows, remaining], axis=1)


def null_group_sums(data: np.ndarray, sizes: list[int], n_resamples: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Sums of each sample under relabelling: ([M, G], exact). M = n_resamples, or all relabellings if fewer."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if n_resamples >= n_relabellings(sizes):
        return np.add.reduceat(data[all_relabellings(sizes)], starts, axis=1), True
    n = data.size
    rows = max(1, CHUNK_ELEMENTS // n)
    sums = np.empty((n_resamples, len(sizes)))
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        block = np.tile(data, (b, 1))
        rng.permuted(block, axis=1, out=block)
        sums[start:start + b] = np.add.reduceat(block, starts, axis=1)
    return sums, False


def permutation_pvalue(null: np.ndarray, observed: float, alternative: str, exact: bool) -> float:
    """scipy's rule: count null values at least as extreme (with a relative tolerance of 100 eps for values
    equal in theory but not in floating point); add 1 to count and total for random relabellings; two-sided
    doubles the smaller one-sided p; clip to [0, 1]."""
    adjustment = 0 if exact else 1
    gamma = abs(np.finfo(np.float64).eps * 100 * observed)
    total = null.size + adjustment
    p_less = (np.count_nonzero(null <= observed + gamma) + adjustment) / total
    p_greater = (np.count_nonzero(null >= observed - gamma) + adjustment) / total
    p = {"less": p_less, "greater": p_greater, "two-sided": 2 * min(p_less, p_greater)}[alternative]
    return float(np.clip(p, 0.0, 1.0))
