"""Import COCO instance annotations as person/background masks that keep each person.

Only the category named "person" (found by name, not by id) is used; every other category is background.
Each person annotation is rasterised with pycocotools: polygons (`frPyObjects` + `merge`), uncompressed RLE
(`frPyObjects`) and compressed RLE (used as is), all decoded by `mask.decode`. The class mask is then

* 1 (person) where any non-crowd person annotation covers the pixel,
* 255 (ignore_index) where only `iscrowd` person regions cover it: a crowd region is a rough outline of
  many people with gaps, so its pixels are neither trained on nor scored,
* 0 (background) everywhere else; images without any person annotation are kept, all background.

The package is schema version 2 with `instances: true`. The instance-id mask numbers the image's non-crowd
person annotations 1..K in the order they appear in the JSON; where two of them overlap, the later one
keeps the pixel (drawn in order, as a painter would), so a person entirely covered by later ones is left
with no pixel and its id is a gap. Crowd annotations get no instance id: a crowd is not one person, and its
pixels stay 0 in the instance mask (and 255 in the class mask, as above). COCO has no attributes of the
people, so no persons.csv is written.

RLE counts are checked to cover exactly height x width pixels before decoding (pycocotools does not check
short counts and would return uninitialised memory).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.models.data.files import MAX_INSTANCE_ID
from segaudit.models.data.importers.common import (
    DEFAULT_FRACTIONS,
    IGNORE_INDEX,
    PERSON_CLASSES,
    Job,
    build_spec,
    check_split,
    natural_key,
    package_name,
    random_splits,
    read_rgb,
    require_file,
    require_folder,
    write_samples,
)
from segaudit.models.data.writer import ID_PATTERN, check_fractions

log = logging.getLogger(__name__)
FORMAT = "COCO instance annotations (person category)"
LICENSE = ("COCO annotations: CC BY 4.0; images: the Flickr license given per image in the source "
           "annotation file")
Segment = tuple[int, Any, bool]
"""(annotation index in the JSON, its `segmentation`, iscrowd)."""


def import_coco(annotations: Path, images: Path, out: Path, split: str | None = None,
                split_fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, name: str | None = None,
                overwrite: bool = False, *, limit: int | None = None, license: str = LICENSE,
                workers: int = 1, progress: bool = False) -> Path:
    """Write a person/background package from a COCO instances JSON and its image folder; returns `out`.

    `split` puts every image in that split (e.g. "test" for val2017); without it the images are split at
    random by `split_fractions` with `seed`. `limit` keeps the first N images in natural id order.
    """
    annotations, images, out = Path(annotations), Path(images), Path(out)
    require_file(annotations, "a COCO instances JSON (e.g. annotations/instances_val2017.json)")
    require_folder(images, "the folder of images the annotation file names")
    fractions = check_fractions(split_fractions)
    if split is not None:
        check_split(split)
    checks.optional(checks.integer, limit, "limit", minimum=1)

    data = _read_json(annotations)
    person_ids = _person_category_ids(data, annotations)
    records = _image_records(data, annotations)
    segments = _person_segments(data, annotations, records, person_ids)

    ordered = sorted(records, key=lambda image_id: natural_key(records[image_id][0]))
    if limit is not None:
        ordered = ordered[:limit]
    sample_ids = [records[image_id][0] for image_id in ordered]
    splits = ({s: split for s in sample_ids} if split is not None
              else random_splits(sample_ids, fractions, seed))
    with_persons = sum(1 for image_id in ordered if segments.get(image_id))
    log.info("%s: %d images, %d with person annotations, %d all background",
             annotations, len(ordered), with_persons, len(ordered) - with_persons)

    spec = build_spec(
        name=package_name(name, out),
        description=("Person/background masks from COCO instance annotations: non-crowd person instances are "
                     f"class 1, pixels only inside iscrowd person regions are {IGNORE_INDEX} (ignore_index), "
                     "all else is background; images without persons are kept as all background. Each "
                     "non-crowd person annotation is an instance id, 1..K in annotation order (a later one "
                     "keeps the pixels where two overlap); crowd regions get none."),
        license=license,
        provenance=(f"format: {FORMAT}; annotations: {annotations.resolve()}; images: {images.resolve()}; "
                    f"person category ids {person_ids}; "
                    + (f"all images in split {split!r}" if split is not None
                       else f"seeded random splits (seed {seed}, fractions {list(fractions)})")
                    + (f"; first {limit} images in id order" if limit is not None else "")),
        classes=PERSON_CLASSES,
        instances=True,
    )
    jobs = []
    for image_id in ordered:
        sample_id, file_name, height, width = records[image_id]
        load = partial(load_sample, images / file_name, height, width, segments.get(image_id, []), annotations)
        jobs.append(Job(sample_id, splits[sample_id], {}, load))
    return write_samples(out, spec, jobs, overwrite=overwrite, workers=workers, progress=progress)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not readable JSON: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object with images, annotations and categories", path=path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError("required: a list (is this a COCO instances file?)", path=path, field=key)
    return data


def _person_category_ids(data: dict[str, Any], path: Path) -> list[Any]:
    categories = [c for c in data["categories"] if isinstance(c, dict)]
    ids = [c.get("id") for c in categories if str(c.get("name", "")).strip().lower() == "person"]
    if not ids:
        names = sorted(str(c.get("name")) for c in categories)[:20]
        raise InputError(f"no category named 'person' (categories: {names})", path=path, field="categories")
    return ids


def _image_records(data: dict[str, Any], path: Path) -> dict[Any, tuple[str, str, int, int]]:
    """{image id: (sample id, file_name, height, width)}, every field checked."""
    records: dict[Any, tuple[str, str, int, int]] = {}
    stems: dict[str, int] = {}
    for index, image in enumerate(data["images"]):
        where = f"images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("id"), int | str):
            raise InputError("each image needs an id, file_name, height and width", path=path, field=where)
        file_name = image.get("file_name")
        if not isinstance(file_name, str) or not file_name.strip():
            raise InputError("required: the image's file name", path=path, field=f"{where}.file_name")
        for key in ("height", "width"):
            checks.integer(image.get(key), f"{where}.{key}", minimum=1, path=path)
        if image["id"] in records:
            raise InputError(f"duplicate image id {image['id']!r}", path=path, field=f"{where}.id")
        stem = Path(file_name).stem
        if stem in stems:
            raise InputError(f"file stem {stem!r} also used by images[{stems[stem]}]; sample ids must be unique",
                             path=path, field=f"{where}.file_name")
        stems[stem] = index
        if not ID_PATTERN.match(stem):
            raise InputError(f"file stem {stem!r} is not a usable sample id (letters, digits, '.', '_', '-')",
                             path=path, field=f"{where}.file_name")
        records[image["id"]] = (stem, file_name, image["height"], image["width"])
    if not records:
        raise InputError("the file lists no images", path=path, field="images")
    return records


def _person_segments(data: dict[str, Any], path: Path, records: dict[Any, tuple[str, str, int, int]],
                     person_ids: list[Any]) -> dict[Any, list[Segment]]:
    """Person annotations per image id, with their JSON index for error messages."""
    segments: dict[Any, list[Segment]] = {}
    for index, annotation in enumerate(data["annotations"]):
        where = f"annotations[{index}]"
        if not isinstance(annotation, dict):
            raise InputError("each annotation must be an object", path=path, field=where)
        if annotation.get("category_id") not in person_ids:
            continue
        image_id = annotation.get("image_id")
        if image_id not in records:
            raise InputError(f"image_id {image_id!r} is not among the listed images", path=path,
                             field=f"{where}.image_id")
        if "segmentation" not in annotation:
            raise InputError("a person annotation needs a segmentation (polygons or RLE)", path=path,
                             field=f"{where}.segmentation")
        crowd = annotation.get("iscrowd", 0)
        if crowd not in (0, 1):
            raise InputError(f"must be 0 or 1, got {crowd!r}", path=path, field=f"{where}.iscrowd")
        segments.setdefault(image_id, []).append((index, annotation["segmentation"], bool(crowd)))
    return segments


def load_sample(image_path: Path, height: int, width: int, segments: Sequence[Segment],
                annotations: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image RGB, person/background/ignore mask, instance ids) for one COCO image: the k-th non-crowd person
    annotation of the image (JSON order) is instance k, a later one drawn over an earlier one; crowds get none."""
    if not image_path.is_file():
        raise InputError(f"missing image named in {annotations.name}", path=image_path)
    image = read_rgb(image_path)
    if image.shape[:2] != (height, width):
        raise InputError(f"image is {image.shape[1]}x{image.shape[0]} but {annotations.name} says "
                         f"{width}x{height}", path=image_path)
    if sum(not is_crowd for _, _, is_crowd in segments) > MAX_INSTANCE_ID:
        raise InputError(f"more than {MAX_INSTANCE_ID} person annotations on one image (an instance mask holds "
                         f"ids up to {MAX_INSTANCE_ID})", path=annotations)
    instances = np.zeros((height, width), dtype=np.int32)
    crowd = np.zeros((height, width), dtype=bool)
    next_id = 1
    for index, segmentation, is_crowd in segments:
        region = segmentation_to_mask(segmentation, height, width, annotations, f"annotations[{index}]")
        if is_crowd:
            crowd[region] = True
        else:
            instances[region] = next_id
            next_id += 1
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[crowd] = IGNORE_INDEX
    mask[instances > 0] = 1
    return image, mask, instances


def segmentation_to_mask(segmentation: Any, height: int, width: int, path: Path, where: str) -> np.ndarray:
    """A COCO `segmentation` (polygons, uncompressed or compressed RLE) as an HxW bool array."""
    field = f"{where}.segmentation"
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            if (not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in polygon)):
                raise InputError("each polygon must be a flat list of at least 3 x,y pairs", path=path,
                                 field=field)
            polygons.append([float(v) for v in polygon])
        if not polygons:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if list(segmentation["size"]) != [height, width]:
            raise InputError(f"RLE size {segmentation['size']} does not match the image's [height, width] "
                             f"[{height}, {width}]", path=path, field=field)
        counts = segmentation["counts"]
        if isinstance(counts, list):
            numbers = counts
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
                raise InputError("uncompressed RLE counts must be integers", path=path, field=field)
            rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        elif isinstance(counts, str | bytes):
            raw = counts.encode("ascii", errors="replace") if isinstance(counts, str) else counts
            try:
                numbers = rle_counts(raw)
            except ValueError as exc:
                raise InputError(f"bad compressed RLE: {exc}", path=path, field=field) from None
            rle = {"size": [height, width], "counts": raw}
        else:
            raise InputError("RLE counts must be a list of integers or a compressed string", path=path,
                             field=field)
        if any(c < 0 for c in numbers) or sum(numbers) != height * width:
            raise InputError(f"RLE counts must be non-negative and cover the image's {height}x{width} = "
                             f"{height * width} pixels; they cover {sum(numbers)}", path=path, field=field)
    else:
        raise InputError("must be a list of polygons or an RLE object with size and counts", path=path,
                         field=field)
    try:
        return mask_utils.decode(rle).astype(bool)
    except (ValueError, TypeError) as exc:
        raise InputError(f"pycocotools could not decode it: {exc}", path=path, field=field) from None


def rle_counts(text: bytes) -> list[int]:
    """The run lengths in COCO's compressed RLE string (to check them before pycocotools decodes).

    Each run is stored in 6-bit characters offset by 48: 5 value bits (least significant group first), a
    continuation bit 0x20, and the top value bit 0x10 of the last group acting as sign; from the fourth
    run on, the stored number is the difference to the run two places back.
    """
    counts: list[int] = []
    value = shift = 0
    for byte in text:
        group = byte - 48
        if not 0 <= group < 64:
            raise ValueError(f"character {chr(byte)!r} is not part of the RLE alphabet")
        value |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
        value = shift = 0
    if shift:
        raise ValueError("the string ends inside a run")
    return counts
