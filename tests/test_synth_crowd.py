"""Crowd scenes: valid schema-v2 packages with exact instance masks, determinism, one Monk tone per person, the
hard cases of skin-tone derivation, skin rendered in Monk order, and `segaudit data synth --crowd`."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_erosion
from scipy.stats import spearmanr
from skimage.color import rgb2lab

from segaudit.app.cli.main import main
from segaudit.models.data.package import load_package
from segaudit.models.data.synth.crowd import synthesize_crowd
from segaudit.models.data.synth.crowd_attributes import PERSON_ATTRIBUTES, SIZE_BOUNDS
from segaudit.models.data.synth.crowd_render import render_crowd
from segaudit.models.data.synth.monk import MONK_HEX, MONK_TONES

SWATCH_L = dict(zip(MONK_TONES, rgb2lab(np.stack([[int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
                                                  for h in MONK_HEX])[None])[0, :, 0], strict=True))
"""L* of each published Monk swatch (not monotone at the light end: MST-3 is lighter than MST-2)."""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 crowd scenes at 64 px (shared by the read-only tests)."""
    return synthesize_crowd(tmp_path_factory.mktemp("crowd") / "crowd", n=40, seed=3, size=64, workers=1)


def test_package_verifies_and_masks_are_the_union_of_exact_instances(crowd: Path) -> None:
    package = load_package(crowd, verify=True)
    spec = package.spec
    assert spec.instances and spec.schema_version == 2 and spec.classes == {0: "background", 1: "person"}
    assert list(spec.attributes) == ["lighting", "people"]
    assert {"skin_tone", "shade", "skin_coloured_clothes", "apparent_size"} <= set(spec.person_attributes)
    assert all(a.source == "synthetic" for a in [*spec.attributes.values(), *spec.person_attributes.values()])
    assert spec.person_attributes["skin_tone"] == PERSON_ATTRIBUTES["skin_tone"]
    assert spec.person_attributes["skin_tone"].values == MONK_TONES and spec.person_attributes["skin_tone"].sensitive
    assert package.persons is not None and len(package.persons) == package.manifest["people"].astype(int).sum()
    for row in package.manifest.to_dict("records"):
        instances, mask = package.read_instances(row), package.read_mask(row)
        np.testing.assert_array_equal(mask, (instances > 0).astype(np.uint8))
        people = package.persons_of(row["id"], instances)
        count = int(row["people"])
        assert np.unique(instances).tolist() == list(range(count + 1))  # ids 1..K, each with visible pixels
        assert people["instance"].tolist() == list(range(1, count + 1))


def test_each_person_has_their_own_tone_and_truthful_measured_attributes(crowd: Path) -> None:
    persons = load_package(crowd).persons
    assert persons is not None
    for _, people in persons.groupby("id"):
        assert people["skin_tone"].is_unique
    small = persons["height_fraction"] < SIZE_BOUNDS[0]
    large = persons["height_fraction"] >= SIZE_BOUNDS[1]
    assert (persons.loc[small, "apparent_size"] == "small").all()
    assert (persons.loc[large, "apparent_size"] == "large").all()
    assert (persons.loc[~small & ~large, "apparent_size"] == "medium").all()
    assert ((persons["visible_fraction"] > 0) & (persons["visible_fraction"] <= 1)).all()
    known = persons.dropna(subset=["shaded_fraction"])
    assert (known.loc[known["shade"] == "none", "shaded_fraction"] == 0).all()
    assert (known.loc[known["shade"] == "full", "shaded_fraction"] == 1).all()


def test_every_hard_case_occurs_in_forty_images(crowd: Path) -> None:
    package = load_package(crowd)
    persons, manifest = package.persons, package.manifest
    assert persons is not None
    counts = manifest["people"].value_counts()
    assert counts.get("2", 0) + counts.get("3", 0) > len(manifest) / 2  # mostly two or three people
    assert (manifest["people"] != "1").sum() > 0.7 * len(manifest)
    assert {"warm", "cool", "green"} <= set(manifest["lighting"])
    assert (persons["apparent_size"] == "small").sum() >= 5
    assert (persons["height_fraction"].between(0.15, 0.35)).sum() >= 5
    assert {"partial", "full"} <= set(persons["shade"])
    partial = persons.loc[persons["shade"] == "partial", "shaded_fraction"].dropna()
    assert ((partial > 0) & (partial < 1)).any()  # part of someone's skin in shadow, part lit
    assert (persons["skin_coloured_clothes"] == "yes").sum() >= 5
    mixed = persons.groupby("id")["skin_tone"].agg(lambda t: max(map(MONK_TONES.index, t))
                                                   - min(map(MONK_TONES.index, t)))
    assert (mixed >= 4).sum() >= 5  # light and dark people in one image is common


def test_same_arguments_give_identical_bytes_whatever_the_workers_and_seeds_differ(tmp_path: Path) -> None:
    one = _files(synthesize_crowd(tmp_path / "one", n=6, seed=11, size=64, workers=1))
    two = _files(synthesize_crowd(tmp_path / "two", n=6, seed=11, size=64, workers=2))
    assert one == two
    assert {"dataset.yaml", "manifest.csv", "persons.csv", "instances/crowd-000000.png"} <= set(one)
    other = _files(synthesize_crowd(tmp_path / "other", n=6, seed=12, size=64, workers=1))
    assert other["images/crowd-000000.png"] != one["images/crowd-000000.png"]
    assert other["persons.csv"] != one["persons.csv"]


def test_rendered_skin_is_ordered_by_monk_tone_under_neutral_unshaded_light() -> None:
    """Mean L* of each person's interior skin pixels (measured on the rendered image) falls with the tone."""
    measured: list[tuple[int, str, float]] = []
    for index in range(50):
        sample = render_crowd(5, index, 96)
        if sample.lighting != "neutral":
            continue
        for person in sample.people:
            skin = binary_erosion(sample.skin(person.instance))  # edge pixels mix with clothes and background
            if person.shade == "none" and skin.sum() >= 4:
                lab = rgb2lab(sample.image[skin][None].astype(np.float64) / 255.0)[0]
                measured.append((index, person.person.skin_tone, float(lab[:, 0].mean())))
    assert len(measured) >= 10
    rho = spearmanr([SWATCH_L[tone] for _, tone, _ in measured], [light for *_, light in measured]).statistic
    assert rho > 0.85, measured
    pairs = 0
    for (i, tone_a, light_a), (j, tone_b, light_b) in combinations(measured, 2):
        if i == j and abs(SWATCH_L[tone_a] - SWATCH_L[tone_b]) >= 10:  # same light, clearly different swatches
            pairs += 1
            assert (light_a - light_b) * (SWATCH_L[tone_a] - SWATCH_L[tone_b]) > 0, (i, tone_a, tone_b)
    assert pairs >= 3


def test_cli_synth_crowd_writes_the_package_and_refuses_other_options_with_exit_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "crowd"
    assert main(["data", "synth", "--crowd", "--out", str(out), "--n", "4", "--size", "64", "--seed", "2",
                 "--workers", "1"]) == 0
    package = load_package(out, verify=True)
    assert package.spec.instances and package.persons is not None and len(package.manifest) == 4
    assert "crowd" in capsys.readouterr().out
    weights = tmp_path / "w.yaml"
    weights.write_text("train: {skin_tone: {monk_01: 2}}\n")
    for extra in (["--labels", "fashion"], ["--skew-train"], ["--weights", str(weights)]):
        target = tmp_path / extra[0].strip("-")
        assert main(["data", "synth", "--crowd", "--out", str(target), "--n", "4", "--size", "64", *extra]) == 2
        err = capsys.readouterr().err
        assert "--crowd" in err and extra[0] in err
        assert not target.exists()
