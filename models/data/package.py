"""Loading a dataset package and validating every part of it.

A package is a folder with `dataset.yaml`, `manifest.csv` (or `manifest.parquet`), `images/` and `masks/`; a
package with people as instances (dataset.yaml schema version 2) also has instance-id masks (the manifest's
`instances` column) and optionally `persons.csv` with the attributes of each person.
`load_package` checks the spec and the manifest (columns, ids, splits, paths that stay inside the folder,
attribute values); `verify_files` opens every image and mask (missing, unreadable, truncated, size mismatch,
mask values outside the declared classes). All problems found are reported together, each naming the file
and the row, as one `InputError`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segaudit.core.errors import InputError
from segaudit.models.data import files
from segaudit.models.data.spec import INSTANCES_COLUMN, PERSONS_FILE, SPEC_FILE, UNKNOWN, DatasetSpec, load_spec
from segaudit.models.data.writer import ID_PATTERN, MANIFEST_FILE, SPLITS

log = logging.getLogger(__name__)
PARQUET_MANIFEST = "manifest.parquet"
BASE_COLUMNS = ("id", "image", "mask", "split")
SUBJECT = "subject_id"
"""Optional manifest column: the person in each photo (several photos of one person are one unit in the audit)."""
MAX_REPORTED = 20


@dataclass
class DatasetPackage:
    """A validated dataset package: its spec, its manifest as a DataFrame, and readers for its files.

    In `manifest`, unknown categorical/ordinal values are the string `UNKNOWN` and unknown continuous
    values are NaN.
    """

    root: Path
    spec: DatasetSpec
    manifest: pd.DataFrame
    manifest_path: Path
    persons: pd.DataFrame | None = None
    """persons.csv validated (`id`, `instance` as int, the person attributes parsed), or None without one."""

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_path.read_bytes()).hexdigest()

    def split(self, name: str) -> pd.DataFrame:
        """The manifest rows of one split (train, val or test), in manifest order."""
        return self.manifest[self.manifest["split"] == name].reset_index(drop=True)

    def view(self, splits: Mapping[str, Sequence[str]]) -> DatasetPackage:
        """A view of some rows, read in place: its manifest holds, for each split named in `splits`, the rows
        with the given ids in the given order (relabelled with that split), and nothing else. Files, spec and
        `manifest_path` stay the original package's (so `manifest_sha256` is the whole package's). A shadow
        model trains on such a view instead of a hard-linked copy of its half (audit/privacy/shadows.py)."""
        by_id = {str(i): n for n, i in enumerate(self.manifest["id"])}
        positions, labels = [], []
        for split, ids in splits.items():
            for sample_id in ids:
                if str(sample_id) not in by_id:
                    raise InputError(f"id {sample_id!r} is not in the package", path=self.manifest_path, field="id")
                positions.append(by_id[str(sample_id)])
                labels.append(split)
        manifest = self.manifest.iloc[positions].reset_index(drop=True)
        manifest["split"] = labels
        persons = None
        if self.persons is not None:
            persons = self.persons[self.persons["id"].astype(str).isin(set(manifest["id"].astype(str)))]
        view = DatasetPackage(root=self.root, spec=self.spec, manifest=manifest, manifest_path=self.manifest_path,
                              persons=persons)
        view._rows = {sample_id: n + 1 for sample_id, n in by_id.items()}  # messages name the manifest file's rows
        return view

    def read_image(self, row: pd.Series | dict[str, Any]) -> np.ndarray:
        """The RGB image of a manifest row as HxWx3 uint8, validated (files.py): InputError naming the file
        and the manifest row when it is missing, truncated, not 8-bit or too large."""
        return files.read_image(self.root / row["image"], row=self.row_number(row), sample_id=str(row["id"]))

    def read_mask(self, row: pd.Series | dict[str, Any]) -> np.ndarray:
        """The mask of a manifest row as HxW uint8 class ids, validated: single-channel, the size of its image,
        values among the declared classes."""
        number, sample_id = self.row_number(row), str(row["id"])
        size = files.image_size(self.root / row["image"], row=number, sample_id=sample_id) \
            if (self.root / row["image"]).is_file() else None
        return files.read_mask(self.root / row["mask"], row=number, sample_id=sample_id,
                               allowed=files.allowed_values(self.spec.classes, self.spec.ignore_index),
                               ignore_index=self.spec.ignore_index, image_size=size)

    def read_instances(self, row: pd.Series | dict[str, Any]) -> np.ndarray:
        """The instance-id mask of a manifest row as HxW int32 (0: no person), validated; needs `spec.instances`."""
        if not self.spec.instances:
            raise InputError("this package declares no instances (dataset.yaml `instances: true`)",
                             path=self.root / SPEC_FILE, field="instances")
        number, sample_id = self.row_number(row), str(row["id"])
        size = files.image_size(self.root / row["image"], row=number, sample_id=sample_id) \
            if (self.root / row["image"]).is_file() else None
        return files.read_instances(self.root / row[INSTANCES_COLUMN], row=number, sample_id=sample_id,
                                    image_size=size)

    def persons_of(self, sample_id: str, instances: np.ndarray) -> pd.DataFrame:
        """The people of one image: persons.csv's rows for it, or (without persons.csv) one row per instance id
        present in its instance mask, with unknown person attributes. Columns `id`, `instance`, attributes."""
        if self.persons is not None:
            return self.persons[self.persons["id"] == sample_id].reset_index(drop=True)
        ids = np.unique(instances)
        ids = ids[ids > 0]
        frame = pd.DataFrame({"id": [sample_id] * ids.size, "instance": ids.astype(np.int64)})
        for name, attribute in self.spec.person_attributes.items():
            frame[name] = math.nan if attribute.kind == "continuous" else UNKNOWN
        return frame

    def row_number(self, row: pd.Series | dict[str, Any]) -> int | None:
        """The 1-based manifest row of a record (by its id), for error messages."""
        if not hasattr(self, "_rows"):
            self._rows = {str(i): n for n, i in enumerate(self.manifest["id"], start=1)}
        return self._rows.get(str(row["id"]))

    def summary(self) -> dict[str, Any]:
        """Counts per split and per attribute value, for `segaudit data check` and the dataset card; with
        instances also the people (per person attribute, split taken from their image)."""
        splits = {s: int((self.manifest["split"] == s).sum()) for s in SPLITS}
        attributes = {name: _attribute_summary(self.manifest[name], self.manifest["split"], attribute)
                      for name, attribute in self.spec.attributes.items()}
        out = {"name": self.spec.name, "version": self.spec.version, "root": str(self.root),
               "images": int(len(self.manifest)), "splits": splits, "attributes": attributes}
        if self.spec.instances:
            people: dict[str, Any] = {"count": None, "attributes": {}}
            if self.persons is not None:
                split_of = self.manifest.set_index("id")["split"]
                person_splits = self.persons["id"].map(split_of)
                people = {"count": int(len(self.persons)),
                          "attributes": {name: _attribute_summary(self.persons[name], person_splits, attribute)
                                         for name, attribute in self.spec.person_attributes.items()}}
            out["persons"] = people
        return out


def _attribute_summary(column: pd.Series, splits: pd.Series, attribute: Any) -> dict[str, Any]:
    """Known/unknown and range of a continuous attribute, or its counts per value and split."""
    if attribute.kind == "continuous":
        known = column.dropna()
        return {"kind": attribute.kind, "unit": attribute.unit, "known": int(known.size),
                "unknown": int(column.isna().sum()), "min": float(known.min()) if known.size else None,
                "median": float(known.median()) if known.size else None,
                "max": float(known.max()) if known.size else None}
    order = [*(attribute.values or ()), UNKNOWN]
    table = pd.crosstab(column, splits).reindex(index=order, columns=SPLITS, fill_value=0)
    return {"kind": attribute.kind, "counts": {v: {s: int(table.loc[v, s]) for s in SPLITS} for v in order}}


def load_package(root: str | Path, verify: bool = False, progress: bool = False) -> DatasetPackage:
    """Load and validate a package; with `verify`, also open every image and mask (see `verify_files`)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a folder: a dataset package is a folder with dataset.yaml and a manifest",
                         path=root)
    spec = load_spec(root / SPEC_FILE)
    manifest_path, raw = _read_manifest(root)
    manifest = _validate_manifest(raw, spec, root, manifest_path)
    persons = _read_persons(root, spec, manifest)
    package = DatasetPackage(root=root, spec=spec, manifest=manifest, manifest_path=manifest_path, persons=persons)
    if verify:
        verify_files(package, progress=progress)
    return package


def _read_manifest(root: Path) -> tuple[Path, pd.DataFrame]:
    csv_path, parquet_path = root / MANIFEST_FILE, root / PARQUET_MANIFEST
    if csv_path.exists() and parquet_path.exists():
        raise InputError(f"both {MANIFEST_FILE} and {PARQUET_MANIFEST} exist; keep exactly one", path=root)
    if csv_path.exists():
        try:
            frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"not a readable CSV: {exc}", path=csv_path) from None
        return csv_path, frame
    if parquet_path.exists():
        try:
            frame = pd.read_parquet(parquet_path)
        except Exception as exc:  # pyarrow raises many types for a broken file
            raise InputError(f"not a readable Parquet file: {exc}", path=parquet_path) from None
        return parquet_path, frame
    raise InputError(f"missing: a dataset package needs {MANIFEST_FILE} or {PARQUET_MANIFEST}", path=root)


def base_columns(spec: DatasetSpec) -> tuple[str, ...]:
    """The manifest's fixed columns: id, image, mask, split, and `instances` when the spec declares them."""
    return (*BASE_COLUMNS, INSTANCES_COLUMN) if spec.instances else BASE_COLUMNS


def _validate_manifest(raw: pd.DataFrame, spec: DatasetSpec, root: Path, path: Path) -> pd.DataFrame:
    columns = [str(c) for c in raw.columns]
    base = base_columns(spec)
    missing = [c for c in (*base, *spec.attributes) if c not in columns]
    if missing:
        raise InputError(f"missing columns {missing} (expected {[*base, *spec.attributes]})", path=path)
    undeclared = [c for c in columns if c not in base and c not in spec.attributes and c != SUBJECT]
    if undeclared:
        raise InputError(f"columns {undeclared} are not declared as attributes in {SPEC_FILE}", path=path)
    if raw.empty:
        raise InputError("the manifest has no rows", path=path)

    problems: list[InputError] = []
    seen: dict[str, int] = {}
    parsed: dict[str, list[Any]] = {name: [] for name in spec.attributes}
    resolved_root = root.resolve()
    for index, record in enumerate(raw.to_dict("records"), start=1):
        sample_id = _text(record["id"])
        if not ID_PATTERN.match(sample_id):
            problems.append(InputError(f"id {sample_id!r} must be non-empty letters, digits, '.', '_' or '-'",
                                       path=path, row=index, field="id"))
        elif sample_id in seen:
            problems.append(InputError(f"duplicate id {sample_id!r} (first at row {seen[sample_id]})",
                                       path=path, row=index, field="id"))
        else:
            seen[sample_id] = index
        split = _text(record["split"])
        if split not in SPLITS:
            problems.append(InputError(f"split {split!r} is not one of {list(SPLITS)}",
                                       path=path, row=index, field="split"))
        for column in (c for c in base if c not in ("id", "split")):
            relative = _text(record[column])
            target = (root / relative).resolve()
            if not relative or Path(relative).is_absolute() or not target.is_relative_to(resolved_root):
                problems.append(InputError(f"path {relative!r} escapes the dataset folder or is empty; paths "
                                           "are relative to the folder and stay inside it",
                                           path=path, row=index, field=column))
        if SUBJECT in columns and not ID_PATTERN.match(_text(record[SUBJECT])):
            problems.append(InputError(f"subject {_text(record[SUBJECT])!r} must be non-empty letters, digits, '.', "
                                       "'_' or '-' (every row needs one when the column is present)",
                                       path=path, row=index, field=SUBJECT))
        _parse_cells(record, spec.attributes, parsed, problems, path, index)
    _raise_all(problems, path)

    manifest = pd.DataFrame({c: raw[c].map(_text) for c in base if c in columns}
                            | ({SUBJECT: raw[SUBJECT].map(_text)} if SUBJECT in columns else {}))
    for name, attribute in spec.attributes.items():
        dtype = "float64" if attribute.kind == "continuous" else "object"
        manifest[name] = pd.Series(parsed[name], dtype=dtype)
    return manifest


def _read_persons(root: Path, spec: DatasetSpec, manifest: pd.DataFrame) -> pd.DataFrame | None:
    """persons.csv validated against the spec and the manifest; None when the package has none."""
    path = root / PERSONS_FILE
    if not spec.instances:
        if path.exists():
            raise InputError(f"{PERSONS_FILE} needs `instances: true` and `schema_version: 2` in {SPEC_FILE}",
                             path=path)
        return None
    if not path.exists():
        if spec.person_attributes:
            raise InputError(f"missing: person_attributes are declared in {SPEC_FILE}, so their values must be "
                             f"in {PERSONS_FILE} (id, instance, one column per person attribute)", path=path)
        return None
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from None
    expected = ["id", "instance", *spec.person_attributes]
    columns = [str(c) for c in raw.columns]
    if sorted(columns) != sorted(expected):
        raise InputError(f"columns must be {expected} (person_attributes of {SPEC_FILE}), got {columns}", path=path)
    known_ids = set(manifest["id"])
    problems: list[InputError] = []
    parsed: dict[str, list[Any]] = {"id": [], "instance": [], **{name: [] for name in spec.person_attributes}}
    seen: dict[tuple[str, int], int] = {}
    for index, record in enumerate(raw.to_dict("records"), start=1):
        sample_id, text = _text(record["id"]), _text(record["instance"])
        if sample_id not in known_ids:
            problems.append(InputError(f"id {sample_id!r} is not in the manifest", path=path, row=index, field="id"))
        instance = int(text) if text.isdigit() else -1
        if not 1 <= instance <= files.MAX_INSTANCE_ID:
            problems.append(InputError(f"instance {text!r} must be an instance id 1..{files.MAX_INSTANCE_ID} of the "
                                       "image's instance mask", path=path, row=index, field="instance"))
        elif (sample_id, instance) in seen:
            problems.append(InputError(f"person ({sample_id}, {instance}) repeats row {seen[sample_id, instance]}",
                                       path=path, row=index, field="instance"))
        else:
            seen[sample_id, instance] = index
        parsed["id"].append(sample_id)
        parsed["instance"].append(instance)
        _parse_cells(record, spec.person_attributes, parsed, problems, path, index)
    _raise_all(problems, path)
    persons = pd.DataFrame({"id": pd.Series(parsed["id"], dtype="object"),
                            "instance": pd.Series(parsed["instance"], dtype="int64")})
    for name, attribute in spec.person_attributes.items():
        persons[name] = pd.Series(parsed[name], dtype="float64" if attribute.kind == "continuous" else "object")
    return persons


def _parse_cells(record: dict[str, Any], attributes: dict[str, Any], parsed: dict[str, list[Any]],
                 problems: list[InputError], path: Path, index: int) -> None:
    """Append each declared attribute's parsed value of one row to `parsed` (None and a problem when invalid)."""
    for name, attribute in attributes.items():
        try:
            parsed[name].append(attribute.parse(record[name]))
        except ValueError as exc:
            parsed[name].append(None)
            problems.append(InputError(str(exc), path=path, row=index, field=name))


def verify_files(package: DatasetPackage, progress: bool = False) -> None:
    """Open every image and mask (and instance mask): existence, decodability, equal sizes, mask values within
    the classes, instances only on person pixels, and every person of persons.csv present in its mask."""
    from tqdm import tqdm

    allowed = files.allowed_values(package.spec.classes, package.spec.ignore_index)
    problems: list[InputError] = []
    rows = package.manifest.to_dict("records")
    for index, row in enumerate(tqdm(rows, desc="checking files", unit="img", disable=not progress), start=1):
        found = list(_verify_row(package.root, row, index, allowed, package.spec.ignore_index))
        if package.spec.instances and not found:  # the instances of a row whose image and mask read well
            found.extend(_verify_instances(package, row, index))
        problems.extend(found)
        if len(problems) >= MAX_REPORTED:
            break
    _raise_all(problems, package.root)


def background_ids(classes: dict[int, str]) -> list[int]:
    """The class named "background" (any case), else class 0: where no person can be."""
    return [i for i, name in classes.items() if name.strip().lower() == "background"] or [0]


def _verify_instances(package: DatasetPackage, row: dict[str, Any], index: int) -> Iterator[InputError]:
    try:
        instances = package.read_instances(row)
        mask = package.read_mask(row)
    except InputError as error:
        yield error
        return
    where = {"path": package.root / row[INSTANCES_COLUMN], "row": index, "field": INSTANCES_COLUMN}
    on_background = np.isin(mask, background_ids(package.spec.classes)) & (instances > 0)
    if on_background.any():
        yield InputError(f"{int(on_background.sum())} instance pixels lie on background in the class mask "
                         f"(id {row['id']!r})", **where)
    if package.persons is not None:
        present = set(np.unique(instances).tolist()) - {0}
        listed = package.persons.loc[package.persons["id"] == row["id"], "instance"].tolist()
        absent = [k for k in listed if k not in present]
        if absent:
            yield InputError(f"persons.csv lists instances {absent} that the instance mask of id {row['id']!r} does "
                             "not contain", **where)
        unlisted = sorted(present - set(listed))
        if unlisted:
            yield InputError(f"instances {unlisted} of id {row['id']!r} have no row in persons.csv (every person of "
                             "the masks needs one, with 'unknown' where an attribute is not known)", **where)


def _verify_row(root: Path, row: dict[str, Any], index: int, allowed: np.ndarray,
                ignore_index: int) -> Iterator[InputError]:
    image = root / row["image"]
    try:
        size = files.open_checked(image, column="image", row=index, sample_id=str(row["id"])).size
    except InputError as error:
        yield error
        size = None
    try:
        files.read_mask(root / row["mask"], row=index, sample_id=str(row["id"]), allowed=allowed,
                        ignore_index=ignore_index, image_size=size)
    except InputError as error:
        yield error


def _raise_all(problems: Iterable[InputError], where: Path) -> None:
    problems = list(problems)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:MAX_REPORTED])
        more = f"\n  ... and more (first {MAX_REPORTED} shown)" if len(problems) > MAX_REPORTED else ""
        raise InputError(f"{len(problems)} problems found:\n  {shown}{more}", path=where)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()
