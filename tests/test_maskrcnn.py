"""Mask R-CNN wrapper: instance targets from semantic masks, merged logits, training step, COCO metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from segaudit.models.maskrcnn import (
    MaskRCNNSegmenter,
    coco_mask_metrics,
    instances_to_semantic,
    maskrcnn_resnet50_fpn,
    semantic_to_instances,
)

SMALL = {  # few proposals / sampled RoIs / detections so a CPU step at 64x64 takes seconds
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 100,
    "rpn_post_nms_top_n_test": 50,
    "box_batch_size_per_image": 16,
    "box_detections_per_img": 10,
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaskRCNNSegmenter]:
    torch_home = tmp_path_factory.mktemp("torch_home")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"attempted download: {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(torch_home))
        mp.setattr(torch.hub, "load_state_dict_from_url", refuse)
        torch.manual_seed(0)
        built = maskrcnn_resnet50_fpn(num_classes=2, **SMALL)
    assert list(torch_home.iterdir()) == []
    yield built


def two_blob_target() -> torch.Tensor:
    """[2, 64, 64]: image 0 has two people joined only through ignore pixels plus a speck; image 1 none."""
    target = torch.zeros(2, 64, 64, dtype=torch.long)
    target[0, 10:30, 5:15] = 1  # rows 10..29, cols 5..14
    target[0, 40:50, 30:60] = 1  # rows 40..49, cols 30..59
    target[0, 30:40, 10:35] = 255  # would join the two blobs if ignore counted as person
    target[0, 60:62, 0:2] = 1  # 4-pixel speck, below min_area
    target[1, :5] = 255
    return target


def test_semantic_to_instances_gives_one_box_per_blob_in_pixel_edge_coordinates() -> None:
    first, second = semantic_to_instances(two_blob_target(), min_area=10)
    assert first["boxes"].tolist() == [[5.0, 10.0, 15.0, 30.0], [30.0, 40.0, 60.0, 50.0]]
    assert first["labels"].tolist() == [1, 1]
    assert first["masks"].dtype == torch.uint8 and first["masks"].shape == (2, 64, 64)
    assert first["masks"][0].sum() == 200 and first["masks"][0, 10:30, 5:15].all()
    assert first["masks"][1].sum() == 300 and first["masks"][1, 40:50, 30:60].all()
    # no person: empty targets of the shapes torchvision expects
    assert second["boxes"].shape == (0, 4) and second["boxes"].dtype == torch.float32
    assert second["labels"].shape == (0,) and second["masks"].shape == (0, 64, 64)


def test_semantic_to_instances_joins_diagonal_neighbours_and_counts_every_foreground_class() -> None:
    target = torch.zeros(1, 32, 32, dtype=torch.long)
    target[0, 0:4, 0:4] = 3  # e.g. "t-shirt"
    target[0, 4:8, 4:8] = 5  # touches the first block only at a corner
    (inst,) = semantic_to_instances(target, min_area=1)
    assert inst["boxes"].tolist() == [[0.0, 0.0, 8.0, 8.0]]


def test_instances_to_semantic_takes_max_probability_over_confident_instances() -> None:
    masks = torch.full((3, 1, 4, 4), 0.3)
    masks[0, 0, 0, 0] = 0.8
    masks[1] = 0.1
    masks[1, 0, 1, 1] = 0.7
    masks[2] = 0.99  # low score: ignored
    detections = [
        {"masks": masks, "scores": torch.tensor([0.9, 0.6, 0.2])},
        {"masks": torch.zeros(0, 1, 4, 4), "scores": torch.zeros(0)},
    ]
    logits = instances_to_semantic(detections, score_threshold=0.5)
    assert logits.shape == (2, 2, 4, 4)
    p = logits.softmax(dim=1)[:, 1]
    expected = torch.full((4, 4), 0.3)
    expected[0, 0], expected[1, 1] = 0.8, 0.7
    assert torch.allclose(p[0], expected, atol=1e-5)
    assert torch.allclose(p[1], torch.full((4, 4), 1e-4), atol=1e-6)  # nobody: clamped to eps
    assert torch.isfinite(logits).all()


def test_coco_mask_metrics_perfect_predictions_score_one() -> None:
    targets = semantic_to_instances(two_blob_target())
    predictions = [
        {"masks": t["masks"][:, None].float(), "scores": torch.linspace(0.9, 0.8, len(t["labels"]))} for t in targets
    ]
    metrics = coco_mask_metrics(predictions, targets)
    assert metrics == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0, "AR100": 1.0})


def test_coco_mask_metrics_shifted_mask_only_counts_at_low_iou_thresholds() -> None:
    gt = torch.zeros(1, 64, 64, dtype=torch.uint8)
    gt[0, 10:30, 10:30] = 1
    shifted = torch.roll(gt, shifts=4, dims=2)  # IoU = 320 / 480 = 2/3
    metrics = coco_mask_metrics([{"masks": shifted, "scores": torch.ones(1)}], [gt])
    # matched at IoU thresholds 0.50, 0.55, 0.60, 0.65 out of 0.50:0.05:0.95
    assert metrics == pytest.approx({"AP": 0.4, "AP50": 1.0, "AP75": 0.0, "AR100": 0.4})
    empty = coco_mask_metrics([{"masks": torch.zeros(0, 64, 64), "scores": torch.zeros(0)}], [gt])
    assert empty["AP"] == 0.0 and empty["AR100"] == 0.0


def test_builder_rejects_other_class_counts_and_resize_options() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        maskrcnn_resnet50_fpn(num_classes=3)
    with pytest.raises(TypeError, match="min_size"):
        maskrcnn_resnet50_fpn(min_size=64)


def test_eval_forward_merges_predicted_instances_into_person_logits(model: MaskRCNNSegmenter) -> None:
    torch.manual_seed(0)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        (instances,) = model.predict_instances(x)
        assert instances["masks"].shape[1:] == (1, 64, 64) and len(instances["scores"]) > 1
        # threshold between the scores so that some detections are merged and some are not
        model.score_threshold = float(instances["scores"].median())
        logits = model(x)
        expected = instances_to_semantic([instances], model.score_threshold)
        # validation loss in eval mode still comes from the heads' training path
        loss, _ = model.compute_loss(x, two_blob_target()[:1], None)
    model.score_threshold = 0.5
    assert logits.shape == (1, 2, 64, 64)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert (logits.argmax(dim=1) == 1).any()
    assert torch.isfinite(loss) and loss > 0
    assert not any(m.training for m in model.modules())  # modes restored


def test_training_step_gives_finite_loss_that_backpropagates(model: MaskRCNNSegmenter) -> None:
    torch.manual_seed(0)
    model.train()
    model.zero_grad()
    x = torch.randn(2, 3, 64, 64)
    loss, logits = model.compute_loss(x, two_blob_target(), nn.CrossEntropyLoss(ignore_index=255))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    assert logits.shape == (2, 2, 64, 64) and torch.isfinite(logits).all() and not logits.requires_grad
    loss.backward()
    net = model.net
    for param in (
        net.backbone.body.conv1.weight,
        net.rpn.head.cls_logits.weight,
        net.roi_heads.box_predictor.cls_score.weight,
        net.roi_heads.mask_predictor.mask_fcn_logits.weight,
    ):
        assert param.grad is not None and torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0
    assert all(m.training for m in model.modules())
    with torch.no_grad():
        assert model(x).shape == (2, 2, 64, 64)  # house convention: logits in train mode too
