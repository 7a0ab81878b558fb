"""Attacks without shadow models.

- loss (Yeom et al. 2018): members have lower loss; score = -mean loss over the queries. Yeom's decision
  threshold is the expected training loss; reported metrics are over every threshold (ROC), and the held-out
  threshold of the epsilon bound.
- population (Ye et al. 2022): compare the image's logit-scaled confidence with its distribution on population
  images the target never saw; score = the fraction of population images with lower confidence (so the
  decision "score >= 1 - alpha" has false-positive rate about alpha on non-members from the population).
"""

from __future__ import annotations

import numpy as np

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput
from segaudit.core.errors import InputError


def loss_attack(data: AttackData) -> AttackOutput:
    assert data.target.loss is not None
    return AttackOutput(scores=-data.target.loss.mean(axis=1))


def population_attack(data: AttackData) -> AttackOutput:
    if data.target_population is None or len(data.target_population) == 0:
        raise InputError("the population attack needs population images (a split that is neither members nor "
                         "non-members, e.g. val)", field="population_split")
    reference = np.sort(data.target_population.conf.mean(axis=1))
    confidence = data.target.conf.mean(axis=1)
    # Ties broken by the confidence itself (a tiny fraction of one step), so the ROC keeps full resolution.
    below = np.searchsorted(reference, confidence, side="left") / reference.size
    span = np.ptp(confidence) or 1.0
    scores = below + 1e-9 * (confidence - confidence.min()) / span
    return AttackOutput(scores=scores, params={"population": int(reference.size)})
