"""Recipe-level evaluation: each shadow in turn plays the target, and the composition-only null control.

**Leave one shadow out.** The shadows are models trained with the target's recipe on known random halves of
the pool, so each one is a target whose membership is known for every pool image. Shadow k plays the target,
its complementary partner (which trained on exactly k's non-members) is dropped, and the remaining K - 2 (K - 1
for an unpaired shadow) are its references. Pooled over k this is K x P exchangeable trials, half of them
non-members: enough non-members to resolve TPR at 0.1 % FPR, which the real target's few hundred cannot. It
measures the recipe (how much any model trained this way leaks), not the shipped artifact; the real target's
result is the one rated.

**Composition-only null control.** On the images shadow k did NOT train on, label them by the real target's
membership. No model here has seen any of them, so there is no membership to find: an attack that scores
above 0.5 is reading the difference between the real members and non-members (who they are, how hard they
are), which is exactly the confound the balanced game removes. Reported on the raw game and on the balanced one;
the balanced AUC should be 0.5 within its interval.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from segaudit.audit.privacy import metrics
from segaudit.audit.privacy.attacks import AttackData, run_attack
from segaudit.audit.privacy.config import PrivacyConfig, minimum_references
from segaudit.audit.privacy.rating import auc_bounds, delong

LOW_FPRS = (0.01, 0.001)


def references_of(k: int, shadows: int) -> list[int]:
    """The shadows that stay references when shadow k plays the target: all but k and its complementary partner
    (shadows come in pairs 2j, 2j + 1; with an odd K the last one has no partner)."""
    return [i for i in range(shadows) if i not in (k, k ^ 1)]


def shadow_as_target(data: AttackData, k: int) -> tuple[AttackData, np.ndarray]:
    """The attack inputs with shadow k as the target, and its membership over the pool."""
    keep = references_of(k, len(data.shadows))
    assert data.inclusion is not None
    population = data.shadows_population[k] if data.shadows_population else None
    view = AttackData(target=data.shadows[k], target_population=population,
                      shadows=[data.shadows[i] for i in keep],
                      shadows_population=[data.shadows_population[i] for i in keep] if data.shadows_population
                      else [], inclusion=data.inclusion[keep], seed=data.seed)
    return view, data.inclusion[k].copy()


def leave_one_out(data: AttackData, attacks: list[str], config: PrivacyConfig, member: np.ndarray,
                  balanced: np.ndarray) -> dict[str, Any]:
    """Leave-one-shadow-out results per attack and the composition-only null control (see the docstring)."""
    shadows = len(data.shadows)
    out: dict[str, Any] = {"shadows": shadows, "attacks": [], "null_control": [], "skipped": []}
    if shadows < 2:
        out["skipped"].append("fewer than 2 shadow models: no shadow can play the target")
        return out
    loo_config = replace(config, attacks=None)  # attacks are chosen below; the config's checks were passed
    for name in attacks:
        refs = min(len(references_of(k, shadows)) for k in range(shadows))
        if refs < minimum_references(name):
            out["skipped"].append(f"{name}: needs {minimum_references(name)} reference models, leave-one-out "
                                  f"leaves {refs} of {shadows}")
            continue
        scores, labels, null_scores, null_labels, null_balanced = [], [], [], [], []
        for k in range(shadows):
            view, inside = shadow_as_target(data, k)
            values = run_attack(name, view, loo_config).scores
            scores.append(values)
            labels.append(inside)
            out_k = ~inside  # no model in this view trained on these as the target
            null_scores.append(values[out_k])
            null_labels.append(member[out_k])
            null_balanced.append(balanced[out_k])
        out["attacks"].append(_trials(name, np.concatenate(scores), np.concatenate(labels)))
        out["null_control"].append(_null(name, np.concatenate(null_scores), np.concatenate(null_labels),
                                         np.concatenate(null_balanced)))
    return out


def _trials(name: str, scores: np.ndarray, inside: np.ndarray) -> dict[str, Any]:
    fpr, tpr, _ = metrics.roc_curve(scores, inside)
    auc, se = delong(scores, inside)
    z = stats.norm.ppf(0.975)
    n0 = int((~inside).sum())
    return {"name": name, "trials": int(inside.size), "members": int(inside.sum()), "nonmembers": n0,
            "auc": auc, "auc_ci": list(auc_bounds(auc, se, z)),
            "tpr_at_fpr": {str(a): metrics.tpr_at_fpr(fpr, tpr, a) for a in LOW_FPRS},
            "fpr_resolution": 1.0 / n0, "resolves_0.001": n0 >= 1000}


def _null(name: str, scores: np.ndarray, member: np.ndarray, balanced: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name}
    z = stats.norm.ppf(0.975)
    for label, keep in (("raw", np.ones(member.size, dtype=bool)), ("balanced", balanced)):
        if member[keep].all() or not member[keep].any():
            row[label] = None
            continue
        auc, se = delong(scores[keep], member[keep])
        low, high = auc_bounds(auc, se, z)
        row[label] = {"auc": auc, "auc_ci": [low, high], "trials": int(keep.sum()),
                      "covers_half": bool(low <= 0.5 <= high)}
    return row
