"""Derived attributes for data without labels: skin tone (ITA) and silhouette measures, from image and mask.

Many segmentation datasets carry no demographic labels. To audit them anyway we derive two proxies from the
pixels and declare them honestly as `source: derived` in dataset.yaml:

* skin tone as the Individual Typology Angle, ITA = arctan((L* - 50) / b*) * 180 / pi, over skin pixels in
  CIELAB (Chardon et al. 1991, Int. J. Cosmet. Sci. 13:191), the median over the skin pixels of each image,
  and its six Chardon categories. ITA was defined for colorimeter readings of skin under D65 light; from a
  photograph it also measures the camera, white balance and lighting, so it is a proxy, not a fact about
  the person.
* silhouette measures of the person mask: apparent height, width-to-height ratios and a coarse body-shape
  category. They describe the picture (pose, view, crop) as much as the body.

Both are sensitive: a derived skin tone or body shape can be wrong, and it is about a person. The columns are
`ita_deg`, `ita_skin_tone`, `silhouette_aspect`, `apparent_height` and `silhouette_shape` (see
`DERIVED_ATTRIBUTES`); `derive_attributes` adds them to a package, replacing earlier derived values.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segaudit.core.atomic import recover_leftovers, staged_folder, staging_prefix
from segaudit.core.errors import InputError
from segaudit.models.data.package import PARQUET_MANIFEST, DatasetPackage, background_ids, load_package
from segaudit.models.data.skin import (
    MIN_SKIN_PIXELS,
    NO_PERSON,
    REASONS,
    SEVERAL_PEOPLE,
    SkinEstimate,
    estimate_skin,
    ita_degrees,
    skin_mask,
    white_balanced,
)
from segaudit.models.data.spec import (
    INSTANCES_COLUMN,
    PERSONS_FILE,
    SPEC_FILE,
    UNKNOWN,
    AttributeSpec,
    DatasetSpec,
    load_spec,
)
from segaudit.models.data.writer import MANIFEST_FILE, format_cell

log = logging.getLogger(__name__)

ITA_CATEGORIES = ("dark", "brown", "tan", "intermediate", "light", "very_light")
"""Chardon's categories in order of increasing ITA (darkest first), as the ordinal `ita_skin_tone` values."""
ITA_LOWER_BOUNDS = (-30.0, 10.0, 28.0, 41.0, 55.0)
"""Exclusive lower bounds in degrees of brown, tan, intermediate, light and very_light."""

SKIN_CLASS_NAMES = ("skin", "face")
PERSON_CLASS_NAMES = ("person",)
EVIDENCE_FILE = "derived_evidence.csv"
"""Beside the manifest: per image (and per person) the skin pixels, ITA spread and reason behind each value."""
EVIDENCE_COLUMNS = ("id", "instance", "unit", "ita_deg", "skin_pixels", "ita_iqr_deg", "reason", "method")

SHAPES = ("slim", "average", "broad")
SHAPE_UPPER_BOUNDS = (0.18, 0.20)
"""Inclusive upper bounds of slim and average on area / bbox_height**2 (see `shape_category`)."""
MIN_PERSON_PIXELS = 50
MIN_PERSON_HEIGHT_PX = 8
"""A person mask smaller than this has an apparent height but no width-to-height ratios."""
MAX_ASPECT = 100.0

DERIVED_ATTRIBUTES: dict[str, AttributeSpec] = {
    "ita_deg": AttributeSpec(
        "ita_deg", "continuous", True, "derived", unit="degrees", range=(-90.0, 90.0),
        description="Median Individual Typology Angle over skin pixels (CIELAB, D65, from sRGB); a proxy "
                    "affected by lighting and camera. Empty when too few skin pixels were found."),
    "ita_skin_tone": AttributeSpec(
        "ita_skin_tone", "ordinal", True, "derived", values=ITA_CATEGORIES,
        description="Chardon et al. ITA category of ita_deg, darkest first (a boundary value goes to the "
                    "darker category)."),
    "silhouette_aspect": AttributeSpec(
        "silhouette_aspect", "continuous", False, "derived", unit="width/height", range=(0.0, MAX_ASPECT),
        description="Bounding-box width / height of the visible person mask (depends on pose and crop)."),
    "apparent_height": AttributeSpec(
        "apparent_height", "continuous", False, "derived", unit="fraction of image height", range=(0.0, 1.0),
        description="Height of the person mask's bounding box as a fraction of the image height."),
    "silhouette_shape": AttributeSpec(
        "silhouette_shape", "ordinal", True, "derived", values=SHAPES,
        description="Coarse body-shape proxy from mask area / bbox height^2 (<= 0.18 slim, <= 0.20 average, "
                    "else broad); unknown when the person touches the image border."),
}


def median_ita(rgb_pixels: np.ndarray) -> float:
    """Median ITA in degrees of [N, 3] uint8 pixels taken as they are; NaN when there are none."""
    pixels = np.asarray(rgb_pixels).reshape(-1, 3)
    if len(pixels) == 0:
        return math.nan
    return float(np.median(ita_degrees(pixels.astype(np.uint8, copy=False))))


def ita_category(ita: float) -> str:
    """Chardon et al.'s category of an ITA in degrees, `UNKNOWN` for NaN.

    very_light: ITA > 55; light: 41 < ITA <= 55; intermediate: 28 < ITA <= 41; tan: 10 < ITA <= 28;
    brown: -30 < ITA <= 10; dark: ITA <= -30. A value exactly on a boundary goes to the darker category.
    """
    if ita is None or math.isnan(ita):
        return UNKNOWN
    return ITA_CATEGORIES[sum(ita > bound for bound in ITA_LOWER_BOUNDS)]


def person_mask(mask: np.ndarray, classes: dict[int, str]) -> np.ndarray:
    """Boolean HxW mask of the person: the class named "person" (plus any "skin"/"face" class) when there is
    one, else every class but the background (the class named "background", or class 0 if none is).

    Class names are matched case-insensitively. `ignore_index` pixels are never part of it.
    """
    person_ids = _ids_named(classes, PERSON_CLASS_NAMES)
    if person_ids:
        ids = person_ids + _ids_named(classes, SKIN_CLASS_NAMES)
    else:
        background = background_ids(classes)
        ids = [class_id for class_id in classes if class_id not in background]
    return np.isin(mask, ids)


def skin_region(classes: dict[int, str], mask: np.ndarray) -> np.ndarray | None:
    """The annotated skin/face pixels (HxW bool) when the package declares such a class, else None."""
    skin_ids = _ids_named(classes, SKIN_CLASS_NAMES)
    return np.isin(mask, skin_ids) if skin_ids else None


def skin_pixels(image: np.ndarray, mask: np.ndarray, classes: dict[int, str],
                min_pixels: int = MIN_SKIN_PIXELS) -> np.ndarray:
    """The [N, 3] uint8 skin pixels of an image's person (all person classes together); [0, 3] if under
    min_pixels. The annotated skin/face class when there is one, else the head of the person mask; either way
    only pixels that can be skin and are not in deep shade (see `models.data.skin`)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"expected an HxWx3 image and an HxW mask, got {image.shape} and {mask.shape}")
    pixels = image[skin_mask(image, person_mask(mask, classes), skin_region(classes, mask))]
    return pixels if len(pixels) >= min_pixels else pixels[:0]


def silhouette_measures(person_mask: np.ndarray) -> dict[str, float]:
    """Measures of an HxW boolean person mask (several people are measured as their union).

    apparent_height: bbox height / image height. bbox_aspect: bbox width / bbox height. area_aspect:
    mask area / bbox height**2, i.e. mean row width over height, an aspect ratio that outstretched arms
    change little. truncated: 1.0 when the mask touches an image border (the body is cut off), else 0.0.
    An empty mask gives NaN everywhere; one under `MIN_PERSON_PIXELS` pixels or `MIN_PERSON_HEIGHT_PX` rows
    has NaN ratios, as does a bbox_aspect above `MAX_ASPECT`.
    """
    mask = np.asarray(person_mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected an HxW mask, got shape {mask.shape}")
    out = dict.fromkeys(("apparent_height", "bbox_aspect", "area_aspect", "truncated"), math.nan)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return out
    height, width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    area = int(mask.sum())
    touches = rows[0] == 0 or cols[0] == 0 or rows[-1] == mask.shape[0] - 1 or cols[-1] == mask.shape[1] - 1
    out["apparent_height"] = height / mask.shape[0]
    out["truncated"] = float(touches)
    if height >= MIN_PERSON_HEIGHT_PX and area >= MIN_PERSON_PIXELS and width / height <= MAX_ASPECT:
        out["bbox_aspect"] = width / height
        out["area_aspect"] = area / height**2
    return out


def shape_category(measures: dict[str, float]) -> str:
    """slim / average / broad from `silhouette_measures`, `UNKNOWN` when the person is cut off or too small.

    Fixed thresholds on area_aspect: <= 0.18 slim, <= 0.20 average, > 0.20 broad (a boundary value goes to
    the slimmer class). Where they come from: a standing person seen from the front projects about 0.31 of
    their body surface area (Fanger's projected-area factor), and Du Bois' surface area at 1.70 m gives
    area / height**2 of about 0.173 at BMI 18.5, 0.179 at BMI 20, 0.197 at BMI 25 and 0.213 at BMI 30; so
    slim is roughly BMI < 20, broad roughly BMI > 25. They are not fitted to any dataset and are fixed so
    that the categories mean the same everywhere. Clothes, hair, pose and view move the value as much as
    build does (a dress or spread arms widen the silhouette): this is a proxy for auditing coverage, never
    a label.
    """
    value, truncated = measures.get("area_aspect", math.nan), measures.get("truncated", math.nan)
    if math.isnan(value) or truncated != 0.0:
        return UNKNOWN
    return SHAPES[sum(value > bound for bound in SHAPE_UPPER_BOUNDS)]


def derive_attributes(package_dir: str | Path, out: str | Path | None = None, progress: bool = False,
                      white_balance: bool = False) -> Path:
    """Add the `DERIVED_ATTRIBUTES` columns to a package; returns the folder written.

    Per image in the manifest; with instances (dataset.yaml schema 2) also per person in persons.csv (created
    from the instance masks when the package has none), where an image of several people gets the skin tone
    "unknown, several_people" and each person their own. `derived_evidence.csv` records, per value, the skin
    pixels it rests on, their ITA spread and why a value is unknown. `white_balance` neutralises the
    background's colour first (see `models.data.skin.white_balanced`).

    With `out`, the package is copied (`shutil.copytree`) into a hidden folder beside `out`, updated there
    and moved into place, so `out` appears complete or not at all; `out` must not exist or be empty. Without
    it the package is updated in place: the new files are written to a hidden folder inside the package,
    validated with `load_package`, then moved over the old files with `os.replace` (evidence, persons,
    manifest, spec last), so no file is ever half written; re-running `derive` repairs a run killed between
    two renames. Re-running replaces earlier derived columns. An attribute of the same name that is not
    `source: derived` is an InputError: we never overwrite real labels. The manifest keeps its format (CSV or
    Parquet) and the other cells their exact text; dataset.yaml is re-serialized (YAML comments are lost).
    """
    source = Path(package_dir)
    if not source.is_dir():
        raise InputError("not a folder: a dataset package is a folder with dataset.yaml and a manifest",
                         path=source)
    spec = load_spec(source / SPEC_FILE)
    for block, declared in (("attributes", spec.attributes), ("person_attributes", spec.person_attributes)):
        for name, attribute in declared.items():
            if name in DERIVED_ATTRIBUTES and attribute.source != "derived":
                raise InputError(f"already declared with source '{attribute.source}'; derive only replaces "
                                 "attributes with source 'derived' (rename the existing attribute)",
                                 path=source / SPEC_FILE, field=f"{block}.{name}")
    manifest_name, raw = _read_raw_manifest(source)
    base_spec = replace(spec, attributes=_without_derived(spec.attributes),
                        person_attributes=_without_derived(spec.person_attributes))
    base = raw.drop(columns=[c for c in DERIVED_ATTRIBUTES if c in raw.columns])
    raw_persons = _read_raw_persons(source) if spec.instances else None
    base_persons = None if raw_persons is None else \
        raw_persons.drop(columns=[c for c in DERIVED_ATTRIBUTES if c in raw_persons.columns])
    with tempfile.TemporaryDirectory(prefix="segaudit-derive-") as scratch:
        check = _write_and_load(Path(scratch), Staged(base_spec, base, manifest_name, base_persons), source)
    package = DatasetPackage(root=source, spec=base_spec, manifest=check.manifest,
                             manifest_path=source / manifest_name, persons=check.persons)

    derived = _derive(package, progress, white_balance)
    new_spec = replace(spec, attributes={**base_spec.attributes, **DERIVED_ATTRIBUTES})
    persons = None
    if spec.instances:
        new_spec = replace(new_spec, person_attributes={**base_spec.person_attributes, **DERIVED_ATTRIBUTES})
        persons = _person_rows(base_persons, derived.persons)
    staged = Staged(new_spec, base.assign(**derived.images), manifest_name, persons, derived.evidence)
    if out is None:
        _update_in_place(source, staged)
        return source
    return _write_copy(source, Path(out), staged)


@dataclass
class Staged:
    """The files a derive writes: spec, manifest (in its format), persons.csv and the evidence (optional)."""

    spec: DatasetSpec
    manifest: pd.DataFrame
    manifest_name: str
    persons: pd.DataFrame | None = None
    evidence: pd.DataFrame | None = None


@dataclass
class Derived:
    """Manifest cells per derived attribute, persons' cells keyed by (id, instance), and the evidence rows."""

    images: dict[str, list[str]]
    persons: dict[tuple[str, int], dict[str, str]]
    evidence: pd.DataFrame


def _without_derived(attributes: dict[str, AttributeSpec]) -> dict[str, AttributeSpec]:
    return {name: a for name, a in attributes.items() if name not in DERIVED_ATTRIBUTES}


def _cells(estimate: SkinEstimate, measures: dict[str, float]) -> dict[str, str]:
    """The text cells of the derived attributes of one image or person."""
    values = {"ita_deg": estimate.ita_deg, "ita_skin_tone": ita_category(estimate.ita_deg),
              "silhouette_aspect": measures["bbox_aspect"], "apparent_height": measures["apparent_height"],
              "silhouette_shape": shape_category(measures)}
    return {name: format_cell(value) for name, value in values.items()}


def _evidence_row(sample_id: str, instance: int | None, estimate: SkinEstimate, method: str) -> dict[str, Any]:
    return {"id": sample_id, "instance": "" if instance is None else instance,
            "unit": "image" if instance is None else "person", "ita_deg": format_cell(estimate.ita_deg),
            "skin_pixels": estimate.pixels, "ita_iqr_deg": format_cell(estimate.iqr_deg),
            "reason": estimate.reason, "method": method}


def _derive(package: DatasetPackage, progress: bool, white_balance: bool) -> Derived:
    """Every derived value of the package: per image, and per person when it has instances."""
    from tqdm import tqdm

    classes = package.spec.classes
    images: dict[str, list[str]] = {name: [] for name in DERIVED_ATTRIBUTES}
    persons: dict[tuple[str, int], dict[str, str]] = {}
    evidence: list[dict[str, Any]] = []
    method = ("annotated skin class" if _ids_named(classes, SKIN_CLASS_NAMES) else "head of the person mask") \
        + (", white-balanced" if white_balance else "")
    rows = package.manifest.to_dict("records")
    for index, row in enumerate(tqdm(rows, desc="deriving attributes", unit="img", disable=not progress),
                                start=1):
        image, mask = _read_pair(package, row, index)
        person = person_mask(mask, classes)
        skin = skin_region(classes, mask)
        if white_balance:
            image = white_balanced(image, ~person & ~np.isin(mask, [package.spec.ignore_index]))
        if package.spec.instances:
            instances = _read_instances(package, row, index)
            people = package.persons_of(str(row["id"]), instances)["instance"].tolist()
            estimates = []
            for instance in people:
                one = instances == instance
                estimates.append(estimate_skin(image, one, skin))
                persons[str(row["id"]), int(instance)] = _cells(estimates[-1], silhouette_measures(one))
                evidence.append(_evidence_row(str(row["id"]), int(instance), estimates[-1], method))
            # the image's own value: its one person's, else unknown (several people have no single tone)
            estimate = estimates[0] if len(estimates) == 1 else SkinEstimate(
                math.nan, 0, math.nan, SEVERAL_PEOPLE if estimates else NO_PERSON)
        else:
            estimate = estimate_skin(image, person, skin)
        evidence.append(_evidence_row(str(row["id"]), None, estimate, method))
        for name, cell in _cells(estimate, silhouette_measures(person)).items():
            images[name].append(cell)
    frame = pd.DataFrame(evidence, columns=list(EVIDENCE_COLUMNS))
    counts = frame[frame["unit"] == "image"]["reason"].value_counts().to_dict()
    log.info("derived attributes of %d images (skin pixels from the %s): skin tone unknown for %d (%s)",
             len(rows), method, sum(n for reason, n in counts.items() if reason),
             ", ".join(f"{reason}: {n}" for reason, n in counts.items() if reason) or "none")
    return Derived(images, persons, frame)


def _person_rows(base: pd.DataFrame | None, derived: dict[tuple[str, int], dict[str, str]]) -> pd.DataFrame:
    """persons.csv with the derived columns: the package's rows (as stored) joined with the derived cells, or
    (without persons.csv) one row per instance found in the masks."""
    if base is None:
        base = pd.DataFrame({"id": [key[0] for key in derived], "instance": [str(key[1]) for key in derived]})
    keys = zip(base["id"].astype(str), base["instance"].astype(int), strict=True)
    cells = [derived.get(key, dict.fromkeys(DERIVED_ATTRIBUTES, "")) for key in keys]
    return base.reset_index(drop=True).assign(**{name: [c[name] for c in cells] for name in DERIVED_ATTRIBUTES})


def evidence_summary(package_root: str | Path) -> dict[str, Any] | None:
    """How many derived skin tones are known and why the others are not, per unit (image, person), from
    derived_evidence.csv; None when the package has no evidence file (derived before it existed, or never)."""
    path = Path(package_root) / EVIDENCE_FILE
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out: dict[str, Any] = {}
    for unit, rows in frame.groupby("unit"):
        reasons = rows["reason"].value_counts().to_dict()
        out[str(unit)] = {"total": int(len(rows)), "known": int(reasons.pop("", 0)),
                          "unknown": {reason: {"n": int(n), "why": REASONS.get(reason, reason)}
                                      for reason, n in reasons.items()},
                          "method": sorted(set(rows["method"]))}
    return out


def _read_instances(package: DatasetPackage, row: dict[str, Any], index: int) -> np.ndarray:
    try:
        return package.read_instances(row)
    except InputError as exc:
        raise InputError(exc.message, path=exc.path, row=index, field=INSTANCES_COLUMN) from None


def _read_pair(package: DatasetPackage, row: dict[str, Any], index: int) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for column, reader in (("image", package.read_image), ("mask", package.read_mask)):
        try:
            arrays.append(reader(row))
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise InputError(f"cannot read (id {row['id']!r}): {exc}", path=package.root / row[column],
                             row=index, field=column) from None
    image, mask = arrays
    if mask.ndim != 2 or image.shape[:2] != mask.shape:
        raise InputError(f"mask {mask.shape} is not a single-channel mask the size of its image "
                         f"{image.shape[:2]} (id {row['id']!r})", path=package.root / row["mask"], row=index,
                         field="mask")
    return image, mask


def _read_raw_manifest(root: Path) -> tuple[str, pd.DataFrame]:
    """The manifest's file name and its cells as stored (CSV: all text), to write back unchanged."""
    csv_path, parquet_path = root / MANIFEST_FILE, root / PARQUET_MANIFEST
    if csv_path.exists() and parquet_path.exists():
        raise InputError(f"both {MANIFEST_FILE} and {PARQUET_MANIFEST} exist; keep exactly one", path=root)
    if csv_path.exists():
        try:
            return MANIFEST_FILE, pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"not a readable CSV: {exc}", path=csv_path) from None
    if parquet_path.exists():
        try:
            return PARQUET_MANIFEST, pd.read_parquet(parquet_path)
        except Exception as exc:  # pyarrow raises many types for a broken file
            raise InputError(f"not a readable Parquet file: {exc}", path=parquet_path) from None
    raise InputError(f"missing: a dataset package needs {MANIFEST_FILE} or {PARQUET_MANIFEST}", path=root)


def _read_raw_persons(root: Path) -> pd.DataFrame | None:
    """persons.csv's cells as stored (all text), or None when the package has none."""
    path = root / PERSONS_FILE
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from None


def _write_and_load(parent: Path, staged: Staged, real_root: Path) -> DatasetPackage:
    """Write the staged files into a new hidden folder under `parent` and validate them with load_package.

    Problems are reported against `real_root` (the package they belong to), not the scratch folder. The
    caller removes the folder (`package.root`) when done with it.
    """
    recover_leftovers(parent / SPEC_FILE)  # what a derive killed mid-way left in this package
    folder = Path(tempfile.mkdtemp(prefix=staging_prefix(parent / SPEC_FILE, "staging"), dir=parent))
    try:
        (folder / SPEC_FILE).write_text(staged.spec.to_yaml(), encoding="utf-8")
        if staged.manifest_name == MANIFEST_FILE:
            staged.manifest.to_csv(folder / staged.manifest_name, index=False, lineterminator="\n")
        else:
            staged.manifest.to_parquet(folder / staged.manifest_name, index=False)
        for name, frame in ((PERSONS_FILE, staged.persons), (EVIDENCE_FILE, staged.evidence)):
            if frame is not None:
                frame.to_csv(folder / name, index=False, lineterminator="\n")
        for name in _staged_names(staged):
            with open(folder / name, "rb") as handle:
                os.fsync(handle.fileno())
        return load_package(folder)
    except InputError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        relocated = None if exc.path is None else Path(str(exc.path).replace(str(folder), str(real_root)))
        raise InputError(exc.message.replace(str(folder), str(real_root)), path=relocated, row=exc.row,
                         field=exc.field) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _staged_names(staged: Staged) -> list[str]:
    """The files of a staged update in the order they replace the old ones (dataset.yaml last)."""
    names = [EVIDENCE_FILE] if staged.evidence is not None else []
    names += [PERSONS_FILE] if staged.persons is not None else []
    return [*names, staged.manifest_name, SPEC_FILE]


def _update_in_place(root: Path, staged: Staged) -> None:
    """Validate the new files beside the old ones, then swap them in with os.replace (dataset.yaml last)."""
    checked = _write_and_load(root, staged, root)
    try:
        for name in _staged_names(staged):
            os.replace(checked.root / name, root / name)
    finally:
        shutil.rmtree(checked.root, ignore_errors=True)


def _write_copy(source: Path, out: Path, staged: Staged) -> Path:
    """Copy the package beside `out`, update the copy in place, and move it onto `out` when complete."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists and is not an empty folder; choose a new folder, or leave out the "
                         "output folder to update the package in place", path=out)
    if out.resolve().is_relative_to(source.resolve()):
        raise InputError("the output folder must not be inside the package", path=out)
    with staged_folder(out) as staging:
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(f".{SPEC_FILE}.*"))
        _update_in_place(staging, staged)
    return out


def _ids_named(classes: dict[int, str], names: tuple[str, ...]) -> list[int]:
    return [class_id for class_id, name in classes.items() if name.strip().lower() in names]
