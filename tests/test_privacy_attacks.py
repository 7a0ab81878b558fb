"""Attacks, signals, shadow plan, risk and settings on controlled inputs (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segaudit.audit.privacy import metrics
from segaudit.audit.privacy.attacks import AttackData, run_attack
from segaudit.audit.privacy.attacks.lira import image_logit
from segaudit.audit.privacy.attacks.rmia import rmia_scores
from segaudit.audit.privacy.config import PrivacyConfig
from segaudit.audit.privacy.loo import leave_one_out, references_of
from segaudit.audit.privacy.shadows import plan_shadows
from segaudit.audit.privacy.signals import LABEL_AUGMENTATIONS, Signals, compute_signals, label_augmentations
from segaudit.core.errors import InputError

K, P, M = 8, 80, 8


def _world(seed: int = 0, effect: float = 1.0) -> tuple[AttackData, np.ndarray]:
    """Per-image difficulty d_i; a model that trained on image i has its loss lowered by `effect` (in log space).

    Target members are the first half of the pool. In the loss maps, training on an image lowers the loss in the
    centre (where the 'person' is) only, so the map carries a structure a CNN can read.
    """
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(-2.0, 1.0, P)  # log mean loss, wildly different between images
    inclusion = plan_shadows(P, K, seed)
    member = np.arange(P) < P // 2

    def model(included: np.ndarray) -> Signals:
        offset = rng.normal(0, 0.1)
        log_loss = difficulty[:, None] + offset + rng.normal(0, 0.15, (P, 2)) - effect * included[:, None]
        loss = np.exp(log_loss)
        maps = np.repeat(loss[:, :, None, None], M, 2).repeat(M, 3) * rng.uniform(0.9, 1.1, (P, 2, M, M))
        centre = np.zeros((M, M))
        centre[2:6, 2:6] = 1
        maps = maps * np.where(included[:, None, None, None] & (centre > 0), 0.5, 1.0)
        iou = np.clip(0.8 - 0.1 * difficulty[:, None] + 0.1 * included[:, None] + rng.normal(0, 0.02, (P, 8)), 0, 1)
        return Signals(conf=-log_loss * 3, loss=loss, maps=maps.astype(np.float32), label_iou=iou)

    def population_model() -> Signals:
        d = rng.uniform(-2.0, 1.0, 40)
        log_loss = d[:, None] + rng.normal(0, 0.15, (40, 2))
        return Signals(conf=-log_loss * 3, loss=np.exp(log_loss))

    shadows = [model(inclusion[k]) for k in range(K)]
    data = AttackData(target=model(member), target_population=population_model(), shadows=shadows,
                      shadows_population=[population_model() for _ in range(K)], inclusion=inclusion, seed=seed)
    return data, member


@pytest.mark.parametrize("name", ["lira-offline", "lira-online", "rmia", "rmia-online", "loss-map-cnn",
                                  "label-only"])
def test_shadow_attacks_see_through_per_image_difficulty(name: str) -> None:
    data, member = _world()
    scores = run_attack(name, data, PrivacyConfig(cnn_epochs=15)).scores
    assert scores.shape == (P,) and np.isfinite(scores).all()
    assert metrics.auc(scores, member) > 0.9, name


def test_calibration_beats_the_plain_loss_threshold_when_difficulty_varies() -> None:
    data, member = _world(effect=0.4)
    loss_auc = metrics.auc(run_attack("loss", data, PrivacyConfig()).scores, member)
    lira_auc = metrics.auc(run_attack("lira-online", data, PrivacyConfig()).scores, member)
    assert lira_auc > loss_auc + 0.15


def test_no_effect_means_chance() -> None:
    data, member = _world(seed=1, effect=0.0)
    for name in ("loss", "population", "lira-online", "lira-offline", "rmia"):
        value = metrics.auc(run_attack(name, data, PrivacyConfig()).scores, member)
        assert 0.3 < value < 0.7, name


def test_attacks_do_not_depend_on_the_order_of_images() -> None:
    data, member = _world(seed=2)
    order = np.random.default_rng(0).permutation(P)
    shuffled = AttackData(target=data.target.take(order), target_population=data.target_population,
                          shadows=[s.take(order) for s in data.shadows], shadows_population=data.shadows_population,
                          inclusion=data.inclusion[:, order], seed=data.seed)
    for name in ("lira-online", "lira-offline", "rmia", "rmia-online", "label-only"):
        a = run_attack(name, data, PrivacyConfig()).scores
        b = run_attack(name, shuffled, PrivacyConfig()).scores
        np.testing.assert_allclose(a[order], b, err_msg=name)


def test_lira_global_and_per_image_variance() -> None:
    data, member = _world(seed=3)
    assert run_attack("lira-online", data, PrivacyConfig()).params["variance"] == "global"  # K = 8 < 32
    per_image = run_attack("lira-online", data, PrivacyConfig(global_variance_below=4)).params
    assert per_image["variance"] == "per-image"


def test_rmia_counts_population_images_beaten() -> None:
    # one reference model, out for x; a = 1: Pr(x) = Pr(x | ref)
    scores = rmia_scores(np.array([0.9, 0.5]), np.array([[0.45, 0.5]]), np.ones((1, 2), bool),
                         np.array([0.5, 0.6, 0.7]), np.array([[0.5, 0.5, 0.5]]), a=1.0, gamma=1.0)
    # ratios: x = [2.0, 1.0], z = [1.0, 1.2, 1.4] -> x0 beats all three z, x1 beats none (1.0 > 1.0 is false)
    np.testing.assert_allclose(scores, [1.0, 0.0])


def test_image_logit_is_stable_and_monotone() -> None:
    loss = np.array([1e-9, 1e-4, 0.1, 1.0, 30.0])
    phi = image_logit(loss)
    p = np.exp(-loss[1:4])
    np.testing.assert_allclose(phi[1:4], np.log(p) - np.log1p(-p), rtol=1e-9)
    assert np.isfinite(phi).all() and (np.diff(phi) < 0).all()


def test_shadow_plan_puts_every_image_in_exactly_half_the_shadows() -> None:
    inclusion = plan_shadows(51, 8, seed=0)
    assert (inclusion.sum(axis=0) == 4).all()
    assert (inclusion[0] == ~inclusion[1]).all() and (inclusion[6] == ~inclusion[7]).all()
    assert set(inclusion.sum(axis=1)) <= {25, 26}
    np.testing.assert_array_equal(inclusion, plan_shadows(51, 8, seed=0))
    assert not np.array_equal(inclusion, plan_shadows(51, 8, seed=1))


class _FixedModel:
    """Logits chosen by the test: [B, C, S, S] from a function of the preprocessed input."""

    image_size = 8

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        person = inputs[:, :1].mean(dim=(1,), keepdim=True) * self.scale
        return torch.cat([-person, person], dim=1)


def test_signals_match_the_definitions_and_survive_saturated_probabilities() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mask = (image[:, :, 0] > 127).astype(np.uint8)
    mask[0, :] = 255
    model = _FixedModel(scale=1.0)
    signals = compute_signals(model, [image], [mask], ignore_index=255, map_size=4, label_only=False)
    from segaudit.models.data.torch_dataset import to_model_input

    x = to_model_input(image, 8)[None]
    log_p = torch.log_softmax(model.logits(x), 1)[0].double().numpy()
    valid = mask != 255
    labels = np.where(valid, mask, 0)
    log_p_y = np.take_along_axis(log_p, labels[None].astype(np.int64), 0)[0]
    log_p_other = np.take_along_axis(log_p, (1 - labels)[None].astype(np.int64), 0)[0]
    assert signals.conf[0, 0] == pytest.approx((log_p_y - log_p_other)[valid].mean(), rel=1e-5)
    assert signals.loss[0, 0] == pytest.approx(-log_p_y[valid].mean(), rel=1e-5)
    assert signals.maps.shape == (1, 2, 4, 4) and signals.conf.shape == (1, 2)
    # the mirror query of a mirror-symmetric model sees the same pixels mirrored: same means
    assert signals.conf[0, 1] == pytest.approx(signals.conf[0, 0], rel=1e-4)
    saturated = compute_signals(_FixedModel(scale=1e4), [image], [mask], ignore_index=255, map_size=4,
                                label_only=False)
    assert np.isfinite(saturated.conf).all() and abs(saturated.conf[0, 0]) > 1e3


def test_label_augmentations_shift_masks_with_images_and_ignore_what_enters() -> None:
    image = np.zeros((32, 32, 3), np.uint8)
    image[10:20, 10:20] = 255
    mask = (image[:, :, 0] > 0).astype(np.uint8)
    pairs = label_augmentations(image, mask, 255, np.random.default_rng(0))
    assert len(pairs) == len(LABEL_AUGMENTATIONS)
    shifted_image, shifted_mask = pairs[2]
    assert (shifted_mask[12:22, 12:22] == 1).all() and (shifted_image[12:22, 12:22] == 255).all()
    assert (shifted_mask[:2] == 255).all() and (shifted_mask[:, :2] == 255).all()
    model = _FixedModel(scale=5.0)
    signals = compute_signals(model, [image], [mask], 255, probabilities=False, label_only=True)
    assert signals.label_iou.shape == (1, len(LABEL_AUGMENTATIONS)) and signals.conf is None


@pytest.mark.parametrize("kwargs, field", [
    ({"attacks": ("lira", "loss")}, "attacks"),
    ({"members_split": "test"}, "nonmembers_split"),
    ({"label_only": True, "attacks": ("loss",)}, "attacks"),
    ({"shadow_models": 1, "attacks": ("lira-online",)}, "shadow_models"),
    ({"shadow_models": 2, "attacks": ("lira-offline",)}, "shadow_models"),  # LiRA needs K >= 4
    ({"shadow_models": 3, "attacks": ("rmia", "lira-online")}, "shadow_models"),
    ({"alpha": 0.0}, "alpha"),
    ({"balance": "yes"}, "balance"),
    ({"bootstrap": 10}, "bootstrap"),
])
def test_bad_settings_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as error:
        PrivacyConfig(**kwargs)
    assert error.value.field == field


def test_default_attacks_follow_access_and_shadows() -> None:
    assert PrivacyConfig(shadow_models=0).selected_attacks() == ("loss", "population", "label-only")
    assert PrivacyConfig(label_only=True).selected_attacks() == ("label-only",)
    assert PrivacyConfig().selected_attacks() == ("loss", "population", "lira-offline", "lira-online", "rmia",
                                                  "rmia-online", "loss-map-cnn", "label-only")
    # K = 2 leaves LiRA one in and one out model per image: no variance to fit, so it is not run
    assert PrivacyConfig(shadow_models=2).selected_attacks() == ("loss", "population", "rmia", "rmia-online",
                                                                 "loss-map-cnn", "label-only")


def test_leave_one_shadow_out_uses_every_shadow_as_a_target() -> None:
    data, member = _world(seed=4)
    loo = leave_one_out(data, ["loss", "rmia", "lira-online"], PrivacyConfig(), member, np.ones(P, bool))
    by_name = {row["name"]: row for row in loo["attacks"]}
    assert by_name["rmia"]["trials"] == K * P and by_name["rmia"]["nonmembers"] == K * P // 2
    assert by_name["rmia"]["auc"] > 0.9 and by_name["lira-online"]["auc"] > 0.9  # calibrated: membership shows
    assert references_of(0, K) == [2, 3, 4, 5, 6, 7] and references_of(5, K) == [0, 1, 2, 3, 6, 7]
    # null control: images shadow k never saw, labelled by the real target's membership: nothing to find
    for row in loo["null_control"]:
        low, high = row["raw"]["auc_ci"]
        assert low <= 0.5 <= high or abs(row["raw"]["auc"] - 0.5) < 0.1, row["name"]
    # LiRA needs 4 references; with K = 4 leave-one-out leaves 2, so it is skipped, not run on 2
    small = AttackData(target=data.target, target_population=data.target_population, shadows=data.shadows[:4],
                       shadows_population=data.shadows_population[:4], inclusion=data.inclusion[:4], seed=0)
    skipped = leave_one_out(small, ["lira-online", "rmia"], PrivacyConfig(shadow_models=4), member,
                            np.ones(P, bool))
    assert [r["name"] for r in skipped["attacks"]] == ["rmia"] and "lira-online" in skipped["skipped"][0]


def test_online_rmia_averages_the_in_and_out_references() -> None:
    data, member = _world(seed=5)
    online = run_attack("rmia-online", data, PrivacyConfig())
    assert online.params["online"] and metrics.auc(online.scores, member) > 0.9


def test_a_loss_map_cnn_that_learns_nothing_is_left_out_of_the_rating() -> None:
    data, _ = _world(seed=6)
    # labels that have nothing to do with the maps: another plan's inclusion
    data.inclusion = plan_shadows(P, K, seed=99)
    output = run_attack("loss-map-cnn", data, PrivacyConfig())
    assert output.params["learned"] is False and "left out of the rating" in output.notes[0]
    assert output.params["validation_maps"] == K * (P // 5)
    assert output.params["best_epoch"] < output.params["epochs_run"]  # stopped early on the validation loss
