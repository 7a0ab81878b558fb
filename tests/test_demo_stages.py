"""The demo's stage cache: a finished stage with the same hash is reused; anything else is redone cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from segaudit.app.demo import QUICK, STAGE_FILE, run_stage, stage_key, with_overrides


def counting_work(calls: list[str]):
    def work(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "result.txt").write_text(str(len(calls)))
        calls.append(folder.name)
    return work


def test_a_finished_stage_is_reused_and_a_changed_one_is_redone(tmp_path: Path) -> None:
    calls: list[str] = []
    key = stage_key("train", {"epochs": 8}, upstream="data-abc")
    first = run_stage("train", tmp_path / "run", key, counting_work(calls))
    again = run_stage("train", tmp_path / "run", key, counting_work(calls))
    assert not first.reused and again.reused and calls == ["run"]
    changed = stage_key("train", {"epochs": 9}, upstream="data-abc")
    assert changed != key and stage_key("train", {"epochs": 8}, upstream="data-xyz") != key
    redone = run_stage("train", tmp_path / "run", changed, counting_work(calls))
    assert not redone.reused and calls == ["run", "run"]
    assert (tmp_path / "run" / "result.txt").read_text() == "1"


def test_an_interrupted_stage_has_no_marker_and_is_redone_from_a_clean_folder(tmp_path: Path) -> None:
    key = stage_key("data", {"images": 10})

    def interrupted(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "half-written.png").write_bytes(b"")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("data", tmp_path / "data", key, interrupted)
    assert not (tmp_path / "data" / STAGE_FILE).exists()
    calls: list[str] = []
    result = run_stage("data", tmp_path / "data", key, counting_work(calls))
    assert not result.reused and calls == ["data"]
    assert not (tmp_path / "data" / "half-written.png").exists()


def test_a_corrupt_marker_means_redo(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / STAGE_FILE).write_text("{not json")
    calls: list[str] = []
    assert not run_stage("audit", folder, "k", counting_work(calls)).reused and calls == ["audit"]


def test_overrides_change_only_what_is_given() -> None:
    config = with_overrides(QUICK, seed=3, workers=None)
    assert config.seed == 3 and config.workers == QUICK.workers and config.images == QUICK.images


def test_the_demo_finds_the_repositorys_gate_policy_and_card_facts() -> None:
    from segaudit.app import demo

    assert demo.POLICY.is_file() and demo.POLICY.name == "gate.toml"
    assert demo.FACTS.is_file() and demo.DATASET_FACTS.is_file()
    from segaudit.audit.gate import load_policy

    assert load_policy(demo.POLICY).fairness is not None
