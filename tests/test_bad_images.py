"""Bad image files are caught where they are read, by every command that reads them (not only `data check`):
exit 2, the file and the manifest row named, no traceback, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.models.checkpoint import save_checkpoint
from segaudit.models.registry import build
from tests.conftest import write_tiny_package


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])


def sixteen_bit(path: Path) -> None:
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).save(path)


def smaller(path: Path) -> None:
    with Image.open(path) as mask:
        mask.resize((32, 32), Image.NEAREST).save(path)


def undeclared_class(path: Path) -> None:
    with Image.open(path) as mask:
        values = np.array(mask)
    values[:3, :3] = 7
    Image.fromarray(values).save(path)


BREAKS = {"truncated image": ("image", truncate, "unreadable or truncated"),
          "16-bit image": ("image", sixteen_bit, "must be an 8-bit image"),
          "mask of another size": ("mask", smaller, "but mask is 32x32"),
          "mask value outside the classes": ("mask", undeclared_class, "mask values [7]"),
          "missing mask": ("mask", lambda p: p.unlink(), "missing file")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bad-images")
    package = write_tiny_package(root / "data", n=9, size=64)
    checkpoint = save_checkpoint(root / "ckpt", build("sinet", num_classes=2), model_name="sinet", num_classes=2,
                                 classes={0: "background", 1: "person"}, image_size=64)
    return package, checkpoint


def commands(data: Path, checkpoint: Path, out: Path) -> dict[str, list[str]]:
    predictions = out / "pred"
    return {"preview": ["data", "preview", str(data), "--out", str(out / "sheet.png")],
            "eval": ["eval", "--run", str(checkpoint), "--data", str(data), "--split", "train"],
            "fairness --model": ["fairness", "--model", str(checkpoint), "--data", str(data), "--split", "all",
                                 "--out", str(out / "fairness"), "--no-plots"],
            "fairness --predictions": ["fairness", "--data", str(data), "--predictions", str(predictions),
                                       "--split", "all", "--out", str(out / "fairness"), "--no-plots"],
            "train": ["train", "--data", str(data), "--model", "sinet", "--out", str(out / "run"), "--epochs", "1",
                      "--size", "64", "--batch-size", "2"]}


# scoring predicted masks (fairness --predictions) reads the truth masks, not the photos
CASES = [(command, kind) for command in ("preview", "eval", "fairness --model", "fairness --predictions", "train")
         for kind in sorted(BREAKS) if not (command == "fairness --predictions" and BREAKS[kind][0] == "image")]


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_every_reading_command_names_the_bad_file_and_row(clean: tuple[Path, Path], tmp_path: Path, capsys,
                                                          command: str, kind: str) -> None:
    package, checkpoint = clean
    data = tmp_path / "data"
    shutil.copytree(package, data)
    (tmp_path / "pred").mkdir()
    for mask in (data / "masks").iterdir():
        shutil.copy(mask, tmp_path / "pred" / mask.name)
    column, damage, message = BREAKS[kind]
    # row 1 is a training image, read by every command (train reads the train split, the others all rows)
    damage(data / f"{column}s" / "img-000.png")
    argv = commands(data, checkpoint, tmp_path)[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and f"img-000.png: row 1: field '{column}'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "fairness").exists() and not (tmp_path / "sheet.png").exists()


@pytest.mark.parametrize(("edit", "field"), [
    (lambda c: c.update(image_size=0), "image_size"),
    (lambda c: c.update(image_size=True), "image_size"),
    (lambda c: c.update(classes={"0": "background", "one": "person"}), "classes"),
    (lambda c: c.update(classes={"0": "background", "2": "person"}), "classes"),
    (lambda c: c.update(classes={"0": "background", "1": ""}), "classes.1"),
    (lambda c: c.update(num_classes=3), "classes"),
])
def test_a_checkpoint_config_with_impossible_input_or_classes_is_exit_2(clean: tuple[Path, Path], tmp_path: Path,
                                                                        capsys, edit, field: str) -> None:
    import json

    package, checkpoint = clean
    broken = tmp_path / "ckpt"
    shutil.copytree(checkpoint, broken)
    config = json.loads((broken / "model.json").read_text())
    edit(config)
    (broken / "model.json").write_text(json.dumps(config))
    assert main(["eval", "--run", str(broken), "--data", str(package)]) == 2
    err = capsys.readouterr().err
    assert f"model.json: field '{field}'" in err and "Traceback" not in err
