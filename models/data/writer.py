"""Writing a dataset package atomically, for the generator and the importers.

Everything goes into a hidden temporary folder beside the destination and is moved into place only when the
package is complete, so an interrupted run never leaves half a dataset behind.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image

from segaudit.core import checks
from segaudit.core.atomic import recover_leftovers, replace_folder, set_default_mode, staging_prefix
from segaudit.core.errors import InputError
from segaudit.models.data.spec import INSTANCES_COLUMN, PERSONS_FILE, SPEC_FILE, UNKNOWN, DatasetSpec

MANIFEST_FILE = "manifest.csv"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SPLITS = ("train", "val", "test")


def check_fractions(fractions: Iterable[float]) -> tuple[float, float, float]:
    """(train, val, test) fractions: three finite non-negative numbers (not text, not booleans) summing to 1."""
    problem = InputError(f"must be three non-negative numbers (train, val, test) summing to 1, got {fractions!r}",
                         field="split_fractions")
    try:
        values = tuple(checks.number(f, "split_fractions", 0.0) for f in fractions)
    except (TypeError, InputError):
        raise problem from None
    if len(values) != 3 or abs(sum(values) - 1) > 1e-6:
        raise problem
    return values  # type: ignore[return-value]


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an HxW (mask, uint8) or HxWx3 (RGB, uint8) array; the same array gives the same bytes."""
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def encode_instances_png(instances: np.ndarray) -> bytes:
    """PNG bytes of an HxW instance-id mask: 8-bit when every id is below 256, else 16-bit greyscale."""
    instances = np.asarray(instances)
    if instances.ndim != 2 or instances.min(initial=0) < 0 or instances.max(initial=0) > 65535:
        raise ValueError(f"expected an HxW array of instance ids 0..65535, got {instances.shape}")
    if instances.max(initial=0) < 256:
        return encode_png(instances.astype(np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(instances.astype(np.uint16)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def format_cell(value: Any) -> str:
    """A manifest cell: empty for unknown, compact text for floats."""
    if value is None or value == UNKNOWN or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


MARKER_FILE = ".segaudit-package"
"""Written into every package folder segaudit makes: the sign that --overwrite may replace the folder."""


def is_package_folder(folder: Path) -> bool:
    """A folder segaudit may replace: it carries the marker, or is a package of the documented format."""
    manifests = (folder / MANIFEST_FILE, folder / "manifest.parquet")
    return (folder / MARKER_FILE).is_file() or ((folder / SPEC_FILE).is_file() and any(m.is_file() for m in manifests))


class PackageWriter:
    """Collects samples and writes `dataset.yaml`, `manifest.csv`, `images/`, `masks/` in one atomic move.

    Use as a context manager; leaving the block with an exception discards everything written so far.
    """

    def __init__(self, out: str | Path, spec: DatasetSpec, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.spec = spec
        self.overwrite = overwrite
        if self.out.exists() and not self.out.is_dir():
            raise InputError("exists and is not a folder", path=self.out)
        if self.out.exists() and any(self.out.iterdir()):
            if not overwrite:
                raise InputError("already exists and is not empty (pass --overwrite to replace it)", path=self.out)
            if not is_package_folder(self.out):
                raise InputError("holds files that are not a dataset package written by segaudit (no "
                                 f"{MARKER_FILE}, no {SPEC_FILE} + {MANIFEST_FILE}); --overwrite replaces only a "
                                 "package, it never deletes other files", path=self.out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        recover_leftovers(self.out)
        self._tmp = Path(tempfile.mkdtemp(prefix=staging_prefix(self.out, "tmp"), dir=self.out.parent))
        set_default_mode(self._tmp)
        (self._tmp / "images").mkdir()
        (self._tmp / "masks").mkdir()
        if spec.instances:
            (self._tmp / INSTANCES_COLUMN).mkdir()
        self._rows: list[dict[str, str]] = []
        self._persons: list[dict[str, str]] = []
        self._ids: set[str] = set()

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def add(self, sample_id: str, image: np.ndarray, mask: np.ndarray, split: str,
            attributes: dict[str, Any], instances: np.ndarray | None = None,
            persons: list[dict[str, Any]] | None = None) -> None:
        """Add one sample from arrays: image HxWx3 uint8, mask HxW uint8 of class ids, and (when the spec declares
        instances) the HxW instance ids with the image's people (see `add_encoded`)."""
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"{sample_id}: image {image.shape[:2]} and mask {mask.shape[:2]} differ in size")
        if instances is not None and instances.shape != mask.shape:
            raise ValueError(f"{sample_id}: instances {instances.shape} and mask {mask.shape} differ in size")
        self.add_encoded(sample_id, encode_png(image), encode_png(mask), split, attributes,
                         None if instances is None else encode_instances_png(instances), persons)

    def add_encoded(self, sample_id: str, image_png: bytes, mask_png: bytes, split: str,
                    attributes: dict[str, Any], instances_png: bytes | None = None,
                    persons: list[dict[str, Any]] | None = None) -> None:
        """Add one sample whose PNGs are already encoded (e.g. by worker processes).

        With a spec that declares instances, `instances_png` is required and `persons` lists the image's people
        as {"instance": id, person attribute: value, ...}; persons.csv is written when the spec declares person
        attributes or any persons were given."""
        if self.spec.instances != (instances_png is not None):
            raise ValueError(f"{sample_id}: an instance mask is required exactly when the spec declares instances")
        if persons and not self.spec.instances:
            raise ValueError(f"{sample_id}: persons need a spec that declares instances")
        if not ID_PATTERN.match(sample_id) or sample_id in self._ids:
            raise ValueError(f"sample id {sample_id!r} is not a unique, file-name-safe id")
        if split not in SPLITS:
            raise ValueError(f"{sample_id}: split {split!r} is not one of {SPLITS}")
        undeclared = set(attributes) - set(self.spec.attributes)
        if undeclared:
            raise ValueError(f"{sample_id}: attributes {sorted(undeclared)} are not declared in the spec")
        self._ids.add(sample_id)
        image_rel, mask_rel = f"images/{sample_id}.png", f"masks/{sample_id}.png"
        (self._tmp / image_rel).write_bytes(image_png)
        (self._tmp / mask_rel).write_bytes(mask_png)
        row = {"id": sample_id, "image": image_rel, "mask": mask_rel, "split": split}
        if instances_png is not None:
            row[INSTANCES_COLUMN] = f"{INSTANCES_COLUMN}/{sample_id}.png"
            (self._tmp / row[INSTANCES_COLUMN]).write_bytes(instances_png)
        for name, attribute in self.spec.attributes.items():
            value = attributes.get(name)
            row[name] = format_cell(None if value is None else attribute.parse(value))
        self._rows.append(row)
        for person in persons or ():
            undeclared = set(person) - {"instance", *self.spec.person_attributes}
            if undeclared:
                raise ValueError(f"{sample_id}: person attributes {sorted(undeclared)} are not declared in the spec")
            record = {"id": sample_id, "instance": str(int(person["instance"]))}
            for name, attribute in self.spec.person_attributes.items():
                value = person.get(name)
                record[name] = format_cell(None if value is None else attribute.parse(value))
            self._persons.append(record)

    def close(self) -> Path:
        """Write the spec and manifest and move the finished package into place."""
        (self._tmp / SPEC_FILE).write_text(self.spec.to_yaml(), encoding="utf-8")
        (self._tmp / MARKER_FILE).write_text("written by segaudit; --overwrite may replace this folder\n",
                                             encoding="utf-8")
        instances = [INSTANCES_COLUMN] if self.spec.instances else []
        _write_csv(self._tmp / MANIFEST_FILE, ["id", "image", "mask", "split", *instances, *self.spec.attributes],
                   self._rows)
        if self.spec.instances and (self.spec.person_attributes or self._persons):
            _write_csv(self._tmp / PERSONS_FILE, ["id", "instance", *self.spec.person_attributes], self._persons)
        replace_folder(self._tmp, self.out)
        return self.out


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
