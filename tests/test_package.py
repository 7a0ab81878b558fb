"""The dataset package contract: a valid package loads; each kind of bad input is exit code 2 naming where."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, load_package
from segaudit.models.data.writer import PackageWriter
from tests.conftest import TINY_SPEC, write_tiny_package


def check_fails(package: Path, capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    """Run `segaudit data check` and assert exit code 2 with every expected fragment in the message."""
    assert main(["data", "check", str(package)]) == 2
    message = capsys.readouterr().err
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def edit_manifest(package: Path, row: int, column: str, value: str) -> None:
    manifest = pd.read_csv(package / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[row, column] = value
    manifest.to_csv(package / "manifest.csv", index=False)


def test_valid_package_loads_with_parsed_attributes_and_explicit_unknowns(tiny_package: Path) -> None:
    package = load_package(tiny_package, verify=True)
    assert len(package.manifest) == 6
    assert package.manifest["tone"].tolist()[:3] == ["light", "medium", "dark"]
    assert package.manifest["tone"].iloc[-1] == UNKNOWN
    assert math.isnan(package.manifest["height_cm"].iloc[-1])
    assert package.manifest["height_cm"].iloc[0] == 150.0
    assert package.read_image(package.manifest.iloc[0]).shape == (32, 32, 3)
    assert set(np.unique(package.read_mask(package.manifest.iloc[0]))) == {0, 1}


def test_check_prints_counts_per_split_and_attribute_value(tiny_package: Path, capsys) -> None:
    assert main(["data", "check", str(tiny_package)]) == 0
    out = capsys.readouterr().out
    assert "6 images" in out and "tone (ordinal)" in out and UNKNOWN in out
    summary = load_package(tiny_package).summary()
    assert summary["splits"] == {"train": 2, "val": 2, "test": 2}
    assert summary["attributes"]["tone"]["counts"]["light"] == {"train": 2, "val": 0, "test": 0}
    assert summary["attributes"]["tone"]["counts"][UNKNOWN] == {"train": 0, "val": 0, "test": 1}
    assert summary["attributes"]["height_cm"]["unknown"] == 1


def test_parquet_manifest_is_read_like_csv(tiny_package: Path) -> None:
    frame = pd.read_csv(tiny_package / "manifest.csv", dtype=str, keep_default_na=False)
    frame.to_parquet(tiny_package / "manifest.parquet")
    (tiny_package / "manifest.csv").unlink()
    package = load_package(tiny_package, verify=True)
    assert package.manifest["tone"].iloc[-1] == UNKNOWN
    assert package.manifest_path.name == "manifest.parquet"


def test_missing_image_file_is_named(tiny_package: Path, capsys) -> None:
    (tiny_package / "images" / "img-002.png").unlink()
    check_fails(tiny_package, capsys, "img-002.png", "missing file", "row 3")


def test_unreadable_image_is_named(tiny_package: Path, capsys) -> None:
    (tiny_package / "images" / "img-001.png").write_bytes(b"this is not a png")
    check_fails(tiny_package, capsys, "img-001.png", "unreadable", "row 2")


def test_truncated_image_is_named(tiny_package: Path, capsys) -> None:
    path = tiny_package / "images" / "img-004.png"
    path.write_bytes(path.read_bytes()[:200])
    check_fails(tiny_package, capsys, "img-004.png", "truncated", "row 5")


def test_image_mask_size_mismatch_is_named(tiny_package: Path, capsys) -> None:
    Image.fromarray(np.zeros((16, 32), dtype=np.uint8)).save(tiny_package / "masks" / "img-000.png")
    check_fails(tiny_package, capsys, "img-000.png", "32x32", "32x16", "row 1")


def test_mask_values_outside_declared_classes_are_named(tiny_package: Path, capsys) -> None:
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[0, 0], mask[0, 1], mask[0, 2] = 7, 255, 1  # 255 is ignore_index: allowed
    Image.fromarray(mask).save(tiny_package / "masks" / "img-003.png")
    message = check_fails(tiny_package, capsys, "img-003.png", "[7]", "row 4")
    assert "255]" not in message


def test_attribute_value_not_declared_is_named(tiny_package: Path, capsys) -> None:
    edit_manifest(tiny_package, 1, "tone", "purple")
    check_fails(tiny_package, capsys, "manifest.csv", "row 2", "field 'tone'", "purple")


def test_continuous_attribute_out_of_range_is_named(tiny_package: Path, capsys) -> None:
    edit_manifest(tiny_package, 0, "height_cm", "900")
    check_fails(tiny_package, capsys, "row 1", "field 'height_cm'", "outside the declared range")


def test_duplicate_ids_are_named(tiny_package: Path, capsys) -> None:
    edit_manifest(tiny_package, 4, "id", "img-000")
    check_fails(tiny_package, capsys, "row 5", "duplicate id 'img-000'", "first at row 1")


def test_path_escaping_the_package_is_refused(tiny_package: Path, capsys) -> None:
    shutil.copy(tiny_package / "images" / "img-000.png", tiny_package.parent / "outside.png")
    edit_manifest(tiny_package, 0, "image", "../outside.png")
    check_fails(tiny_package, capsys, "row 1", "field 'image'", "escapes the dataset folder")


def test_absolute_path_is_refused(tiny_package: Path, capsys) -> None:
    edit_manifest(tiny_package, 2, "mask", str((tiny_package / "masks" / "img-002.png").resolve()))
    check_fails(tiny_package, capsys, "row 3", "field 'mask'", "escapes")


def test_several_problems_are_reported_together(tiny_package: Path, capsys) -> None:
    edit_manifest(tiny_package, 0, "tone", "purple")
    edit_manifest(tiny_package, 1, "split", "holdout")
    check_fails(tiny_package, capsys, "2 problems", "row 1", "row 2", "holdout")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda text: text + "\n  - : [unbalanced\n", "not valid YAML"),
        (lambda text: text.replace("name: tiny\n", ""), "field 'name'"),
        (lambda text: text.replace("kind: ordinal", "kind: ordered"), "attributes.tone.kind"),
        (lambda text: text.replace("unit: cm", "unit: ''"), "attributes.height_cm.unit"),
        (lambda text: text.replace("source: annotated", "source: guessed"), "attributes.tone.source"),
        (lambda text: text.replace("  1: person", "  3: person"), "field 'classes'"),
        (lambda text: text + "colour: blue\n", "unknown keys ['colour']"),
    ],
)
def test_malformed_dataset_yaml_is_named(tiny_package: Path, capsys, edit, fragment: str) -> None:
    spec_path = tiny_package / "dataset.yaml"
    spec_path.write_text(edit(spec_path.read_text()))
    check_fails(tiny_package, capsys, "dataset.yaml", fragment)


def test_missing_manifest_and_missing_columns_are_named(tiny_package: Path, capsys) -> None:
    frame = pd.read_csv(tiny_package / "manifest.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=["height_cm"]).to_csv(tiny_package / "manifest.csv", index=False)
    check_fails(tiny_package, capsys, "manifest.csv", "missing columns ['height_cm']")
    (tiny_package / "manifest.csv").unlink()
    check_fails(tiny_package, capsys, "needs manifest.csv or manifest.parquet")


def test_not_a_package_folder_is_exit_code_2(tmp_path: Path, capsys) -> None:
    check_fails(tmp_path / "nowhere", capsys, "not a folder")
    check_fails(tmp_path, capsys, "dataset.yaml", "missing")


def test_writer_leaves_nothing_behind_when_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    with pytest.raises(RuntimeError), PackageWriter(out, TINY_SPEC) as writer:
        writer.add("a", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), "train", {})
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_to_clobber_without_overwrite_and_replaces_with_it(tmp_path: Path) -> None:
    out = write_tiny_package(tmp_path / "pkg", n=3)
    with pytest.raises(InputError, match="already exists"):
        PackageWriter(out, TINY_SPEC)
    write_tiny_package_overwrite = PackageWriter(out, TINY_SPEC, overwrite=True)
    write_tiny_package_overwrite.add("only", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8),
                                     "test", {"tone": "dark"})
    write_tiny_package_overwrite.close()
    assert load_package(out, verify=True).manifest["id"].tolist() == ["only"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_spec_round_trips_through_yaml(tiny_package: Path) -> None:
    loaded = load_package(tiny_package).spec
    assert loaded == TINY_SPEC
    assert yaml.safe_load(loaded.to_yaml())["attributes"]["tone"]["values"] == ["light", "medium", "dark"]


def test_staged_folder_publishes_with_the_usual_permissions_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    import os

    from segaudit.core.atomic import staged_folder, write_atomic

    umask = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "out") as staging:
            write_atomic(staging / "a.json", "{}")
        assert (tmp_path / "out" / "a.json").read_text() == "{}"
        assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755  # not mkdtemp's private 0700
        assert (tmp_path / "out" / "a.json").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        with pytest.raises(RuntimeError), staged_folder(tmp_path / "out") as staging:
            (staging / "half").write_text("x")
            raise RuntimeError("interrupted")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.json"]
    finally:
        os.umask(umask)


def test_an_optional_subject_column_is_kept_and_carried_into_the_per_image_table(tiny_package: Path,
                                                                                  tmp_path: Path, capsys) -> None:
    from segaudit.audit.metrics import table_from_predictions

    manifest = tiny_package / "manifest.csv"
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    frame["subject_id"] = ["p1", "p1", "p2", "p2", "p3", "p3"]
    frame.to_csv(manifest, index=False)
    package = load_package(tiny_package)
    assert package.manifest["subject_id"].tolist() == ["p1", "p1", "p2", "p2", "p3", "p3"]
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for record in package.manifest.to_dict("records"):
        shutil.copy(tiny_package / record["mask"], predictions / f"{record['id']}.png")
    table = table_from_predictions(package, predictions, split="all")
    assert table["subject_id"].tolist() == ["p1", "p1", "p2", "p2", "p3", "p3"]
    frame.loc[3, "subject_id"] = ""
    frame.to_csv(manifest, index=False)
    assert main(["data", "check", str(tiny_package)]) == 2
    assert "row 4: field 'subject_id': subject '' must be non-empty" in capsys.readouterr().err


def test_overwrite_replaces_a_package_but_never_a_folder_of_other_files(tmp_path: Path, capsys) -> None:
    mine = tmp_path / "my-documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    code = main(["data", "synth", "--out", str(mine), "--n", "6", "--size", "64", "--overwrite"])
    assert code == 2 and "never deletes other files" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "years of work" and len(list(mine.iterdir())) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    package = tmp_path / "people"
    assert main(["data", "synth", "--out", str(package), "--n", "6", "--size", "64"]) == 0
    assert (package / ".segaudit-package").is_file()
    assert main(["data", "synth", "--out", str(package), "--n", "9", "--size", "64", "--overwrite"]) == 0
    assert len(load_package(package).manifest) == 9


def test_a_single_file_output_never_replaces_a_folder_or_a_device(tmp_path: Path) -> None:
    from segaudit.core.atomic import write_atomic

    (tmp_path / "sheet.png").mkdir()
    with pytest.raises(InputError, match="not a regular file") as info:
        write_atomic(tmp_path / "sheet.png", b"png")
    assert info.value.path == tmp_path / "sheet.png" and (tmp_path / "sheet.png").is_dir()
    with pytest.raises(InputError, match="not a regular file"):
        write_atomic("/dev/null", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]  # no temporary file left behind


def test_preview_into_a_folder_path_is_exit_2(tiny_package: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "sheet.png").mkdir()
    assert main(["data", "preview", str(tiny_package), "--out", str(tmp_path / "sheet.png")]) == 2
    assert "not a regular file" in capsys.readouterr().err
