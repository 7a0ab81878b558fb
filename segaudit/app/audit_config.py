"""The settings of `segaudit audit` (`run_audit`): light to import, so the CLI can show its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segaudit.audit.fairness.config import FairnessConfig


@dataclass
class AuditConfig:
    """What `segaudit audit` runs: the split, the fairness and privacy settings (privacy None: skipped), the card
    facts (None: no model card), and how cards publish (draft marks gaps; groups below min_group are hidden)."""

    split: str = "test"
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    privacy: Any = None  # audit.privacy.PrivacyConfig, or None to skip the privacy audit
    facts: Path | None = None
    dataset_facts: Path | None = None
    templates: Path | None = None
    draft: bool = False
    card_min_group: int = 30
    seed: int = 0
    recipe: Path | None = None
    report: bool = True
