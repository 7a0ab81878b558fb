"""The reading kernel: YAML, JSON and TOML from users are read with limits, through every command that takes
them. Alias bombs, duplicate keys, deep nesting, huge files, symlink loops and odd paths are exit 2 naming the
file, not minutes of memory growth, a RecursionError or a silently winning second value."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from segaudit.app.cli.main import main
from segaudit.core.errors import InputError
from segaudit.core.reading import MAX_BYTES, load_json, load_toml, load_yaml, read_text

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))


@pytest.mark.parametrize(("name", "text", "loader", "message"), [
    ("bomb.yaml", BOMB, load_yaml, "anchors and aliases are not allowed"),
    ("dup.yaml", "name: a\nversion: 1\nname: b\n", load_yaml, "duplicate key 'name'"),
    ("deep.yaml", "a: " + "[" * 200 + "]" * 200 + "\n", load_yaml, "nested deeper than 64"),
    ("dup.json", '{"margin": 0.5, "margin": 0.01}', load_json, "duplicate key 'margin'"),
    ("deep.json", "[" * 5000 + "]" * 5000, load_json, "nested deeper"),
    ("dup.toml", "[fairness]\nmargin = 0.5\nmargin = 0.01\n", load_toml, "not valid TOML"),
    ("latin1.yaml", "name: caf\xe9\n".encode("latin-1"), load_yaml, "not UTF-8"),
])
def test_hostile_documents_are_input_errors_naming_the_file(tmp_path: Path, name: str, text, loader,
                                                            message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(InputError, match=message) as info:
        loader(path)
    assert info.value.path == path


def test_plain_documents_read_as_before(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("classes: {0: background, 1: person}\nlist: [1, {b: 2}]\n")
    assert load_yaml(tmp_path / "ok.yaml") == {"classes": {0: "background", 1: "person"}, "list": [1, {"b": 2}]}
    (tmp_path / "ok.json").write_text('{"a": [1, 2, {"b": null}]}')
    assert load_json(tmp_path / "ok.json") == {"a": [1, 2, {"b": None}]}


def test_huge_files_symlink_loops_directories_and_odd_paths_are_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(InputError, match="too large"):
        read_text(huge)
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    with pytest.raises(InputError) as info:
        read_text(tmp_path / "loop")
    assert info.value.path == tmp_path / "loop"
    with pytest.raises(InputError, match="not a regular file"):
        read_text(tmp_path)
    with pytest.raises(InputError, match="NUL byte"):
        read_text(str(tmp_path / "a\x00b.yaml"))
    with pytest.raises(InputError, match="longer than 255 bytes"):
        read_text(tmp_path / ("x" * 300 + ".yaml"))


def test_every_command_reading_these_files_answers_exit_2(tiny_package: Path, tmp_path: Path, capsys) -> None:
    spec = tiny_package / "dataset.yaml"
    spec.write_text(spec.read_text() + BOMB)
    assert main(["data", "check", str(tiny_package)]) == 2
    assert "anchors and aliases are not allowed" in capsys.readouterr().err
    facts = tmp_path / "facts.yaml"
    facts.write_text("model: {name: a}\nmodel: {name: b}\n")
    assert main(["card", "check", str(facts)]) == 2
    assert "duplicate key 'model'" in capsys.readouterr().err
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "audit.json").write_text(json.dumps({"schema_version": 2}).replace("{", "{" + '"model": 1, ', 1)
                                      .replace('"model": 1,', '"model": {}, "model": {},'))
    (tmp_path / "gate.toml").write_text("[performance]\nmin_miou = 0.5\n")
    assert main(["gate", "--audit", str(audit), "--policy", str(tmp_path / "gate.toml")]) == 2
    assert "duplicate key 'model'" in capsys.readouterr().err


def test_the_audit_schema_is_valid_json_schema_and_the_reference_audit_meets_it() -> None:
    from jsonschema import Draft202012Validator

    from segaudit.core.audit_file import SCHEMA_VERSION, audit_schema, load_audit, schema_errors

    Draft202012Validator.check_schema(audit_schema())
    assert audit_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    reference = load_audit(Path(__file__).resolve().parents[1] / "reports" / "alisnet")
    assert schema_errors(reference) == []


@pytest.mark.parametrize(("edit", "field"), [
    (lambda a: a["fairness"]["attributes"]["skin_tone"].update(verdict="passed"),
     "fairness.attributes.skin_tone.verdict"),
    (lambda a: a["model"].update(sha256="not-a-digest"), "model.sha256"),
    (lambda a: a["privacy"].update(risk_level="tiny"), "privacy.risk_level"),
    (lambda a: a["performance"]["miou_ci"].append(0.5), "performance.miou_ci"),
])
def test_an_audit_json_that_breaks_the_schema_is_refused_naming_the_field(tmp_path: Path, edit, field: str) -> None:
    from segaudit.core.audit_file import load_audit

    audit = json.loads((Path(__file__).resolve().parents[1] / "reports" / "alisnet" / "audit.json").read_text())
    edit(audit)
    (tmp_path / "audit.json").write_text(json.dumps(audit))
    with pytest.raises(InputError, match="does not match the audit.json schema") as info:
        load_audit(tmp_path)
    assert info.value.field == field
