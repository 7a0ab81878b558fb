"""Label-only attack (after Choquette-Choo et al. 2021): the attacker sees only the argmax mask.

Members tend to be segmented well and robustly: the mean IoU of the predicted mask with the ground truth over
the label augmentations (identity, mirror, shifts, brightness, noise; see signals.LABEL_AUGMENTATIONS) is the
score. With shadow models, each image's score is calibrated by subtracting its mean over the shadows that did
not train on it (difficulty calibration, Watson et al. 2022): an easy image is not a member just for being easy.
"""

from __future__ import annotations

import numpy as np

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput


def label_only(data: AttackData) -> AttackOutput:
    assert data.target.label_iou is not None
    scores = data.target.label_iou.mean(axis=1)
    if data.inclusion is None or not data.shadows:
        return AttackOutput(scores=scores, params={"calibrated": False})
    reference = np.stack([s.label_iou.mean(axis=1) for s in data.shadows])  # [K, P]
    out = ~data.inclusion
    calibration = (reference * out).sum(axis=0) / np.maximum(out.sum(axis=0), 1)
    return AttackOutput(scores=scores - calibration, params={"calibrated": True})
