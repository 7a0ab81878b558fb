"""Per-subgroup exposure: is one skin tone (or body shape, age group ...) more exposed than another?

For every declared attribute (continuous ones in quartile bins, unknown values as their own group), each
attack's AUC with its DeLong 95 % CI and TPR at 1 % FPR within the group's members and non-members. A group with
fewer than `min_group` (default 50) members or non-members is listed with its counts and `insufficient: true`,
never dropped: below that an AUC's interval is too wide to compare groups.

Whether groups differ is a test, not the maximum of many cells: per attribute and attack, Cochran's Q over the
sufficient groups (sum of w_g (AUC_g - pooled)^2 with w_g = 1 / se_g^2, chi-square with G - 1 degrees of
freedom), Holm-adjusted over every (attribute, attack) tested. A "most exposed group" exists only where its
attribute's test rejects after that adjustment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segaudit.audit.fairness.subgroups import attribute_grouping
from segaudit.audit.privacy import metrics
from segaudit.audit.privacy.rating import auc_bounds, delong
from segaudit.audit.stats.corrections import holm
from segaudit.models.data.spec import DatasetSpec


def by_group(table: pd.DataFrame, spec: DatasetSpec, member: np.ndarray, scores: dict[str, np.ndarray],
             min_group: int, alpha: float) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """({attribute: [one row per (group, attack)]}, the tests of whether groups differ, one row per (attribute,
    attack)); `table` holds the pool's attribute columns in pool order."""
    z = stats.norm.ppf(0.975)
    groups: dict[str, list[dict[str, Any]]] = {}
    differences: list[dict[str, Any]] = []
    for name, attribute in spec.attributes.items():
        if name not in table.columns:
            continue
        grouping = attribute_grouping(table.reset_index(drop=True), attribute, 4)
        rows = []
        estimates: dict[str, list[tuple[str, float, float]]] = {attack: [] for attack in scores}
        for g, label in enumerate(grouping.labels):
            inside = np.asarray(grouping.codes) == g
            n_members, n_nonmembers = int((inside & member).sum()), int((inside & ~member).sum())
            for attack, values in scores.items():
                row: dict[str, Any] = {"group": label, "n": n_members + n_nonmembers, "members": n_members,
                                       "nonmembers": n_nonmembers, "attack": attack}
                if min(n_members, n_nonmembers) < min_group:
                    row.update({"auc": None, "auc_ci": [None, None], "tpr_at_fpr": {"0.01": None},
                                "insufficient": True})
                else:
                    fpr, tpr, _ = metrics.roc_curve(values[inside], member[inside])
                    auc, se = delong(values[inside], member[inside])
                    row.update({"auc": auc, "auc_ci": list(auc_bounds(auc, se, z)),
                                "tpr_at_fpr": {"0.01": metrics.tpr_at_fpr(fpr, tpr, 0.01)}, "insufficient": False})
                    estimates[attack].append((label, auc, se))
                rows.append(row)
        groups[name] = rows
        for attack, values in estimates.items():
            differences.append({"attribute": name, "attack": attack, **_cochran(values)})
    tested = [d for d in differences if d["p_value"] is not None]
    adjusted = dict(zip(map(id, tested), holm([d["p_value"] for d in tested]), strict=True)) if tested else {}
    for row in differences:
        highest = row.pop("_highest")
        p = adjusted.get(id(row))
        row["p_adjusted"] = None if p is None else float(p)
        row["differs"] = p is not None and bool(p < alpha)
        row["most_exposed"] = highest if row["differs"] else None
    return groups, {"min_group": min_group, "alpha": alpha, "correction": "holm over (attribute, attack)",
                    "differences": differences}


def _cochran(estimates: list[tuple[str, float, float]]) -> dict[str, Any]:
    """Cochran's Q test that the groups' AUCs are equal; None when fewer than 2 groups can be compared."""
    usable = [(label, auc, se) for label, auc, se in estimates if se > 0]
    if len(usable) < 2:
        return {"groups_compared": len(usable), "q": None, "dof": None, "p_value": None, "_highest": None}
    aucs = np.array([auc for _, auc, _ in usable])
    weights = 1 / np.array([se for _, _, se in usable]) ** 2
    pooled = float((weights * aucs).sum() / weights.sum())
    q = float((weights * (aucs - pooled) ** 2).sum())
    dof = len(usable) - 1
    highest = max(usable, key=lambda e: e[1])
    return {"groups_compared": len(usable), "q": q, "dof": dof, "p_value": float(stats.chi2.sf(q, dof)),
            "pooled_auc": pooled, "_highest": {"group": highest[0], "auc": highest[1]}}
