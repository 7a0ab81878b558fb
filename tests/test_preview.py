"""Contact sheets: size of the grid, split selection, overlay, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segaudit.core.errors import InputError
from segaudit.models.data.preview import contact_sheet, sheet_size
from segaudit.models.data.synth import synthesize


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("preview") / "people", n=12, seed=2, size=64, label_set="fashion")


def test_contact_sheet_writes_a_png_grid_of_the_expected_size(package: Path, tmp_path: Path) -> None:
    out = contact_sheet(package, tmp_path / "sheets" / "sheet.png", n=10)
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.mode == "RGB"
        # 10 tiles -> 8 columns x 2 rows of 160 px thumbnails with 3 caption lines
        assert sheet.size == sheet_size(10) == (6 + 8 * 166, 24 + 6 + 2 * (160 + 36 + 6))


def test_asking_for_more_samples_than_a_split_holds_shows_the_whole_split(package: Path, tmp_path: Path) -> None:
    out = contact_sheet(package, tmp_path / "val.png", n=32, split="val")  # 12 * 0.1 -> 1 sample
    with Image.open(out) as sheet:
        assert sheet.size == sheet_size(1)


def test_overlay_tints_the_people_and_the_seed_picks_the_sample(package: Path, tmp_path: Path) -> None:
    plain = np.asarray(Image.open(contact_sheet(package, tmp_path / "a.png", n=4, overlay=False)))
    tinted = np.asarray(Image.open(contact_sheet(package, tmp_path / "b.png", n=4, overlay=True)))
    assert plain.shape == tinted.shape
    assert (np.abs(plain.astype(int) - tinted.astype(int)).sum(axis=2) > 0).mean() > 0.01
    again = np.asarray(Image.open(contact_sheet(package, tmp_path / "c.png", n=4, overlay=False)))
    other = np.asarray(Image.open(contact_sheet(package, tmp_path / "d.png", n=4, overlay=False, seed=1)))
    np.testing.assert_array_equal(plain, again)
    assert not np.array_equal(plain, other)


def test_contact_sheet_works_for_any_package(tiny_package: Path, tmp_path: Path) -> None:
    out = contact_sheet(tiny_package, tmp_path / "tiny.png", n=3, seed=0)
    with Image.open(out) as sheet:
        assert sheet.size == sheet_size(3)


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"split": "holdout"}])
def test_bad_arguments_raise_input_error(package: Path, tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(InputError):
        contact_sheet(package, tmp_path / "x.png", **kwargs)
    assert not (tmp_path / "x.png").exists()
