"""int8 quantization: QAT / PTQ -> an ExecuTorch program that agrees with the Python int8 model; refusals.

The models are trained for a few float steps first on "blobs" (an orange rectangle, the person, on dark noise),
so their decisions have real margins: agreement between the program and the Python int8 model is then a
meaningful check of the lowering, not a coin toss on near-tied random logits.
"""

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
from segaudit.models.data.package import load_package
from segaudit.models.data.torch_dataset import make_loader
from segaudit.models.data.writer import PackageWriter
from segaudit.models.registry import MODELS, ModelInfo
from segaudit.models.runtime import Segmenter
from tests.conftest import TINY_SPEC

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This API is experimental"),
]

AGREEMENT = 0.995  # the bar: the program's masks equal the Python int8 model's on >= 99.5 % of pixels
SIZE = 64
CLASSES = {0: "background", 1: "person"}


class TinyNet(nn.Module):
    """x [B, 3, H, W] -> 3 x conv/BN/ReLU (strides 2, 2, 1) [B, 16, H/4, W/4] -> 1x1 conv -> logits [B, C, H, W]."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()

        def block(i: int, o: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o),
                                 nn.ReLU())

        self.features = nn.Sequential(block(3, 8, 2), block(8, 16, 2), block(16, 16, 1))
        self.classifier = nn.Conv2d(16, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.classifier(self.features(x)), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


def tiny_net(num_classes: int = 2) -> TinyNet:
    return TinyNet(num_classes)


class Branchy(TinyNet):
    """Data-dependent control flow: torch.export cannot capture one graph for it."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) if x.mean() > 0 else super().forward(-x)


def branchy(num_classes: int = 2) -> Branchy:
    return Branchy(num_classes)


@pytest.fixture(scope="module", autouse=True)
def _test_models_registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(MODELS, "tiny_net", ModelInfo("tiny_net", "tests.test_quantize:tiny_net", "-", "test"))
        patch.setitem(MODELS, "branchy", ModelInfo("branchy", "tests.test_quantize:branchy", "-", "test"))
        yield


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def write_blobs_package(out: Path, n: int = 24, size: int = 48, seed: int = 0) -> Path:
    """n images: an orange rectangle (class 1) at a random place on dark noise; splits cycle 4:1:1."""
    rng = np.random.default_rng(seed)
    with PackageWriter(out, TINY_SPEC) as writer:
        for i in range(n):
            image = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), dtype=np.uint8)
            h, w = rng.integers(size // 4, size // 2, size=2)
            top, left = rng.integers(0, size - h), rng.integers(0, size - w)
            mask[top:top + h, left:left + w] = 1
            image[mask == 1] = (230, 140, 40) + rng.integers(0, 20, size=(int(mask.sum()), 3))
            split = ("train", "train", "train", "train", "val", "test")[i % 6]
            writer.add(f"blob-{i:03d}", image, mask, split, {"tone": "light", "height_cm": 170.0})
    return out


def train_float(model: nn.Module, package: Path, steps: int, lr: float = 5e-3) -> nn.Module:
    """A few float steps of plain cross-entropy (through the model's own compute_loss when it has one)."""
    from segaudit.models.train import compute_loss

    loader = make_loader(load_package(package), "train", size=SIZE, batch_size=4, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    model.train()
    done = 0
    while done < steps:
        for batch in loader:
            loss, _ = compute_loss(model, batch["image"], batch["mask"], criterion)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return model.eval()


def split_images(package: Path) -> Tensor:
    return next(iter(make_loader(load_package(package), "test", size=SIZE, batch_size=64, shuffle=False)))["image"]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blobs_package(tmp_path_factory.mktemp("blobs") / "pkg")


@pytest.fixture(scope="module")
def trained_tiny(package: Path) -> TinyNet:
    torch.manual_seed(0)
    return train_float(TinyNet(), package, steps=60)


def make_run(root: Path, model: nn.Module, name: str = "tiny_net", model_cfg: dict | None = None) -> Path:
    save_checkpoint(root / "best", model, model_name=name, num_classes=2, classes=CLASSES, image_size=SIZE,
                    model_cfg=model_cfg)
    (root / "config.json").write_text(json.dumps({"model": name, "loss": "ce"}))
    return root


def run_program(buffer: bytes, images: Tensor) -> Tensor:
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(buffer).load_method("forward")
    return torch.cat([method.execute([image[None].contiguous()])[0].clone() for image in images])


def agreement(a: Tensor, b: Tensor) -> float:
    return float((a.argmax(1) == b.argmax(1)).float().mean())


# ---------------------------------------------------------------------------------------- library level
def test_ptq_program_agrees_with_the_python_int8_model(package: Path, trained_tiny: TinyNet) -> None:
    from segaudit.models.quantize import lowering, pt2e

    prepared = pt2e.prepare(trained_tiny, pt2e.WHOLE_MODEL, torch.randn(1, 3, SIZE, SIZE), qat=False)
    loader = make_loader(load_package(package), "train", size=SIZE, batch_size=4)
    assert pt2e.calibrate(prepared, loader, max_batches=3) == 12
    int8 = pt2e.convert(prepared, pt2e.WHOLE_MODEL)
    assert any("quantize_per_tensor" in str(n.target) for n in int8.graph.nodes)
    buffer = lowering.lower(int8, pt2e.WHOLE_MODEL, torch.randn(1, 3, SIZE, SIZE))
    assert b"XnnpackBackend" in buffer  # the int8 convolutions are delegated
    images = split_images(package)
    with torch.no_grad():
        reference = int8(images)
        float_reference = trained_tiny(images)
    program = run_program(buffer, images)
    assert program.shape == reference.shape == (len(images), 2, SIZE, SIZE)
    assert agreement(program, reference) >= AGREEMENT
    assert agreement(reference, float_reference) >= 0.95  # int8 still does what the float model learned


def test_exported_graph_failure_names_the_stage() -> None:
    from segaudit.models.quantize import lowering, pt2e

    with pytest.raises(lowering.ExportError, match="torch.export of the int8 model failed"):
        lowering.lower(Branchy().eval(), pt2e.WHOLE_MODEL, torch.randn(1, 3, SIZE, SIZE))


# ---------------------------------------------------------------------------------------------- the CLI
def _quantize(run: Path, package: Path, *extra: str) -> int:
    return main(["quantize", "--run", str(run), "--data", str(package), "--batch-size", "4",
                 "--latency-runs", "2", *extra])


def test_cli_qat_writes_program_sidecar_and_report(tmp_path: Path, package: Path, trained_tiny: TinyNet,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", trained_tiny)
    assert _quantize(run, package, "--qat-steps", "3") == 0
    printed = capsys.readouterr().out
    assert "int8 .pte" in printed and "pixel agreement" in printed
    report = json.loads((run / "quantization.json").read_text())
    sidecar = json.loads((run / "model.json").read_text())
    pte = run / "model.pte"
    assert report["method"] == "qat" and report["training"]["qat_steps"] == 3
    assert report["quantized_parts"] == [""] and report["test_images"] == 4
    assert report["agreement_pte_vs_int8"] >= AGREEMENT
    assert report["agreement_pixels"] == 4 * SIZE * SIZE
    assert report["pte_bytes"] == pte.stat().st_size == sidecar["pte_bytes"]
    assert report["pte_sha256"] == sha256_file(pte) == sidecar["pte_sha256"]
    assert report["float_weights_bytes"] == (run / "best" / "model.safetensors").stat().st_size
    assert report["miou_pte"] > 0.6 and abs(report["miou_pte"] - report["miou_int8"]) < 0.02  # learned blobs
    assert report["latency_pte"]["runs"] == 2 and report["latency_pte"]["median_ms"] > 0
    assert sidecar["image_size"] == SIZE and sidecar["classes"] == {"0": "background", "1": "person"}
    assert not list(run.glob(".model.pte.staging-*")) and not list(run.glob(".*.tmp-*"))  # no staging left

    segmenter = Segmenter(pte)
    masks = segmenter.predict_mask([np.zeros((30, 50, 3), dtype=np.uint8), np.zeros((70, 40, 3), np.uint8)])
    assert [m.shape for m in masks] == [(30, 50), (70, 40)]


def test_cli_ptq_calibrates_instead_of_training(tmp_path: Path, package: Path, trained_tiny: TinyNet) -> None:
    run = make_run(tmp_path / "run", trained_tiny)
    assert _quantize(run, package, "--ptq", "--calibration-batches", "2") == 0
    report = json.loads((run / "quantization.json").read_text())
    assert report["method"] == "ptq" and report["training"] == {"calibration_images": 8}
    assert report["agreement_pte_vs_int8"] >= AGREEMENT
    assert report["miou_drop_points"] < 5.0  # a trained tiny model loses little to int8


def test_same_seed_gives_the_same_program(tmp_path: Path, package: Path, trained_tiny: TinyNet) -> None:
    digests = []
    for name in ("a", "b"):
        run = make_run(tmp_path / name, trained_tiny)
        assert _quantize(run, package, "--ptq", "--calibration-batches", "2") == 0
        digests.append(sha256_file(run / "model.pte"))
    assert digests[0] == digests[1]


def test_model_that_cannot_export_is_refused_with_its_reason(tmp_path: Path, package: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Refused from the checkpoint's config alone: Mask R-CNN is never even built.
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "best" / "model.safetensors").write_bytes(b"not read")
    (run / "best" / "model.json").write_text(json.dumps({
        "format_version": 1, "model": "maskrcnn_resnet50_fpn", "num_classes": 2, "model_cfg": {},
        "classes": {"0": "background", "1": "person"}, "image_size": SIZE, "weights_sha256": "0" * 64}))
    assert _quantize(run, package) == 2
    err = capsys.readouterr().err
    assert "maskrcnn_resnet50_fpn" in err and "instance detector" in err
    assert not (run / "model.pte").exists() and not (run / "quantization.json").exists()


def test_model_whose_graph_cannot_be_captured_is_refused(tmp_path: Path, package: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", Branchy(), name="branchy")
    assert _quantize(run, package, "--ptq") == 2
    err = capsys.readouterr().err
    assert "'branchy' cannot be quantized" in err and "capturing its graph" in err
    assert not (run / "model.pte").exists()


def test_checkpoint_folder_and_missing_checkpoint_are_input_errors(tmp_path: Path, package: Path,
                                                                   trained_tiny: TinyNet) -> None:
    from segaudit.models.quantize import QuantizeConfig, quantize_run

    run = make_run(tmp_path / "run", trained_tiny)
    with pytest.raises(InputError, match="checkpoint folder, not a run folder"):
        quantize_run(run / "best", package)
    with pytest.raises(InputError, match="last/"):
        quantize_run(run, package, QuantizeConfig(checkpoint="last"))
    with pytest.raises(InputError, match="qat or ptq"):
        quantize_run(run, package, QuantizeConfig(method="fp16"))
