"""`audit_fairness`: the per-image table in, every attribute's and intersection's verdict out.

    >>> from audit.fairness import FairnessConfig, audit_fairness
    >>> result = audit_fairness(table, package.spec, FairnessConfig(intersections=(("skin_tone", "body_shape"),)))
    >>> result.by_group                 # tidy: one row per group, n, mean, CI, power ...   # doctest: +SKIP
    >>> result.verdicts                 # one row per attribute: verdict and reason        # doctest: +SKIP

The group metric is the mean of the per-image metric (each image counts once); the pooled metric is beside it
where the table has pixel counts. With a subject column (config.subject_column, default 'subject_id') the
intervals and tests treat the photos of one person as one cluster; without it the result says that images
were treated as independent. The same table, attributes, config and seed give the same result, bit for bit.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from segaudit.audit.fairness.analysis import analyse_grouping
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.pooled import POOLED_DEFINITION, pooled_by_group, pooled_counts
from segaudit.audit.fairness.result import FairnessResult, GroupingResult, TrendSummary
from segaudit.audit.fairness.subgroups import (
    AttributeSource,
    Grouping,
    attribute_grouping,
    available_attributes,
    intersection_grouping,
)
from segaudit.audit.fairness.trends import trend
from segaudit.audit.fairness.verdict import decide_audit
from segaudit.audit.metrics import check_table
from segaudit.core.errors import InputError

log = logging.getLogger(__name__)
METRIC_NAMES = {"iou": "IoU", "dice": "Dice", "boundary_iou": "boundary IoU", "pixel_accuracy": "pixel accuracy"}


def audit_fairness(table: pd.DataFrame, attributes: AttributeSource = None, config: FairnessConfig | None = None,
                   *, source: str | Path | None = None) -> FairnessResult:
    """Audit the per-image `table` for disparities of `config.metric` between groups.

    attributes: a DatasetSpec or {name: AttributeSpec} (kinds and value order as declared), a list of column
    names, or None (every non-metric column; kinds inferred). config.attributes picks a subset. source: the
    table's file, named in error messages. Bad input raises InputError naming the file, row and column.
    """
    config = config or FairnessConfig()
    try:
        return _audit(table, attributes, config)
    except InputError as error:
        if error.path is None and source is not None:
            raise InputError(error.message, path=source, row=error.row, field=error.field) from None
        raise


def _audit(table: pd.DataFrame, source: AttributeSource, config: FairnessConfig) -> FairnessResult:
    started = time.perf_counter()
    check_table(table, config.metric, config.attributes or ())
    declared = available_attributes(table, source)
    selected = list(declared) if config.attributes is None else list(config.attributes)
    for name in [*selected, *(a for pair in config.intersections for a in pair)]:
        if name not in declared:
            raise InputError(f"unknown attribute {name!r}; the attributes are {list(declared)}", field=name)
        if name not in table.columns:
            raise InputError(f"attribute {name!r} is declared but has no column in the table", field=name)
    if not selected:
        raise InputError("no attributes to audit: the table has no attribute columns", field="attributes")
    for name in config.bins:
        if name not in declared or declared[name].kind != "continuous":
            raise InputError("bins apply to continuous attributes only; "
                             f"{name!r} is {'unknown' if name not in declared else declared[name].kind}",
                             field=f"bins.{name}")

    values = table[config.metric].to_numpy(dtype=np.float64)
    subjects, unit = _subjects(table, config.subject_column)
    counts = pooled_counts(table, config.metric)
    groupings: dict[str, Grouping] = {}

    def grouping_of(name: str) -> Grouping:
        if name not in groupings:
            groupings[name] = attribute_grouping(table, declared[name], config.bins.get(name, config.quantiles),
                                                 config.min_group_size)
        return groupings[name]

    def analyse(grouping: Grouping) -> GroupingResult:
        pooled = None if counts is None else pooled_by_group(grouping.codes, len(grouping.labels), counts)
        return analyse_grouping(values, grouping, config, pooled, subjects)

    for name in selected:
        grouping_of(name)
    cells = [intersection_grouping(grouping_of(a), grouping_of(b), config.min_group_size)
             for a, b in config.intersections]
    ordered = [groupings[name] for name in selected] + cells
    groupings.update((c.name, c) for c in cells)
    trended = [name for name in selected if declared[name].kind in ("continuous", "ordinal")]
    # Each grouping and trend draws from its own seeded stream, so running them in threads (numpy releases the
    # GIL while resampling) gives the same numbers as running them one after the other.
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        analysed = list(pool.map(analyse, ordered))
        trend_results = list(pool.map(lambda name: trend(table, declared[name], values, config), trended))
    analysed, verdict, family = decide_audit(analysed, config)
    attribute_results = {r.name: r for r in analysed[:len(selected)]}
    intersection_results = {r.name: r for r in analysed[len(selected):]}
    trends: dict[str, TrendSummary] = dict(zip(trended, trend_results, strict=True))
    pooled_all = None if counts is None else pooled_by_group(np.zeros(values.size, dtype=np.int64), 1, counts)[0]
    log.debug("fairness audit of %d images: %.2f s", values.size, time.perf_counter() - started)
    label = METRIC_NAMES.get(config.metric, config.metric)
    return FairnessResult(config=config, n_images=int(values.size), overall=_overall(values, config.alpha, pooled_all),
                          attributes=attribute_results, intersections=intersection_results, trends=trends,
                          verdict=verdict,
                          aggregation=f"mean of per-{'person' if 'instance' in table.columns else 'image'} {label}",
                          pooled_definition=None if counts is None else POOLED_DEFINITION, family=family,
                          unit=unit, values=values, groupings=groupings,
                          derived=tuple(n for n in selected if declared[n].source == "derived"))


def _subjects(table: pd.DataFrame, column: str) -> tuple[np.ndarray | None, str]:
    """Subject codes per image (None without the column) and the sentence that says what the unit was.

    A per-person table (with an `instance` column) is clustered by image: the people of one photo share its
    light, camera and background, so they are not independent."""
    if "instance" in table.columns:
        codes, uniques = pd.factorize(table["id"].astype(str))
        return codes.astype(np.int64), (f"people ({len(table)} in {len(uniques)} images): the people of one image "
                                        "form one cluster in every interval and test")
    if column not in table.columns:
        return None, ("images, treated as independent (the table has no subject column; several photos of one "
                      "person would make every interval too narrow)")
    cells = table[column]
    missing = np.flatnonzero(cells.isna().to_numpy() | (cells.astype(str).str.strip() == "").to_numpy())
    if missing.size:
        raise InputError(f"{missing.size} image(s) have no subject; every row needs one when the column is present",
                         row=int(missing[0]) + 1, field=column)
    codes, uniques = pd.factorize(cells.astype(str))
    return codes.astype(np.int64), (f"subjects ({len(uniques)} in column '{column}'): the photos of one person "
                                    "form one cluster in every interval and test")


def _overall(values: np.ndarray, alpha: float, pooled: float | None) -> dict[str, float | int | str | None]:
    """All images: n, mean, sd and Student's t CI (at the n of a whole test set, t and bootstrap agree)."""
    n = values.size
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else None
    if sd is not None:
        half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd / np.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low = high = None
    return {"n": int(n), "mean": mean, "ci_low": low, "ci_high": high, "ci_method": "student-t", "sd": sd,
            "pooled": None if pooled is None or not np.isfinite(pooled) else float(pooled)}
