"""The synthetic people generator: determinism, valid packages, exact masks, attributes, skew, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segaudit.core.errors import InputError
from segaudit.models.data.package import load_package
from segaudit.models.data.synth import LABEL_SETS, SKEWED_TRAIN, SKEWED_TRAIN_AND_TEST, synthesize
from segaudit.models.data.synth.attributes import ATTRIBUTES, check_group_weights
from segaudit.models.data.synth.generate import assign_splits
from segaudit.models.data.synth.render import render_sample

DARK = ("monk_08", "monk_09", "monk_10")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 people at 64 px in the person label set (shared by the read-only tests)."""
    return synthesize(tmp_path_factory.mktemp("synth") / "people", n=40, seed=3, size=64, workers=1)


def test_same_arguments_give_byte_identical_files_across_runs_and_worker_counts(tmp_path: Path) -> None:
    first = synthesize(tmp_path / "a", n=12, seed=7, size=64, workers=1)
    again = synthesize(tmp_path / "b", n=12, seed=7, size=64, workers=1)
    parallel = synthesize(tmp_path / "c", n=12, seed=7, size=64, workers=2)
    files = _files(first)
    assert len(files) == 3 + 2 * 12  # dataset.yaml, manifest.csv, the segaudit marker, 12 images + 12 masks
    assert files == _files(again)
    assert files == _files(parallel)


def test_different_seed_gives_different_images(tmp_path: Path) -> None:
    one = _files(synthesize(tmp_path / "a", n=6, seed=1, size=64))
    two = _files(synthesize(tmp_path / "b", n=6, seed=2, size=64))
    assert one["images/synth-000000.png"] != two["images/synth-000000.png"]
    assert one["manifest.csv"] != two["manifest.csv"]


def test_package_loads_with_full_verification_and_declares_synthetic_attributes(people: Path) -> None:
    package = load_package(people, verify=True)
    assert package.spec.classes == LABEL_SETS["person"]
    assert list(package.spec.attributes) == ["skin_tone", "body_shape", "build", "age_group", "height_cm",
                                             "lighting"]
    assert all(a.source == "synthetic" for a in package.spec.attributes.values())
    sensitive = {name for name, a in package.spec.attributes.items() if a.sensitive}
    assert sensitive == {"skin_tone", "body_shape", "build", "age_group"}
    assert list(package.manifest["id"][:2]) == ["synth-000000", "synth-000001"]
    assert package.summary()["splits"] == {"train": 28, "val": 4, "test": 8}


def test_person_masks_hold_only_background_and_person_and_show_one_whole_figure(people: Path) -> None:
    package = load_package(people)
    for row in package.manifest.to_dict("records"):
        mask = package.read_mask(row)
        assert set(np.unique(mask).tolist()) == {0, 1}
        ys, xs = np.nonzero(mask)
        # whole figure in frame, with a margin
        assert ys.min() > 0 and xs.min() > 0 and ys.max() < 63 and xs.max() < 63


def test_fashion_masks_hold_only_the_seven_classes_and_agree_with_the_person_masks(tmp_path: Path) -> None:
    fashion = load_package(synthesize(tmp_path / "f", n=12, seed=5, size=64, label_set="fashion"), verify=True)
    person = load_package(synthesize(tmp_path / "p", n=12, seed=5, size=64, label_set="person"))
    assert fashion.spec.classes == LABEL_SETS["fashion"] and len(LABEL_SETS["fashion"]) == 7
    seen: set[int] = set()
    for f_row, p_row in zip(fashion.manifest.to_dict("records"), person.manifest.to_dict("records"), strict=True):
        labels = fashion.read_mask(f_row)
        seen |= set(np.unique(labels).tolist())
        np.testing.assert_array_equal(labels > 0, person.read_mask(p_row) == 1)
        np.testing.assert_array_equal(fashion.read_image(f_row), person.read_image(p_row))
    assert seen <= set(range(7))
    assert {0, 1, 2, 4} <= seen and ({3, 5} <= seen or 6 in seen)


def test_attributes_lie_within_their_declared_values_and_agree_with_each_other(people: Path) -> None:
    manifest = load_package(people).manifest
    for name, attribute in ATTRIBUTES.items():
        column = manifest[name]
        if attribute.kind == "continuous":
            assert column.between(*attribute.range).all(), name
        else:
            assert set(column) <= set(attribute.values), name
    shape_from_build = np.array(["slim", "average", "broad"])[np.minimum((manifest["build"] * 3).astype(int), 2)]
    assert (shape_from_build == manifest["body_shape"]).all()
    children = manifest[manifest["age_group"] == "child"]["height_cm"]
    adults = manifest[manifest["age_group"] != "child"]["height_cm"]
    assert len(children) and children.max() < 160 and children.mean() < adults.mean() - 20


def test_taller_people_have_taller_masks(people: Path) -> None:
    package = load_package(people)
    heights, spans = [], []
    for row in package.manifest.to_dict("records"):
        ys = np.nonzero(package.read_mask(row).any(axis=1))[0]
        heights.append(row["height_cm"])
        spans.append(ys.max() - ys.min() + 1)
    assert np.corrcoef(heights, spans)[0, 1] > 0.8


def test_zero_group_weight_keeps_a_value_out_of_that_split_only(tmp_path: Path) -> None:
    light = [f"monk_0{i}" for i in range(1, 6)]
    weights = {"train": {"skin_tone": dict.fromkeys(light, 0.0), "lighting": {"low": 0, "backlit": 0}}}
    manifest = load_package(synthesize(tmp_path / "w", n=40, seed=3, size=64, group_weights=weights)).manifest
    train, rest = manifest[manifest["split"] == "train"], manifest[manifest["split"] != "train"]
    assert not train["skin_tone"].isin(light).any()
    assert (train["lighting"] == "normal").all()
    assert rest["skin_tone"].isin(light).any() and (rest["lighting"] != "normal").any()


def test_split_assignment_has_exact_sizes_and_does_not_depend_on_the_weights(tmp_path: Path) -> None:
    splits = assign_splits(50, 3, (0.7, 0.1, 0.2))
    assert [splits.count(s) for s in ("train", "val", "test")] == [35, 5, 10]
    assert splits != assign_splits(50, 4, (0.7, 0.1, 0.2))
    plain = load_package(synthesize(tmp_path / "plain", n=10, seed=3, size=64)).manifest
    skewed = load_package(synthesize(tmp_path / "skew", n=10, seed=3, size=64,
                                     group_weights={"train": {"age_group": {"adult": 0}}})).manifest
    assert plain["split"].tolist() == skewed["split"].tolist() == assign_splits(10, 3, (0.7, 0.1, 0.2))
    assert plain["age_group"].tolist() != skewed["age_group"].tolist()


def test_skewed_train_preset_leaves_few_dark_tones_in_train_only() -> None:
    probabilities = check_group_weights(SKEWED_TRAIN)
    tones = list(ATTRIBUTES["skin_tone"].values)
    dark = [tones.index(t) for t in DARK]
    assert probabilities["train"]["skin_tone"][dark].sum() < 0.08
    assert probabilities["test"]["skin_tone"][dark].sum() == pytest.approx(0.3)
    both = check_group_weights(SKEWED_TRAIN_AND_TEST)  # members and non-members of one composition
    np.testing.assert_array_equal(both["test"]["skin_tone"], probabilities["train"]["skin_tone"])
    assert both["val"]["skin_tone"][dark].sum() == pytest.approx(0.3)


def test_render_is_exact_mask_and_antialiased_image() -> None:
    image, labels, person = render_sample(0, 1, 128, check_group_weights(None)["train"])
    assert image.dtype == np.uint8 and image.shape == (128, 128, 3)
    assert labels.dtype == np.uint8 and labels.shape == (128, 128)
    assert person.skin_tone in ATTRIBUTES["skin_tone"].values
    again, labels_again, _ = render_sample(0, 1, 128, check_group_weights(None)["train"])
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(labels, labels_again)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 0}, "n"),
        ({"size": 100}, "size"),
        ({"size": 32}, "size"),
        ({"label_set": "parts"}, "label_set"),
        ({"seed": -1}, "seed"),
        ({"workers": 0}, "workers"),
        ({"split_fractions": (0.5, 0.5, 0.5)}, "split_fractions"),
        ({"split_fractions": (1.2, -0.1, -0.1)}, "split_fractions"),
        ({"group_weights": {"holdout": {}}}, "group_weights.holdout"),
        ({"group_weights": {"train": {"height_cm": {"tall": 1}}}}, "group_weights.train.height_cm"),
        ({"group_weights": {"train": {"skin_tone": {"monk_11": 1}}}}, "group_weights.train.skin_tone"),
        ({"group_weights": {"train": {"lighting": {"low": -1}}}}, "group_weights.train.lighting"),
        ({"group_weights": {"val": {"age_group": {"child": 0, "adult": 0, "senior": 0}}}},
         "group_weights.val.age_group"),
    ],
)
def test_bad_arguments_raise_input_error_naming_the_field(tmp_path: Path, kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as error:
        synthesize(tmp_path / "out", **{"n": 4, "size": 64, **kwargs})
    assert error.value.field == field
    assert not (tmp_path / "out").exists()


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path) -> None:
    out = synthesize(tmp_path / "out", n=2, size=64, seed=1)
    with pytest.raises(InputError):
        synthesize(out, n=2, size=64, seed=2)
    assert load_package(out).manifest["id"].tolist() == ["synth-000000", "synth-000001"]
    before = _files(out)
    synthesize(out, n=2, size=64, seed=2, overwrite=True)
    assert _files(out) != before
