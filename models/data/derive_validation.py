"""How far a derived skin tone agrees with an annotated one: the proxy checked against labels.

Where a package carries both an annotated (or synthetic ground-truth) skin-tone attribute and the derived
`ita_skin_tone`, `validate_derived` compares them on the units that have both: per person when the annotated
attribute is a person attribute (persons.csv), else per image. The two scales rarely match, so the annotated
value is first put on Chardon's ITA categories:

* already Chardon's categories (`ITA_CATEGORIES`): as is;
* the Monk Skin Tone scale (ten ordered values whose names end in 1..10, e.g. `monk_01`): each swatch's own
  ITA (the published sRGB colour, D65) gives its category, so MST-1..4 are very_light, 5 light, 6 tan,
  7 brown and 8..10 dark;
* any other ordinal scale has no colorimetric anchor: only the rank correlation is computed.

Reported: the confusion matrix, Cohen's kappa unweighted and weighted (linear and quadratic, scikit-learn)
with a percentile bootstrap interval (units resampled by image, so the people of one photo stay together),
Spearman's rank correlation of the annotated order with the derived ITA (scipy), agreement per annotated
category, and how many units have no derived value and why.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from segaudit.core.atomic import atomic_file
from segaudit.core.errors import InputError
from segaudit.models.data.derive import ITA_CATEGORIES, ita_category
from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.skin import ita_degrees
from segaudit.models.data.spec import PERSONS_FILE, SPEC_FILE, UNKNOWN, AttributeSpec, DatasetSpec
from segaudit.models.data.synth.monk import MONK_HEX

VALIDATION_FILE = "derived_validation.json"
"""Written into the package by `validate_derived`: the dataset card reports it."""
DERIVED = "ita_skin_tone"
BOOTSTRAP_RESAMPLES = 1000
_MONK_NAME = re.compile(r"(\d+)$")


@dataclass
class ValidationResult:
    """The agreement of `derived` with `annotated` over `unit`s (see the module docstring)."""

    annotated: str
    derived: str
    unit: str
    mapping: dict[str, str]
    n_units: int
    n_compared: int
    n_unknown_derived: int
    n_unknown_annotated: int
    confusion: dict[str, dict[str, int]]
    kappa: float | None
    kappa_linear: float | None
    kappa_quadratic: float | None
    kappa_quadratic_ci: tuple[float, float] | None
    spearman_rho: float | None
    spearman_p: float | None
    per_category: dict[str, dict[str, Any]] = field(default_factory=dict)
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One paragraph for the console and the dataset card."""
        if self.n_compared == 0:
            return (f"derived {self.derived} could not be compared with annotated {self.annotated}: no {self.unit} "
                    "has both values")
        kappa = "not computed (no colorimetric mapping of the annotated scale)" if self.kappa_quadratic is None \
            else f"quadratic-weighted kappa {self.kappa_quadratic:.2f}" + (
                f" (95 % bootstrap CI {self.kappa_quadratic_ci[0]:.2f} to {self.kappa_quadratic_ci[1]:.2f})"
                if self.kappa_quadratic_ci else "") + f", unweighted {self.kappa:.2f}"
        rho = "" if self.spearman_rho is None else f"; Spearman rho of the annotated order and ITA " \
                                                   f"{self.spearman_rho:.2f}"
        return (f"derived {self.derived} against annotated {self.annotated}, per {self.unit}: {self.n_compared} of "
                f"{self.n_units} compared ({self.n_unknown_derived} without a derived value); {kappa}{rho}.")


def category_mapping(attribute: AttributeSpec) -> dict[str, str] | None:
    """Annotated value -> Chardon category, or None when the scale has no colorimetric anchor."""
    values = attribute.values or ()
    if tuple(values) == ITA_CATEGORIES:
        return {v: v for v in values}
    numbers = [_MONK_NAME.search(v) for v in values]
    if len(values) == len(MONK_HEX) and all(numbers) and \
            [int(m.group(1)) for m in numbers] == list(range(1, 11)):  # type: ignore[union-attr]
        swatches = np.array([[int(code[i:i + 2], 16) for i in (1, 3, 5)] for code in MONK_HEX], dtype=np.uint8)
        return {v: ita_category(float(a)) for v, a in zip(values, ita_degrees(swatches), strict=True)}
    return None


def check_reference(spec: DatasetSpec, annotated: str, root: Path) -> None:
    """Refuse, before anything is derived, an attribute that cannot serve as the reference for validation."""
    declared = spec.person_attributes.get(annotated) or spec.attributes.get(annotated)
    if declared is None:
        known = sorted(set(spec.attributes) | set(spec.person_attributes))
        raise InputError(f"no attribute {annotated!r} to validate against; the package declares {known}",
                         path=root / SPEC_FILE, field=annotated)
    if declared.source == "derived":
        raise InputError(f"{annotated!r} is itself derived; validate against annotated, self-reported or synthetic "
                         "labels", path=root / SPEC_FILE, field=annotated)
    if declared.kind != "ordinal":
        raise InputError(f"{annotated!r} is {declared.kind}; a skin-tone scale to validate against is ordinal",
                         path=root / SPEC_FILE, field=annotated)


def validate_derived(package: str | Path | DatasetPackage, annotated: str, derived: str = DERIVED,
                     seed: int = 0, write: bool = True) -> ValidationResult:
    """Compare `derived` with the `annotated` attribute of a package (see the module docstring); with `write`,
    the result is also kept as derived_validation.json in the package for its dataset card."""
    package = package if isinstance(package, DatasetPackage) else load_package(package)
    spec = package.spec
    if annotated in spec.person_attributes and derived in spec.person_attributes:
        unit, table, declared = "person", package.persons, spec.person_attributes
        where = package.root / PERSONS_FILE
    elif annotated in spec.attributes and derived in spec.attributes:
        unit, table, declared = "image", package.manifest, spec.attributes
        where = package.root / SPEC_FILE
    else:
        known = sorted(set(spec.attributes) | set(spec.person_attributes))
        raise InputError(f"--validate needs {annotated!r} and the derived {derived!r} side by side, both image "
                         f"attributes or both person attributes (run derive first); the package has {known}",
                         path=package.root / SPEC_FILE, field=annotated)
    check_reference(spec, annotated, package.root)
    reference, proxy = declared[annotated], declared[derived]
    if table is None or table.empty:
        raise InputError("no persons to compare (persons.csv is missing or empty)", path=where)
    mapping = category_mapping(reference)
    truth, guess = table[annotated].astype(str), table[derived].astype(str)
    ita = table["ita_deg"].to_numpy(dtype=np.float64) if "ita_deg" in table.columns else None
    both = (truth != UNKNOWN) & (guess != UNKNOWN)
    clusters = pd.factorize(table["id"])[0]
    confusion = pd.crosstab(truth[both], guess[both]).reindex(
        index=list(reference.values or ()), columns=list(proxy.values or ()), fill_value=0)
    result = ValidationResult(
        annotated=annotated, derived=derived, unit=unit, mapping=mapping or {}, n_units=int(len(table)),
        n_compared=int(both.sum()), n_unknown_derived=int((guess == UNKNOWN).sum()),
        n_unknown_annotated=int((truth == UNKNOWN).sum()),
        confusion={str(r): {str(c): int(confusion.loc[r, c]) for c in confusion.columns} for r in confusion.index},
        kappa=None, kappa_linear=None, kappa_quadratic=None, kappa_quadratic_ci=None, spearman_rho=None,
        spearman_p=None,
        method=("annotated values mapped to Chardon categories by each Monk swatch's ITA" if mapping and
                tuple(reference.values or ()) != ITA_CATEGORIES else "same categories"))
    order = {v: i for i, v in enumerate(reference.values or ())}
    if ita is not None and both.sum() >= 3:
        ranks = truth[both].map(order).to_numpy(dtype=np.float64)
        rho = spearmanr(ranks, ita[both.to_numpy()])
        result.spearman_rho, result.spearman_p = _number(rho.statistic), _number(rho.pvalue)
    if mapping and both.sum() >= 2:
        mapped = truth[both].map(mapping).to_numpy()
        derived_values = guess[both].to_numpy()
        labels = list(ITA_CATEGORIES)
        result.kappa = _number(cohen_kappa_score(mapped, derived_values, labels=labels))
        result.kappa_linear = _number(cohen_kappa_score(mapped, derived_values, labels=labels, weights="linear"))
        result.kappa_quadratic = _number(cohen_kappa_score(mapped, derived_values, labels=labels,
                                                           weights="quadratic"))
        result.kappa_quadratic_ci = _bootstrap_kappa(mapped, derived_values, clusters[both.to_numpy()], labels,
                                                     seed)
        for value in reference.values or ():
            rows = truth == value
            compared = rows & both
            result.per_category[value] = {
                "n": int(rows.sum()), "unknown": int((rows & (guess == UNKNOWN)).sum()),
                "expected": mapping[value],
                "agreement": None if not compared.any() else float((guess[compared] == mapping[value]).mean()),
                "median_ita": None if ita is None or not compared.any() else float(np.median(ita[compared])),
            }
    if write:
        with atomic_file(package.root / VALIDATION_FILE) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False, default=_json_default) + "\n",
                           encoding="utf-8")
    return result


def read_validation(package_root: str | Path) -> dict[str, Any] | None:
    """The stored derived_validation.json of a package, or None when agreement was never measured."""
    path = Path(package_root) / VALIDATION_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not readable JSON: {exc}", path=path) from None


def _bootstrap_kappa(truth: np.ndarray, guess: np.ndarray, clusters: np.ndarray, labels: list[str],
                     seed: int) -> tuple[float, float] | None:
    """Percentile 95 % interval of the quadratic-weighted kappa, resampling whole images."""
    uniques = np.unique(clusters)
    if uniques.size < 5:
        return None
    members = [np.flatnonzero(clusters == c) for c in uniques]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        picked = np.concatenate([members[i] for i in rng.integers(0, uniques.size, uniques.size)])
        with warnings.catch_warnings():  # a resample with one category has no kappa: NaN, dropped below
            warnings.simplefilter("ignore")
            value = cohen_kappa_score(truth[picked], guess[picked], labels=labels, weights="quadratic")
        if math.isfinite(value):
            values.append(value)
    if len(values) < BOOTSTRAP_RESAMPLES // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def _number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
