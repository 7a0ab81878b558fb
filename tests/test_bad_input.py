"""The bad-input walk: each class of bad input the house issue lists, through the commands a user runs. Every case
must end with exit 2, the place named (file, row or field), no traceback, and nothing previously written lost or
replaced. Bad images (truncated, 16-bit, mismatched masks) are walked through every reading command in
test_bad_images.py; README "Bad input" states the counts of both files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from segaudit.app.cli.main import main
from segaudit.models.checkpoint import save_checkpoint
from segaudit.models.registry import build
from tests.conftest import write_tiny_package
from tests.test_fairness_cli import write_table
from tests.test_gate import POLICY, make_audit

SENTINEL = b"written by an earlier run\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good inputs, each case copies and breaks one: a package, a checkpoint, a table, an audit and a policy."""
    root = tmp_path_factory.mktemp("bad-input")
    package = write_tiny_package(root / "data", n=9, size=32)
    checkpoint = save_checkpoint(root / "ckpt", build("sinet", num_classes=2), model_name="sinet", num_classes=2,
                                 classes={0: "background", 1: "person"}, image_size=32)
    (root / "audit").mkdir()
    make_audit(root / "audit", dark_shortfall=0.0)
    policy = root / "gate.toml"
    policy.write_text(POLICY)
    return {"root": root, "data": package, "ckpt": checkpoint, "table": write_table(root / "t.csv"),
            "audit": root / "audit", "policy": policy}


class Case:
    """One bad input: `make(world, tmp)` breaks a copy and returns the command line; `named` must appear in the
    error message."""

    def __init__(self, kind: str, name: str, make: Callable[[dict[str, Path], Path], list[str]], named: str):
        self.kind, self.name, self.make, self.named = kind, name, make, named

    def __repr__(self) -> str:
        return f"{self.kind}: {self.name}"


def copy(world: dict[str, Path], key: str, tmp: Path) -> Path:
    source = world[key]
    target = tmp / source.name
    (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return target


def edit_text(path: Path, change: Callable[[str], str]) -> Path:
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def package_with(change: Callable[[Path], object]) -> Callable[[dict[str, Path], Path], list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        data = copy(world, "data", tmp)
        change(data)
        return ["data", "preview", str(data), "--out", str(tmp / "out" / "sheet.png")]
    return make


def manifest_with(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], object]:
    def apply(data: Path) -> None:
        manifest = pd.read_csv(data / "manifest.csv", keep_default_na=False, dtype=str)
        change(manifest).to_csv(data / "manifest.csv", index=False)
    return apply


def spec_with(change: Callable[[str], str]) -> Callable[[Path], object]:
    return lambda data: edit_text(data / "dataset.yaml", change)


def table_with(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[dict[str, Path], Path], list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        table = change(pd.read_csv(world["table"]))
        table.to_csv(tmp / "t.csv", index=False)
        return ["fairness", "--table", str(tmp / "t.csv"), "--bootstrap", "200", "--no-plots",
                "--out", str(tmp / "out" / "fairness")]
    return make


def checkpoint_with(change: Callable[[Path], object]) -> Callable[[dict[str, Path], Path], list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        checkpoint = copy(world, "ckpt", tmp)
        change(checkpoint)
        return ["fairness", "--model", str(checkpoint), "--data", str(world["data"]), "--split", "all",
                "--no-plots", "--out", str(tmp / "out" / "fairness")]
    return make


def program_with(sidecar: dict | None, program: bytes = b"not a program") -> Callable[..., list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        import hashlib

        pte = tmp / "model.pte"
        pte.write_bytes(program)
        if sidecar is not None:
            good = {"format": "executorch-pte", "model": "sinet", "num_classes": 2,
                    "classes": {"0": "background", "1": "person"}, "image_size": 32, "batch_size": 1,
                    "pte_sha256": hashlib.sha256(program).hexdigest(), "pte_bytes": len(program)}
            (tmp / "model.json").write_text(json.dumps({**good, **sidecar}))
        return ["fairness", "--model", str(pte), "--data", str(world["data"]), "--no-plots",
                "--out", str(tmp / "out" / "fairness")]
    return make


def gate_with(audit: Callable[[dict], object] | None = None, policy: str | None = None) -> Callable[..., list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        folder = copy(world, "audit", tmp.parent / f"{tmp.name}-audit") if audit else world["audit"]
        if audit:
            data = json.loads((folder / "audit.json").read_text())
            changed = audit(data)
            (folder / "audit.json").write_text(changed if isinstance(changed, str) else json.dumps(data))
        path = tmp / "gate.toml"
        path.write_text(POLICY if policy is None else policy)
        return ["gate", "--audit", str(folder / "audit.json"), "--policy", str(path),
                "--junit", str(tmp / "out" / "junit.xml")]
    return make


def facts_with(text: str) -> Callable[..., list[str]]:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        (tmp / "facts.yaml").write_text(text)
        return ["card", "render", "--audit", str(world["audit"]), "--facts", str(tmp / "facts.yaml"),
                "--out", str(tmp / "out")]
    return make


def out_at(target: Callable[[Path], Path], named: str) -> Case:
    def make(world: dict[str, Path], tmp: Path) -> list[str]:
        return ["fairness", "--table", str(world["table"]), "--bootstrap", "200", "--no-plots",
                "--out", str(target(tmp))]
    return Case("output paths", named, make, named)


def alias_bomb(levels: int = 30) -> str:
    """YAML whose each anchor doubles the one before: 2**30 list items once expanded ("billion laughs")."""
    lines = ["b0: &b0 [x, x]"] + [f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _file_named(tmp: Path, name: str) -> Path:
    (tmp / "out").mkdir(exist_ok=True)
    (tmp / "out" / name).write_bytes(SENTINEL)
    return tmp / "out" / name


def _user_folder(tmp: Path) -> Path:
    folder = tmp / "out" / "mine"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_bytes(SENTINEL)
    return folder


CASES = [
    # dataset packages (read by preview here; every reading command goes through load_package)
    Case("packages", "no dataset.yaml", package_with(lambda d: (d / "dataset.yaml").unlink()), "dataset.yaml"),
    Case("packages", "dataset.yaml not YAML", package_with(spec_with(lambda t: t + "\n: : [\n")), "dataset.yaml"),
    Case("packages", "unknown key in dataset.yaml", package_with(spec_with(lambda t: t + "colour: red\n")),
         "colour"),
    Case("packages", "manifest without split", package_with(manifest_with(lambda m: m.drop(columns="split"))),
         "manifest.csv"),
    Case("packages", "unknown split", package_with(manifest_with(lambda m: m.assign(split="holdout"))),
         "manifest.csv"),
    Case("packages", "undeclared attribute value",
         package_with(manifest_with(lambda m: m.assign(tone="purple"))), "tone"),
    Case("packages", "duplicate id", package_with(manifest_with(lambda m: m.assign(id="same"))), "id"),
    Case("packages", "image path outside the package",
         package_with(manifest_with(lambda m: m.assign(image="../../etc/passwd"))), "manifest.csv"),
    # YAML, JSON and TOML from users, read with limits
    Case("yaml/json/toml", "alias bomb in dataset.yaml", package_with(spec_with(lambda t: t + alias_bomb())),
         "dataset.yaml"),
    Case("yaml/json/toml", "nesting 10,000 deep in dataset.yaml",
         package_with(spec_with(lambda t: t + "deep: " + "[" * 10_000 + "]" * 10_000 + "\n")), "dataset.yaml"),
    Case("yaml/json/toml", "duplicate key in dataset.yaml",
         package_with(spec_with(lambda t: t + "license: MIT\n")), "license"),
    Case("yaml/json/toml", "17 MB dataset.yaml", package_with(spec_with(lambda t: t + "#" * (17 * 2**20) + "\n")),
         "dataset.yaml"),
    Case("yaml/json/toml", "dataset.yaml not UTF-8",
         package_with(lambda d: (d / "dataset.yaml").write_bytes(b"name: \xff\xfe\n")), "dataset.yaml"),
    Case("yaml/json/toml", "facts duplicate key", facts_with("version: 1.0.0\nversion: 2.0.0\n"), "facts.yaml"),
    Case("yaml/json/toml", "facts not a mapping", facts_with("- a\n- b\n"), "facts.yaml"),
    Case("yaml/json/toml", "policy not TOML", gate_with(policy="[fairness\nmargin = 0.02\n"), "gate.toml"),
    Case("yaml/json/toml", "policy duplicate key", gate_with(policy="[fairness]\nmargin = 0.02\nmargin = 0.03\n"),
         "gate.toml"),
    Case("yaml/json/toml", "audit.json with NaN", gate_with(audit=lambda a: json.dumps(a).replace(
        '"miou": 0.9,', '"miou": NaN,')), "audit.json"),
    Case("yaml/json/toml", "audit.json nested 10,000 deep",
         gate_with(audit=lambda a: "[" * 10_000 + "]" * 10_000), "audit.json"),
    # models and sidecars
    Case("models", "no such model", lambda w, t: ["eval", "--run", str(t / "nothing"), "--data", str(w["data"])],
         "nothing"),
    Case("models", "model.json not JSON", checkpoint_with(lambda c: (c / "model.json").write_text("{")),
         "model.json"),
    Case("models", "truncated weights", checkpoint_with(
        lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:100])),
         "model.safetensors"),
    Case("models", "unknown architecture", checkpoint_with(
        lambda c: edit_text(c / "model.json", lambda t: t.replace('"sinet"', '"sinet9"'))), "sinet9"),
    Case("models", "weights of another model", checkpoint_with(
        lambda c: edit_text(c / "model.json", lambda t: t.replace('"sinet"', '"regseg"'))), "model.safetensors"),
    Case("models", "program without sidecar", program_with(None), "model.json"),
    Case("models", "sidecar of another program", program_with({"pte_sha256": "0" * 64}, b"\0\0\0\0ET12" + bytes(64)),
         "sha256 recorded in model.json"),
    Case("models", "sidecar with image size 0", program_with({"image_size": 0}), "image_size"),
    Case("models", "program that is not one", program_with({}), "model.pte"),
    # per-image tables
    Case("tables", "no id column", table_with(lambda t: t.drop(columns="id")), "id"),
    Case("tables", "metric as text", table_with(lambda t: t.assign(iou="good")), "iou"),
    Case("tables", "metric in percent", table_with(lambda t: t.assign(iou=t["iou"] * 100)), "iou"),
    Case("tables", "duplicate ids", table_with(lambda t: t.assign(id="same")), "id"),
    Case("tables", "no rows", table_with(lambda t: t.iloc[:0]), "no rows"),
    Case("tables", "not a table", lambda w, t: ["fairness", "--table", str(_file_named(t, "t.parquet")),
                                                "--out", str(t / "out" / "fairness")], "t.parquet"),
    # policies and audit.json
    Case("policies/audit.json", "unknown policy key", gate_with(policy="[fairness]\nmargni = 0.02\n"), "margni"),
    Case("policies/audit.json", "override for an attribute the audit lacks",
         gate_with(policy="[fairness.attribute.skin]\nmargin = 0.5\n"), "skin"),
    Case("policies/audit.json", "margin in percent", gate_with(policy="[fairness]\nmargin = 5\n"), "margin"),
    Case("policies/audit.json", "mIoU a boolean", gate_with(audit=lambda a: a["performance"].update(miou=True)),
         "miou"),
    Case("policies/audit.json", "mIoU in percent", gate_with(audit=lambda a: a["performance"].update(miou=91.4)),
         "miou"),
    Case("policies/audit.json", "unknown schema version", gate_with(audit=lambda a: a.update(schema_version=99)),
         "schema_version"),
    Case("policies/audit.json", "audit.json a list", gate_with(audit=lambda a: "[1, 2]"), "audit.json"),
    # output paths
    out_at(lambda t: _file_named(t, "fairness"), "fairness"),
    out_at(lambda t: _file_named(t, "a-file") / "fairness", "a-file"),
    out_at(lambda t: Path("/dev/null"), "/dev/null"),
    out_at(_user_folder, "mine"),
    out_at(lambda t: t / ("x" * 300) / "fairness", "x" * 20),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input_is_exit_2_naming_the_place_with_nothing_lost(world: dict[str, Path], tmp_path: Path, capsys,
                                                                 case: Case) -> None:
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = case.make(world, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == SENTINEL}
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert case.named in err, err
    assert "Traceback" not in err and "internal error" not in err
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} was changed"
    leftovers = [p for p in tmp_path.rglob(".*") if "tmp" in p.name or "staging" in p.name]
    assert leftovers == []
    if argv[0] == "gate":  # the gate writes its JUnit also when it stops on bad input, for the CI page
        assert (tmp_path / "out" / "junit.xml").is_file()


def test_the_walk_covers_every_class_the_issue_lists() -> None:
    kinds = {case.kind for case in CASES}
    assert kinds == {"packages", "yaml/json/toml", "models", "tables", "policies/audit.json", "output paths"}
    assert len({repr(case) for case in CASES}) == len(CASES)
