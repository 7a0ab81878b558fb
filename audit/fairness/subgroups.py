"""Subgroups: which images belong to which group, for every attribute and intersection of two.

- categorical / ordinal: one group per declared value (declared values with no image stay, with n = 0),
  in declared order; images with an unknown value form the group 'unknown', listed last;
- continuous: binned at configured cut points c1 < ... < cm into '< c1', '[c1, c2)', ..., '>= cm', or at
  quantiles of the known values; unknown (NaN) values form 'unknown';
- intersection a x b: one cell per pair of groups, 'a-group × b-group', every cell listed.

Every grouping carries the configured minimum group size: a group with fewer subjects is reported as
insufficient (it is still tested for a shortfall when it has two subjects, but can never count towards a
pass), never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segaudit.audit.metrics import ID, is_count_column, is_metric_column
from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, AttributeSpec, DatasetSpec

CROSS = " × "
NOT_ATTRIBUTES = {ID, "split", "image", "mask", "subject_id", "instance", "instances"}
MAX_LEVELS_FOR_CATEGORICAL = 12
"""An attribute without a declaration whose values are numbers is continuous if it has more distinct values."""

AttributeSource = DatasetSpec | Mapping[str, AttributeSpec] | Sequence[str] | None


@dataclass(frozen=True, eq=False)
class Grouping:
    """A partition of the table's rows: `codes[i]` is the index into `labels` of row i's group.

    scope: 'attribute' or 'intersection'; kind: the attribute kind ('categorical', 'ordinal', 'continuous')
    or 'intersection'; bins: for a binned continuous attribute, how ({'method', 'edges', 'unit'}).
    """

    name: str
    scope: str
    kind: str
    attributes: tuple[str, ...]
    labels: tuple[str, ...]
    codes: np.ndarray
    min_size: int
    bins: dict[str, Any] | None = None
    axes: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.labels))


def recorded_attribute_specs(audit: Mapping[str, Any]) -> dict[str, AttributeSpec]:
    """The attribute declarations an audit.json records in its dataset block (for re-analysing its table)."""
    return {name: AttributeSpec(name=name, kind=spec["kind"], sensitive=bool(spec.get("sensitive", False)),
                                source=spec.get("source", "annotated"),
                                values=tuple(spec["values"]) if spec.get("values") else None,
                                unit=spec.get("unit"), range=tuple(spec["range"]) if spec.get("range") else None)
            for name, spec in audit.get("dataset", {}).get("attributes", {}).items()}


def available_attributes(table: pd.DataFrame, source: AttributeSource) -> dict[str, AttributeSpec]:
    """Every attribute that `source` declares or, without declarations, the table's attribute columns."""
    if isinstance(source, DatasetSpec):
        return dict(source.attributes)
    if isinstance(source, Mapping):
        return {str(k): v for k, v in source.items()}
    if source is None:
        names = [str(c) for c in table.columns if str(c) not in NOT_ATTRIBUTES and not is_metric_column(str(c))
                 and not is_count_column(str(c))]
    else:
        names = [str(s) for s in source]
    out = {}
    for name in names:
        if name not in table.columns:
            raise InputError(f"unknown attribute {name!r}: not a column of the table", field=name)
        out[name] = infer_attribute(name, table[name])
    return out


def infer_attribute(name: str, column: pd.Series) -> AttributeSpec:
    """A declaration from the values: numbers with more than 12 distinct values are continuous, numbers with
    fewer are ordinal (in numeric order), anything else categorical (in sorted order)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        known = column.dropna().astype(np.float64)
        levels = np.unique(known.to_numpy())
        if levels.size > MAX_LEVELS_FOR_CATEGORICAL:
            return AttributeSpec(name, "continuous", False, "self-reported", unit="",
                                 range=(float(levels[0]), float(levels[-1])))
        return AttributeSpec(name, "ordinal", False, "self-reported", values=tuple(_number(v) for v in levels))
    values = sorted(set(labels_of(column)) - {UNKNOWN})
    return AttributeSpec(name, "categorical", False, "self-reported", values=tuple(values))


def _number(value: float) -> str:
    return format(float(value), "g")


def labels_of(column: pd.Series) -> np.ndarray:
    """`value_label` of every cell [n] (object array), computed once per distinct value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = np.array([value_label(v) for v in uniques] + [UNKNOWN], dtype=object)
    return labels[codes]  # code -1 (missing) picks the trailing UNKNOWN


def value_label(value: Any) -> str:
    """A cell as a group label: numbers compactly (3.0 -> '3'), empty / None / NaN as 'unknown'."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return UNKNOWN
    if isinstance(value, float | np.floating):
        return _number(value)
    text = str(value).strip()
    return text or UNKNOWN


def attribute_grouping(table: pd.DataFrame, attribute: AttributeSpec,
                       bins: int | Sequence[float] = 4, min_size: int = 30) -> Grouping:
    """The groups of one attribute (binned when continuous: `bins` cut points or a number of quantile bins)."""
    column = table[attribute.name]
    if attribute.kind == "continuous":
        return _binned(attribute, _continuous_values(column, attribute.name), bins, min_size)
    labels = labels_of(column)
    declared = list(attribute.values or ())
    extra = sorted(set(labels) - set(declared) - {UNKNOWN})
    if extra:
        first = int(np.flatnonzero(np.isin(labels, extra))[0])
        raise InputError(f"value {labels[first]!r} is not declared for this attribute (declared: "
                         f"{declared})", row=first + 1, field=attribute.name)
    order = declared + ([UNKNOWN] if (labels == UNKNOWN).any() else [])
    codes = pd.Categorical(labels, categories=order).codes.astype(np.int64)
    return Grouping(name=attribute.name, scope="attribute", kind=attribute.kind, attributes=(attribute.name,),
                    labels=tuple(order), codes=codes, min_size=max(2, min_size))


def _continuous_values(column: pd.Series, name: str) -> np.ndarray:
    """float64 values, NaN where unknown; an infinite value is an error naming its row (it has no bin, no rank)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _finite_or_unknown(column.to_numpy(dtype=np.float64), name)
    text = pd.Series(labels_of(column)).replace(UNKNOWN, "")
    values = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = np.flatnonzero((values.isna() & (text != "")).to_numpy())
    if bad.size:
        raise InputError(f"{text.iloc[bad[0]]!r} is not a number (the attribute is continuous)",
                         row=int(bad[0]) + 1, field=name)
    return _finite_or_unknown(values.to_numpy(dtype=np.float64), name)


def _finite_or_unknown(x: np.ndarray, name: str) -> np.ndarray:
    infinite = np.flatnonzero(np.isinf(x))
    if infinite.size:
        raise InputError(f"{x[infinite[0]]} is not a finite number ({infinite.size} infinite value(s) in this "
                         "continuous attribute; leave the cell empty for an unknown value)",
                         row=int(infinite[0]) + 1, field=name)
    return x


def continuous_values(table: pd.DataFrame, attribute: AttributeSpec) -> np.ndarray:
    """The values of a continuous attribute as float64, NaN where unknown."""
    return _continuous_values(table[attribute.name], attribute.name)


def _binned(attribute: AttributeSpec, x: np.ndarray, bins: int | Sequence[float], min_size: int) -> Grouping:
    known = x[~np.isnan(x)]
    if isinstance(bins, int | np.integer):
        method = f"{int(bins)} quantile bins"
        if known.size:
            edges = np.unique(np.quantile(known, np.arange(1, int(bins)) / int(bins)))
            edges = edges[edges > known.min()]  # a cut at the minimum would leave an empty first bin
        else:
            edges = np.empty(0)
    else:
        method = "cut points"
        edges = np.asarray(bins, dtype=np.float64)
    labels = list(bin_labels(edges))
    codes = np.searchsorted(edges, np.where(np.isnan(x), 0.0, x), side="right").astype(np.int64)
    if np.isnan(x).any():
        codes[np.isnan(x)] = len(labels)
        labels.append(UNKNOWN)
    return Grouping(name=attribute.name, scope="attribute", kind="continuous", attributes=(attribute.name,),
                    labels=tuple(labels), codes=codes, min_size=max(2, min_size),
                    bins={"method": method, "edges": [float(e) for e in edges], "unit": attribute.unit or ""})


def bin_labels(edges: np.ndarray) -> tuple[str, ...]:
    """'< c1', '[c1, c2)', ..., '>= cm' for cut points c (one label 'all' without cuts), with enough digits
    that no two labels coincide."""
    if edges.size == 0:
        return ("all",)
    for digits in range(4, 18):
        text = [format(float(e), f".{digits}g") for e in edges]
        if len(set(text)) == len(text):
            break
    inner = [f"[{a}, {b})" for a, b in zip(text, text[1:], strict=False)]
    return (f"< {text[0]}", *inner, f">= {text[-1]}")


def intersection_grouping(a: Grouping, b: Grouping, min_size: int) -> Grouping:
    """Cells of two groupings: 'a-label × b-label' in a's order then b's, every pair listed (even empty)."""
    labels = tuple(f"{la}{CROSS}{lb}" for la in a.labels for lb in b.labels)
    codes = a.codes * len(b.labels) + b.codes
    return Grouping(name=f"{a.name}{CROSS}{b.name}", scope="intersection", kind="intersection",
                    attributes=(a.name, b.name), labels=labels, codes=codes, min_size=max(2, min_size),
                    axes=(a.labels, b.labels))
