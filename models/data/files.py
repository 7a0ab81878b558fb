"""Reading a package's images and masks, validated where they are read: every command that opens a file (train,
eval, fairness, preview, audit, privacy, derive) gets the same checks as `segaudit data check`.

An image must decode completely (a truncated PNG is an error, not a grey stripe), be 8-bit (RGB, RGBA, L or P:
a 16-bit or float image would be scaled silently), and stay below PIL's decompression-bomb limit. A mask must be
a single-channel 8-bit PNG of class ids (L or P), the size of its image, with values among the declared classes
(or ignore_index). Every problem is an `InputError` naming the file, the manifest row and the column.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from segaudit.core.errors import InputError

IMAGE_MODES = ("RGB", "RGBA", "L", "P")
MASK_MODES = ("L", "P")
INSTANCE_MODES = ("L", "P", "I;16", "I")
"""An instance-id mask may be 16-bit (PIL opens a 16-bit greyscale PNG as I;16 or I)."""
MAX_INSTANCE_ID = 65535


def open_checked(file: Path, *, column: str, row: int | None, sample_id: str) -> Image.Image:
    """The fully decoded image at `file` (closed file handle), or an InputError saying what is wrong with it."""
    where = {"path": file, "row": row, "field": column}
    if not file.is_file():
        raise InputError(f"missing file (id {sample_id!r})", **where)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as opened:
                opened.load()
                image = opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image too large to open safely (id {sample_id!r}): {exc}", **where) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable or truncated image (id {sample_id!r}): {exc}", **where) from None
    allowed = {"image": IMAGE_MODES, "instances": INSTANCE_MODES}.get(column, MASK_MODES)
    if image.mode not in allowed:
        what = {"image": "an 8-bit image (RGB, RGBA, L or P)",
                "instances": "a single-channel 8- or 16-bit PNG of instance ids (mode L, P, I;16 or I)"}.get(
            column, "a single-channel 8-bit PNG of class ids (mode L or P)")
        raise InputError(f"must be {what}, got mode {image.mode} (id {sample_id!r})", **where)
    return image


def read_image(file: Path, *, row: int | None, sample_id: str) -> np.ndarray:
    """An image as HxWx3 uint8."""
    return np.array(open_checked(file, column="image", row=row, sample_id=sample_id).convert("RGB"))


def image_size(file: Path, *, row: int | None, sample_id: str) -> tuple[int, int]:
    """(width, height) from the header alone (no decoding)."""
    try:
        with Image.open(file) as opened:
            return opened.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable image (id {sample_id!r}): {exc}", path=file, row=row, field="image") from None


def read_mask(file: Path, *, row: int | None, sample_id: str, allowed: np.ndarray, ignore_index: int,
              image_size: tuple[int, int] | None) -> np.ndarray:
    """A mask as HxW uint8 class ids, checked against its image's size and the declared classes."""
    mask = open_checked(file, column="mask", row=row, sample_id=sample_id)
    if image_size is not None and mask.size != image_size:
        raise InputError(f"image is {image_size[0]}x{image_size[1]} but mask is {mask.size[0]}x{mask.size[1]} "
                         f"(id {sample_id!r})", path=file, row=row, field="mask")
    values = np.array(mask)  # writable, as callers (torch) expect
    present = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
    bad = present[~allowed[present]]
    if bad.size:
        raise InputError(f"mask values {bad.tolist()} are not declared classes (ignore_index {ignore_index} aside; "
                         f"id {sample_id!r})", path=file, row=row, field="mask")
    return values


def allowed_values(classes: dict[int, str], ignore_index: int) -> np.ndarray:
    """A [256] bool table of the mask values a package allows."""
    allowed = np.zeros(256, dtype=bool)
    allowed[list(classes)] = True
    allowed[ignore_index] = True
    return allowed


def read_instances(file: Path, *, row: int | None, sample_id: str, image_size: tuple[int, int] | None
                   ) -> np.ndarray:
    """An instance-id mask as HxW int32 (0: no person, 1..65535: a person), checked against its image's size."""
    opened = open_checked(file, column="instances", row=row, sample_id=sample_id)
    if image_size is not None and opened.size != image_size:
        raise InputError(f"image is {image_size[0]}x{image_size[1]} but instance mask is {opened.size[0]}x"
                         f"{opened.size[1]} (id {sample_id!r})", path=file, row=row, field="instances")
    values = np.array(opened).astype(np.int32)
    if values.ndim != 2 or values.min(initial=0) < 0 or values.max(initial=0) > MAX_INSTANCE_ID:
        raise InputError(f"instance ids must be 0..{MAX_INSTANCE_ID} in one channel (id {sample_id!r})",
                         path=file, row=row, field="instances")
    return values
