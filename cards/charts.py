"""Small statistics plots for cards and the report, as PNG bytes (matplotlib, no display).

Only aggregate statistics are drawn, never images of people. PNGs carry no timestamp, so the same numbers give
the same bytes. Labels and titles hold users' values (attribute names, group labels): they are drawn as plain
text (mathtext off, so `$\\frac{` is those characters, not a formula that fails to parse) and shortened to one
line of bounded length (`plain_label`), so a very long name cannot blow up the figure.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from segaudit.core.safe_text import plain_label  # noqa: E402

F = TypeVar("F", bound=Callable[..., bytes])
PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}
SPLIT_COLOURS = {"train": "#1f4e79", "val": "#7aa6c2", "test": "#e07b39"}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def plain_text(draw: F) -> F:
    """Run `draw` with every text drawn literally (no mathtext, no TeX): user strings are never parsed. A
    character the font lacks (an emoji in a group label) is drawn as a box, without a warning per figure."""
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        with plt.rc_context(PLAIN_TEXT), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)  # drawn as boxes
            return draw(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@plain_text
def split_bars(title: str, counts: dict[str, dict[str, int | None]], splits: tuple[str, ...]) -> bytes:
    """Grouped bars: images per value (x) and split (colour). A None count (suppressed) is not drawn."""
    labels = [plain_label(label, 40) for label in counts]
    width = 0.8 / len(splits)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(labels) * len(splits) / 2 + 2), 2.8))
    for i, split in enumerate(splits):
        xs = [j + (i - (len(splits) - 1) / 2) * width for j in range(len(labels))]
        heights = [row.get(split) or 0 for row in counts.values()]
        ax.bar(xs, heights, width, label=split, color=SPLIT_COLOURS.get(split, "#888888"))
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 5 else 0, ha="right" if
                  len(labels) > 5 else "center", fontsize=8)
    ax.set_ylabel("images")
    ax.set_title(plain_label(title, 100), fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


@plain_text
def interval_plot(title: str, rows: list[dict[str, Any]], xlabel: str, reference: float | None = None) -> bytes:
    """One point with its CI per row ({'label', 'value', 'low', 'high'}), top to bottom; a dotted reference line."""
    fig, ax = plt.subplots(figsize=(6.0, 0.32 * len(rows) + 1.2))
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        if row.get("low") is not None and row.get("high") is not None:
            ax.plot([row["low"], row["high"]], [y, y], color="#1f4e79", lw=1.5)
        ax.plot([row["value"]], [y], "o", color="#1f4e79", ms=5)
    ax.set_yticks(range(len(rows)), [plain_label(r["label"]) for r in reversed(rows)], fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="#888888", ls=":", lw=1)
    ax.set_xlabel(plain_label(xlabel, 100), fontsize=9)
    ax.set_title(plain_label(title, 100), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
