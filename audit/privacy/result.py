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
    fpr: np.ndarray
    tpr: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measure(cls, name: str, output: AttackOutput, member: np.ndarray, bootstrap: int, confidence: float,
                seed: int) -> AttackResult:
        """The raw game's descriptive figures (the rating is computed separately, on the balanced game)."""
        scores = output.scores
        fpr, tpr, _ = metrics.roc_curve(scores, member)
        return cls(name=name, scores=scores, auc=metrics.auc(scores, member),
                   auc_ci=metrics.bootstrap_auc(scores, member, bootstrap, confidence, seed=seed),
                   tpr_at_fpr={str(a): metrics.tpr_at_fpr(fpr, tpr, a) for a in metrics.LOW_FPRS},
                   advantage=metrics.advantage(fpr, tpr), fpr=fpr, tpr=tpr, params=output.params)

    @property
    def rated(self) -> bool:
        """False for an attack that could not learn (the loss-map CNN on shadows it cannot separate)."""
        return bool(self.params.get("learned", True))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "auc": self.auc, "auc_ci": list(self.auc_ci), "tpr_at_fpr": self.tpr_at_fpr,
                "advantage": self.advantage, "rated": self.rated, "params": self.params}


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
    group_differences: dict[str, Any]
    risk_level: str
    risk_reason: str
    dataset: dict[str, Any]
    config: dict[str, Any]
    rating: dict[str, Any] = field(default_factory=dict)  # rating.Rating.to_dict() on the rated (balanced) game
    raw_rating: dict[str, Any] = field(default_factory=dict)  # the same rule on the raw game, for comparison
    balance: dict[str, Any] = field(default_factory=dict)
    leave_one_out: dict[str, Any] = field(default_factory=dict)
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
                "group_differences": self.group_differences,
                "risk_level": self.risk_level, "risk_reason": self.risk_reason, "rating": self.rating,
                "raw_rating": self.raw_rating, "balance": self.balance, "leave_one_out": self.leave_one_out,
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
                 "rated_level": self._rated_level(a.name), "risk_level": self.risk_level}
                for a in self.attacks]

    def _rated_level(self, name: str) -> str | None:
        for attack in self.rating.get("attacks", []):
            if attack["name"] == name:
                return attack["level"]
        return None
