"""Losses and class weights: agreement with torch, hand-computed cases, ignore_index, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segaudit.models.losses import (
    LOSS_NAMES,
    BiasLoss,
    CombinedLoss,
    DiceLoss,
    FocalLoss,
    LovaszSoftmaxLoss,
    TverskyLoss,
    WeightedBCELoss,
    WeightedCrossEntropyLoss,
    build_loss,
    class_weights,
    count_class_pixels,
)

ALL_LOSSES = [*LOSS_NAMES, "ce+dice", "focal+0.5*lovasz"]
C = 4


def _batch(seed: int = 0, b: int = 2, h: int = 6, w: int = 5, ignore_rows: int = 2):
    """Random logits [b,C,h,w] and target [b,h,w] with the first `ignore_rows` rows of image 0 ignored."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, C, h, w, generator=g) * 2
    target = torch.randint(0, C, (b, h, w), generator=g)
    target[0, :ignore_rows] = 255
    return logits, target


def _two_pixel_case():
    """One image of 1x2 pixels, 2 classes. Pixel A: target 0, p = (1/2, 1/2); pixel B: target 1, p = (1/4, 3/4)."""
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]]).T.reshape(1, 2, 1, 2)
    target = torch.tensor([[[0, 1]]])
    return logits, target


# ---------------------------------------------------------------------------------------------- CE / focal


@pytest.mark.parametrize("weight", [None, [0.2, 1.0, 3.0, 0.5]])
def test_cross_entropy_equals_torch_cross_entropy(weight):
    logits, target = _batch()
    w = None if weight is None else torch.tensor(weight)
    expected = F.cross_entropy(logits, target, weight=w, ignore_index=255)
    assert torch.allclose(WeightedCrossEntropyLoss(weight=weight)(logits, target), expected, atol=1e-6)
    assert torch.allclose(build_loss("ce", C, class_weights=w)(logits, target), expected, atol=1e-6)


@pytest.mark.parametrize("weight", [None, [0.2, 1.0, 3.0, 0.5]])
def test_focal_with_gamma_zero_equals_weighted_cross_entropy(weight):
    logits, target = _batch(seed=1)
    w = None if weight is None else torch.tensor(weight)
    expected = F.cross_entropy(logits, target, weight=w, ignore_index=255)
    assert torch.allclose(FocalLoss(gamma=0.0, weight=weight)(logits, target), expected, atol=1e-6)


def test_focal_matches_its_formula_for_gamma_two():
    logits, target = _batch(seed=2, ignore_rows=0)
    p_t = F.softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)
    expected = (-((1 - p_t) ** 2) * torch.log(p_t)).mean()
    assert torch.allclose(FocalLoss(gamma=2.0)(logits, target), expected, atol=1e-6)


def test_focal_is_below_cross_entropy_on_confident_correct_pixels():
    target = torch.randint(0, C, (1, 4, 4), generator=torch.Generator().manual_seed(3))
    logits = F.one_hot(target, C).permute(0, 3, 1, 2).float() * 4.0  # p_t ~ 0.95
    ce = WeightedCrossEntropyLoss()(logits, target)
    focal = FocalLoss(gamma=2.0)(logits, target)
    assert 0 < focal < 0.01 * ce


def test_focal_rejects_negative_gamma():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1.0)


# ---------------------------------------------------------------------------------------------- BCE


def test_weighted_bce_with_equal_weights_is_plain_one_hot_bce():
    logits, target = _batch(seed=4, ignore_rows=0)
    onehot = F.one_hot(target, C).permute(0, 3, 1, 2).float()
    expected = F.binary_cross_entropy_with_logits(logits, onehot)
    assert torch.allclose(WeightedBCELoss()(logits, target), expected, atol=1e-6)


def test_weighted_bce_is_mean_over_classes_of_weighted_per_class_bce():
    logits, target = _batch(seed=5)
    w = torch.tensor([0.5, 1.0, 2.0, 4.0])
    keep = target != 255
    onehot = F.one_hot(target.clamp_max(C - 1), C).permute(0, 3, 1, 2).float()
    per_class = torch.stack(
        [F.binary_cross_entropy_with_logits(logits[:, c][keep], onehot[:, c][keep]) for c in range(C)]
    )
    assert torch.allclose(WeightedBCELoss(weight=w)(logits, target), (w * per_class).mean(), atol=1e-6)


# ---------------------------------------------------------------------------------------------- dice / Tversky


def test_dice_on_hand_computed_two_pixel_case():
    logits, target = _two_pixel_case()
    # class 0: I = 1/2, sum p = 3/4, sum g = 1;  class 1: I = 3/4, sum p = 5/4, sum g = 1
    assert DiceLoss(smooth=0.0)(logits, target).item() == pytest.approx((3 / 7 + 1 / 3) / 2)
    assert DiceLoss(smooth=1.0)(logits, target).item() == pytest.approx((3 / 11 + 3 / 13) / 2)
    # squared denominators: sum p^2 = 5/16 and 13/16
    assert DiceLoss(smooth=0.0, squared=True)(logits, target).item() == pytest.approx((5 / 21 + 5 / 29) / 2)
    # class weights multiply the per-class losses before the mean over classes
    weighted = DiceLoss(smooth=0.0, weight=[2.0, 0.5])(logits, target).item()
    assert weighted == pytest.approx((2.0 * 3 / 7 + 0.5 * 1 / 3) / 2)


def test_tversky_on_hand_computed_two_pixel_case():
    logits, target = _two_pixel_case()
    # class 0: TP 1/2, FP 1/4, FN 1/2;  class 1: TP 3/4, FP 1/2, FN 1/4
    t0 = 0.5 / (0.5 + 0.3 * 0.25 + 0.7 * 0.5)
    t1 = 0.75 / (0.75 + 0.3 * 0.5 + 0.7 * 0.25)
    loss = TverskyLoss(alpha=0.3, beta=0.7, smooth=0.0)(logits, target)
    assert loss.item() == pytest.approx(((1 - t0) + (1 - t1)) / 2)


def test_tversky_with_half_alpha_and_beta_equals_dice():
    logits, target = _batch(seed=6)
    dice = DiceLoss(smooth=0.0)(logits, target)
    assert torch.allclose(TverskyLoss(alpha=0.5, beta=0.5, smooth=0.0)(logits, target), dice, atol=1e-6)
    # with a smooth term: Tversky(s) == Dice(2s)
    dice_smooth = DiceLoss(smooth=2.0)(logits, target)
    assert torch.allclose(TverskyLoss(alpha=0.5, beta=0.5, smooth=1.0)(logits, target), dice_smooth, atol=1e-6)


# ---------------------------------------------------------------------------------------------- Lovász


def _brute_force_lovasz(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Lovász extension of Delta_J(M) = |M| / |G ∪ M| from its definition, with Python sets ("present")."""
    losses = []
    for c in range(num_classes):
        gt = {i for i, y in enumerate(labels) if y == c}
        if not gt:
            continue
        errors = [abs(float(labels[i] == c) - probs[i, c]) for i in range(len(labels))]
        order = sorted(range(len(labels)), key=lambda i: -errors[i])
        total, prefix, prev = 0.0, set(), 0.0
        for i in order:
            prefix.add(i)
            delta = len(prefix) / len(gt | prefix)
            total += errors[i] * (delta - prev)
            prev = delta
        losses.append(total)
    return float(np.mean(losses))


def test_lovasz_is_zero_on_a_perfect_prediction():
    target = torch.randint(0, C, (2, 5, 5), generator=torch.Generator().manual_seed(7))
    logits = F.one_hot(target, C).permute(0, 3, 1, 2).float() * 40.0
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_lovasz_matches_brute_force_lovasz_extension():
    logits, target = _batch(seed=8, b=1, h=3, w=4, ignore_rows=0)
    target[0, 0, 0] = 0  # make sure class 0 is present; class coverage otherwise random
    probs = F.softmax(logits, 1)[0].permute(1, 2, 0).reshape(-1, C).numpy()
    expected = _brute_force_lovasz(probs.astype(np.float64), target.reshape(-1).numpy(), C)
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(expected, abs=1e-5)


def test_lovasz_on_hard_probabilities_is_one_minus_iou():
    # 1x4 image, 2 classes: target [0,0,1,1], prediction [0,1,1,1] -> IoU0 = 1/2, IoU1 = 2/3
    target = torch.tensor([[[0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1]]])
    logits = F.one_hot(pred, 2).permute(0, 3, 1, 2).float() * 50.0
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(((1 - 1 / 2) + (1 - 2 / 3)) / 2, abs=1e-6)


def test_lovasz_per_image_is_the_mean_of_single_image_losses():
    logits, target = _batch(seed=19)
    loss = LovaszSoftmaxLoss(per_image=True)
    single = [LovaszSoftmaxLoss()(logits[i : i + 1], target[i : i + 1]) for i in range(2)]
    assert torch.allclose(loss(logits, target), torch.stack(single).mean(), atol=1e-6)
    assert not torch.allclose(LovaszSoftmaxLoss()(logits, target), loss(logits, target), atol=1e-4)


def test_lovasz_present_skips_classes_missing_from_target_but_all_does_not():
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 0] = 50.0  # perfect for class 0; classes 1, 2 absent
    assert LovaszSoftmaxLoss(classes="present")(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    logits[0, 2, 0, 0] = 100.0  # one pixel confidently predicted as absent class 2
    assert LovaszSoftmaxLoss(classes="all")(logits, target).item() > 0.3


# ---------------------------------------------------------------------------------------------- bias loss


def test_bias_loss_with_unit_scaling_equals_cross_entropy():
    logits, target = _batch(seed=9)
    ce = F.cross_entropy(logits, target, ignore_index=255)
    assert torch.allclose(BiasLoss(alpha=0.0, beta=0.0)(logits, target), ce, atol=1e-6)


def test_bias_loss_scales_each_image_by_its_feature_variance():
    logits, target = _batch(seed=10, b=3, ignore_rows=0)
    scale = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1, 1)
    features = torch.randn(3, 8, 2, 2, generator=torch.Generator().manual_seed(0)) * scale
    var = features.flatten(1).var(1, unbiased=False)
    v = (var - var.min()) / (var.max() - var.min())
    z = torch.exp(0.3 * v) - 0.3
    ce = F.cross_entropy(logits, target, reduction="none").mean(dim=(1, 2))
    expected = (z * ce).mean()
    assert torch.allclose(BiasLoss()(logits, target, features), expected, atol=1e-6)


def test_bias_loss_without_features_scales_pixels_by_logit_variance():
    logits, target = _batch(seed=11)
    keep = target != 255
    var = logits.var(1, unbiased=False)
    v = (var - var[keep].min()) / (var[keep].max() - var[keep].min())
    z = torch.exp(0.3 * v) - 0.3
    ce = F.cross_entropy(logits, target.clamp_max(C - 1), reduction="none")
    expected = (z * ce)[keep].mean()
    assert torch.allclose(BiasLoss()(logits, target), expected, atol=1e-6)


def test_bias_loss_with_equal_feature_variances_is_scaled_cross_entropy():
    logits, target = _batch(seed=12, b=1)
    ce = F.cross_entropy(logits, target, ignore_index=255)
    assert torch.allclose(BiasLoss(beta=0.3)(logits, target, torch.randn(1, 5)), 0.7 * ce, atol=1e-6)


# ---------------------------------------------------------------------------------------------- every loss


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_ignored_pixels_change_neither_value_nor_gradient(name):
    torch.manual_seed(0)
    logits, target = _batch(seed=13)
    loss = build_loss(name, C, class_weights=torch.tensor([0.5, 1.0, 2.0, 1.5]))
    perturbed = logits.clone()
    perturbed[target.unsqueeze(1).expand_as(logits) == 255] += 7.0 * torch.randn(int((target == 255).sum()) * C)
    a = logits.clone().requires_grad_(True)
    b = perturbed.clone().requires_grad_(True)
    la, lb = loss(a, target), loss(b, target)
    la.backward()
    lb.backward()
    assert torch.allclose(la, lb, atol=1e-6)
    ignored = (target == 255).unsqueeze(1).expand_as(logits)
    assert torch.all(a.grad[ignored] == 0)
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_every_loss_gives_a_finite_nonzero_gradient(name):
    logits, target = _batch(seed=14)
    x = logits.clone().requires_grad_(True)
    loss = build_loss(name, C, class_weights=class_weights("proportional", pixel_counts=[50, 20, 10, 5]))
    value = loss(x, target)
    value.backward()
    assert value.dim() == 0 and torch.isfinite(value)
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_an_all_ignored_batch_gives_zero_loss_not_nan(name):
    logits, _ = _batch(seed=15)
    target = torch.full((2, 6, 5), 255, dtype=torch.long)
    x = logits.clone().requires_grad_(True)
    value = build_loss(name, C)(x, target)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", list(LOSS_NAMES))
def test_losses_reject_a_target_of_the_wrong_shape(name):
    logits, target = _batch()
    with pytest.raises(ValueError, match="target"):
        build_loss(name, C)(logits, target[:, :-1])


def test_losses_reject_class_weights_of_the_wrong_length():
    logits, target = _batch()
    with pytest.raises(ValueError, match="class weights"):
        DiceLoss(weight=[1.0, 2.0])(logits, target)
    with pytest.raises(ValueError, match="class weights"):
        build_loss("ce", C, class_weights=[1.0, 2.0])


# ---------------------------------------------------------------------------------------------- build_loss


def test_build_loss_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        build_loss("hinge", C)
    for name in LOSS_NAMES:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("ce+nope", C)


def test_build_loss_sums_terms_with_coefficients():
    logits, target = _batch(seed=16)
    combined = build_loss("ce+0.5*dice", C)
    assert isinstance(combined, CombinedLoss)
    expected = WeightedCrossEntropyLoss()(logits, target) + 0.5 * DiceLoss()(logits, target)
    assert torch.allclose(combined(logits, target), expected, atol=1e-6)


def test_build_loss_routes_keyword_arguments_to_the_terms_that_take_them():
    loss = build_loss("focal+tversky+bias", C, gamma=3.0, smooth=0.0, tversky_alpha=0.6, bias_alpha=0.1)
    focal, tversky, bias = loss.terms
    assert focal.gamma == 3.0
    assert (tversky.alpha, tversky.smooth) == (0.6, 0.0)
    assert bias.alpha == 0.1
    with pytest.raises(ValueError, match="gamma"):
        build_loss("dice", C, gamma=2.0)


def test_combined_loss_passes_features_to_bias_terms():
    logits, target = _batch(seed=17, b=2)
    features = torch.stack([torch.zeros(6), torch.arange(6.0)])
    loss = build_loss("ce+bias", C)
    expected = WeightedCrossEntropyLoss()(logits, target) + BiasLoss()(logits, target, features)
    assert torch.allclose(loss(logits, target, features), expected, atol=1e-6)


def test_losses_follow_their_module_to_another_dtype_and_keep_weights_as_buffers():
    loss = build_loss("ce", C, class_weights=[1.0, 2.0, 3.0, 4.0])
    assert "weight" in dict(loss.named_buffers())
    logits, target = _batch(seed=18)
    assert loss(logits.half(), target).dtype == torch.float32


# ---------------------------------------------------------------------------------------------- class weights


def test_proportional_class_weights_are_inverse_frequency_with_unit_pixel_mean():
    counts = [600, 300, 100]
    w = class_weights("proportional", pixel_counts=counts)
    assert torch.allclose(w, torch.tensor([1000 / 1800, 1000 / 900, 1000 / 300]))
    assert float((torch.tensor(counts, dtype=torch.float32) * w).sum() / 1000) == pytest.approx(1.0)


def test_proportional_class_weights_give_absent_classes_zero():
    w = class_weights("proportional", pixel_counts=np.array([30, 0, 10]))
    assert torch.allclose(w, torch.tensor([40 / 60, 0.0, 40 / 20]))


def test_equal_and_empirical_class_weights():
    assert torch.equal(class_weights("equal", num_classes=3), torch.ones(3))
    assert torch.equal(class_weights("equal", pixel_counts=[1, 2]), torch.ones(2))
    seed_weights = [0.5, 3, 3, 1, 0.5, 3, 2, 0.5, 1.5, 1.5, 1.5]
    assert class_weights("empirical", empirical=seed_weights).tolist() == seed_weights
    with pytest.raises(ValueError, match="empirical"):
        class_weights("empirical")
    with pytest.raises(ValueError, match="proportional"):
        class_weights("proportional")
    with pytest.raises(ValueError, match="valid"):
        class_weights("balanced", pixel_counts=[1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        class_weights("empirical", empirical=[1.0, -1.0])


def test_count_class_pixels_skips_ignored_pixels_and_accepts_numpy_and_torch():
    masks = [np.array([[0, 1], [1, 255]], dtype=np.uint8), torch.tensor([[2, 2], [255, 0]])]
    assert count_class_pixels(masks, 3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="mask 0"):
        count_class_pixels([np.array([[3]])], 3)
