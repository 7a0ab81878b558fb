"""Robust membership inference (RMIA, Zarifzadeh et al. 2024), with reference (shadow) models.

Pr(x | model) is the geometric-mean probability of the true labels over valid pixels, averaged over the
queries. Score(x) = the fraction of population images z with [Pr(x | target) / Pr(x)] / [Pr(z | target) / Pr(z)]
> gamma. Pr(x) is the reference models' average:

- online (`rmia-online`): over all reference models, the half that trained on x and the half that did not;
- offline (`rmia`): only the "out" models exist for a new x, so their mean is mixed towards 1 to stand in for
  the missing "in" models: Pr(x) = (1 + a) / 2 * mean_out Pr(x | ref) + (1 - a) / 2.

The mixing parameter a is tuned as the paper does: one reference model plays the target, the others are its
references, and a takes the value in 0, 0.1, ..., 1 with the highest AUC on that model's own members and
non-members. Its complementary partner (trained on exactly its non-members) is left out of those references,
as it would never be available for a real target; so tuning needs 4 reference models, else a = DEFAULT_A.
Without a population split, z are the other pool images (a documented fallback).
"""

from __future__ import annotations

import numpy as np

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput
from segaudit.audit.privacy.metrics import auc

A_GRID = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_A = 0.3


def _prior(reference: np.ndarray, out: np.ndarray, a: float) -> np.ndarray:
    """Offline Pr(x) from reference likelihoods [R, n] and which of them are out for x [R, n]."""
    count = out.sum(axis=0)
    mean_out = np.where(count > 0, (reference * out).sum(axis=0) / np.maximum(count, 1), np.nan)
    return (1 + a) / 2 * mean_out + (1 - a) / 2


def rmia_scores(target_x: np.ndarray, reference_x: np.ndarray, out_x: np.ndarray, target_z: np.ndarray,
                reference_z: np.ndarray, a: float, gamma: float) -> np.ndarray:
    """RMIA scores of n images x against m population images z (all reference models are out for z)."""
    ratio_x = target_x / _prior(reference_x, out_x, a)
    ratio_z = target_z / _prior(reference_z, np.ones_like(reference_z, dtype=bool), a)
    ratio_z = np.sort(ratio_z)
    # fraction of z with ratio_x / ratio_z > gamma  <=>  ratio_z < ratio_x / gamma
    return np.searchsorted(ratio_z, ratio_x / gamma, side="left") / ratio_z.size


def rmia(data: AttackData, gamma: float = 1.0, a: float | None = None, online: bool = False) -> AttackOutput:
    assert data.inclusion is not None
    reference_x = np.stack([s.likelihood() for s in data.shadows])  # [K, P]
    target_x = data.target.likelihood()
    notes: list[str] = []
    if online:
        return _online(data, reference_x, target_x, gamma, notes)
    if data.target_population is not None and len(data.target_population):
        target_z = data.target_population.likelihood()
        reference_z = np.stack([s.likelihood() for s in data.shadows_population])
        z_source = "population"
    else:
        target_z, reference_z, z_source = None, None, "pool"
        notes.append("rmia: no population images; z are the other pool images (members among them make the "
                     "attack weaker, never stronger)")
    tuned, tuning_auc = a is None, None
    if tuned:
        a, tuning_auc = _tune_a(reference_x, data.inclusion, reference_z, gamma)
        if a is None:
            a = DEFAULT_A
            notes.append(f"rmia: too few reference models to tune a; a = {DEFAULT_A}")
    if target_z is None:
        scores = _pool_scores(target_x, reference_x, ~data.inclusion, a, gamma)
    else:
        scores = rmia_scores(target_x, reference_x, ~data.inclusion, target_z, reference_z, a, gamma)
    # Ties (scores are multiples of 1/m) broken by the likelihood ratio itself, which orders the same way.
    ratio = target_x / _prior(reference_x, ~data.inclusion, a)
    scores = scores + 1e-9 * (ratio - ratio.min()) / (np.ptp(ratio) or 1.0)
    params = {"a": a, "a_tuned": tuned, "gamma": gamma, "z": z_source,
              "z_count": int(target_z.size if target_z is not None else target_x.size - 1)}
    if tuning_auc is not None:
        params["tuning_auc"] = tuning_auc
    return AttackOutput(scores=scores, params=params, notes=notes)


def _pool_scores(target_x: np.ndarray, reference_x: np.ndarray, out_x: np.ndarray, a: float,
                 gamma: float) -> np.ndarray:
    """RMIA with z = every other pool image (its Pr(z) also from the references that are out for z)."""
    ratio = target_x / _prior(reference_x, out_x, a)
    order = np.sort(ratio)
    below = np.searchsorted(order, ratio / gamma, side="left")
    below = below - (ratio < ratio / gamma)  # x itself is not one of its z
    return below / (ratio.size - 1)


def _tune_a(reference_x: np.ndarray, inclusion: np.ndarray, reference_z: np.ndarray | None,
            gamma: float) -> tuple[float | None, float | None]:
    """a with the best AUC when reference model 0 plays the target (None when it cannot be tuned)."""
    k = reference_x.shape[0]
    if k < 4:
        return None, None
    others = np.arange(2, k)  # reference 0 plays the target; its partner 1 trained on exactly 0's non-members
    out = ~inclusion[others]
    usable = out.any(axis=0)
    labels = inclusion[0][usable]
    if labels.all() or not labels.any():
        return None, None
    best, best_auc = None, -1.0
    for a in A_GRID:
        if reference_z is None:
            scores = _pool_scores(reference_x[0][usable], reference_x[others][:, usable], out[:, usable], a, gamma)
        else:
            scores = rmia_scores(reference_x[0][usable], reference_x[others][:, usable], out[:, usable],
                                 reference_z[0], reference_z[others], a, gamma)
        value = auc(scores, labels)
        if value > best_auc + 1e-12:
            best, best_auc = a, value
    return best, best_auc


def _online(data: AttackData, reference_x: np.ndarray, target_x: np.ndarray, gamma: float,
            notes: list[str]) -> AttackOutput:
    """Online RMIA: Pr(x) and Pr(z) are the mean over every reference model (each x is in for half of them)."""
    prior_x = reference_x.mean(axis=0)
    ratio_x = target_x / prior_x
    if data.target_population is not None and len(data.target_population):
        reference_z = np.stack([s.likelihood() for s in data.shadows_population])
        ratio_z = np.sort(data.target_population.likelihood() / reference_z.mean(axis=0))
        scores = np.searchsorted(ratio_z, ratio_x / gamma, side="left") / ratio_z.size
        z_source, z_count = "population", int(ratio_z.size)
    else:
        order = np.sort(ratio_x)
        below = np.searchsorted(order, ratio_x / gamma, side="left") - (ratio_x < ratio_x / gamma)
        scores = below / (ratio_x.size - 1)
        z_source, z_count = "pool", int(ratio_x.size - 1)
        notes.append("rmia-online: no population images; z are the other pool images")
    scores = scores + 1e-9 * (ratio_x - ratio_x.min()) / (np.ptp(ratio_x) or 1.0)
    return AttackOutput(scores=scores, params={"online": True, "gamma": gamma, "z": z_source, "z_count": z_count},
                        notes=notes)
