"""A contact sheet of a dataset package: a grid of samples with their masks outlined and attribute captions.

For looking at a dataset before trusting it - the synthetic one, or an imported one. The sample is drawn with
a seed (in manifest order), masks are shown as a translucent tint per class with the person's outline, and
each tile is captioned with its attribute values, e.g. "monk_07 · broad · 0.71 · adult · 172cm · low".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.models.data.package import DatasetPackage, load_package
from segaudit.models.data.spec import UNKNOWN, AttributeSpec
from segaudit.models.data.writer import SPLITS

TILE = 160
"""Thumbnail side in pixels; images are fitted inside it keeping their aspect ratio."""
COLUMNS = 8
PAD = 6
LINE = 12
CAPTION_LINES = 3
"""Two lines of attribute values, then the id and split."""
HEADER = 24
BACKGROUND = (246, 246, 244)
PALETTE = np.array([(0, 0, 0), (255, 60, 60), (255, 200, 40), (60, 140, 255), (60, 220, 120),
                    (200, 90, 255), (255, 140, 30), (40, 220, 220), (240, 90, 170), (150, 200, 60)],
                   dtype=np.float32)
"""Overlay colour per class id (cycled); class 0 (background) is never tinted."""
SEPARATOR = " · "


def sheet_size(count: int) -> tuple[int, int]:
    """(width, height) in pixels of a contact sheet showing `count` samples."""
    columns = max(1, min(count, COLUMNS))
    rows = math.ceil(count / columns)
    cell_w, cell_h = TILE + PAD, TILE + CAPTION_LINES * LINE + PAD
    return PAD + columns * cell_w, HEADER + PAD + rows * cell_h


def contact_sheet(package_dir: str | Path, out: str | Path, n: int = 32, split: str | None = None,
                  seed: int = 0, overlay: bool = True) -> Path:
    """Write a PNG grid of up to `n` samples of a package (optionally of one split) and return its path."""
    checks.integer(n, "n", minimum=1)
    if split is not None:
        checks.choice(split, SPLITS, "split")
    package = load_package(package_dir)
    rows = package.manifest if split is None else package.split(split)
    if rows.empty:
        raise InputError(f"the package has no samples in split {split!r}", path=package.root)
    chosen = np.arange(len(rows))
    if len(rows) > n:
        chosen = np.sort(np.random.default_rng(seed).choice(len(rows), size=n, replace=False))
    records = [rows.iloc[int(i)].to_dict() for i in chosen]

    width, height = sheet_size(len(records))
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font, separator = _font(11)
    title = (f"{package.spec.name} {package.spec.version} - {len(records)} of {len(rows)} samples"
             f"{'' if split is None else f' in {split}'}" + (" - masks tinted and outlined" if overlay else ""))
    draw.text((PAD, 6), title, fill=(20, 20, 20), font=font)
    columns = max(1, min(len(records), COLUMNS))
    for k, record in enumerate(records):
        left = PAD + (k % columns) * (TILE + PAD)
        top = HEADER + PAD + (k // columns) * (TILE + CAPTION_LINES * LINE + PAD)
        sheet.paste(_thumbnail(package, record, overlay), (left, top))
        lines = _wrap(_caption(package, record, separator), font, TILE, CAPTION_LINES - 1, separator)
        lines += [""] * (CAPTION_LINES - 1 - len(lines))
        lines.append(f"{record['id']}{separator}{record['split']}")
        for j, line in enumerate(lines):
            colour = (30, 30, 30) if j < CAPTION_LINES - 1 else (120, 120, 120)
            draw.text((left, top + TILE + 1 + j * LINE), line, fill=colour, font=font)
    from segaudit.core.atomic import atomic_file

    out = Path(out)
    with atomic_file(out) as tmp:  # a full disk or a kill never leaves a truncated sheet
        sheet.save(tmp, format="PNG")
    return out


def _font(size: int) -> tuple[Any, str]:
    """Pillow's bundled TrueType font where FreeType is available (it has '·'), else the bitmap one."""
    try:
        return ImageFont.load_default(size=size), SEPARATOR
    except (TypeError, OSError, ImportError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default(), " | "


def _thumbnail(package: DatasetPackage, record: dict[str, Any], overlay: bool) -> Image.Image:
    """The image fitted into TILE x TILE, with the mask tinted per class and the figure outlined."""
    image = Image.fromarray(package.read_image(record))
    scale = TILE / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    pixels = np.asarray(image.resize(size, Image.BILINEAR), dtype=np.float32)
    if overlay:
        mask = np.asarray(Image.fromarray(package.read_mask(record)).resize(size, Image.NEAREST))
        ignore = package.spec.ignore_index
        classes = np.where(mask == ignore, 0, mask).astype(np.intp)
        tint = PALETTE[1:][(classes - 1) % (len(PALETTE) - 1)]
        alpha = np.where(classes > 0, 0.35, 0.0)[..., None]
        pixels = pixels * (1 - alpha) + tint * alpha
        figure = classes > 0
        edge = np.zeros_like(figure)
        edge[1:, :] |= figure[1:, :] != figure[:-1, :]
        edge[:, 1:] |= figure[:, 1:] != figure[:, :-1]
        edge &= figure
        pixels[edge] = (255, 255, 0)
        pixels[mask == ignore] = pixels[mask == ignore] * 0.5 + 64
    tile = Image.new("RGB", (TILE, TILE), (0, 0, 0))
    tile.paste(Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8)),
               ((TILE - size[0]) // 2, (TILE - size[1]) // 2))
    return tile


def _format(value: Any, attribute: AttributeSpec) -> str:
    if attribute.kind != "continuous":
        return "?" if value == UNKNOWN else str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    unit = attribute.unit or ""
    number = f"{value:.0f}" if abs(value) >= 10 else f"{value:.2f}"
    return number + (unit if len(unit) <= 3 else "")


def _caption(package: DatasetPackage, record: dict[str, Any], separator: str) -> str:
    return separator.join(_format(record[name], attribute) for name, attribute in package.spec.attributes.items())


def _wrap(text: str, font: Any, width: int, lines: int, separator: str) -> list[str]:
    """Greedy wrap at separators into at most `lines` lines of `width` pixels; the overflow gets '…'."""
    out: list[str] = []
    current = ""
    for part in text.split(separator) if text else []:
        candidate = part if not current else current + separator + part
        if font.getlength(candidate) <= width or not current:
            current = candidate
        else:
            out.append(current)
            current = part
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1] + "…"
    for i, line in enumerate(out):
        while font.getlength(out[i]) > width and len(line) > 1:
            line = line[:-1]
            out[i] = line + "…"
    return out
