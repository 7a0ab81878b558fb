"""Figures of a fairness audit (matplotlib, Agg backend, PNG): what a reviewer looks at first.

- forest plot per attribute: left, each group's mean with its t-interval and the overall mean; right, each
  group's difference from the rest with its one-sided bounds, zero, and the margin band [-margin, +margin];
- distribution per attribute: the per-image metric of each group (box: quartiles, whiskers: 5th-95th
  percentile, n beside it), so a mean is never read without its spread;
- heatmap per intersection: cell means, n in each cell, cells below the minimum group size greyed out.

Group labels come from user data and are drawn as plain text (matplotlib's mathtext is off: a '$' in a label is
a dollar sign, not a formula). An attribute with more than `MAX_SHOWN` groups shows those that matter most (the
largest shortfall bounds, or the largest groups) and says how many are left out.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from segaudit.audit.fairness.config import FairnessConfig  # noqa: E402
from segaudit.audit.fairness.result import OK, FairnessResult, GroupingResult  # noqa: E402
from segaudit.audit.fairness.subgroups import Grouping  # noqa: E402
from segaudit.core.safe_text import plot_slug  # noqa: E402

COLORS = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#ef6c00"}
SHORTFALL_COLORS = {"beyond the margin after correction (fail)": "#c62828",
                    "beyond the margin before correction only": "#ef6c00"}
POINTS = FuncFormatter(lambda value, _: f"{100 * value:g}")
"""Axis ticks in points (fractions x 100), the unit of every number in the report's text."""
MAX_SHOWN = 40
MAX_HEATMAP_CELLS = 2500


def slug(name: str) -> str:
    """A grouping's name as part of a file name (`segaudit.core.safe_text.plot_slug`: 'skin_tone × body_shape' ->
    'skin_tone__body_shape', a hash appended where two names could meet)."""
    return plot_slug(name)


def write_plots(result: FairnessResult, folder: Path) -> list[Path]:
    """Every figure of `result` into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    with plt.rc_context({"text.parse_math": False}):
        return _write_plots(result, folder)


def _write_plots(result: FairnessResult, folder: Path) -> list[Path]:
    written = []
    for r in result.results():
        written.append(forest_plot(r, result.config, result.overall["mean"], folder / f"forest_{slug(r.name)}.png"))
        grouping = result.groupings[r.name]
        if r.scope == "intersection":
            if len(r.groups) > MAX_HEATMAP_CELLS:
                continue  # unreadable as a picture; fairness.csv has every cell
            written.append(heatmap(r, grouping, result.config.metric, folder / f"heatmap_{slug(r.name)}.png"))
        else:
            written.append(distribution_plot(r, grouping, result.values, result.config.metric,
                                             folder / f"distribution_{slug(r.name)}.png"))
    return written


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def forest_plot(r: GroupingResult, config: FairnessConfig, overall: float, path: Path) -> Path:
    margin, metric = config.margin, config.metric
    by_group = {c.group: c for c in r.comparisons}
    tested = [g for g in r.groups if g.group in by_group]
    small = [g for g in r.groups if g.status != OK]
    untested = [g for g in r.groups if g.group not in by_group]
    shown = sorted(tested, key=lambda g: -by_group[g.group].shortfall_upper)[:MAX_SHOWN]
    groups = [g for g in tested if g in shown]
    height = 1.4 + 0.32 * max(len(groups), 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, height), sharey=True, layout="constrained")
    y = np.arange(len(groups))[::-1]
    if groups:
        means = np.array([g.mean for g in groups])
        # A percentile CI need not contain the mean (skewed or tied values): bars start at the estimate then.
        err = np.clip(np.array([[g.mean - g.ci_low, g.ci_high - g.mean] for g in groups]).T, 0.0, None)
        left.errorbar(means, y, xerr=err, fmt="o", color="#1f4e79", capsize=3)
        left.xaxis.set_major_formatter(POINTS)
        left.set_yticks(y, [f"{g.group} (n={g.n}{'' if g.status == OK else ', too few to pass'})" for g in groups])
    left.axvline(overall, color="grey", linestyle=":", label="all images")
    left.set_xlabel(f"mean per-image {metric}, points ({100 * (1 - config.alpha):g}% CI)" if groups else metric)
    left.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False, ncol=1)
    labelled: set[str | None] = set()
    right.axvspan(-margin, margin, color="#c8e6c9", alpha=0.6, label=f"margin ±{100 * margin:.2f} pts")
    right.axvline(0.0, color="grey", linewidth=0.8)
    for yi, g in zip(y, groups, strict=True):
        c = by_group.get(g.group)
        if c is None:
            right.plot([0.0], [yi], marker="D", color="grey")  # the reference group itself
            continue
        kind = ("beyond the margin after correction (fail)" if c.significant else
                "beyond the margin before correction only" if c.p_value <= config.alpha else None)
        right.errorbar([c.difference], [yi], xerr=[[max(c.difference - c.ci_low, 0.0)],
                                                   [max(c.ci_high - c.difference, 0.0)]],
                       fmt="o", color=SHORTFALL_COLORS.get(kind, "#1f4e79"), capsize=3,
                       label=kind if kind and kind not in labelled else None)
        labelled.add(kind)
    right.xaxis.set_major_locator(MaxNLocator(nbins=6))
    right.xaxis.set_major_formatter(POINTS)
    right.set_xlabel(f"vs the rest, points (one-sided {100 * (1 - config.alpha):g}% bounds)")
    right.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False, ncol=1)
    title = f"{r.name}: {r.verdict}"
    if len(tested) > len(groups):
        title += f"  ({len(groups)} of {len(tested)} tested groups shown: the largest shortfall bounds)"
    if untested:
        title += f"  ({len(untested)} group(s) untested: " + ", ".join(f"{g.group} n={g.n}" for g in untested[:4])
        title += ", ..." if len(untested) > 4 else ""
        title += ")"
    elif small and len(tested) == len(groups):
        title += f"  ({len(small)} group(s) too small to pass)"
    fig.suptitle(title, color=COLORS.get(r.verdict, "black"), fontsize=10)
    return _save(fig, path)


def distribution_plot(r: GroupingResult, grouping: Grouping, values: np.ndarray, metric: str, path: Path) -> Path:
    present = [(i, g) for i, g in enumerate(r.groups) if g.n > 0]
    if len(present) > MAX_SHOWN:
        keep = {i for i, _ in sorted(present, key=lambda item: -item[1].n)[:MAX_SHOWN]}
        present = [(i, g) for i, g in present if i in keep]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * max(len(present), 1)), layout="constrained")
    order = np.argsort(grouping.codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(grouping.codes, minlength=len(grouping.labels)))])
    data = [values[order[bounds[i]:bounds[i + 1]]] for i, _ in present]
    if data:
        ax.boxplot(data[::-1], orientation="horizontal", whis=(5, 95), showfliers=False, widths=0.6, showmeans=True,
                   meanprops={"marker": "D", "markerfacecolor": "#1f4e79", "markeredgecolor": "#1f4e79"})
        ax.set_yticks(np.arange(1, len(present) + 1), [f"{g.group} (n={g.n})" for _, g in present][::-1])
    ax.xaxis.set_major_formatter(POINTS)
    ax.set_xlabel(f"per-image {metric}, points (box: quartiles, whiskers: 5th-95th percentile, diamond: mean)")
    ax.set_title(f"{r.name}: distribution per group", fontsize=10)
    return _save(fig, path)


def heatmap(r: GroupingResult, grouping: Grouping, metric: str, path: Path) -> Path:
    rows, cols = grouping.axes or ((), ())
    means = np.full((len(rows), len(cols)), np.nan)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(cols), 1.2 + 0.5 * len(rows)), layout="constrained")
    for k, g in enumerate(r.groups):
        if g.status == OK:
            means[divmod(k, len(cols))] = g.mean
    ax.imshow(np.ones_like(means), cmap="Greys", vmin=0, vmax=5, aspect="auto")  # grey: cells not tested
    image = ax.imshow(np.ma.masked_invalid(means), cmap="viridis", aspect="auto")
    middle = np.nanmean([np.nanmin(means), np.nanmax(means)]) if np.isfinite(means).any() else 0.0
    for k, g in enumerate(r.groups):
        i, j = divmod(k, len(cols))
        if g.status == OK:
            color = "white" if g.mean < middle else "black"
            ax.text(j, i, f"{100 * g.mean:.1f}\nn={g.n}", ha="center", va="center", fontsize=7, color=color)
        else:
            ax.text(j, i, f"n={g.n}", ha="center", va="center", fontsize=7, color="#555555")
    fig.colorbar(image, ax=ax, label=f"mean per-image {metric}, points", format=POINTS)
    ax.set_xticks(np.arange(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(np.arange(len(rows)), rows)
    a, b = r.attributes
    ax.set_xlabel(b)
    ax.set_ylabel(a)
    ax.set_title(f"{r.name}: {r.verdict} (grey: n < {r.min_size})", fontsize=10, color=COLORS.get(r.verdict))
    return _save(fig, path)
