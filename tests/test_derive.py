"""Derived attributes: ITA skin tone and silhouette measures, and adding them to a package safely."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from skimage.color import lab2rgb

from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, load_package
from segaudit.models.data.derive import (
    DERIVED_ATTRIBUTES,
    ITA_CATEGORIES,
    derive_attributes,
    ita_category,
    ita_degrees,
    median_ita,
    person_mask,
    shape_category,
    silhouette_measures,
    skin_pixels,
)
from segaudit.models.data.skin import is_skin_colour
from segaudit.models.data.spec import AttributeSpec, DatasetSpec
from segaudit.models.data.writer import PackageWriter

# Monk Skin Tone scale swatches (Monk 2019; the hex values Google publishes), lightest (1) to darkest (10).
MONK = {1: (246, 237, 228), 5: (215, 189, 150), 7: (130, 92, 67), 9: (58, 49, 42), 10: (41, 36, 32)}
MONK_ALL = ["f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96",
            "a07e56", "825c43", "604134", "3a312a", "292420"]
BLUE_CLOTHES = (30, 60, 160)
GREY = (128, 128, 128)


def lab_colour(lightness: float, a_star: float, b_star: float) -> np.ndarray:
    """The uint8 sRGB pixel closest to a CIELAB colour (chosen in gamut)."""
    rgb = lab2rgb(np.array([[[lightness, a_star, b_star]]], dtype=np.float64))[0, 0]
    return np.round(rgb * 255).astype(np.uint8)


@pytest.mark.parametrize("lab", [(75, 8, 30), (65, 10, 22), (58, 12, 25), (50, 10, 20), (42, 14, 24),
                                 (35, 12, 30), (30, 5, 20)])
def test_ita_of_lab_constructed_colours_matches_definition_within_half_degree(lab) -> None:
    lightness, _, b_star = lab
    expected = math.degrees(math.atan((lightness - 50) / b_star))
    assert ita_degrees(lab_colour(*lab)) == pytest.approx(expected, abs=0.5)


def test_ita_is_per_pixel_and_keeps_the_leading_shape() -> None:
    image = np.stack([np.stack([lab_colour(75, 8, 30), lab_colour(35, 12, 25)])] * 3)  # 3x2x3
    ita = ita_degrees(image)
    assert ita.shape == (3, 2)
    assert ita[:, 0] == pytest.approx([math.degrees(math.atan(25 / 30))] * 3, abs=0.5)
    assert ita[:, 1] == pytest.approx([math.degrees(math.atan(-15 / 25))] * 3, abs=0.5)


def test_ita_near_zero_or_negative_b_star_is_finite_and_saturates_by_lightness() -> None:
    ita = ita_degrees(np.array([[255, 255, 255], [0, 0, 0], [20, 40, 250]], dtype=np.uint8))
    assert np.all(np.isfinite(ita)) and np.all(np.abs(ita) <= 90)
    assert ita[0] > 89 and ita[1] < -89 and ita[2] < -89  # white, black, a dark blue (b* < 0)


def test_ita_refuses_non_uint8_input_so_0_255_floats_are_not_misread() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ita_degrees(np.array([[200.0, 150.0, 120.0]]))


def test_monk_lightest_and_darkest_swatches_land_in_the_extreme_categories() -> None:
    assert ita_category(median_ita(np.array([MONK[1]], dtype=np.uint8))) == "very_light"
    assert ita_category(median_ita(np.array([MONK[10]], dtype=np.uint8))) == "dark"


def test_median_ita_is_nan_without_pixels_and_ignores_a_minority_of_other_pixels() -> None:
    assert math.isnan(median_ita(np.zeros((0, 3), dtype=np.uint8)))
    pixels = np.array([MONK[5]] * 7 + [BLUE_CLOTHES] * 3, dtype=np.uint8)
    assert median_ita(pixels) == pytest.approx(float(ita_degrees(np.array(MONK[5], dtype=np.uint8))))


@pytest.mark.parametrize(("ita", "category"), [
    (90.0, "very_light"), (55.01, "very_light"), (55.0, "light"), (41.01, "light"), (41.0, "intermediate"),
    (28.01, "intermediate"), (28.0, "tan"), (10.01, "tan"), (10.0, "brown"), (-29.99, "brown"),
    (-30.0, "dark"), (-90.0, "dark"), (math.nan, UNKNOWN),
])
def test_ita_category_boundaries_go_to_the_darker_category(ita: float, category: str) -> None:
    assert ita_category(ita) == category


def test_skin_colour_rule_keeps_every_monk_swatch_and_rejects_clothing_colours() -> None:
    swatches = np.array([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in MONK_ALL], dtype=np.uint8)
    assert is_skin_colour(swatches).all()
    others = np.array([GREY, BLUE_CLOTHES, (40, 140, 60), (0, 0, 0), (255, 255, 255)], dtype=np.uint8)
    assert not is_skin_colour(others).any()


def test_skin_pixels_use_the_skin_class_when_the_package_has_one() -> None:
    image = np.full((20, 20, 3), MONK[5], dtype=np.uint8)  # everything skin-coloured ...
    image[2:8, 2:8] = MONK[9]
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[2:18, 2:18] = 1
    mask[2:8, 2:8] = 2  # ... but only the annotated skin class counts
    pixels = skin_pixels(image, mask, {0: "background", 1: "person", 2: "Skin"}, min_pixels=10)
    assert pixels.shape == (36, 3) and (pixels == MONK[9]).all()


def test_skin_pixels_fall_back_to_the_eroded_head_of_the_person_filtered_by_colour() -> None:
    image = np.full((48, 32, 3), MONK[7], dtype=np.uint8)  # skin-coloured background must not count
    image[4:44, 8:24] = MONK[5]  # skin-coloured clothes below the head must not count either
    image[4:12, 8:24] = MONK[1]  # head: the top 20% (8 of 40 rows) of the person
    image[4, 8:24] = MONK[10]  # the outer rows/columns are eroded away
    image[8, 10:14] = BLUE_CLOTHES  # and non-skin colours are filtered out
    mask = np.zeros((48, 32), dtype=np.uint8)
    mask[4:44, 8:24] = 1
    pixels = skin_pixels(image, mask, {0: "background", 1: "person"})
    # eroded by 1: rows 5..42, cols 9..22; head: rows 5..11 -> 7 x 14 pixels, minus the 4 blue ones
    assert pixels.shape == (7 * 14 - 4, 3) and (pixels == MONK[1]).all()


def test_skin_fallback_searches_the_upper_half_of_a_person_cut_off_at_the_bottom() -> None:
    image = np.full((40, 32, 3), GREY, dtype=np.uint8)
    image[10:40, 8:24] = MONK[9]
    mask = np.zeros((40, 32), dtype=np.uint8)
    mask[10:40, 8:24] = 1  # a portrait: the silhouette leaves through the bottom edge
    pixels = skin_pixels(image, mask, {0: "background", 1: "person"})
    # eroded by 1 (the image border erodes too): rows 11..38; upper half: rows 11..24 -> 14 x 14 pixels
    assert pixels.shape == (14 * 14, 3)


def test_person_mask_without_a_person_class_is_every_non_background_class() -> None:
    classes = {0: "hair", 1: "background", 2: "face", 3: "upper-clothes"}
    mask = np.array([[0, 1, 2, 3, 255]], dtype=np.uint8)
    assert person_mask(mask, classes).tolist() == [[True, False, True, True, False]]
    assert person_mask(mask, {0: "bg", 1: "dog", 2: "person", 3: "face"}).tolist() == [
        [False, False, True, True, False]]


def test_too_few_skin_pixels_make_the_tone_unknown() -> None:
    image = np.full((20, 20, 3), MONK[5], dtype=np.uint8)
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[5:9, 5:9] = 2
    pixels = skin_pixels(image, mask, {0: "background", 1: "person", 2: "skin"})  # 16 < MIN_SKIN_PIXELS
    assert pixels.shape == (0, 3)
    assert ita_category(median_ita(pixels)) == UNKNOWN


def test_silhouette_measures_of_a_rectangle() -> None:
    mask = np.zeros((100, 50), dtype=bool)
    mask[30:70, 20:30] = True
    measures = silhouette_measures(mask)
    assert measures["apparent_height"] == pytest.approx(0.4)
    assert measures["bbox_aspect"] == pytest.approx(0.25)
    assert measures["area_aspect"] == pytest.approx(0.25)
    assert measures["truncated"] == 0.0
    assert shape_category(measures) == "broad"


def ellipse(height: int, width: int, size: tuple[int, int] = (160, 100)) -> np.ndarray:
    rows, cols = np.mgrid[: size[0], : size[1]]
    cy, cx = size[0] / 2, size[1] / 2
    return ((rows + 0.5 - cy) / (height / 2)) ** 2 + ((cols + 0.5 - cx) / (width / 2)) ** 2 <= 1


@pytest.mark.parametrize(("width", "shape"), [(24, "slim"), (29, "average"), (36, "broad")])
def test_silhouette_measures_of_ellipses_give_area_ratio_and_shape(width: int, shape: str) -> None:
    measures = silhouette_measures(ellipse(120, width))
    assert measures["apparent_height"] == pytest.approx(120 / 160, abs=1 / 160)
    assert measures["bbox_aspect"] == pytest.approx(width / 120, abs=1.5 / 120)
    assert measures["area_aspect"] == pytest.approx(math.pi / 4 * width / 120, rel=0.03)
    assert shape_category(measures) == shape


def test_cut_off_or_missing_silhouettes_have_no_shape() -> None:
    mask = np.zeros((100, 50), dtype=bool)
    mask[30:100, 20:30] = True  # touches the bottom edge
    measures = silhouette_measures(mask)
    assert measures["truncated"] == 1.0 and measures["apparent_height"] == pytest.approx(0.7)
    assert shape_category(measures) == UNKNOWN
    empty = silhouette_measures(np.zeros((10, 10), dtype=bool))
    assert all(math.isnan(v) for v in empty.values()) and shape_category(empty) == UNKNOWN


# --- derive_attributes on a tiny package -------------------------------------------------------------------

SPEC = DatasetSpec(
    name="tones", version="1", description="solid skin tones", license="CC0-1.0", provenance="tests",
    classes={0: "background", 1: "person", 2: "skin"},
    attributes={"age_group": AttributeSpec("age_group", "categorical", True, "self-reported",
                                           values=("child", "adult"))},
)
TONES = {"mst1": (MONK[1], "very_light"), "mst5": (MONK[5], "light"), "mst7": (MONK[7], "brown"),
         "mst10": (MONK[10], "dark")}


def person_sample(skin: tuple[int, int, int] | None, bottom: int = 44) -> tuple[np.ndarray, np.ndarray]:
    """A 48x40 image: grey background, a blue body 7 wide, a 10x10 'skin' head of one solid colour."""
    image = np.full((48, 40, 3), GREY, dtype=np.uint8)
    mask = np.zeros((48, 40), dtype=np.uint8)
    image[16:bottom, 16:23], mask[16:bottom, 16:23] = BLUE_CLOTHES, 1
    if skin is not None:
        image[5:15, 15:25], mask[5:15, 15:25] = skin, 2
    return image, mask


def write_tones_package(out: Path) -> Path:
    with PackageWriter(out, SPEC) as writer:
        for i, (name, (colour, _)) in enumerate(TONES.items()):
            writer.add(name, *person_sample(colour), ("train", "val", "test", "train")[i],
                       {"age_group": "adult" if i % 2 else "child"})
        writer.add("noskin", *person_sample(None, bottom=48), "test", {})  # no skin, cut off at the bottom
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_derive_into_a_new_folder_adds_declared_columns_and_leaves_the_source_alone(tmp_path: Path) -> None:
    source = write_tones_package(tmp_path / "src")
    before = snapshot(source)
    out = derive_attributes(source, out=tmp_path / "derived")
    assert out == tmp_path / "derived" and snapshot(source) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    package = load_package(out, verify=True)
    attributes = package.spec.attributes
    assert list(attributes) == ["age_group", *DERIVED_ATTRIBUTES]
    assert all(attributes[n].source == "derived" for n in DERIVED_ATTRIBUTES)
    assert {n for n in DERIVED_ATTRIBUTES if attributes[n].sensitive} == {
        "ita_deg", "ita_skin_tone", "silhouette_shape"}
    assert attributes["ita_skin_tone"].values == ITA_CATEGORIES == (
        "dark", "brown", "tan", "intermediate", "light", "very_light")
    assert attributes["ita_deg"].unit == "degrees" and attributes["ita_deg"].range == (-90.0, 90.0)

    rows = package.manifest.set_index("id")
    for name, (colour, category) in TONES.items():
        assert rows.loc[name, "ita_skin_tone"] == category
        assert rows.loc[name, "ita_deg"] == pytest.approx(float(ita_degrees(np.array(colour, np.uint8))),
                                                          abs=1e-3)
        assert rows.loc[name, "apparent_height"] == pytest.approx(39 / 48)  # head row 5 to body row 43
        assert rows.loc[name, "silhouette_aspect"] == pytest.approx(10 / 39)
        assert rows.loc[name, "silhouette_shape"] == "average"  # (10*10 + 28*7) / 39**2 = 0.195
    # lightest to darkest Monk swatch: strictly falling ITA and falling category rank
    ita = [rows.loc[n, "ita_deg"] for n in TONES]
    ranks = [ITA_CATEGORIES.index(rows.loc[n, "ita_skin_tone"]) for n in TONES]
    assert ita == sorted(ita, reverse=True) and ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 4
    assert rows.loc["noskin", "ita_skin_tone"] == UNKNOWN and math.isnan(rows.loc["noskin", "ita_deg"])
    assert rows.loc["noskin", "silhouette_shape"] == UNKNOWN
    assert rows["age_group"].tolist() == ["child", "adult", "child", "adult", UNKNOWN]


def test_derive_in_place_is_idempotent_and_leaves_no_temporaries(tmp_path: Path) -> None:
    package = write_tones_package(tmp_path / "pkg")
    images = {k: v for k, v in snapshot(package).items() if k.startswith(("images", "masks"))}
    assert derive_attributes(package) == package
    first = snapshot(package)
    derive_attributes(package)
    assert snapshot(package) == first
    assert set(first) == {"dataset.yaml", "manifest.csv", "derived_evidence.csv", ".segaudit-package", *images}
    assert {k: first[k] for k in images} == images
    header = (package / "manifest.csv").read_text().splitlines()[0].split(",")
    assert header == ["id", "image", "mask", "split", "age_group", *DERIVED_ATTRIBUTES]
    assert list(yaml.safe_load((package / "dataset.yaml").read_text())["attributes"]) == [
        "age_group", *DERIVED_ATTRIBUTES]
    load_package(package, verify=True)


def test_derive_removes_what_a_killed_derive_left_inside_the_package(tmp_path: Path) -> None:
    import subprocess
    import sys

    package = write_tones_package(tmp_path / "pkg")
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    leftover = package / f".dataset.yaml.staging-{dead}-x1"
    leftover.mkdir()
    (leftover / "manifest.csv").write_text("half")
    derive_attributes(package)
    assert not leftover.exists() and not list(package.glob(".dataset.yaml.*"))


def test_derive_repairs_a_manifest_left_with_undeclared_derived_columns(tmp_path: Path) -> None:
    """A crash between the two renames leaves the new manifest with the old spec; a re-run fixes it."""
    package = write_tones_package(tmp_path / "pkg")
    original_spec = (package / "dataset.yaml").read_bytes()
    derive_attributes(package)
    done = snapshot(package)
    (package / "dataset.yaml").write_bytes(original_spec)
    with pytest.raises(InputError, match="not declared"):
        load_package(package)
    derive_attributes(package)
    assert snapshot(package) == done


def test_derive_keeps_a_parquet_manifest_as_parquet(tmp_path: Path) -> None:
    package = write_tones_package(tmp_path / "pkg")
    frame = pd.read_csv(package / "manifest.csv", dtype=str, keep_default_na=False)
    frame.to_parquet(package / "manifest.parquet")
    (package / "manifest.csv").unlink()
    derive_attributes(package)
    assert not (package / "manifest.csv").exists()
    loaded = load_package(package, verify=True)
    assert loaded.manifest.set_index("id").loc["mst10", "ita_skin_tone"] == "dark"


def test_derive_refuses_to_replace_an_attribute_that_is_not_derived(tmp_path: Path) -> None:
    spec = DatasetSpec(
        name="t", version="1", description="d", license="CC0-1.0", provenance="tests",
        classes={0: "background", 1: "person", 2: "skin"},
        attributes={"ita_skin_tone": AttributeSpec("ita_skin_tone", "ordinal", True, "annotated",
                                                   values=ITA_CATEGORIES)},
    )
    with PackageWriter(tmp_path / "pkg", spec) as writer:
        writer.add("a", *person_sample(MONK[5]), "train", {"ita_skin_tone": "tan"})
    before = snapshot(tmp_path / "pkg")
    with pytest.raises(InputError, match="annotated") as caught:
        derive_attributes(tmp_path / "pkg")
    assert caught.value.field == "attributes.ita_skin_tone"
    assert snapshot(tmp_path / "pkg") == before


def test_unreadable_image_is_an_input_error_naming_file_and_row_and_changes_nothing(tmp_path: Path) -> None:
    package = write_tones_package(tmp_path / "pkg")
    (package / "images" / "mst7.png").write_bytes(b"not a png")
    before = snapshot(package)
    with pytest.raises(InputError) as caught:
        derive_attributes(package)
    assert caught.value.path == package / "images" / "mst7.png" and caught.value.row == 3
    assert caught.value.field == "image"
    assert snapshot(package) == before


def test_invalid_manifest_is_reported_against_the_real_package(tmp_path: Path) -> None:
    package = write_tones_package(tmp_path / "pkg")
    frame = pd.read_csv(package / "manifest.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "split"] = "holdout"
    frame.to_csv(package / "manifest.csv", index=False)
    with pytest.raises(InputError) as caught:
        derive_attributes(package)
    assert caught.value.path == package / "manifest.csv" and caught.value.row == 2
    assert caught.value.field == "split"


def test_output_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    source = write_tones_package(tmp_path / "src")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an empty folder"):
        derive_attributes(source, out=taken)
    assert (taken / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert derive_attributes(source, out=tmp_path / "empty") == tmp_path / "empty"
    shutil.rmtree(tmp_path / "empty")
