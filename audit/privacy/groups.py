"""Per-subgroup exposure: is one skin tone (or body shape, age group ...) more exposed than another?

For every declared attribute (continuous ones in quartile bins, unknown values as their own group), each
attack's AUC with its bootstrap CI and TPR at 1 % FPR within the group's members and non-members. A group with
fewer than `min_group` members or non-members is listed with its counts and `insufficient: true`, never dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segaudit.audit.fairness.subgroups import attribute_grouping
from segaudit.audit.privacy import metrics
from segaudit.models.data.spec import DatasetSpec


def by_group(table: pd.DataFrame, spec: DatasetSpec, member: np.ndarray, scores: dict[str, np.ndarray],
             min_group: int, bootstrap: int, confidence: float, seed: int) -> dict[str, list[dict[str, Any]]]:
    """{attribute: [one row per (group, attack)]}; `table` holds the pool's attribute columns in pool order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for a, (name, attribute) in enumerate(spec.attributes.items()):
        if name not in table.columns:
            continue
        grouping = attribute_grouping(table, attribute, 4)
        rows = []
        for g, label in enumerate(grouping.labels):
            inside = grouping.codes == g
            n_members, n_nonmembers = int((inside & member).sum()), int((inside & ~member).sum())
            for attack, values in scores.items():
                row: dict[str, Any] = {"group": label, "n": n_members + n_nonmembers, "members": n_members,
                                       "nonmembers": n_nonmembers, "attack": attack}
                if min(n_members, n_nonmembers) < min_group:
                    row.update({"auc": None, "auc_ci": [None, None], "tpr_at_fpr": {"0.01": None},
                                "insufficient": True})
                else:
                    fpr, tpr, _ = metrics.roc_curve(values[inside], member[inside])
                    ci = metrics.bootstrap_auc(values[inside], member[inside], bootstrap, confidence,
                                               seed=[seed, a, g])
                    row.update({"auc": metrics.auc(values[inside], member[inside]), "auc_ci": list(ci),
                                "tpr_at_fpr": {"0.01": metrics.tpr_at_fpr(fpr, tpr, 0.01)}, "insufficient": False})
                rows.append(row)
        out[name] = rows
    return out
