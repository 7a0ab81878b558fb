"""Segmenter: one interface over a float checkpoint and an ExecuTorch program, and clear errors for bad .pte files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segaudit.app.cli.main import main
from segaudit.core.errors import InputError
from segaudit.models.checkpoint import save_checkpoint, sha256_file
from segaudit.models.registry import MODELS, ModelInfo
from segaudit.models.runtime import Segmenter
from tests.conftest import write_tiny_package

CLASSES = {0: "background", 1: "person"}
SIZE = 32
PROGRAM_BATCH = 2


class TinyNet(nn.Module):
    """x [B, 3, H, W] -> conv/BN/ReLU at stride 2 -> 1x1 conv -> logits [B, C, H, W] (bilinear up)."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.classifier = nn.Conv2d(8, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.classifier(self.features(x)), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


def tiny_net(num_classes: int = 2) -> TinyNet:
    return TinyNet(num_classes)


@pytest.fixture(autouse=True)
def _tiny_model_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    torch.manual_seed(0)
    monkeypatch.setitem(MODELS, "tiny_net", ModelInfo("tiny_net", "tests.test_runtime:tiny_net", "-", "test model"))
    yield


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A float checkpoint of TinyNet and the same float weights lowered to a .pte (static batch of 2)."""
    from segaudit.models.quantize.lowering import lower
    from segaudit.models.quantize.pt2e import WHOLE_MODEL

    root = tmp_path_factory.mktemp("runtime")
    torch.manual_seed(0)
    model = TinyNet().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        model.features[1].running_mean.uniform_(-0.5, 0.5)
        model.features[1].running_var.uniform_(0.5, 2.0)
    save_checkpoint(root / "ckpt", model, model_name="tiny_net", num_classes=2, classes=CLASSES, image_size=SIZE)
    pte = root / "prog" / "model.pte"
    pte.parent.mkdir()
    pte.write_bytes(lower(model, WHOLE_MODEL, torch.randn(PROGRAM_BATCH, 3, SIZE, SIZE)))
    _write_sidecar(pte)
    return {"checkpoint": root / "ckpt", "pte": pte}


def _write_sidecar(pte: Path, **override: object) -> None:
    sidecar = {"format": "executorch-pte", "model": "tiny_net", "num_classes": 2,
               "classes": {str(k): v for k, v in CLASSES.items()}, "image_size": SIZE,
               "batch_size": PROGRAM_BATCH, "pte_sha256": sha256_file(pte), "pte_bytes": pte.stat().st_size}
    sidecar.update(override)
    pte.with_suffix(".json").write_text(json.dumps(sidecar))


def _images(shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in shapes]


SHAPES = [(40, 72), (96, 50), (32, 32), (17, 23), (64, 48)]


def test_pte_and_checkpoint_return_probabilities_at_each_images_own_size(artifacts: dict[str, Path]) -> None:
    images = _images(SHAPES)
    for path in (artifacts["checkpoint"], artifacts["pte"]):
        segmenter = Segmenter(path, batch_size=3)  # 5 images: batches of 3 + 2; the .pte runs 2 at a time
        probabilities = segmenter.predict(images)
        assert [p.shape for p in probabilities] == [(2, h, w) for h, w in SHAPES]
        assert all(p.dtype == np.float32 and np.allclose(p.sum(0), 1.0, atol=1e-5) for p in probabilities)
        masks = segmenter.predict_mask(images)
        assert [m.shape for m in masks] == SHAPES and all(m.dtype == np.uint8 for m in masks)


def test_float_pte_reproduces_the_checkpoints_probabilities(artifacts: dict[str, Path]) -> None:
    # Same weights, float program: any difference in preprocessing, padding or batching would show here.
    images = _images(SHAPES)
    from_checkpoint = Segmenter(artifacts["checkpoint"]).predict(images)
    from_pte = Segmenter(artifacts["pte"], batch_size=4).predict(images)
    for a, b in zip(from_checkpoint, from_pte, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_segmenter_describes_its_artifact(artifacts: dict[str, Path]) -> None:
    pte = Segmenter(artifacts["pte"])
    checkpoint = Segmenter(artifacts["checkpoint"])
    assert (pte.format, pte.artifact, pte.image_size, pte.classes) == ("pte", artifacts["pte"], SIZE, CLASSES)
    assert checkpoint.format == "checkpoint"
    assert checkpoint.artifact == artifacts["checkpoint"] / "model.safetensors"
    assert (checkpoint.image_size, checkpoint.classes, checkpoint.num_classes) == (SIZE, CLASSES, 2)


def test_wrong_images_and_inputs_are_refused(artifacts: dict[str, Path]) -> None:
    segmenter = Segmenter(artifacts["pte"])
    with pytest.raises(ValueError, match="RGB uint8"):
        segmenter.predict([np.zeros((8, 8), dtype=np.uint8)])
    with pytest.raises(ValueError, match="preprocessed inputs"):
        segmenter.logits(torch.zeros(1, 3, SIZE + 32, SIZE))


def _broken_program(tmp_path: Path, artifacts: dict[str, Path], kind: str) -> Path:
    pte = tmp_path / "model.pte"
    data = artifacts["pte"].read_bytes()
    if kind == "truncated":
        pte.write_bytes(data[: len(data) // 2])
        sidecar = json.loads(artifacts["pte"].with_suffix(".json").read_text())
        pte.with_suffix(".json").write_text(json.dumps(sidecar))  # records the full program's sha256
    elif kind == "truncated-unrecorded":
        pte.write_bytes(data[: len(data) - 100])
        _write_sidecar(pte)
        sidecar = json.loads(pte.with_suffix(".json").read_text())
        del sidecar["pte_sha256"]  # nothing recorded: the runtime itself must refuse the program
        pte.with_suffix(".json").write_text(json.dumps(sidecar))
    elif kind == "foreign":
        pte.write_bytes(b"PK\x03\x04 this is a zip file, not a program" * 10)
        _write_sidecar(pte)
    elif kind == "no-sidecar":
        pte.write_bytes(data)
    return pte


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "not found"),
    ("truncated", "truncated or modified"),
    ("truncated-unrecorded", "runtime cannot load"),
    ("foreign", "not an ExecuTorch program"),
    ("no-sidecar", "sidecar model.json"),
])
def test_bad_program_files_are_input_errors(tmp_path: Path, artifacts: dict[str, Path], kind: str,
                                            message: str) -> None:
    pte = tmp_path / "model.pte" if kind == "missing" else _broken_program(tmp_path, artifacts, kind)
    with pytest.raises(InputError, match=message) as error:
        Segmenter(pte)
    assert "model.pte" in str(error.value) or "model.json" in str(error.value)


def test_sidecar_fields_are_checked(tmp_path: Path, artifacts: dict[str, Path]) -> None:
    pte = tmp_path / "model.pte"
    pte.write_bytes(artifacts["pte"].read_bytes())
    _write_sidecar(pte, image_size="large")
    with pytest.raises(InputError, match="image_size"):
        Segmenter(pte)


@pytest.mark.parametrize(("override", "field", "program_says"), [
    ({"batch_size": 1}, "batch_size", f"[{PROGRAM_BATCH}, 3, {SIZE}, {SIZE}]"),
    ({"image_size": 64}, "image_size", f"[{PROGRAM_BATCH}, 3, {SIZE}, {SIZE}]"),
    ({"num_classes": 3, "classes": {"0": "background", "1": "person", "2": "bag"}}, "num_classes",
     f"[{PROGRAM_BATCH}, 2, {SIZE}, {SIZE}]"),
])
def test_a_sidecar_that_does_not_describe_its_program_is_refused(tmp_path: Path, artifacts: dict[str, Path],
                                                                 override: dict, field: str,
                                                                 program_says: str) -> None:
    pte = tmp_path / "model.pte"
    pte.write_bytes(artifacts["pte"].read_bytes())
    _write_sidecar(pte, **override)  # valid on its own: only the program can tell it is wrong
    with pytest.raises(InputError, match="does not describe its program") as error:
        Segmenter(pte)
    assert f"field '{field}'" in str(error.value) and program_says in str(error.value)


@pytest.mark.parametrize("kind", ["missing", "truncated", "foreign"])
def test_bad_program_exits_with_code_2_through_the_cli(tmp_path: Path, artifacts: dict[str, Path], kind: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    package = write_tiny_package(tmp_path / "pkg")
    pte = tmp_path / "model.pte" if kind == "missing" else _broken_program(tmp_path, artifacts, kind)
    code = main(["fairness", "--model", str(pte), "--data", str(package), "--out", str(tmp_path / "out"),
                 "--no-plots"])
    assert code == 2
    assert "model.pte" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
