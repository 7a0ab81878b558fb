"""Importers that keep the people: PennFudan and COCO write schema-v2 packages with instance-id masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from segaudit.models.data import load_package
from segaudit.models.data.importers import import_coco, import_folder, import_pennfudan
from tests.test_importers import coco_fixture, folder_fixture, save

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")


def read_back(out: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{id: (class mask, instance ids)} of a package that must pass `load_package(verify=True)`."""
    package = load_package(out, verify=True)
    assert package.spec.instances and package.spec.schema_version == 2
    assert yaml.safe_load((out / "dataset.yaml").read_text())["schema_version"] == 2
    return {row["id"]: (package.read_mask(row), package.read_instances(row))
            for row in package.manifest.to_dict("records")}


def test_pennfudan_keeps_pedmasks_ids_as_they_are(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ids = np.zeros((20, 24), np.uint8)
    ids[2:18, 1:8] = 1
    ids[4:19, 12:20] = 3  # a gap in the numbering stays a gap
    wide = np.zeros((20, 24), np.uint16)
    wide[1:9, 2:10], wide[10:19, 12:22] = 300, 7  # 16-bit source ids above 255
    sources = {"FudanPed00001": (ids, None), "PennPed00002": (ids[:, ::-1].copy(), "P"), "PennPed00003": (wide, None)}
    for stem, (instances, mode) in sources.items():
        save(rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8), tmp_path / "PNGImages" / f"{stem}.png")
        save(instances, tmp_path / "PedMasks" / f"{stem}_mask.png", mode=mode)
    out = import_pennfudan(tmp_path, tmp_path / "pkg", workers=2)
    samples = read_back(out)
    assert set(samples) == set(sources)
    for stem, (instances, _) in sources.items():
        mask, read = samples[stem]
        np.testing.assert_array_equal(read, instances.astype(np.int32), err_msg=stem)
        np.testing.assert_array_equal(mask, (instances > 0).astype(np.uint8), err_msg=stem)
    package = load_package(out)
    assert package.persons is None  # no attributes of the people: persons come from the masks
    assert package.persons_of("PennPed00003", samples["PennPed00003"][1])["instance"].tolist() == [7, 300]


def test_coco_numbers_non_crowd_people_in_annotation_order(tmp_path: Path) -> None:
    annotations, expected = coco_fixture(tmp_path)
    out = import_coco(annotations, tmp_path / "images", tmp_path / "pkg", split="test", workers=2)
    samples = read_back(out)
    a = np.zeros((12, 16), np.int32)
    a[3:7, 2:9] = 1  # annotation 1: polygon
    a[8:11, 11:15] = 2  # annotation 2: compressed RLE; the crowd (3) and the dog (4) get no id
    for sample_id, instances in {"a": a, "b": np.zeros_like(a), "c": np.zeros_like(a)}.items():
        mask, read = samples[sample_id]
        np.testing.assert_array_equal(read, instances, err_msg=sample_id)
        np.testing.assert_array_equal(mask, expected[sample_id], err_msg=sample_id)  # class masks as before
    assert (samples["b"][0] == 255).any() and not samples["b"][1].any()  # crowd only: ignore, no person


def test_coco_overlapping_people_later_annotation_keeps_the_pixels(tmp_path: Path) -> None:
    save(np.zeros((10, 10, 3), np.uint8), tmp_path / "images" / "x.png")
    box = [[1, 1, 6, 1, 6, 6, 1, 6], [4, 4, 9, 4, 9, 9, 4, 9], [0, 0, 2, 0, 2, 2, 0, 2]]
    data = {"images": [{"id": 1, "file_name": "x.png", "height": 10, "width": 10}],
            "annotations": [{"id": 10 + i, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": [p]}
                            for i, p in enumerate(box)],
            "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    out = import_coco(tmp_path / "ann.json", tmp_path / "images", tmp_path / "pkg", split="val")
    _, instances = read_back(out)["x"]
    expected = np.zeros((10, 10), np.int32)
    expected[1:6, 1:6] = 1
    expected[4:9, 4:9] = 2
    expected[0:2, 0:2] = 3
    np.testing.assert_array_equal(instances, expected)


def test_folder_import_stays_schema_version_1(tmp_path: Path) -> None:
    folder_fixture(tmp_path)
    out = import_folder(tmp_path / "images", tmp_path / "masks", tmp_path / "pkg")
    assert "schema_version" not in yaml.safe_load((out / "dataset.yaml").read_text())
    assert "instances" not in (out / "manifest.csv").read_text().splitlines()[0].split(",")
    assert not load_package(out, verify=True).spec.instances
