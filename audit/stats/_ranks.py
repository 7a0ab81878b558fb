"""Mid-ranks and tie sizes, computed once and shared by rank tests over many groups."""

from __future__ import annotations

import numpy as np


def midranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based, ties share their mean rank) [n] and the sizes of the tie blocks [K]."""
    order = np.argsort(x)  # any sort: tied values share one mid-rank, whatever their order
    xs = x[order]
    new = np.concatenate([[True], xs[1:] != xs[:-1]])
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, x.size))
    block_rank = starts + (sizes + 1) / 2.0  # mean of positions starts+1 .. starts+sizes
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(block_rank, sizes)
    return ranks, sizes.astype(np.float64)
