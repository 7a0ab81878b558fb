"""The result of a privacy audit and its privacy.json form (the issue's schema, plus what explains it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segaudit.audit.privacy import metrics
from segaudit.audit.privacy.attacks import AttackOutput

THREAT_MODEL = (
    "Black-box membership inference against the shipped model. The attacker holds the model file and queries it "
    "like the app does (per-pixel class probabilities; with --label-only, the predicted mask only), and has photos "
    "with masks from the same population. Asked of a target photo: was it in the training set? Shadow/reference "
    "models are trained by the attacker with the target's recipe on random halves of those photos.")
LABEL_ONLY_THREAT_MODEL = THREAT_MODEL.replace("(per-pixel class probabilities; with --label-only, the predicted "
                                               "mask only)", "(the predicted mask only: label-only access)")
# How a run went rather than what it found: kept out of privacy.json, so a cached rerun writes the same file.
RUN_ONLY = ("trained_now", "from_cache")


@dataclass
class AttackResult:
    """One attack's scores on the pool and everything measured from them."""

    name: str
    scores: np.ndarray
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_fpr: dict[str, float]
    advantage: float
    epsilon: metrics.EpsilonBound
    fpr: np.ndarray
    tpr: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measure(cls, name: str, output: AttackOutput, member: np.ndarray, bootstrap: int, confidence: float,
                delta: float, seed: int) -> AttackResult:
        scores = output.scores
        fpr, tpr, _ = metrics.roc_curve(scores, member)
        return cls(name=name, scores=scores, auc=metrics.auc(scores, member),
                   auc_ci=metrics.bootstrap_auc(scores, member, bootstrap, confidence, seed=seed),
                   tpr_at_fpr={str(a): metrics.tpr_at_fpr(fpr, tpr, a) for a in metrics.LOW_FPRS},
                   advantage=metrics.advantage(fpr, tpr),
                   epsilon=metrics.epsilon_lower_bound(scores, member, confidence, delta, seed=seed),
                   fpr=fpr, tpr=tpr, params=output.params)

    def to_dict(self) -> dict[str, Any]:
        e = self.epsilon
        return {"name": self.name, "auc": self.auc, "auc_ci": list(self.auc_ci), "tpr_at_fpr": self.tpr_at_fpr,
                "advantage": self.advantage, "balanced_accuracy": e.balanced_accuracy,
                "epsilon_lower_bound": e.epsilon,
                "epsilon_detail": {"threshold": e.threshold, "false_positives": e.false_positives,
                                   "nonmembers": e.nonmembers, "false_negatives": e.false_negatives,
                                   "members": e.members, "fpr_upper": e.fpr_upper, "fnr_upper": e.fnr_upper,
                                   "confidence": e.confidence,
                                   "method": "threshold chosen on a stratified half, Clopper-Pearson bounds on "
                                             "the other half (Jagielski et al. 2020)"},
                "params": self.params}


@dataclass
class PrivacyResult:
    """Everything a privacy audit found; `to_dict` is privacy.json."""

    target: dict[str, Any]
    threat_model: str
    ids: list[str]
    member: np.ndarray
    population: int
    shadows: dict[str, Any]
    attacks: list[AttackResult]
    by_group: dict[str, list[dict[str, Any]]]
    risk_level: str
    risk_reason: str
    dataset: dict[str, Any]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def members(self) -> int:
        return int(self.member.sum())

    @property
    def nonmembers(self) -> int:
        return int((~self.member).sum())

    def attack(self, name: str) -> AttackResult:
        for attack in self.attacks:
            if attack.name == name:
                return attack
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """privacy.json: the issue's keys first, then the settings and details (no timestamps, no timings)."""
        return {"target": self.target, "threat_model": self.threat_model, "members": self.members,
                "nonmembers": self.nonmembers, "population": self.population,
                "shadow_models": int(self.shadows.get("count", 0)),
                "attacks": [a.to_dict() for a in self.attacks], "by_group": self.by_group,
                "risk_level": self.risk_level, "risk_reason": self.risk_reason,
                "fpr_resolution": 1.0 / self.nonmembers,
                "shadows": {k: v for k, v in self.shadows.items() if k not in RUN_ONLY},
                "dataset": self.dataset,
                "config": self.config, "notes": self.notes}

    def comparison_rows(self, label: str) -> list[dict[str, Any]]:
        """One row per attack for the float / int8 / DP-SGD comparison table."""
        return [{"model": label, "format": self.target["format"], "artifact": self.target["artifact"],
                 "dp_epsilon": self.target.get("dp_epsilon_spent") or self.target.get("dp_epsilon"),
                 "attack": a.name, "auc": round(a.auc, 4), "auc_ci_low": round(a.auc_ci[0], 4),
                 "auc_ci_high": round(a.auc_ci[1], 4), "tpr_at_1pct_fpr": round(a.tpr_at_fpr["0.01"], 4),
                 "tpr_at_0.1pct_fpr": round(a.tpr_at_fpr["0.001"], 4), "advantage": round(a.advantage, 4),
                 "epsilon_lower_bound": round(a.epsilon.epsilon, 4), "risk_level": self.risk_level}
                for a in self.attacks]
