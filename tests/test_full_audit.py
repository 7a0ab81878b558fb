"""`segaudit audit`: one audit.json around fairness, privacy and cards; atomic, reproducible, interruptible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segaudit.app.cli.main import main
from segaudit.models.train import TrainConfig, train
from tests.conftest import write_tiny_package

REPO = Path(__file__).resolve().parents[1]
VOLATILE = ("started", "finished", "seconds", "command")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny package (36 images at 32 px) and a SINet run trained on its train split for one epoch."""
    root = tmp_path_factory.mktemp("audit")
    data = write_tiny_package(root / "data", n=36, size=32)
    run = root / "run"
    train(data, run, TrainConfig(model="sinet", size=32, epochs=1, batch_size=4, seed=0))
    return data, run


def audit_args(data: Path, run: Path, out: Path, *extra: str) -> list[str]:
    return ["audit", "--model", str(run / "best"), "--data", str(data), "--out", str(out), "--bootstrap", "200",
            "--card-facts", str(REPO / "cards" / "alisnet.yaml"), "--min-group-size", "5", "--card-min-group", "5",
            "--shadow-models", "2", "--attacks", "loss,rmia,label-only", "--cache", str(out.parent / "cache"),
            "--workers", "1", *extra]


def stable(audit: dict) -> dict:
    return {**audit, "provenance": {k: v for k, v in audit["provenance"].items() if k not in VOLATILE}}


def test_audit_writes_every_block_and_output(trained: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, run = trained
    out = tmp_path / "audit"
    assert main(audit_args(data, run, out)) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert list(audit) == ["schema_version", "model", "dataset", "performance", "quantization", "fairness",
                           "privacy", "card", "outputs", "provenance"]
    assert audit["model"]["name"] == "sinet" and audit["model"]["format"] == "checkpoint"
    assert audit["model"]["params"] > 0 and len(audit["model"]["sha256"]) == 64
    assert audit["dataset"]["n"] == {"test": 12, "train": 12, "val": 12}
    manifest = pd.read_csv(data / "manifest.csv", keep_default_na=False)
    expected = manifest[manifest["split"] == "test"]["tone"].replace("", "unknown").value_counts().to_dict()
    assert audit["dataset"]["attributes"]["tone"]["counts"]["test"] == expected
    table = pd.read_csv(out / "fairness" / "table.csv")  # the dataset mIoU, recomputed from the pixel counts
    ious = [table[f"intersection_{c}"].sum() / table[f"union_{c}"].sum() for c in ("background", "person")]
    assert audit["performance"]["miou"] == pytest.approx(sum(ious) / 2, abs=1e-12)
    assert audit["performance"]["miou_ci"][0] <= audit["performance"]["miou"] <= audit["performance"]["miou_ci"][1]
    assert set(audit["fairness"]["attributes"]) == {"tone", "height_cm"}
    assert audit["privacy"]["members"] == 12 and audit["privacy"]["nonmembers"] == 12
    assert {a["name"] for a in audit["privacy"]["attacks"]} == {"loss", "rmia", "label-only"}
    assert audit["card"]["complete"] is True
    assert audit["provenance"]["packages"]["torch"] and audit["provenance"]["command"].startswith("segaudit audit")
    for relative in audit["outputs"].values():
        assert (out / relative).exists(), relative
    assert (out / "fairness" / "table.csv").is_file() and (out / "privacy" / "privacy.json").is_file()
    assert "<html" in (out / "report.html").read_text().lower()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert "fairness tone:" in capsys.readouterr().out


def test_same_inputs_and_seed_give_the_same_audit_json_apart_from_timestamps(trained: tuple[Path, Path],
                                                                             tmp_path: Path) -> None:
    data, run = trained
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(audit_args(data, run, first)) == 0
    assert main(audit_args(data, run, second)) == 0  # the second run reuses the cached shadows
    a, b = (json.loads((p / "audit.json").read_text()) for p in (first, second))
    a["provenance"]["command"] = b["provenance"]["command"] = ""
    assert stable(a) == stable(b)
    assert a["provenance"]["started"] and a["provenance"]["finished"] >= a["provenance"]["started"]


def test_an_interrupted_audit_leaves_the_previous_one_whole(trained: tuple[Path, Path], tmp_path: Path,
                                                            monkeypatch) -> None:
    data, run = trained
    out = tmp_path / "audit"
    assert main(audit_args(data, run, out, "--no-privacy")) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    import segaudit.cards.outputs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(segaudit.cards.outputs, "write_report", interrupted)
    assert main(audit_args(data, run, out, "--no-privacy", "--margin", "0.05")) == 130
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_killed_audit_leaves_nothing_and_the_next_run_starts_cleanly(trained: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    data, run = trained
    out = tmp_path / "my-audit"  # a dash in the name must not confuse the staging folder's pid
    # A run killed before it finished: its staging folder is all that is left (its process is gone).
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".my-audit.staging-{dead.stdout.strip()}-x"
    (stale / "fairness").mkdir(parents=True)
    (stale / "fairness" / "fairness.json").write_text("{")
    assert not out.exists()
    assert main(audit_args(data, run, out, "--no-privacy")) == 0
    assert (out / "audit.json").is_file() and not stale.exists()


def test_a_process_killed_mid_audit_leaves_no_output(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    out = tmp_path / "audit"
    code = ("import os, signal, segaudit.cards.outputs\n"
            "def die(*a, **k): os.kill(os.getpid(), signal.SIGKILL)\n"
            "segaudit.cards.outputs.write_report = die\n"
            "from segaudit.app.cli.main import main\n"
            f"main({audit_args(data, run, out, '--no-privacy')!r})\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == -9
    assert not out.exists()  # nothing half-written where the audit goes
    assert main(audit_args(data, run, out, "--no-privacy")) == 0
    assert (out / "audit.json").is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_incomplete_card_facts_give_a_draft_recorded_in_audit_json(trained: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    data, run = trained
    facts = tmp_path / "facts.yaml"
    text = (REPO / "cards" / "alisnet.yaml").read_text()
    assert "  type: Convolutional Neural Network\n" in text
    facts.write_text(text.replace("  type: Convolutional Neural Network\n", "  type: TODO\n", 1))
    out = tmp_path / "audit"
    args = audit_args(data, run, out, "--no-privacy")
    args[args.index("--card-facts") + 1] = str(facts)
    assert main(args) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert audit["card"] == {"complete": False, "missing": ["model.type"]}
    assert "DRAFT: model.type missing" in (out / "model_card.md").read_text()


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda out: out.mkdir() or (out / "notes.txt").write_text("mine"), "holds other files"),
    (lambda out: out.write_text("x"), "not a folder"),
])
def test_an_out_that_is_not_an_audit_is_refused_and_left_alone(trained: tuple[Path, Path], tmp_path: Path,
                                                               capsys, mutate, expected: str) -> None:
    data, run = trained
    out = tmp_path / "audit"
    mutate(out)
    assert main(audit_args(data, run, out, "--no-privacy")) == 2
    assert expected in capsys.readouterr().err
    assert out.exists()


def test_a_model_that_does_not_match_the_data_is_exit_2(trained: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    _, run = trained
    other = write_tiny_package(tmp_path / "other", n=6, size=32)
    spec = (other / "dataset.yaml").read_text()
    assert "1: person" in spec
    (other / "dataset.yaml").write_text(spec.replace("1: person", "1: person\n  2: bag"))
    assert main(audit_args(other, run, tmp_path / "audit", "--no-privacy")) == 2
    assert "classes" in capsys.readouterr().err


def test_a_run_folder_is_audited_through_its_best_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    args = audit_args(data, run, tmp_path / "audit", "--no-privacy")
    args[args.index("--model") + 1] = str(run)  # the run folder itself, as --help promises
    assert main(args) == 0
    audit = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert audit["model"]["format"] == "checkpoint" and audit["model"]["name"] == "sinet"


def test_an_audit_with_the_gates_policy_is_judged_as_computed(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    policy = tmp_path / "gate.toml"
    policy.write_text('[fairness]\nmargin = 0.03\nalpha = 0.1\ncorrection = "bh"\n')
    out = tmp_path / "audit"
    assert main(audit_args(data, run, out, "--no-privacy", "--policy", str(policy))) == 0
    fairness = json.loads((out / "audit.json").read_text())["fairness"]
    assert (fairness["margin"], fairness["alpha"], fairness["correction"]) == (0.03, 0.1, "bh")
    from segaudit.audit.gate import run_gate

    outcome = run_gate(out, policy)
    assert outcome.results and not any(r.details["recomputed"] for r in outcome.results)
    # an option on the command line overrides the policy
    assert main(audit_args(data, run, out, "--no-privacy", "--policy", str(policy), "--margin", "0.05")) == 0
    assert json.loads((out / "audit.json").read_text())["fairness"]["margin"] == 0.05
    assert all(r.details["recomputed"] and "re-analysed" in r.message for r in run_gate(out, policy).results)
