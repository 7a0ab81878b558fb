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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.color import rgb2lab

from segaudit.core.atomic import recover_leftovers, staged_folder, staging_prefix
from segaudit.core.errors import InputError
from segaudit.models.data.package import PARQUET_MANIFEST, DatasetPackage, load_package
from segaudit.models.data.spec import SPEC_FILE, UNKNOWN, AttributeSpec, DatasetSpec, load_spec
from segaudit.models.data.writer import MANIFEST_FILE, format_cell

log = logging.getLogger(__name__)

ITA_CATEGORIES = ("dark", "brown", "tan", "intermediate", "light", "very_light")
"""Chardon's categories in order of increasing ITA (darkest first), as the ordinal `ita_skin_tone` values."""
ITA_LOWER_BOUNDS = (-30.0, 10.0, 28.0, 41.0, 55.0)
"""Exclusive lower bounds in degrees of brown, tan, intermediate, light and very_light."""
B_STAR_FLOOR = 1e-6
"""Floor for b*: at or below it, ITA tends to +/-90 by the sign of L* - 50 instead of dividing by 0."""

SKIN_CLASS_NAMES = ("skin", "face")
PERSON_CLASS_NAMES = ("person",)
BACKGROUND_CLASS_NAMES = ("background",)
MIN_SKIN_PIXELS = 20
"""Fewer skin pixels than this in an image and its ITA is unknown."""
ERODE_PX_PER_256 = 1
"""Fallback: the person mask is eroded by max(1, round(this * min(H, W) / 256)) pixels (mixed edge pixels)."""
HEAD_FRACTION = 0.2
HEAD_FRACTION_CUT = 0.5
"""Fallback: only the top fraction of the person's bounding box is searched for skin (the head and neck); the
second applies when the person is cut off at the bottom of the image (a portrait or upper-body shot)."""
SKIN_CB_RANGE = (77.0, 127.0)
SKIN_CR_RANGE = (130.0, 173.0)
"""Chroma box of the fallback skin-colour rule in full-range BT.601 YCbCr (see `is_skin_colour`)."""

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


def ita_degrees(rgb: np.ndarray) -> np.ndarray:
    """ITA in degrees of each pixel of a [..., 3] uint8 sRGB array; returns the array's shape without the 3.

    Lab comes from `skimage.color.rgb2lab` on floats in [0, 1] (sRGB, D65, 2-degree observer), so L* is in
    0..100 and a*, b* are unshifted. We deliberately avoid OpenCV's 8-bit conversion: `cv2.cvtColor` on uint8
    returns L* scaled to 0..255 and a*, b* offset by +128, and ITA computed on those numbers is silently
    wrong.
    Only uint8 input is accepted so that a float image in 0..255 cannot be misread as 0..1.
    ITA is arctan((L* - 50) / b*) as defined (not arctan2): skin has b* > 0; b* <= `B_STAR_FLOOR` (neutral or
    bluish pixels) is floored so the angle tends to +/-90 by the sign of L* - 50, and the result stays in
    [-90, 90].
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected [..., 3] uint8 sRGB, got {rgb.dtype} {rgb.shape}")
    lab = rgb2lab(rgb.reshape(-1, 3).astype(np.float64) / 255.0)
    lightness, b_star = lab[:, 0], np.maximum(lab[:, 2], B_STAR_FLOOR)
    return np.degrees(np.arctan((lightness - 50.0) / b_star)).reshape(rgb.shape[:-1])


def median_ita(rgb_pixels: np.ndarray) -> float:
    """Median ITA in degrees of [N, 3] uint8 skin pixels; NaN when there are none.

    The median, not the mean, so that stray non-skin pixels (lips, eyebrows, highlights) move it little.
    """
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


def is_skin_colour(rgb: np.ndarray) -> np.ndarray:
    """Boolean [...] mask of [..., 3] uint8 pixels whose colour passes the fallback skin rule.

    The rule is the Cb/Cr box of Chai & Ngan (1999) in full-range BT.601 YCbCr, Cb in [77, 127] and
    Cr in [133, 173], with the lower Cr bound relaxed to 130: the original box rejects the darkest Monk Skin
    Tone swatch (MST-10 #292420 has Cr ~ 130.8) and barely keeps the lightest (MST-1, Cr ~ 133.2). Luma is
    not bounded, again so that dark skin is not cut away.

    This filter is itself biased: fixed chroma boxes were fitted on samples of mostly lighter skin, so very
    dark and very light (low-chroma) skin sits at its edges and loses more pixels under shadow, coloured
    light or white balance, while skin-coloured clothing, blond or brown hair, wood or sand passes. It is
    still needed when no skin class is annotated: the person mask, even its head region, is mostly hair,
    headwear and clothes, and without a filter the median ITA would measure those. Images where it keeps too
    few pixels get an unknown tone rather than a guess.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cb = 128.0 - 0.168736 * red - 0.331264 * green + 0.5 * blue
    cr = 128.0 + 0.5 * red - 0.418688 * green - 0.081312 * blue
    return ((SKIN_CB_RANGE[0] <= cb) & (cb <= SKIN_CB_RANGE[1])
            & (SKIN_CR_RANGE[0] <= cr) & (cr <= SKIN_CR_RANGE[1]))


def person_mask(mask: np.ndarray, classes: dict[int, str]) -> np.ndarray:
    """Boolean HxW mask of the person: the class named "person" (plus any "skin"/"face" class) when there is
    one, else every class but the background (the class named "background", or class 0 if none is).

    Class names are matched case-insensitively. `ignore_index` pixels are never part of it.
    """
    person_ids = _ids_named(classes, PERSON_CLASS_NAMES)
    if person_ids:
        ids = person_ids + _ids_named(classes, SKIN_CLASS_NAMES)
    else:
        background = _ids_named(classes, BACKGROUND_CLASS_NAMES) or [0]
        ids = [class_id for class_id in classes if class_id not in background]
    return np.isin(mask, ids)


def skin_pixels(image: np.ndarray, mask: np.ndarray, classes: dict[int, str],
                min_pixels: int = MIN_SKIN_PIXELS) -> np.ndarray:
    """The [N, 3] uint8 skin pixels of an HxWx3 image and its HxW class mask; [0, 3] if under min_pixels.

    When the package declares a class named "skin" or "face", its pixels are taken as they are (an annotated
    image without them has no skin pixels: we do not mix in guesses). Otherwise the person mask (see
    `person_mask`) is eroded by a pixel or so (`ERODE_PX_PER_256`), cut to its head region (the top
    `HEAD_FRACTION` of its bounding box, `HEAD_FRACTION_CUT` when it touches the bottom edge) and filtered
    by `is_skin_colour`. The head cut matters: clothes cover most of a body and many pass the colour rule
    (beige, brown, pink), while the face is the skin most often exposed; on the synthetic people of
    `models.data.synth` it raised the share of true skin among the kept pixels from ~0.2 to ~0.6. It
    assumes upright people. Read
    `is_skin_colour` for why the filter is biased and why it is still used.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"expected an HxWx3 image and an HxW mask, got {image.shape} and {mask.shape}")
    skin_ids = _ids_named(classes, SKIN_CLASS_NAMES)
    region = np.isin(mask, skin_ids) if skin_ids else _fallback_region(image, person_mask(mask, classes))
    pixels = image[region]
    return pixels if len(pixels) >= min_pixels else pixels[:0]


def _fallback_region(image: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Skin-coloured pixels of the eroded person mask above the head cut (see `skin_pixels`)."""
    rows = np.flatnonzero(person.any(axis=1))
    if rows.size == 0:
        return person
    erode = max(1, round(ERODE_PX_PER_256 * min(person.shape) / 256))
    region = ndimage.binary_erosion(person, structure=np.ones((3, 3), dtype=bool), iterations=erode)
    fraction = HEAD_FRACTION_CUT if rows[-1] == person.shape[0] - 1 else HEAD_FRACTION
    region[rows[0] + math.ceil(fraction * (rows[-1] - rows[0] + 1)):] = False
    return region & is_skin_colour(image)


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


def derive_attributes(package_dir: str | Path, out: str | Path | None = None, progress: bool = False) -> Path:
    """Add the `DERIVED_ATTRIBUTES` columns to a package; returns the folder written.

    With `out`, the package is copied (`shutil.copytree`) into a hidden folder beside `out`, updated there
    and moved into place, so `out` appears complete or not at all; `out` must not exist or be empty. Without
    it the package is updated in place: the new manifest and dataset.yaml are written to a hidden folder
    inside the package, validated with `load_package`, then moved over the old files with `os.replace`,
    manifest first and spec last, so no file is ever half written. (Between the two renames the files
    disagree about the derived columns; re-running `derive` repairs that, as it drops derived columns from
    the manifest whether declared or not.) Re-running replaces earlier derived columns. An attribute of the
    same name that is not `source: derived` is an InputError: we never overwrite real labels.
    The manifest keeps its format (CSV or Parquet) and the other cells their exact text; dataset.yaml is
    re-serialized, so YAML comments are not kept.
    """
    source = Path(package_dir)
    if not source.is_dir():
        raise InputError("not a folder: a dataset package is a folder with dataset.yaml and a manifest",
                         path=source)
    spec = load_spec(source / SPEC_FILE)
    for name, attribute in spec.attributes.items():
        if name in DERIVED_ATTRIBUTES and attribute.source != "derived":
            raise InputError(f"already declared with source '{attribute.source}'; derive only replaces "
                             "attributes with source 'derived' (rename the existing attribute)",
                             path=source / SPEC_FILE, field=f"attributes.{name}")
    manifest_name, raw = _read_raw_manifest(source)
    kept = {name: a for name, a in spec.attributes.items() if name not in DERIVED_ATTRIBUTES}
    base_spec = replace(spec, attributes=kept)
    base = raw.drop(columns=[c for c in DERIVED_ATTRIBUTES if c in raw.columns])
    with tempfile.TemporaryDirectory(prefix="segaudit-derive-") as scratch:
        check = _write_and_load(Path(scratch), base_spec, base, manifest_name, source)
    package = DatasetPackage(root=source, spec=base_spec, manifest=check.manifest,
                             manifest_path=source / manifest_name)

    derived = _derive_columns(package, progress)
    new_spec = replace(spec, attributes={**base_spec.attributes, **DERIVED_ATTRIBUTES})
    new_manifest = base.assign(**derived)
    if out is None:
        _update_in_place(source, new_spec, new_manifest, manifest_name)
        return source
    return _write_copy(source, Path(out), new_spec, new_manifest, manifest_name)


def _derive_columns(package: DatasetPackage, progress: bool) -> dict[str, list[str]]:
    """The manifest cells (text, empty for unknown) of every derived attribute, row by row."""
    from tqdm import tqdm

    classes = package.spec.classes
    columns: dict[str, list[str]] = {name: [] for name in DERIVED_ATTRIBUTES}
    rows = package.manifest.to_dict("records")
    for index, row in enumerate(tqdm(rows, desc="deriving attributes", unit="img", disable=not progress),
                                start=1):
        image, mask = _read_pair(package, row, index)
        ita = median_ita(skin_pixels(image, mask, classes))
        measures = silhouette_measures(person_mask(mask, classes))
        for name, value in (("ita_deg", ita), ("ita_skin_tone", ita_category(ita)),
                            ("silhouette_aspect", measures["bbox_aspect"]),
                            ("apparent_height", measures["apparent_height"]),
                            ("silhouette_shape", shape_category(measures))):
            columns[name].append(format_cell(value))
    skin_from = "the annotated skin class" if _ids_named(classes, SKIN_CLASS_NAMES) else "the colour filter"
    log.info("derived attributes of %d images (skin pixels from %s): skin tone unknown for %d, shape unknown "
             "for %d", len(rows), skin_from, columns["ita_skin_tone"].count(""),
             columns["silhouette_shape"].count(""))
    return columns


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


def _write_and_load(parent: Path, spec: DatasetSpec, manifest: pd.DataFrame, manifest_name: str,
                    real_root: Path) -> DatasetPackage:
    """Write spec and manifest into a new hidden folder under `parent` and validate them with load_package.

    Problems are reported against `real_root` (the package they belong to), not the scratch folder. The
    caller removes the folder (`package.root`) when done with it.
    """
    recover_leftovers(parent / SPEC_FILE)  # what a derive killed mid-way left in this package
    folder = Path(tempfile.mkdtemp(prefix=staging_prefix(parent / SPEC_FILE, "staging"), dir=parent))
    try:
        (folder / SPEC_FILE).write_text(spec.to_yaml(), encoding="utf-8")
        if manifest_name == MANIFEST_FILE:
            manifest.to_csv(folder / manifest_name, index=False, lineterminator="\n")
        else:
            manifest.to_parquet(folder / manifest_name, index=False)
        for name in (manifest_name, SPEC_FILE):
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


def _update_in_place(root: Path, spec: DatasetSpec, manifest: pd.DataFrame, manifest_name: str) -> None:
    """Validate the new files beside the old ones, then swap them in with os.replace (manifest first)."""
    checked = _write_and_load(root, spec, manifest, manifest_name, root)
    try:
        os.replace(checked.root / manifest_name, root / manifest_name)
        os.replace(checked.root / SPEC_FILE, root / SPEC_FILE)
    finally:
        shutil.rmtree(checked.root, ignore_errors=True)


def _write_copy(source: Path, out: Path, spec: DatasetSpec, manifest: pd.DataFrame,
                manifest_name: str) -> Path:
    """Copy the package beside `out`, update the copy in place, and move it onto `out` when complete."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists and is not an empty folder; choose a new folder, or leave out the "
                         "output folder to update the package in place", path=out)
    if out.resolve().is_relative_to(source.resolve()):
        raise InputError("the output folder must not be inside the package", path=out)
    with staged_folder(out) as staging:
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(f".{SPEC_FILE}.*"))
        _update_in_place(staging, spec, manifest, manifest_name)
    return out


def _ids_named(classes: dict[int, str], names: tuple[str, ...]) -> list[int]:
    return [class_id for class_id, name in classes.items() if name.strip().lower() in names]
