"""Import a folder of images, a folder of masks and an optional attribute CSV as a dataset package.

Layout: `images/<stem>.png|.jpg|.jpeg` pairs with `masks/<stem><mask_suffix>.png`, a single-channel PNG
(grey or palette) whose pixel values are class ids; 255 means ignore. Masks must be PNG: JPEG compression
would change the ids. Every image needs a mask and every mask an image.

The attribute CSV has an `id` column (the image stem), an optional `split` column (train/val/test; an empty
cell, or an image the CSV does not list, gets a seeded random split) and one column per attribute; an empty
cell means unknown. The declarations come from a YAML file shaped like the `attributes:` mapping of
dataset.yaml. Without one they are inferred from the CSV and a warning says so: a column whose cells all
parse as numbers becomes continuous (observed [min, max], unit "unknown"), any other column categorical (its
observed values); both as source "annotated", sensitive false. Review inferred declarations: sensitivity in
particular cannot be inferred.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from segaudit.core.errors import InputError
from segaudit.core.reading import load_yaml
from segaudit.models.data.importers.common import (
    DEFAULT_FRACTIONS,
    IMAGE_SUFFIXES,
    PERSON_CLASSES,
    Job,
    build_spec,
    check_classes,
    check_id,
    check_same_size,
    class_mask,
    natural_key,
    package_name,
    raise_all,
    random_splits,
    read_rgb,
    read_single_channel,
    require_file,
    require_folder,
    write_samples,
)
from segaudit.models.data.spec import UNKNOWN, AttributeSpec, spec_from_dict
from segaudit.models.data.writer import SPLITS, check_fractions

log = logging.getLogger(__name__)
FORMAT = "image folder + mask folder"


def import_folder(images: Path, masks: Path, out: Path, attributes_csv: Path | None = None,
                  attributes_spec: Path | None = None, classes: dict[int, str] | None = None,
                  split_fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, name: str | None = None,
                  overwrite: bool = False, *, mask_suffix: str = "", license: str = "unknown",
                  workers: int = 1, progress: bool = False) -> Path:
    """Write the package for an image folder + mask folder (+ attribute CSV) to `out`; returns `out`.

    `classes` defaults to {0: background, 1: person}; mask values outside it (other than 255) are an
    InputError naming the mask. `license` is recorded as given: set the source dataset's license.
    """
    images, masks, out = Path(images), Path(masks), Path(out)
    require_folder(images, "a folder of images (.png, .jpg, .jpeg)")
    require_folder(masks, "a folder of single-channel PNG masks of class ids")
    classes = check_classes(classes if classes is not None else PERSON_CLASSES)
    fractions = check_fractions(split_fractions)
    if attributes_spec is not None and attributes_csv is None:
        raise InputError("an attributes spec was given without an attribute CSV to apply it to",
                         path=attributes_spec)
    pairs = pair_files(images, masks, mask_suffix)

    declarations: dict[str, AttributeSpec] = {}
    values: dict[str, dict[str, Any]] = {}
    splits: dict[str, str] = {}
    origin = "no attribute CSV"
    if attributes_csv is not None:
        csv_path = require_file(Path(attributes_csv), "a CSV with an 'id' column and attribute columns")
        columns, rows = read_csv(csv_path)
        attribute_columns = [c for c in columns if c not in ("id", "split")]
        if attributes_spec is not None:
            spec_path = require_file(Path(attributes_spec), "a YAML mapping of attribute declarations")
            declarations = load_declarations(spec_path)
            match_columns(declarations, attribute_columns, spec_path, csv_path)
            origin = f"attributes from {csv_path.resolve()}, declared in {spec_path.resolve()}"
        else:
            declarations = {c: infer_attribute(c, [row[c] for row in rows], csv_path) for c in attribute_columns}
            origin = f"attributes from {csv_path.resolve()}, declarations inferred from it"
        values, splits = read_rows(rows, csv_path, declarations, images, set(pairs))
        missing = [i for i in pairs if i not in values]
        if missing:
            log.warning("%d of %d images have no row in %s: their attributes are unknown (e.g. %s)",
                        len(missing), len(pairs), csv_path, missing[0])

    unassigned = [i for i in pairs if i not in splits]
    splits.update(random_splits(unassigned, fractions, seed))
    spec = build_spec(
        name=package_name(name, out),
        description=f"Imported from an image folder and a mask folder with classes {classes}.",
        license=license,
        provenance=(f"format: {FORMAT}; images: {images.resolve()}; masks: {masks.resolve()}; {origin}; "
                    f"splits: {len(pairs) - len(unassigned)} from the CSV, {len(unassigned)} seeded random "
                    f"(seed {seed}, fractions {list(fractions)})"),
        classes=classes,
        attributes=declarations,
    )
    jobs = [Job(sample_id, splits[sample_id], values.get(sample_id, {}),
                partial(load_pair, image_path, mask_path, classes))
            for sample_id, (image_path, mask_path) in sorted(pairs.items(), key=lambda kv: natural_key(kv[0]))]
    return write_samples(out, spec, jobs, overwrite=overwrite, workers=workers, progress=progress)


def pair_files(images: Path, masks: Path, mask_suffix: str = "") -> dict[str, tuple[Path, Path]]:
    """{sample id: (image, mask)} by file stem; unpaired or clashing files are InputErrors naming them."""
    problems: list[InputError] = []
    image_files: dict[str, Path] = {}
    for path in sorted(images.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            log.debug("skipping %s: not a .png/.jpg/.jpeg image", path)
            continue
        if path.stem in image_files:
            problems.append(InputError(f"two images share the stem {path.stem!r} "
                                       f"(also {image_files[path.stem].name})", path=path))
            continue
        image_files[path.stem] = path
    mask_files: dict[str, Path] = {}
    for path in sorted(masks.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in (".jpg", ".jpeg"):
            problems.append(InputError("masks must be PNG: JPEG compression changes the class ids", path=path))
            continue
        if path.suffix.lower() != ".png":
            log.debug("skipping %s: not a .png mask", path)
            continue
        if not path.stem.endswith(mask_suffix):
            problems.append(InputError(f"mask name does not end with {mask_suffix!r}.png", path=path))
            continue
        stem = path.stem[: len(path.stem) - len(mask_suffix)]
        if stem in mask_files:
            problems.append(InputError(f"two masks share the stem {stem!r} (also {mask_files[stem].name})",
                                       path=path))
            continue
        mask_files[stem] = path
    for stem in sorted(set(image_files) - set(mask_files), key=natural_key):
        problems.append(InputError(f"image has no mask {stem}{mask_suffix}.png in {masks}",
                                   path=image_files[stem]))
    for stem in sorted(set(mask_files) - set(image_files), key=natural_key):
        problems.append(InputError(f"mask has no image {stem}.png/.jpg/.jpeg in {images}", path=mask_files[stem]))
    pairs = {stem: (image_files[stem], mask_files[stem]) for stem in image_files if stem in mask_files}
    for stem, (image_path, _) in pairs.items():
        try:
            check_id(stem, image_path)
        except InputError as exc:
            problems.append(exc)
    raise_all(problems, images)
    if not pairs:
        raise InputError(f"no image/mask pairs found (images: {images}, masks: {masks})", path=images)
    return pairs


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows (as stripped text) of an attribute CSV with an `id` column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            records = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from None
    if not header:
        raise InputError("empty file: expected a header row with an 'id' column", path=path)
    columns = [c.strip() for c in header]
    if "id" not in columns:
        raise InputError(f"needs an 'id' column (the image file stem); found {columns}", path=path, field="id")
    for column in columns:
        if column == "" or columns.count(column) > 1:
            raise InputError("column names must be non-empty and distinct", path=path, field=column)
        if column in ("image", "mask"):
            raise InputError("this column name is reserved in the package manifest; rename it",
                             path=path, field=column)
    rows: list[dict[str, str]] = []
    for index, record in enumerate(records, start=1):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            raise InputError(f"has {len(record)} cells, the header has {len(columns)}", path=path, row=index)
        rows.append({c: cell.strip() for c, cell in zip(columns, record, strict=True)})
    if not rows:
        raise InputError("the CSV has no rows", path=path)
    return columns, rows


def load_declarations(path: Path) -> dict[str, AttributeSpec]:
    """Attribute declarations from YAML: the `attributes:` mapping of dataset.yaml, bare or under that key."""
    data = load_yaml(path, what="YAML file of attribute declarations")
    if isinstance(data, dict) and isinstance(data.get("attributes"), dict) and "kind" not in data["attributes"]:
        data = data["attributes"]
    if not isinstance(data, dict) or not data:
        raise InputError("expected a mapping of attribute name -> declaration (kind, values or unit/range, "
                         "sensitive, source)", path=path)
    placeholder = {"name": "-", "version": "-", "description": "-", "license": "-", "provenance": "-",
                   "classes": {0: "a", 1: "b"}, "attributes": data}
    return dict(spec_from_dict(placeholder, path).attributes)


def match_columns(declarations: Mapping[str, AttributeSpec], columns: Sequence[str], spec_path: Path,
                  csv_path: Path) -> None:
    """The CSV's attribute columns and the declared attributes must be the same set."""
    for column in columns:
        if column not in declarations:
            raise InputError(f"column is not declared in {spec_path}", path=csv_path, field=column)
    for attribute in declarations:
        if attribute not in columns:
            raise InputError(f"declared attribute has no column in {csv_path}", path=spec_path,
                             field=f"attributes.{attribute}")


def infer_attribute(name: str, cells: Sequence[str], csv_path: Path) -> AttributeSpec:
    """A declaration guessed from a column's cells (see the module docstring); logged as a warning."""
    present = [c for c in cells if c and c != UNKNOWN]
    if not present:
        raise InputError("column has no values to infer a declaration from; declare it in an attributes spec "
                         "or drop it", path=csv_path, field=name)
    note = f"inferred from {csv_path.name} by the folder importer; review kind, unit and sensitivity"
    numbers = [_number(c) for c in present]
    if all(n is not None and math.isfinite(n) for n in numbers):
        low, high = min(numbers), max(numbers)  # type: ignore[type-var]
        if low == high:
            low, high = low - 0.5, high + 0.5
        attribute = AttributeSpec(name, "continuous", sensitive=False, source="annotated", unit="unknown",
                                  range=(float(low), float(high)), description=note)
        log.warning("attribute %r: inferred continuous, range [%g, %g], unit 'unknown', not sensitive "
                    "(pass an attributes spec to declare it)", name, low, high)
    else:
        observed = tuple(sorted(set(present), key=natural_key))
        attribute = AttributeSpec(name, "categorical", sensitive=False, source="annotated", values=observed,
                                  description=note)
        log.warning("attribute %r: inferred categorical with values %s, not sensitive "
                    "(pass an attributes spec to declare it)", name, list(observed))
    return attribute


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_rows(rows: Sequence[dict[str, str]], csv_path: Path, declarations: Mapping[str, AttributeSpec],
              images: Path, known_ids: set[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Parsed attribute values and given splits per id; every bad cell is reported with its row and field."""
    problems: list[InputError] = []
    values: dict[str, dict[str, Any]] = {}
    splits: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        sample_id = row["id"]
        if not sample_id:
            problems.append(InputError("empty id", path=csv_path, row=index, field="id"))
            continue
        if sample_id in first_row:
            problems.append(InputError(f"duplicate id {sample_id!r} (first at row {first_row[sample_id]})",
                                       path=csv_path, row=index, field="id"))
            continue
        first_row[sample_id] = index
        if sample_id not in known_ids:
            problems.append(InputError(f"id {sample_id!r} has no image/mask pair in {images}",
                                       path=csv_path, row=index, field="id"))
            continue
        split = row.get("split", "")
        if split and split not in SPLITS:
            problems.append(InputError(f"split {split!r} is not one of {list(SPLITS)} (or empty for random)",
                                       path=csv_path, row=index, field="split"))
        elif split:
            splits[sample_id] = split
        parsed: dict[str, Any] = {}
        for attribute_name, attribute in declarations.items():
            try:
                cell = row[attribute_name]
                parsed[attribute_name] = attribute.parse("" if cell == UNKNOWN else cell)
            except ValueError as exc:
                problems.append(InputError(str(exc), path=csv_path, row=index, field=attribute_name))
        values[sample_id] = parsed
    raise_all(problems, csv_path)
    return values, splits


def load_pair(image_path: Path, mask_path: Path, classes: Mapping[int, str]) -> tuple[np.ndarray, np.ndarray]:
    """(image RGB, mask of class ids), checked: same size, values among the classes or 255."""
    image = read_rgb(image_path)
    ids = read_single_channel(mask_path)
    check_same_size(image, ids, mask_path, image_path)
    return image, class_mask(ids, classes, mask_path)
