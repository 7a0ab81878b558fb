"""Small statistics plots for cards and the report, as PNG bytes (matplotlib, no display).

Only aggregate statistics are drawn, never images of people. PNGs carry no timestamp, so the same numbers give
the same bytes.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPLIT_COLOURS = {"train": "#1f4e79", "val": "#7aa6c2", "test": "#e07b39"}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def split_bars(title: str, counts: dict[str, dict[str, int | None]], splits: tuple[str, ...]) -> bytes:
    """Grouped bars: images per value (x) and split (colour). A None count (suppressed) is not drawn."""
    labels = list(counts)
    width = 0.8 / len(splits)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(labels) * len(splits) / 2 + 2), 2.8))
    for i, split in enumerate(splits):
        xs = [j + (i - (len(splits) - 1) / 2) * width for j in range(len(labels))]
        heights = [counts[label].get(split) or 0 for label in labels]
        ax.bar(xs, heights, width, label=split, color=SPLIT_COLOURS.get(split, "#888888"))
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 5 else 0, ha="right" if
                  len(labels) > 5 else "center", fontsize=8)
    ax.set_ylabel("images")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def interval_plot(title: str, rows: list[dict[str, Any]], xlabel: str, reference: float | None = None) -> bytes:
    """One point with its CI per row ({'label', 'value', 'low', 'high'}), top to bottom; a dotted reference line."""
    fig, ax = plt.subplots(figsize=(6.0, 0.32 * len(rows) + 1.2))
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        if row.get("low") is not None and row.get("high") is not None:
            ax.plot([row["low"], row["high"]], [y, y], color="#1f4e79", lw=1.5)
        ax.plot([row["value"]], [y], "o", color="#1f4e79", ms=5)
    ax.set_yticks(range(len(rows)), [r["label"] for r in reversed(rows)], fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="#888888", ls=":", lw=1)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
