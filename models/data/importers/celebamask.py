"""Import CelebAMask-HQ face parsing as the 11 face classes of the diploma face-segmentation project.

Layout under `root`:
    CelebA-HQ-img/<i>.jpg                          1024x1024 face images, i = 0..29999 (.png also read)
    CelebAMask-HQ-mask-anno/<folder>/<i:05d>_<part>.png   512x512 binary part masks (any sub-folder)
    CelebAMask-HQ-attribute-anno.txt               optional: CelebA's 40 binary attributes per image
    CelebA-HQ-to-CelebA-mapping.txt                optional: the original CelebA file of each image

Class merge (from the diploma seed): cloth, hat, neck_l (necklace), ear_r (earring) -> background;
l_lip, u_lip -> lips; l_eye, r_eye -> eye; nose -> nose; hair -> hair; l_brow, r_brow -> eyebrows;
mouth (inner mouth) -> teeth; neck, skin -> face; l_ear, r_ear -> ears; eye_g -> glasses; beard has no source
part, so class 10 never occurs. Parts are painted in `PART_ORDER`, later parts overwriting earlier ones; this
is the order of the dataset authors' own label-map script (g_mask.py), so the result equals their 19-class
map with the classes merged: skin first, then the face features, then hair, hat and accessories, neck and
cloth last.

Masks are 512x512 and images 1024x1024: images are downscaled to the mask size by area averaging (each
output pixel is the mean of a 2x2 block); masks are never resampled.

Attributes: CelebA's annotator labels (1 / -1) become categorical yes/no, source "annotated"; Male, Young and
Pale_Skin are marked sensitive (apparent sex, age and skin tone as judged by annotators, not self-reported).
Splits: with the mapping file, CelebA's official partition of the original files (train up to 162770.jpg,
val up to 182637.jpg, test after; the CelebA paper splits it by identity, which matters for privacy audits);
without it, seeded random splits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.models.data.importers.common import (
    DEFAULT_FRACTIONS,
    Job,
    build_spec,
    package_name,
    raise_all,
    random_splits,
    read_rgb,
    require_file,
    require_folder,
    write_samples,
)
from segaudit.models.data.spec import AttributeSpec
from segaudit.models.data.writer import check_fractions

log = logging.getLogger(__name__)
FORMAT = "CelebAMask-HQ (CelebA-HQ-img + CelebAMask-HQ-mask-anno part masks)"
LICENSE = "CelebAMask-HQ dataset agreement: non-commercial research and educational purposes only"
IMAGE_DIR, MASK_DIR = "CelebA-HQ-img", "CelebAMask-HQ-mask-anno"
ATTRIBUTE_FILE, MAPPING_FILE = "CelebAMask-HQ-attribute-anno.txt", "CelebA-HQ-to-CelebA-mapping.txt"

FACE_CLASSES: dict[int, str] = {0: "background", 1: "lips", 2: "eye", 3: "nose", 4: "hair", 5: "eyebrows",
                                6: "teeth", 7: "face", 8: "ears", 9: "glasses", 10: "beard"}
PART_CLASS: dict[str, int] = {
    "cloth": 0, "hat": 0, "neck_l": 0, "ear_r": 0, "l_lip": 1, "u_lip": 1, "l_eye": 2, "r_eye": 2, "nose": 3,
    "hair": 4, "l_brow": 5, "r_brow": 5, "mouth": 6, "neck": 7, "skin": 7, "l_ear": 8, "r_ear": 8, "eye_g": 9,
}
PART_ORDER: tuple[str, ...] = ("skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                               "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth")
DEFAULT_ATTRIBUTES = ("Male", "Young", "Pale_Skin", "Eyeglasses", "Wearing_Hat", "Bald", "Bangs", "No_Beard",
                      "Heavy_Makeup")
SENSITIVE = {
    "Male": "annotators' binary judgement of apparent sex (not self-reported gender)",
    "Young": "annotators' binary judgement of apparent youth (no ages are given)",
    "Pale_Skin": "annotators' binary judgement of pale skin, a coarse proxy for skin tone",
}
CELEBA_VAL_FIRST, CELEBA_TEST_FIRST = 162771, 182638
"""First original CelebA file numbers of the val and test partitions (list_eval_partition.txt)."""
_PART_NAME = re.compile(r"^(\d+)_([a-z_]+)$")


def import_celebamask(root: Path, out: Path, split_fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0,
                      name: str | None = None, overwrite: bool = False, *,
                      attributes: Sequence[str] | None = None, celeba_splits: bool = True,
                      limit: int | None = None, license: str = LICENSE, workers: int = 1,
                      progress: bool = False) -> Path:
    """Write an 11-class face-parsing package from a CelebAMask-HQ folder; returns `out`.

    `attributes` picks CelebA attribute names (default `DEFAULT_ATTRIBUTES` when the attribute file is
    present; [] for none). `celeba_splits` uses CelebA's partition when the mapping file is present.
    `limit` keeps the first N images by index.
    """
    root, out = Path(root), Path(out)
    require_folder(root, f"the CelebAMask-HQ folder (with {IMAGE_DIR}/ and {MASK_DIR}/)")
    images = require_folder(root / IMAGE_DIR, "CelebA-HQ images named <index>.jpg")
    parts_root = require_folder(root / MASK_DIR, "part masks named <index:05d>_<part>.png in sub-folders")
    fractions = check_fractions(split_fractions)
    checks.optional(checks.integer, limit, "limit", minimum=1)

    image_files = _image_files(images)
    parts = _part_files(parts_root, image_files)
    indices = sorted(image_files)[:limit] if limit is not None else sorted(image_files)

    declarations: dict[str, AttributeSpec] = {}
    values: dict[int, dict[str, str]] = {}
    attribute_path = root / ATTRIBUTE_FILE
    if attribute_path.is_file() and (attributes is None or attributes):
        declarations, values = read_attributes(attribute_path, attributes or DEFAULT_ATTRIBUTES)
        unlabelled = [i for i in indices if i not in values]
        if unlabelled:
            log.warning("%d images have no row in %s: their attributes are unknown", len(unlabelled),
                        attribute_path)
    elif attributes:
        require_file(attribute_path, f"{ATTRIBUTE_FILE}, needed for the attributes {list(attributes)}")

    mapping_path = root / MAPPING_FILE
    if celeba_splits and mapping_path.is_file():
        splits = celeba_partition(mapping_path, indices)
        split_note = f"CelebA's official partition via {MAPPING_FILE}"
    else:
        if celeba_splits:
            log.warning("%s not found: using seeded random splits, which may put one person's images in "
                        "both train and test", mapping_path)
        by_id = random_splits([str(i) for i in indices], fractions, seed)
        splits = {i: by_id[str(i)] for i in indices}
        split_note = f"seeded random splits (seed {seed}, fractions {list(fractions)})"
    log.info("CelebAMask-HQ: class 10 'beard' has no source part and never occurs in these masks")

    spec = build_spec(
        name=package_name(name, out),
        description=("CelebAMask-HQ face parsing merged to 11 face classes (diploma mapping; parts painted in "
                     f"the order {', '.join(PART_ORDER)}, later over earlier); images downscaled to the "
                     "mask size (1024x1024 -> 512x512) by area averaging; 'beard' never occurs."),
        license=license,
        provenance=(f"format: {FORMAT}; source: {root.resolve()}; "
                    + (f"attributes: {attribute_path.resolve()}; " if declarations else "")
                    + split_note + (f"; first {limit} images by index" if limit is not None else "")),
        classes=FACE_CLASSES,
        attributes=declarations,
    )
    jobs = [Job(str(i), splits[i], values.get(i, {}), partial(load_sample, image_files[i], parts[i]))
            for i in indices]
    return write_samples(out, spec, jobs, overwrite=overwrite, workers=workers, progress=progress)


def _image_files(images: Path) -> dict[int, Path]:
    files: dict[int, Path] = {}
    for path in sorted(images.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        if not path.stem.isdigit():
            raise InputError("expected CelebA-HQ images named <index>.jpg", path=path)
        if int(path.stem) in files:
            raise InputError(f"two images have index {int(path.stem)} (also {files[int(path.stem)].name})",
                             path=path)
        files[int(path.stem)] = path
    if not files:
        raise InputError("no images (<index>.jpg) found", path=images)
    return files


def _part_files(parts_root: Path, image_files: dict[int, Path]) -> dict[int, dict[str, Path]]:
    """{image index: {part: file}}; unknown parts, duplicates and unpaired files are InputErrors."""
    parts: dict[int, dict[str, Path]] = {}
    problems: list[InputError] = []
    for path in sorted(parts_root.rglob("*.png")):
        if path.name.startswith("."):
            continue
        match = _PART_NAME.match(path.stem)
        if not match or match.group(2) not in PART_CLASS:
            problems.append(InputError(f"expected <index:05d>_<part>.png with part one of {sorted(PART_CLASS)}",
                                       path=path))
            continue
        index, part = int(match.group(1)), match.group(2)
        if index not in image_files:
            problems.append(InputError(f"part mask has no image {index}.jpg in {parts_root.parent / IMAGE_DIR}",
                                       path=path))
            continue
        known = parts.setdefault(index, {})
        if part in known:
            problems.append(InputError(f"duplicate part mask (also {known[part]})", path=path))
            continue
        known[part] = path
    for index in sorted(set(image_files) - set(parts)):
        problems.append(InputError(f"image has no part masks in {parts_root}", path=image_files[index]))
        if len(problems) > 50:
            break
    raise_all(problems, parts_root)
    return parts


def read_attributes(path: Path, names: Sequence[str]) -> tuple[dict[str, AttributeSpec], dict[int, dict[str, str]]]:
    """Declarations and yes/no values per image index from CelebAMask-HQ-attribute-anno.txt.

    Line 1 is the image count, line 2 the 40 attribute names, then `<index>.jpg` and one 1/-1 per name.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"not readable text: {exc}", path=path) from None
    if len(lines) < 2:
        raise InputError("expected a count line, a line of attribute names, then one line per image", path=path)
    header = lines[1].split()
    for attribute_name in names:
        if attribute_name not in header:
            raise InputError(f"attribute not in the file's header {header}", path=path, row=2,
                             field=attribute_name)
    columns = {attribute_name: header.index(attribute_name) for attribute_name in names}
    values: dict[int, dict[str, str]] = {}
    for line_number, line in enumerate(lines[2:], start=3):
        cells = line.split()
        if not cells:
            continue
        stem = Path(cells[0]).stem
        if len(cells) != len(header) + 1 or not stem.isdigit():
            raise InputError(f"expected <index>.jpg and {len(header)} values", path=path, row=line_number)
        row: dict[str, str] = {}
        for attribute_name, column in columns.items():
            cell = cells[column + 1]
            if cell not in ("1", "-1", "0"):
                raise InputError(f"expected 1 or -1, got {cell!r}", path=path, row=line_number,
                                 field=attribute_name)
            row[attribute_name] = "yes" if cell == "1" else "no"
        values[int(stem)] = row
    declarations = {
        attribute_name: AttributeSpec(
            attribute_name, "categorical", sensitive=attribute_name in SENSITIVE, source="annotated",
            values=("yes", "no"),
            description=SENSITIVE.get(attribute_name, f"CelebA annotators' binary label '{attribute_name}'"))
        for attribute_name in names
    }
    return declarations, values


def celeba_partition(path: Path, indices: Sequence[int]) -> dict[int, str]:
    """Split of each image index from its original CelebA file number (mapping lines: idx orig_idx orig_file)."""
    original: dict[int, int] = {}
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], start=2):
        cells = line.split()
        if not cells:
            continue
        if len(cells) < 3 or not cells[0].isdigit() or not Path(cells[2]).stem.isdigit():
            raise InputError("expected: idx orig_idx orig_file", path=path, row=line_number)
        original[int(cells[0])] = int(Path(cells[2]).stem)
    missing = [i for i in indices if i not in original]
    if missing:
        raise InputError(f"no row for images {missing[:10]}", path=path)
    return {i: "train" if original[i] < CELEBA_VAL_FIRST else "val" if original[i] < CELEBA_TEST_FIRST
            else "test" for i in indices}


def load_sample(image_path: Path, parts: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    """(image downscaled to the mask size, 11-class mask) for one CelebAMask-HQ image."""
    label: np.ndarray | None = None
    first: Path | None = None
    for part in PART_ORDER:
        if part not in parts:
            continue
        region = _read_part(parts[part])
        if label is None:
            label, first = np.zeros(region.shape, dtype=np.uint8), parts[part]
        elif region.shape != label.shape:
            raise InputError(f"part mask is {region.shape[1]}x{region.shape[0]} but {first.name} is "
                             f"{label.shape[1]}x{label.shape[0]}", path=parts[part])
        label[region] = PART_CLASS[part]
    assert label is not None, "every image has at least one part (checked when pairing)"
    image = read_rgb(image_path)
    (height, width), (mask_height, mask_width) = image.shape[:2], label.shape
    if height * mask_width != width * mask_height:
        raise InputError(f"image is {width}x{height}, not the aspect ratio of its {mask_width}x{mask_height} "
                         f"masks (e.g. {first.name})", path=image_path)
    if (height, width) != (mask_height, mask_width):
        image = np.asarray(Image.fromarray(image).resize((mask_width, mask_height), Image.Resampling.BOX))
    return image, label


def _read_part(path: Path) -> np.ndarray:
    """A part mask as HxW bool: non-zero in any colour channel (files are grey or RGB, 0 / 255)."""
    try:
        with Image.open(path) as opened:
            array = np.asarray(opened.convert("RGB") if opened.mode not in ("1", "L", "P", "RGB") else opened)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"unreadable or truncated part mask: {exc}", path=path) from None
    return array.any(axis=2) if array.ndim == 3 else array.astype(bool)
