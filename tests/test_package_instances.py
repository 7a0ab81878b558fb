"""Bad input in the people-as-units parts of a package (dataset.yaml schema 2, instance masks, persons.csv) and in
per-person tables: every case is exit 2 with the file and the field named, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.models.data.spec import AttributeSpec, DatasetSpec
from segaudit.models.data.writer import PackageWriter

SPEC = DatasetSpec(
    name="people", version="1", description="two people per image", license="CC0-1.0", provenance="tests",
    classes={0: "background", 1: "person"}, instances=True,
    person_attributes={"tone": AttributeSpec("tone", "ordinal", True, "annotated", values=("light", "dark"))},
)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("instances") / "good"
    with PackageWriter(out, SPEC) as writer:
        for index in range(3):
            image = np.full((32, 32, 3), 128, dtype=np.uint8)
            instances = np.zeros((32, 32), dtype=np.int32)
            instances[2:30, 2:10], instances[2:30, 20:28] = 1, 2
            writer.add(f"s{index}", image, (instances > 0).astype(np.uint8), "test", {}, instances,
                       [{"instance": 1, "tone": "light"}, {"instance": 2, "tone": "dark"}])
    assert main(["data", "check", str(out)]) == 0
    return out


def edit_yaml(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        data = yaml.safe_load((root / "dataset.yaml").read_text())
        change(data)
        (root / "dataset.yaml").write_text(yaml.safe_dump(data))
    return apply


def edit_persons(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        frame = pd.read_csv(root / "persons.csv", dtype=str, keep_default_na=False)
        change(frame).to_csv(root / "persons.csv", index=False)
    return apply


def replace_instances(array: np.ndarray) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        Image.fromarray(array).save(root / "instances" / "s1.png")
    return apply


def _set(data: dict, key: str, value: object) -> None:
    data[key] = value


def _drop(data: dict, key: str) -> None:
    data.pop(key)


def _on_background(root: Path) -> None:
    instances = np.array(Image.open(root / "instances" / "s1.png"))
    instances[31, 31] = 2  # the class mask says background there
    Image.fromarray(instances).save(root / "instances" / "s1.png")


CASES = {
    "instances without schema 2": (edit_yaml(lambda d: _drop(d, "schema_version")), "needs schema_version: 2"),
    "a schema from the future": (edit_yaml(lambda d: _set(d, "schema_version", 3)), "schema_version"),
    "person attributes without instances": (edit_yaml(lambda d: _set(d, "instances", False)), "person_attributes"),
    "instances not a boolean": (edit_yaml(lambda d: _set(d, "instances", "maybe")), "instances"),
    "a reserved attribute name": (edit_yaml(lambda d: d["person_attributes"].update(
        instance={"kind": "categorical", "values": ["a"], "sensitive": False, "source": "annotated"})),
        "reserved"),
    "persons.csv missing": (lambda root: (root / "persons.csv").unlink(), "persons.csv"),
    "persons.csv with an unknown image": (edit_persons(lambda f: f.assign(id=f["id"].where(f.index != 2, "nope"))),
                                          "not in the manifest"),
    "persons.csv with instance 0": (edit_persons(lambda f: f.assign(instance=f["instance"].where(f.index != 1, "0"))),
                                    "instance"),
    "persons.csv with a text instance": (edit_persons(lambda f: f.assign(instance=f["instance"].where(
        f.index != 1, "two"))), "instance"),
    "persons.csv repeating a person": (edit_persons(lambda f: pd.concat([f, f.iloc[[0]]])), "repeats"),
    "persons.csv with an undeclared value": (edit_persons(lambda f: f.assign(tone=f["tone"].where(
        f.index != 0, "medium"))), "tone"),
    "persons.csv with other columns": (edit_persons(lambda f: f.rename(columns={"tone": "colour"})), "columns"),
    "an instance mask of another size": (replace_instances(np.zeros((16, 16), dtype=np.uint8)), "instance mask"),
    "an RGB instance mask": (replace_instances(np.zeros((32, 32, 3), dtype=np.uint8)), "instance ids"),
    "a person on background pixels": (_on_background, "background"),
    "a listed person missing from the mask": (replace_instances(np.zeros((32, 32), dtype=np.uint8)),
                                              "does not contain"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_people_parts_are_exit_2_naming_the_place(case: str, good: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(good, root)
    damage, expected = CASES[case]
    damage(root)
    assert main(["data", "check", str(root)]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and expected in error, error
    assert str(root) in error  # the file is named


def test_a_persons_csv_in_a_version_1_package_is_refused(tmp_path: Path, capsys) -> None:
    plain = DatasetSpec(name="p", version="1", description="d", license="CC0-1.0", provenance="t",
                        classes={0: "background", 1: "person"})
    with PackageWriter(tmp_path / "p", plain) as writer:
        writer.add("a", np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.uint8), "test", {})
    (tmp_path / "p" / "persons.csv").write_text("id,instance\na,1\n")
    assert main(["data", "check", str(tmp_path / "p")]) == 2
    assert "instances: true" in capsys.readouterr().err


@pytest.mark.parametrize(("instance", "expected"), [("1", "duplicate person"), ("x", "not a person id")])
def test_a_per_person_table_with_a_repeated_or_bad_instance_is_exit_2(instance: str, expected: str, tmp_path: Path,
                                                                      capsys) -> None:
    table = tmp_path / "people.csv"
    pd.DataFrame({"id": ["a", "a", "b"], "instance": ["1", instance, "1"], "iou": [0.9, 0.8, 0.7],
                  "tone": ["light", "dark", "dark"]}).to_csv(table, index=False)
    assert main(["fairness", "--table", str(table), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert expected in error and "people.csv" in error and "Traceback" not in error


def test_card_report_refuses_a_minimum_group_size_below_one(tmp_path: Path, capsys) -> None:
    audit = Path(__file__).resolve().parents[1] / "reports" / "alisnet"
    assert main(["card", "report", "--audit", str(audit), "--out", str(tmp_path / "r.html"), "--publish",
                 "--min-group-size", "0"]) == 2
    assert "--min-group-size" in capsys.readouterr().err and not (tmp_path / "r.html").exists()
