"""Importers: each source format becomes a package that verifies, with exactly the expected mask pixels."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, load_package
from segaudit.models.data.importers import import_celebamask, import_coco, import_folder, import_pennfudan
from segaudit.models.data.importers.coco import rle_counts

# pycocotools' decode trips numpy 2's __array__(copy=...) deprecation inside its own module; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")


def save(array: np.ndarray, path: Path, mode: str | None = None, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path, **options)
    return path


def masks_by_id(out: Path) -> dict[str, np.ndarray]:
    package = load_package(out, verify=True)
    return {row["id"]: package.read_mask(row) for row in package.manifest.to_dict("records")}


def no_leftovers(parent: Path, out: Path) -> bool:
    """After a failed import: no package and no hidden temporary folder beside it."""
    return not out.exists() and not [p for p in parent.iterdir() if p.name.startswith(f".{out.name}.")]


# --- image folder + mask folder ----------------------------------------------------------------------------

def folder_fixture(root: Path, n: int = 4, size: int = 16) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """n RGB PNG images and class-id masks (0, 1 and 255 = ignore) named s0..s{n-1}."""
    rng = np.random.default_rng(0)
    images, masks = {}, {}
    for i in range(n):
        image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), dtype=np.uint8)
        mask[i: i + 5, 2: 9] = 1
        mask[0, :] = 255
        images[f"s{i}"], masks[f"s{i}"] = image, mask
        save(image, root / "images" / f"s{i}.png")
        save(mask, root / "masks" / f"s{i}.png")
    return images, masks


def test_folder_import_keeps_pixels_csv_splits_and_declared_attributes(tmp_path: Path) -> None:
    images, masks = folder_fixture(tmp_path)
    (tmp_path / "attrs.csv").write_text("id,split,age,tone\ns0,train,34,light\ns1,test,71,dark\n"
                                        "s2,,,medium\n", encoding="utf-8")
    (tmp_path / "attrs.yaml").write_text(yaml.safe_dump({
        "age": {"kind": "continuous", "unit": "years", "range": [0, 120], "sensitive": True,
                "source": "self-reported"},
        "tone": {"kind": "ordinal", "values": ["light", "medium", "dark"], "sensitive": True,
                 "source": "annotated"},
    }), encoding="utf-8")
    out = import_folder(tmp_path / "images", tmp_path / "masks", tmp_path / "pkg", tmp_path / "attrs.csv",
                        tmp_path / "attrs.yaml")

    package = load_package(out, verify=True)
    rows = {row["id"]: row for row in package.manifest.to_dict("records")}
    assert set(rows) == {"s0", "s1", "s2", "s3"}
    for sample_id, row in rows.items():
        np.testing.assert_array_equal(package.read_mask(row), masks[sample_id])
        np.testing.assert_array_equal(package.read_image(row), images[sample_id])
    assert (rows["s0"]["split"], rows["s1"]["split"]) == ("train", "test")
    assert rows["s0"]["age"] == 34.0 and rows["s1"]["tone"] == "dark"
    assert np.isnan(rows["s2"]["age"]) and rows["s2"]["tone"] == "medium"
    assert rows["s3"]["tone"] == UNKNOWN  # not in the CSV: unknown, not dropped
    assert package.spec.attributes["age"].unit == "years" and package.spec.attributes["tone"].sensitive
    assert "image folder" in package.spec.provenance and str((tmp_path / "masks").resolve()) in \
        package.spec.provenance


def test_folder_import_infers_declarations_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder_fixture(tmp_path, n=3)
    (tmp_path / "attrs.csv").write_text("id,height,group\ns0,150.5,b\ns1,,a\ns2,182,b\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="segaudit.models.data.importers"):
        out = import_folder(tmp_path / "images", tmp_path / "masks", tmp_path / "pkg", tmp_path / "attrs.csv")
    spec = load_package(out, verify=True).spec
    height, group = spec.attributes["height"], spec.attributes["group"]
    assert (height.kind, height.range, height.unit) == ("continuous", (150.5, 182.0), "unknown")
    assert (group.kind, group.values) == ("categorical", ("a", "b"))
    assert all(a.source == "annotated" and not a.sensitive for a in spec.attributes.values())
    assert "inferred continuous" in caplog.text and "inferred categorical" in caplog.text


def test_folder_random_splits_follow_seed_and_fractions(tmp_path: Path) -> None:
    folder_fixture(tmp_path, n=10, size=8)

    def splits(out: str, seed: int) -> dict[str, str]:
        path = import_folder(tmp_path / "images", tmp_path / "masks", tmp_path / out,
                             split_fractions=(0.5, 0.2, 0.3), seed=seed)
        manifest = load_package(path).manifest
        return dict(zip(manifest["id"], manifest["split"], strict=True))

    first, again, other = splits("a", 0), splits("b", 0), splits("c", 1)
    assert first == again and first != other
    assert [list(first.values()).count(s) for s in ("train", "val", "test")] == [5, 2, 3]


@pytest.mark.parametrize("break_it, named", [
    (lambda root: (root / "masks" / "s1.png").unlink(), "s1.png"),
    (lambda root: (root / "attrs.csv").write_text("id,g\ns0,a\nghost,b\n"), "attrs.csv"),
    (lambda root: save(np.full((16, 16), 7, np.uint8), root / "masks" / "s2.png"), "s2.png"),
])
def test_folder_bad_input_names_the_file_and_writes_nothing(tmp_path: Path, break_it, named: str) -> None:
    folder_fixture(tmp_path, n=3)
    (tmp_path / "attrs.csv").write_text("id,g\ns0,a\n", encoding="utf-8")
    break_it(tmp_path)
    with pytest.raises(InputError) as error:
        import_folder(tmp_path / "images", tmp_path / "masks", tmp_path / "pkg", tmp_path / "attrs.csv")
    assert error.value.path is not None and error.value.path.name == named
    assert no_leftovers(tmp_path, tmp_path / "pkg")


# --- COCO ----------------------------------------------------------------------------------------------------

def uncompressed_rle(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE, by hand: run lengths over the column-major pixels, starting with zeros."""
    flat = mask.flatten(order="F").astype(int)
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return [0, *runs] if flat[0] else runs


def coco_fixture(root: Path, h: int = 12, w: int = 16) -> tuple[Path, dict[str, np.ndarray]]:
    """Three images: 'a' with a polygon person, a compressed-RLE person, a crowd (uncompressed RLE) overlapping
    the polygon and a dog; 'b' with only a crowd; 'c' with no annotations. Returns the JSON and expected masks."""
    rng = np.random.default_rng(1)
    for stem in "abc":
        save(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8), root / "images" / f"{stem}.png")
    rle_person = np.zeros((h, w), np.uint8)
    rle_person[8:11, 11:15] = 1
    compressed = mask_utils.encode(np.asfortranarray(rle_person))
    crowd_a = np.zeros((h, w), np.uint8)
    crowd_a[1:5, 0:12] = 1  # overlaps the polygon's rows 3..4: person wins there
    crowd_b = np.zeros((h, w), np.uint8)
    crowd_b[2:6, 3:7] = 1
    annotations = [
        {"id": 1, "image_id": 10, "category_id": 1, "iscrowd": 0, "segmentation": [[2, 3, 9, 3, 9, 7, 2, 7]]},
        {"id": 2, "image_id": 10, "category_id": 1, "iscrowd": 0,
         "segmentation": {"size": [h, w], "counts": compressed["counts"].decode("ascii")}},
        {"id": 3, "image_id": 10, "category_id": 1, "iscrowd": 1,
         "segmentation": {"size": [h, w], "counts": uncompressed_rle(crowd_a)}},
        {"id": 4, "image_id": 10, "category_id": 18, "iscrowd": 0, "segmentation": [[0, 8, 5, 8, 5, 12, 0, 12]]},
        {"id": 5, "image_id": 11, "category_id": 1, "iscrowd": 1,
         "segmentation": {"size": [h, w], "counts": uncompressed_rle(crowd_b)}},
    ]
    data = {"images": [{"id": 10 + i, "file_name": f"{stem}.png", "height": h, "width": w}
                       for i, stem in enumerate("abc")],
            "annotations": annotations,
            "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}]}
    path = root / "instances.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    expected_a = np.zeros((h, w), np.uint8)
    expected_a[1:5, 0:12] = 255
    expected_a[3:7, 2:9] = 1  # a polygon through pixel corners covers exactly the pixels inside it
    expected_a[8:11, 11:15] = 1
    expected_b = np.zeros((h, w), np.uint8)
    expected_b[2:6, 3:7] = 255
    return path, {"a": expected_a, "b": expected_b, "c": np.zeros((h, w), np.uint8)}


def test_coco_import_rasterises_polygon_rle_and_crowd_as_ignore(tmp_path: Path) -> None:
    annotations, expected = coco_fixture(tmp_path)
    out = import_coco(annotations, tmp_path / "images", tmp_path / "pkg", split="test", workers=2)
    masks = masks_by_id(out)
    assert set(masks) == set(expected)
    for sample_id, mask in masks.items():
        np.testing.assert_array_equal(mask, expected[sample_id], err_msg=sample_id)
    package = load_package(out)
    assert set(package.manifest["split"]) == {"test"}
    assert package.spec.classes == {0: "background", 1: "person"} and package.spec.ignore_index == 255
    assert "COCO" in package.spec.provenance and str(annotations.resolve()) in package.spec.provenance


def test_coco_rle_counts_parser_matches_pycocotools() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        mask = (rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < rng.random()).astype(np.uint8)
        counts = rle_counts(mask_utils.encode(np.asfortranarray(mask))["counts"])
        assert counts == uncompressed_rle(mask)


def test_coco_without_person_category_names_the_json(tmp_path: Path) -> None:
    annotations, _ = coco_fixture(tmp_path)
    data = json.loads(annotations.read_text())
    data["categories"] = [{"id": 1, "name": "pedestrian"}]
    annotations.write_text(json.dumps(data))
    with pytest.raises(InputError, match="no category named 'person'") as error:
        import_coco(annotations, tmp_path / "images", tmp_path / "pkg")
    assert error.value.path == annotations and error.value.field == "categories"


def test_coco_short_rle_or_wrong_image_size_is_an_input_error_and_writes_nothing(tmp_path: Path) -> None:
    annotations, _ = coco_fixture(tmp_path)
    data = json.loads(annotations.read_text())
    data["annotations"][2]["segmentation"]["counts"] = [5, 10]  # covers 15 of 192 pixels
    annotations.write_text(json.dumps(data))
    with pytest.raises(InputError, match="they cover 15") as error:
        import_coco(annotations, tmp_path / "images", tmp_path / "pkg")
    assert error.value.path == annotations and error.value.field == "annotations[2].segmentation"
    assert no_leftovers(tmp_path, tmp_path / "pkg")

    coco_fixture(tmp_path)  # restore, then make an image disagree with the JSON's size
    save(np.zeros((12, 15, 3), np.uint8), tmp_path / "images" / "c.png")
    with pytest.raises(InputError, match="15x12 but instances.json says 16x12") as error:
        import_coco(annotations, tmp_path / "images", tmp_path / "pkg")
    assert error.value.path == tmp_path / "images" / "c.png"
    assert no_leftovers(tmp_path, tmp_path / "pkg")


# --- PennFudanPed -------------------------------------------------------------------------------------------

def test_pennfudan_merges_instances_into_person(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    instances = np.zeros((20, 24), np.uint8)
    instances[2:18, 1:8] = 1
    instances[4:19, 12:20] = 2
    for stem in ("FudanPed00001", "PennPed00002"):
        save(rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8), tmp_path / "PNGImages" / f"{stem}.png")
    save(instances, tmp_path / "PedMasks" / "FudanPed00001_mask.png")
    save(instances[:, ::-1].copy(), tmp_path / "PedMasks" / "PennPed00002_mask.png", mode="P")
    out = import_pennfudan(tmp_path, tmp_path / "pkg")
    masks = masks_by_id(out)
    expected = np.zeros((20, 24), np.uint8)
    expected[2:18, 1:8] = 1
    expected[4:19, 12:20] = 1
    np.testing.assert_array_equal(masks["FudanPed00001"], expected)
    np.testing.assert_array_equal(masks["PennPed00002"], expected[:, ::-1])
    assert "PennFudanPed" in load_package(out).spec.provenance


def test_pennfudan_image_without_mask_names_the_image(tmp_path: Path) -> None:
    save(np.zeros((8, 8, 3), np.uint8), tmp_path / "PNGImages" / "FudanPed00001.png")
    (tmp_path / "PedMasks").mkdir()
    with pytest.raises(InputError, match="has no mask FudanPed00001_mask.png") as error:
        import_pennfudan(tmp_path, tmp_path / "pkg")
    assert error.value.path == tmp_path / "PNGImages" / "FudanPed00001.png"


# --- CelebAMask-HQ ------------------------------------------------------------------------------------------

ATTRIBUTE_NAMES = ["5_o_Clock_Shadow", "Male", "Young", "Pale_Skin", "Eyeglasses", "Wearing_Hat", "Bald",
                   "Bangs", "No_Beard", "Heavy_Makeup"]


def celebamask_fixture(root: Path) -> dict[str, np.ndarray]:
    """Two 32x32 images (0.jpg, 1.png) with 16x16 part masks; returns the expected 11-class masks."""
    rng = np.random.default_rng(4)
    small = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    large = small.repeat(2, axis=0).repeat(2, axis=1)  # 2x2 blocks: area averaging gives `small` back
    save(large, root / "CelebA-HQ-img" / "0.jpg", quality=95, subsampling=0)
    save(large, root / "CelebA-HQ-img" / "1.png")
    parts_dir = root / "CelebAMask-HQ-mask-anno" / "0"

    def part(index: int, name: str, rows: slice, cols: slice, mode: str = "L") -> None:
        region = np.zeros((16, 16), np.uint8)
        region[rows, cols] = 255
        save(region, parts_dir / f"{index:05d}_{name}.png", mode=mode)

    part(0, "skin", slice(3, 13), slice(3, 13))
    part(0, "hair", slice(0, 5), slice(2, 14), mode="RGB")  # over the skin's top rows
    part(0, "eye_g", slice(5, 7), slice(4, 12))
    part(0, "l_eye", slice(5, 7), slice(4, 6))  # eyes come after glasses: the eye wins in the overlap
    part(0, "r_brow", slice(4, 5), slice(9, 12))  # brows come before hair: hair wins at row 4
    part(0, "nose", slice(7, 9), slice(7, 9))
    part(0, "mouth", slice(10, 11), slice(6, 10))
    part(0, "u_lip", slice(9, 10), slice(6, 10))
    part(0, "l_ear", slice(6, 10), slice(1, 3))
    part(0, "ear_r", slice(9, 10), slice(1, 3))  # earring -> background over the ear
    part(0, "neck", slice(13, 16), slice(5, 11))
    part(0, "cloth", slice(15, 16), slice(0, 16))  # cloth comes last: background over the neck
    part(1, "skin", slice(0, 16), slice(0, 16))
    part(1, "hat", slice(0, 3), slice(0, 16))

    expected_0 = np.zeros((16, 16), np.uint8)
    expected_0[3:13, 3:13] = 7  # face
    expected_0[5:7, 4:12] = 9  # glasses
    expected_0[5:7, 4:6] = 2  # eye
    expected_0[7:9, 7:9] = 3  # nose
    expected_0[10:11, 6:10] = 6  # teeth (inner mouth)
    expected_0[9:10, 6:10] = 1  # lips
    expected_0[6:10, 1:3] = 8  # ears
    expected_0[9:10, 1:3] = 0  # earring
    expected_0[0:5, 2:14] = 4  # hair
    expected_0[13:16, 5:11] = 7  # neck -> face
    expected_0[15:16, :] = 0  # cloth
    expected_1 = np.full((16, 16), 7, np.uint8)
    expected_1[0:3, :] = 0  # hat -> background

    (root / "CelebAMask-HQ-attribute-anno.txt").write_text(
        "2\n" + " ".join(ATTRIBUTE_NAMES) + "\n0.jpg  1 1 -1 1 1 -1 -1 -1 -1 1\n1.jpg  -1 -1 1 -1 -1 1 -1 1 1 -1\n",
        encoding="utf-8")
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text(
        "idx         orig_idx    orig_file\n0 1233 001234.jpg\n1 189999 190000.jpg\n", encoding="utf-8")
    return {"0": expected_0, "1": expected_1, "small": small}


def test_celebamask_merges_parts_in_order_resizes_images_and_reads_attributes(tmp_path: Path) -> None:
    expected = celebamask_fixture(tmp_path)
    out = import_celebamask(tmp_path, tmp_path / "pkg")
    package = load_package(out, verify=True)
    rows = {row["id"]: row for row in package.manifest.to_dict("records")}
    for sample_id in ("0", "1"):
        np.testing.assert_array_equal(package.read_mask(rows[sample_id]), expected[sample_id], err_msg=sample_id)
    np.testing.assert_array_equal(package.read_image(rows["1"]), expected["small"])  # PNG: exact
    jpeg_error = np.abs(package.read_image(rows["0"]).astype(int) - expected["small"]).mean()
    assert package.read_image(rows["0"]).shape == (16, 16, 3) and jpeg_error < 4
    assert package.spec.num_classes == 11 and package.spec.classes[10] == "beard"
    assert (rows["0"]["Male"], rows["1"]["Male"], rows["0"]["Young"]) == ("yes", "no", "no")
    assert package.spec.attributes["Male"].sensitive and not package.spec.attributes["Bangs"].sensitive
    assert "5_o_Clock_Shadow" not in package.spec.attributes
    assert (rows["0"]["split"], rows["1"]["split"]) == ("train", "test")  # CelebA files 1234 and 190000


def test_celebamask_part_without_image_names_the_part(tmp_path: Path) -> None:
    celebamask_fixture(tmp_path)
    stray = save(np.zeros((16, 16), np.uint8), tmp_path / "CelebAMask-HQ-mask-anno" / "1" / "02000_skin.png")
    with pytest.raises(InputError, match="has no image 2000.jpg") as error:
        import_celebamask(tmp_path, tmp_path / "pkg")
    assert error.value.path == stray
