"""Import the Penn-Fudan pedestrian database as person/background masks that keep each pedestrian.

Layout: `PNGImages/<stem>.png` with `PedMasks/<stem>_mask.png`, an instance mask in which 0 is background
and 1..K number the pedestrians. The package is schema version 2 with `instances: true`: the class mask has
every instance as class 1 (person), and the instance-id mask is PedMasks' ids exactly as they are (so the
pedestrians of the source and of the package are the same numbers). `Annotation/` (boxes) is not used. The
database carries no attributes of the people (no persons.csv); splits are seeded random.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from segaudit.core.errors import InputError
from segaudit.models.data.files import MAX_INSTANCE_ID
from segaudit.models.data.importers.common import (
    DEFAULT_FRACTIONS,
    PERSON_CLASSES,
    Job,
    build_spec,
    check_same_size,
    natural_key,
    package_name,
    random_splits,
    read_rgb,
    read_single_channel,
    require_folder,
    write_samples,
)
from segaudit.models.data.importers.folder import pair_files
from segaudit.models.data.writer import check_fractions

log = logging.getLogger(__name__)
FORMAT = "PennFudanPed (PNGImages + PedMasks instance masks)"
LICENSE = "Penn-Fudan Database for Pedestrian Detection and Segmentation: check its terms before redistributing"


def import_pennfudan(root: Path, out: Path, split_fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0,
                     name: str | None = None, overwrite: bool = False, *, license: str = LICENSE,
                     workers: int = 1, progress: bool = False) -> Path:
    """Write a person/background package from a PennFudanPed folder; returns `out`."""
    root, out = Path(root), Path(out)
    require_folder(root, "the PennFudanPed folder (with PNGImages/ and PedMasks/)")
    images = require_folder(root / "PNGImages", "PennFudanPed images, <stem>.png")
    masks = require_folder(root / "PedMasks", "PennFudanPed instance masks, <stem>_mask.png")
    fractions = check_fractions(split_fractions)
    pairs = pair_files(images, masks, mask_suffix="_mask")
    splits = random_splits(list(pairs), fractions, seed)
    spec = build_spec(
        name=package_name(name, out),
        description=("Penn-Fudan pedestrians: person/background class masks, and each pedestrian kept as an "
                     "instance id (the PedMasks ids as they are)."),
        license=license,
        provenance=(f"format: {FORMAT}; source: {root.resolve()}; instance ids 1..K -> person (1), ids kept in "
                    f"the instance masks; seeded random splits (seed {seed}, fractions {list(fractions)})"),
        classes=PERSON_CLASSES,
        instances=True,
    )
    jobs = [Job(sample_id, splits[sample_id], {}, partial(load_sample, image_path, mask_path))
            for sample_id, (image_path, mask_path) in sorted(pairs.items(), key=lambda kv: natural_key(kv[0]))]
    return write_samples(out, spec, jobs, overwrite=overwrite, workers=workers, progress=progress)


def load_sample(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image RGB, person mask, instance ids): every non-zero instance id becomes 1 in the person mask; the
    instance ids are kept as they are."""
    image = read_rgb(image_path)
    instances = read_single_channel(mask_path)
    check_same_size(image, instances, mask_path, image_path)
    if instances.size and (int(instances.min()) < 0 or int(instances.max()) > MAX_INSTANCE_ID):
        raise InputError(f"instance ids must be 0..{MAX_INSTANCE_ID}, found {int(instances.min())}.."
                         f"{int(instances.max())}", path=mask_path)
    return image, (instances > 0).astype(np.uint8), instances.astype(np.int32)
