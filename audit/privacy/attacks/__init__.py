"""Membership-inference attacks: each maps AttackData (signals, never the target's labels) to scores."""

from __future__ import annotations

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput
from segaudit.audit.privacy.attacks.label_only import label_only
from segaudit.audit.privacy.attacks.lira import lira
from segaudit.audit.privacy.attacks.loss_map import loss_map_cnn
from segaudit.audit.privacy.attacks.rmia import rmia
from segaudit.audit.privacy.attacks.threshold import loss_attack, population_attack
from segaudit.audit.privacy.config import PrivacyConfig


def run_attack(name: str, data: AttackData, config: PrivacyConfig) -> AttackOutput:
    """Scores of the attack `name` (one of config.ATTACKS)."""
    if name == "loss":
        return loss_attack(data)
    if name == "population":
        return population_attack(data)
    if name in ("lira-offline", "lira-online"):
        return lira(data, online=name == "lira-online", global_variance_below=config.global_variance_below,
                    signal=config.lira_signal)
    if name in ("rmia", "rmia-online"):
        return rmia(data, gamma=config.rmia_gamma, a=config.rmia_a, online=name == "rmia-online")
    if name == "loss-map-cnn":
        return loss_map_cnn(data, epochs=config.cnn_epochs)
    if name == "label-only":
        return label_only(data)
    raise ValueError(f"unknown attack {name!r}")


__all__ = ["AttackData", "AttackOutput", "run_attack"]
