"""ITA derivation on the generator's people: a darker Monk tone must give a lower ITA."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import spearmanr

from segaudit.models.data import load_package
from segaudit.models.data.derive import EVIDENCE_FILE, derive_attributes
from segaudit.models.data.synth import synthesize


@pytest.mark.parametrize(("label_set", "max_rho"), [("fashion", -0.45), ("person", -0.45)])
def test_darker_monk_tone_gives_lower_ita(tmp_path: Path, label_set: str, max_rho: float) -> None:
    """With a skin class (fashion labels) ITA reads skin directly; person-only masks use the colour filter.

    Low light and backlight spread each tone widely (rank correlation about -0.6 over 60 people), but the
    medians of the lightest and darkest tones lie far apart.
    """
    package_dir = synthesize(tmp_path / label_set, n=60, seed=11, size=128, label_set=label_set, workers=1)
    derive_attributes(package_dir)
    manifest = load_package(package_dir, verify=True).manifest
    known = manifest.dropna(subset=["ita_deg"])
    assert len(known) >= 40  # the rest are unknown, each with its reason in the evidence
    evidence = pd.read_csv(package_dir / EVIDENCE_FILE, keep_default_na=False)
    assert (evidence["reason"] != "").sum() == len(manifest) - len(known)
    monk_index = known["skin_tone"].str.removeprefix("monk_").astype(int)
    rho = spearmanr(monk_index, known["ita_deg"]).statistic
    assert rho < max_rho
    light = known[monk_index <= 3]["ita_deg"].median()
    dark = known[monk_index >= 8]["ita_deg"].median()
    assert dark < light - 40  # about 70 vs -75 degrees: lighting spreads tones, the order holds
