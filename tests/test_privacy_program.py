"""The privacy CLI against an int8 ExecuTorch program: the target as it ships.

A small convolutional net stands in for the bundled models here: lowering SINet to XNNPACK alone takes about two
minutes on this machine, and what is checked is the path (the program as target, its float run's recipe found
for the shadows, every attack, the float comparison), not the architecture. Shadows train in this process
(`--workers 1`), so the test-only model is found in the registry by them too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segaudit.app.cli.main import main
from segaudit.audit.privacy import PrivacyConfig, run_privacy_audit
from segaudit.models.data.synth import synthesize
from segaudit.models.registry import MODELS, ModelInfo
from segaudit.models.train import TrainConfig, train

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:This API is experimental")]

SHADOWS = 4
RECIPE = {"model": "small_net", "size": 32, "epochs": 8, "batch_size": 8, "lr": 5e-3, "weight_decay": 0.0}


class SmallNet(nn.Module):
    """x [B, 3, H, W] -> two conv/BN/ReLU blocks (stride 2, 1) -> 1x1 conv -> logits [B, C, H, W]."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.classifier = nn.Conv2d(16, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.classifier(self.features(x)), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


def small_net(num_classes: int = 2) -> SmallNet:
    return SmallNet(num_classes)


@pytest.fixture(scope="module", autouse=True)
def _small_net_registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(MODELS, "small_net", ModelInfo("small_net", "tests.test_privacy_program:small_net", "-",
                                                     "test model"))
        yield


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(package, float run, cache): the run trained, its shadows in the cache, its int8 program beside it."""
    from segaudit.models.quantize import QuantizeConfig, quantize_run

    root = tmp_path_factory.mktemp("program")
    people = synthesize(root / "people", n=36, seed=0, size=64, split_fractions=(16 / 36, 4 / 36, 16 / 36),
                        workers=1)
    torch.manual_seed(0)
    train(people, root / "run", TrainConfig(**RECIPE))
    config = PrivacyConfig(shadow_models=SHADOWS, cache_dir=root / "cache", bootstrap=200, cnn_epochs=5, workers=1)
    assert run_privacy_audit(root / "run", people, config).shadows["trained_now"] == SHADOWS
    calls: list[str] = []

    @contextlib.contextmanager
    def quiet_for_timing():  # the demo pauses its background shadow training here
        calls.append("paused")
        yield
        calls.append("resumed")

    report = quantize_run(root / "run", people, QuantizeConfig(method="ptq", calibration_batches=2,
                                                               latency_runs=1, latency_warmup=1),
                          quiet_for_timing=quiet_for_timing)
    assert calls == ["paused", "resumed"] and report.latency_pte.median_ms > 0
    return people, root / "run", root / "cache"


def test_cli_runs_every_attack_against_the_pte(target, tmp_path: Path, capsys) -> None:
    people, run, cache = target
    program = run / "model.pte"
    code = main(["privacy", "--model", str(program), "--data", str(people), "--shadow-models", str(SHADOWS),
                 "--cache", str(cache), "--bootstrap", "200", "--workers", "1",
                 "--compare", f"float={run}", "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "out" / "privacy.json").read_text())
    assert data["target"]["format"] == "pte" and data["target"]["artifact"] == str(program)
    assert [a["name"] for a in data["attacks"]] == ["loss", "population", "lira-offline", "lira-online", "rmia",
                                                    "rmia-online", "loss-map-cnn", "label-only"]
    table = (tmp_path / "out" / "comparison.csv").read_text().splitlines()
    assert len(table) == 1 + 2 * 8 and any(line.startswith("float,checkpoint") for line in table)
    assert sum(line.startswith("target,pte") for line in table) == 8
    printed = capsys.readouterr().out
    assert f"({SHADOWS} from the cache)" in printed  # the .pte's recipe is its float run's: the same shadows
    assert "risk:" in printed
