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
from segaudit.models.data.spec import SPEC_FILE, UNKNOWN, DatasetSpec

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
        self._rows: list[dict[str, str]] = []
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
            attributes: dict[str, Any]) -> None:
        """Add one sample from arrays: image HxWx3 uint8, mask HxW uint8 of class ids."""
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"{sample_id}: image {image.shape[:2]} and mask {mask.shape[:2]} differ in size")
        self.add_encoded(sample_id, encode_png(image), encode_png(mask), split, attributes)

    def add_encoded(self, sample_id: str, image_png: bytes, mask_png: bytes, split: str,
                    attributes: dict[str, Any]) -> None:
        """Add one sample whose PNGs are already encoded (e.g. by worker processes)."""
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
        for name, attribute in self.spec.attributes.items():
            value = attributes.get(name)
            row[name] = format_cell(None if value is None else attribute.parse(value))
        self._rows.append(row)

    def close(self) -> Path:
        """Write the spec and manifest and move the finished package into place."""
        (self._tmp / SPEC_FILE).write_text(self.spec.to_yaml(), encoding="utf-8")
        (self._tmp / MARKER_FILE).write_text("written by segaudit; --overwrite may replace this folder\n",
                                             encoding="utf-8")
        columns = ["id", "image", "mask", "split", *self.spec.attributes]
        with open(self._tmp / MANIFEST_FILE, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self._rows)
        replace_folder(self._tmp, self.out)
        return self.out
