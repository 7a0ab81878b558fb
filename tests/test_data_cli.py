"""`segaudit data ...` end to end through the CLI: every subcommand has help, works, and fails with exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PIL import Image

from segaudit.app.cli.main import build_parser, main
from segaudit.models.data import load_package
from tests.test_importers import folder_fixture


def all_command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += all_command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", all_command_paths(build_parser()), ids=lambda p: " ".join(p) or "segaudit")
def test_every_command_has_help(path: tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    assert "usage: segaudit" in capsys.readouterr().out


def test_synth_check_preview_derive_chain(tmp_path: Path, capsys) -> None:
    out = tmp_path / "people"
    assert main(["data", "synth", "--out", str(out), "--n", "12", "--size", "64", "--seed", "3",
                 "--skew-train", "--skew-test", "--workers", "1"]) == 0
    assert main(["data", "check", str(out)]) == 0
    assert "skin_tone (ordinal)" in capsys.readouterr().out
    assert main(["data", "preview", str(out), "--out", str(tmp_path / "sheet.png"), "--n", "4"]) == 0
    assert Image.open(tmp_path / "sheet.png").size[0] > 64
    assert main(["data", "derive", str(out)]) == 0
    assert "ita_skin_tone" in load_package(out, verify=True).manifest.columns


def test_synth_refuses_bad_arguments_with_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["data", "synth", "--out", str(tmp_path / "a"), "--n", "0"]) == 2
    assert "n" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path / "b"), "--n", "4", "--size", "100"]) == 2
    assert "size" in capsys.readouterr().err
    weights = tmp_path / "w.yaml"
    weights.write_text("train: {skin_tone: {monk_01: -1}}\n")
    assert main(["data", "synth", "--out", str(tmp_path / "c"), "--n", "4", "--weights", str(weights)]) == 2
    assert "w.yaml" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path / "e"), "--n", "4", "--skew-test"]) == 2
    assert "field '--skew-test'" in capsys.readouterr().err and not (tmp_path / "e").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "synth", "--out", str(tmp_path / "d"), "--split", "0.5,0.5"])
    assert exit_info.value.code == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_import_folder_through_the_cli(tmp_path: Path) -> None:
    folder_fixture(tmp_path / "src")
    out = tmp_path / "pkg"
    assert main(["data", "import", "folder", "--images", str(tmp_path / "src" / "images"), "--masks",
                 str(tmp_path / "src" / "masks"), "--out", str(out)]) == 0
    assert len(load_package(out, verify=True).manifest) == 4


def test_import_of_a_missing_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["data", "import", "pennfudan", "--root", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "pkg")]) == 2
    assert "nope" in capsys.readouterr().err
