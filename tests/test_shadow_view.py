"""A shadow model trains on a row-subset view of the package (`DatasetPackage.view`), its files read in place,
instead of on a hard-linked copy of its rows: the same images in the same order and the same seeds, so the same
weights (byte for byte) and the same cache key as the copied package shadows trained on before.

Tiny: 12 synthetic images at 64 px, SINet trained at 32 px for 2 epochs.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from segaudit.audit.privacy.shadows import ShadowJob, _train, make_jobs, plan_shadows
from segaudit.core.atomic import link_or_copy
from segaudit.core.errors import InputError
from segaudit.models.data.package import load_package
from segaudit.models.data.synth import synthesize
from segaudit.models.data.writer import MANIFEST_FILE
from segaudit.models.train import TrainConfig, quiet_training, train

RECIPE = TrainConfig(model="sinet", size=32, epochs=2, batch_size=4, lr=5e-3, early_stop_patience=1000)
QUERY = {"map_size": 8, "probabilities": True, "label_only": False, "seed": 0, "batch_size": 4}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 pool images (train + test) and 4 population (val)."""
    return synthesize(tmp_path_factory.mktemp("view") / "people", n=12, seed=0, size=64,
                      split_fractions=(4 / 12, 4 / 12, 4 / 12), workers=1)


def _job(people: Path, cache: Path) -> ShadowJob:
    package = load_package(people)
    pool = [r for r in package.manifest.to_dict("records") if r["split"] in ("train", "test")]
    population = package.split("val").to_dict("records")
    inclusion = plan_shadows(len(pool), 2, seed=1)
    return make_jobs(package.root, pool, population, inclusion, RECIPE, QUERY, seed=1, cache=cache)[1]


def _train_on_a_copy(job: ShadowJob, folder: Path) -> Path:
    """How shadows trained before the view: a hard-linked copy of the rows (train then val, in the job's order,
    attribute columns empty) as a package of its own."""
    source = load_package(job.package_root)
    data = folder / "data"
    data.mkdir(parents=True)
    shutil.copy2(Path(job.package_root) / "dataset.yaml", data / "dataset.yaml")
    manifest = []
    for split, rows in (("train", job.train_rows), ("val", job.val_rows)):
        for row in rows:
            for column in ("image", "mask"):
                link_or_copy(Path(job.package_root) / row[column], data / row[column])
            manifest.append({"id": row["id"], "image": row["image"], "mask": row["mask"], "split": split})
    with open(data / MANIFEST_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "image", "mask", "split", *source.spec.attributes],
                                restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)
    with quiet_training():
        train(data, folder / "run", TrainConfig(**job.recipe))
    return folder / "run"


def test_a_shadow_on_the_view_has_the_weights_and_key_of_one_on_a_copy(people: Path, tmp_path: Path) -> None:
    job = _job(people, tmp_path / "cache")
    assert job.key == _job(people, tmp_path / "elsewhere").key  # the key depends on the rows, not on the folder
    copied = _train_on_a_copy(job, tmp_path / "copy")
    _train(job)
    viewed = job.folder / "run"
    for name in ("model.safetensors", "model.json"):
        assert (viewed / "best" / name).read_bytes() == (copied / "best" / name).read_bytes(), name
    # nothing of the package was copied into the cache: the shadow's folder holds its run and shadow.json only
    assert sorted(p.name for p in job.folder.iterdir()) == ["run", "shadow.json"]


def test_the_view_keeps_the_given_rows_in_order_and_refuses_unknown_ids(people: Path) -> None:
    package = load_package(people)
    ids = list(package.manifest["id"])
    view = package.view({"train": [ids[5], ids[0]], "val": [ids[3]]})
    assert list(view.manifest["id"]) == [ids[5], ids[0], ids[3]]
    assert list(view.manifest["split"]) == ["train", "train", "val"]
    assert list(view.split("train")["id"]) == [ids[5], ids[0]] and view.split("test").empty
    assert view.root == package.root and len(package.manifest) == 12  # the package itself is unchanged
    assert view.row_number(view.manifest.iloc[0]) == 6  # messages name the manifest file's row
    assert np.array_equal(view.read_mask(view.split("val").iloc[0]), package.read_mask(package.manifest.iloc[3]))
    with pytest.raises(InputError, match="not in the package"):
        package.view({"train": ["no-such-id"]})
