"""What every attack sees: the target's signals and the shadows', never the target's membership labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segaudit.audit.privacy.signals import Signals


@dataclass
class AttackData:
    """Inputs of the attacks on the audit pool of P images.

    target / target_population: the target's signals on the pool and on the population images.
    shadows / shadows_population: the same for each of K shadow models; inclusion [K, P]: which pool images
    each shadow trained on (the attacker's own knowledge).
    """

    target: Signals
    target_population: Signals | None = None
    shadows: list[Signals] = field(default_factory=list)
    shadows_population: list[Signals] = field(default_factory=list)
    inclusion: np.ndarray | None = None
    seed: int = 0

    def stacked(self, name: str, population: bool = False) -> np.ndarray:
        """Shadow signal `name` stacked over shadows: [K, n, ...]."""
        source = self.shadows_population if population else self.shadows
        return np.stack([getattr(s, name) for s in source])


@dataclass
class AttackOutput:
    """Per-image scores (higher: more likely a member) and what the attack chose on the way."""

    scores: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
