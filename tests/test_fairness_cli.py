"""`segaudit fairness` end to end: three ways in agree, outputs are complete and reproducible, bad input exits 2
with a message naming the file, row or field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.models.checkpoint import save_checkpoint
from segaudit.models.data import load_package
from segaudit.models.registry import build
from segaudit.models.runtime import Segmenter
from tests.conftest import write_tiny_package

FAST = ["--bootstrap", "200"]


def write_table(path: Path, n_per_group: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n = 3 * n_per_group
    table = pd.DataFrame({"id": [f"img{i:04d}" for i in range(n)],
                          "tone": np.repeat(["light", "medium", "dark"], n_per_group),
                          "shape": rng.choice(["slim", "broad"], n),
                          "height_cm": rng.uniform(150, 200, n),
                          "iou": rng.beta(31.5, 3.5, n)})
    table.to_csv(path, index=False)
    return path


def test_help_teaches_the_three_ways_in_and_the_verdict_rules(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fairness", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0
    for phrase in ("--predictions", "--table", "inconclusive", "never passes", "--intersections", "examples:"):
        assert phrase in text


def test_a_table_audit_writes_json_csv_table_and_plots_reproducibly(tmp_path: Path, capsys) -> None:
    table = write_table(tmp_path / "t.csv")
    args = ["fairness", "--table", str(table), "--intersections", "tone:shape", "--min-group-size", "5",
            "--bins", "height_cm=q2", *FAST, "--out", str(tmp_path / "out")]
    assert main(args) == 0
    out = tmp_path / "out"
    printed = capsys.readouterr().out
    assert "overall verdict:" in printed and "trend height_cm" in printed
    doc = json.loads((out / "fairness.json").read_text())
    assert set(doc["attributes"]) == {"tone", "shape", "height_cm"} and "tone × shape" in doc["intersections"]
    assert [g["group"] for g in doc["attributes"]["height_cm"]["groups"]][0].startswith("< ")
    assert doc["attributes"]["height_cm"]["bins"]["method"] == "2 quantile bins"
    assert len(pd.read_csv(out / "table.csv")) == 120
    assert {"scope", "attribute", "group", "n", "mean", "verdict"} <= set(pd.read_csv(out / "fairness.csv"))
    for name in ("forest_tone", "distribution_tone", "forest_height_cm", "heatmap_tone__shape"):
        with Image.open(out / "plots" / f"{name}.png") as image:
            assert image.format == "PNG" and image.size[0] > 300
    first = (out / "fairness.json").read_bytes()
    assert main([*args, "--no-plots"]) == 0  # a previous audit is replaced, with the same result
    assert (out / "fairness.json").read_bytes() == first and not (out / "plots").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary folder left


def test_three_ways_in_give_the_same_audit(tmp_path: Path) -> None:
    package_dir = write_tiny_package(tmp_path / "pkg", n=9, size=48)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ckpt", build("sinet", num_classes=2).eval(), model_name="sinet", num_classes=2,
                    classes={0: "background", 1: "person"}, image_size=64)
    common = ["--split", "all", "--no-plots", *FAST]
    assert main(["fairness", "--model", str(tmp_path / "ckpt"), "--data", str(package_dir), *common,
                 "--out", str(tmp_path / "a")]) == 0
    package = load_package(package_dir)
    images = [package.read_image(r) for r in package.manifest.to_dict("records")]
    masks = Segmenter(tmp_path / "ckpt").predict_mask(images)
    (tmp_path / "pred").mkdir()
    for sample_id, mask in zip(package.manifest["id"], masks, strict=True):
        Image.fromarray(mask).save(tmp_path / "pred" / f"{sample_id}.png")
    assert main(["fairness", "--data", str(package_dir), "--predictions", str(tmp_path / "pred"), *common,
                 "--out", str(tmp_path / "b")]) == 0
    assert main(["fairness", "--table", str(tmp_path / "a" / "table.csv"), "--data", str(package_dir), *common,
                 "--out", str(tmp_path / "c")]) == 0
    a, b, c = ((tmp_path / x / "fairness.json").read_text() for x in "abc")
    assert a == b == c
    doc = json.loads(a)
    assert doc["n_images"] == 9 and doc["overall"]["pooled"] is not None
    tone = {g["group"]: g for g in doc["attributes"]["tone"]["groups"]}
    assert tone["unknown"]["n"] == 1 and tone["unknown"]["status"] == "insufficient"


@pytest.mark.parametrize(("edit", "extra", "expected"), [
    (None, ["--attributes", "tone,age"], "field 'age'"),
    (None, ["--intersections", "tone:age"], "unknown attribute 'age'"),
    (None, ["--metric", "boundary_iou"], "no metric column 'boundary_iou'"),
    (lambda t: t.assign(iou=t["iou"].where(t.index != 6, 87.0)), [], "row 7: field 'iou': 87.0 is outside [0, 1]"),
    (lambda t: t.assign(iou=t["iou"].where(t.index != 8, np.nan)), [], "row 9: field 'iou'"),
    (lambda t: t.assign(id=t["id"].where(t.index != 5, "img0001")), [], "row 6: field 'id': duplicate id 'img0001'"),
    (lambda t: t.iloc[:0], [], "the table has no rows"),
    (lambda t: t.assign(iou="good"), [], "row 1: field 'iou': 'good' is not a number"),
])
def test_bad_tables_exit_2_naming_the_file_row_and_field(tmp_path: Path, capsys, edit, extra, expected) -> None:
    path = write_table(tmp_path / "t.csv")
    if edit is not None:
        edit(pd.read_csv(path)).to_csv(path, index=False)
    assert main(["fairness", "--table", str(path), *extra, *FAST, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [
    [],
    ["--data", "pkg"],
    ["--table", "t.csv", "--model", "m"],
    ["--data", "pkg", "--model", "m", "--predictions", "p"],
])
def test_wrong_combinations_of_inputs_exit_2(tmp_path: Path, capsys, args: list[str]) -> None:
    write_table(tmp_path / "t.csv")
    args = [str(tmp_path / a) if a in ("pkg", "t.csv", "m", "p") else a for a in args]
    assert main(["fairness", *args, "--out", str(tmp_path / "out")]) == 2
    assert "segaudit: error:" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--bins", "height_cm"], ["--bins", "height_cm=tall"], ["--intersections", "tone"]])
def test_malformed_options_are_usage_errors(tmp_path: Path, bad: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fairness", "--table", str(write_table(tmp_path / "t.csv")), *bad, "--out", str(tmp_path / "o")])
    assert info.value.code == 2


def test_an_out_folder_holding_other_files_is_refused_and_left_alone(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["fairness", "--table", str(write_table(tmp_path / "t.csv")), *FAST, "--out", str(out)]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1
