"""torchvision LR-ASPP / DeepLabV3 wrappers: house-convention shapes, aux loss, nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from segaudit.models.torchvision_zoo import TorchvisionSegmentation, deeplabv3, lraspp_mobilenet_v3_large


@pytest.fixture(autouse=True)
def no_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TORCH_HOME at an empty dir and make any weight download fail loudly."""
    torch_home = tmp_path / "torch_home"
    torch_home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(torch_home))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"attempted download: {args}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return torch_home


BUILDERS = {
    "lraspp": lambda c: lraspp_mobilenet_v3_large(num_classes=c),
    "deeplab_mbv3": lambda c: deeplabv3(num_classes=c, backbone="mobilenet_v3_large"),
    "deeplab_r50": lambda c: deeplabv3(num_classes=c, backbone="resnet50"),
}


# ResNet-50 only at 7 classes: it is the slow one, and the class count only changes the last 1x1 conv.
@pytest.mark.parametrize(
    ("name", "num_classes"),
    [("lraspp", 2), ("lraspp", 7), ("deeplab_mbv3", 2), ("deeplab_mbv3", 7), ("deeplab_r50", 7)],
)
def test_logits_at_input_resolution_in_train_and_eval_without_download(
    name: str, num_classes: int, no_downloads: Path
) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](num_classes)
    assert isinstance(model, TorchvisionSegmentation)
    with torch.no_grad():
        model.train()
        train_out = model(torch.randn(2, 3, 64, 64))
        model.eval()
        eval_out = model(torch.randn(1, 3, 64, 64))
    assert train_out.shape == (2, num_classes, 64, 64)
    assert eval_out.shape == (1, num_classes, 64, 64)
    assert torch.isfinite(train_out).all() and torch.isfinite(eval_out).all()
    assert list(no_downloads.iterdir()) == []


@pytest.mark.parametrize("name", ["lraspp", "deeplab_mbv3"])
def test_forward_equals_torchvision_out_tensor(name: str) -> None:
    torch.manual_seed(0)
    model = BUILDERS[name](3).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net(x)["out"], atol=1e-6)


def test_aux_compute_loss_is_out_loss_plus_half_aux_loss() -> None:
    torch.manual_seed(0)
    model = deeplabv3(num_classes=2, backbone="mobilenet_v3_large", aux_loss=True).eval()  # eval: no dropout
    assert model.has_aux
    x = torch.randn(1, 3, 64, 64)
    target = torch.randint(0, 2, (1, 64, 64))
    target[0, :8] = 255
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    loss, logits = model.compute_loss(x, target, criterion)
    with torch.no_grad():
        outputs = model.net(x)
    expected = criterion(outputs["out"], target) + 0.5 * criterion(outputs["aux"], target)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(logits, outputs["out"], atol=1e-6)
    assert not torch.allclose(loss, criterion(outputs["out"], target))  # the aux term is really there
    loss.backward()
    assert model.net.aux_classifier[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("build", [lambda: lraspp_mobilenet_v3_large(2), lambda: deeplabv3(2, aux_loss=False)])
def test_compute_loss_without_aux_head_is_plain_criterion(build) -> None:
    torch.manual_seed(0)
    model = build().eval()
    assert not model.has_aux
    x = torch.randn(1, 3, 64, 64)
    target = torch.randint(0, 2, (1, 64, 64))
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    loss, logits = model.compute_loss(x, target, criterion)
    assert torch.allclose(loss, criterion(logits, target))
    assert logits.shape == (1, 2, 64, 64)


def test_unknown_deeplab_backbone_is_rejected() -> None:
    with pytest.raises(ValueError, match="backbone"):
        deeplabv3(2, backbone="resnet18")
