"""Training runs end to end: run folder, resume, checkpoints that round-trip and refuse corruption, DP-SGD."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from segaudit.app.cli.main import main
from segaudit.models.checkpoint import load_checkpoint, save_checkpoint
from segaudit.models.registry import MODELS, build
from segaudit.models.train import TrainConfig, compute_loss, train
from tests.conftest import write_tiny_package

TINY = {"size": 64, "batch_size": 2, "steps_per_epoch": 2, "lr": 1e-3}


@pytest.fixture(scope="module")
def package64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_package(tmp_path_factory.mktemp("data") / "tiny64", n=9, size=64)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_bundled_model_takes_a_training_step_and_predicts(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, num_classes=2)
    images, masks = torch.randn(2, 3, 64, 64), torch.randint(0, 2, (2, 64, 64))
    masks[0, :4] = 255
    model.train()
    loss, logits = compute_loss(model, images, masks, torch.nn.CrossEntropyLoss(ignore_index=255))
    assert torch.isfinite(loss) and logits.shape == (2, 2, 64, 64)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    with torch.no_grad():
        assert model.eval()(images[:1]).shape == (1, 2, 64, 64)


def test_run_folder_holds_config_history_checkpoints_and_curve(package64: Path, tmp_path: Path) -> None:
    config = TrainConfig(model="sinet", epochs=2, **TINY)
    result = train(package64, tmp_path / "run", config)
    run = tmp_path / "run"
    for name in ("config.json", "history.csv", "learning_curve.png", "result.json", "best/model.safetensors",
                 "best/model.json", "last/state.safetensors"):
        assert (run / name).exists(), name
    with open(run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert result.epochs_run == 2 and result.best_val_miou == max(float(r["val_miou"]) for r in rows)
    assert json.loads((run / "config.json").read_text())["model"] == "sinet"


def test_resume_continues_from_the_last_epoch(package64: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(package64, run, TrainConfig(model="sinet", epochs=1, **TINY))
    result = train(package64, run, TrainConfig(model="sinet", epochs=2, **TINY), resume=True)
    with open(run / "history.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [0, 1]
    assert result.epochs_run == 2


def test_checkpoints_are_written_at_save_points_and_best_is_still_the_best_epoch(package64: Path, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    import segaudit.models.train as training

    written: list[str] = []
    real = training.save_checkpoint

    def counted(directory, *args, **kwargs):  # noqa: ANN001, ANN202
        written.append(Path(directory).name)
        return real(directory, *args, **kwargs)

    monkeypatch.setattr(training, "save_checkpoint", counted)
    monkeypatch.setattr(training, "SAVE_EVERY_SECONDS", 1e9)  # no save point but the last epoch
    result = train(package64, tmp_path / "run", TrainConfig(model="sinet", epochs=4, **{**TINY, "lr": 0.05}))
    assert written == ["best", "last"]
    best = json.loads((tmp_path / "run" / "best" / "model.json").read_text())["metadata"]
    last = json.loads((tmp_path / "run" / "last" / "model.json").read_text())["metadata"]
    with open(tmp_path / "run" / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert last["epoch"] == 3 and len(rows) == 4
    assert best["epoch"] == result.best_epoch == max(range(4), key=lambda e: (float(rows[e]["val_miou"]), -e))
    assert best["val_miou"] == pytest.approx(float(rows[result.best_epoch]["val_miou"]))
    if result.best_epoch != 3:  # the weights written are the best epoch's, kept in memory, not the last's
        from safetensors.torch import load_file

        best_weights = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
        last_weights = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
        assert any(not torch.equal(best_weights[k], last_weights[k]) for k in best_weights)


def test_refuses_to_overwrite_a_run_without_resume(package64: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "something").write_text("x")
    code = main(["train", "--data", str(package64), "--model", "sinet", "--out", str(tmp_path / "run")])
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build("sinet", num_classes=2).eval()
    save_checkpoint(tmp_path / "ckpt", model, model_name="sinet", num_classes=2,
                    classes={0: "background", 1: "person"}, image_size=64)
    loaded, config = load_checkpoint(tmp_path / "ckpt")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert config["model"] == "sinet" and config["classes"] == {"0": "background", "1": "person"}


def test_corrupt_truncated_and_mismatched_checkpoints_are_exit_code_2(package64: Path, tmp_path: Path,
                                                                      capsys) -> None:
    model = build("sinet", num_classes=2)
    ckpt = save_checkpoint(tmp_path / "ckpt", model, model_name="sinet", num_classes=2,
                           classes={0: "background", 1: "person"}, image_size=64)
    weights = ckpt / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[: len(original) // 2])
    assert main(["eval", "--run", str(ckpt), "--data", str(package64)]) == 2
    assert "sha256" in capsys.readouterr().err

    config = json.loads((ckpt / "model.json").read_text())
    weights.write_bytes(b"garbage" * 10)
    config["weights_sha256"] = __import__("hashlib").sha256(weights.read_bytes()).hexdigest()
    (ckpt / "model.json").write_text(json.dumps(config))
    assert main(["eval", "--run", str(ckpt), "--data", str(package64)]) == 2
    assert "safetensors" in capsys.readouterr().err

    other = save_checkpoint(tmp_path / "other", build("unet_mobilenetv3", num_classes=2), model_name="sinet",
                            num_classes=2, classes={0: "background", 1: "person"}, image_size=64)
    assert main(["eval", "--run", str(other), "--data", str(package64)]) == 2
    assert "do not fit model 'sinet'" in capsys.readouterr().err

    (ckpt / "model.json").write_text("{not json")
    assert main(["eval", "--run", str(ckpt), "--data", str(package64)]) == 2
    assert "model.json" in capsys.readouterr().err


def test_unknown_model_name_is_exit_code_2_listing_the_models(package64: Path, tmp_path: Path, capsys) -> None:
    assert main(["train", "--data", str(package64), "--model", "resnet9000", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "resnet9000" in err and "alisnet" in err and "sinet" in err


def test_models_command_lists_every_model_with_parameters(capsys) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(MODELS)
    sinet = next(r for r in rows if r["name"] == "sinet")
    assert sinet["parameters"] == sum(p.numel() for p in build("sinet").parameters())


def test_dp_sgd_run_records_the_epsilon_spent(package64: Path, tmp_path: Path) -> None:
    config = TrainConfig(model="sinet", epochs=1, dp_epsilon=8.0, max_grad_norm=1.0, **TINY)
    result = train(package64, tmp_path / "dp", config)
    assert result.dp_epsilon_spent is not None and 0 < result.dp_epsilon_spent <= 8.0 + 1e-6
    metadata = json.loads((tmp_path / "dp" / "last" / "model.json").read_text())["metadata"]
    assert metadata["dp"]["epsilon_spent"] == pytest.approx(result.dp_epsilon_spent)
    model, _ = load_checkpoint(tmp_path / "dp" / "last")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    # The cached accounting is Opacus' own: its RDP accountant on the recorded history gives the same epsilon
    from opacus.accountants import RDPAccountant

    from segaudit.models.checkpoint import load_training_state

    accountant = RDPAccountant()
    accountant.load_state_dict(load_training_state(tmp_path / "dp" / "last")["accountant"])
    assert accountant.history and accountant.get_epsilon(1e-5) == result.dp_epsilon_spent


def test_the_remembered_noise_multiplier_is_opacus_search_and_epsilon_is_opacus_accountant() -> None:
    from opacus.accountants import RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    from segaudit.models.dp import epsilon_spent, noise_multiplier

    sigma = noise_multiplier(4.0, 1e-5, 0.25, 3)
    assert sigma == get_noise_multiplier(target_epsilon=4.0, target_delta=1e-5, sample_rate=0.25, epochs=3)
    assert noise_multiplier(4.0, 1e-5, 0.25, 3) == sigma and noise_multiplier.cache_info().hits >= 1
    accountant = RDPAccountant()
    accountant.history = [(sigma, 0.25, 12), (2.0, 0.5, 3)]
    assert epsilon_spent(accountant.history, 1e-5) == accountant.get_epsilon(1e-5)
    assert epsilon_spent(accountant.history[:1], 1e-5) <= 4.0  # the budget the search aimed for
    assert epsilon_spent([], 1e-5) == 0.0


def test_time_budget_stops_before_an_epoch_that_would_overrun() -> None:
    from segaudit.models.train import _out_of_time

    assert not _out_of_time(None, 10_000.0, [60.0])
    assert not _out_of_time(15.0, 0.0, [])  # the first epoch always runs
    assert not _out_of_time(15.0, 780.0, [60.0, 60.0])  # 13 min + 1 min fits in 15
    assert _out_of_time(15.0, 850.0, [60.0, 60.0])  # 14.2 min + 1 min does not


def test_a_device_that_is_not_there_is_bad_input_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    from segaudit.core.errors import InputError
    from segaudit.models.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1"):
        with pytest.raises(InputError, match="CUDA is not available") as error:
            resolve_device(name)
        assert error.value.field == "device"
    for name in ("gpu", "cuda:x", "", 3):
        with pytest.raises(InputError, match="'cpu', 'cuda' or 'cuda:N'"):
            TrainConfig(device=name).validate()
    assert resolve_device("cpu") == torch.device("cpu")


def test_the_shadow_cache_key_does_not_depend_on_the_device(tmp_path: Path) -> None:
    import numpy as np

    from segaudit.audit.privacy.shadows import make_jobs, shadow_recipe

    rows = [{"id": f"x{i}", "image": f"images/x{i}.png", "mask": f"masks/x{i}.png"} for i in range(4)]
    for row in rows:
        for column in ("image", "mask"):
            (tmp_path / row[column]).parent.mkdir(exist_ok=True)
            (tmp_path / row[column]).write_bytes(row["id"].encode() + column.encode())
    inclusion = np.array([[True, True, False, False], [False, False, True, True]])
    keys = {device: [j.key for j in make_jobs(tmp_path, rows, [], inclusion,
                                              shadow_recipe(TrainConfig(), {}, None, None, device), {}, 0,
                                              tmp_path / "cache")] for device in ("cpu", "cuda")}
    assert keys["cpu"] == keys["cuda"]
    jobs = make_jobs(tmp_path, rows, [], inclusion, shadow_recipe(TrainConfig(), {}, None, None, "cuda:0"), {}, 0,
                     tmp_path / "cache")
    assert jobs[0].recipe["device"] == "cuda:0"  # the worker trains and queries there
