"""The risk level for the model card, from documented thresholds on the strongest attack.

For each attack: the lower end of its AUC CI (is it better than chance, and by how much for sure?) and its TPR
at 1 % FPR (does it pick out some members with few false accusations? chance is 1 %). The TPR is used only
when the non-members resolve a 1 % FPR (at least 100 of them); otherwise the AUC alone decides. Levels, the
first that holds:

    high    AUC CI low >= 0.75, or TPR@1%FPR >= 20 %   (many members exposed at a low false-positive rate)
    medium  AUC CI low >= 0.60, or TPR@1%FPR >= 5 %
    low     AUC CI low >  0.50, or TPR@1%FPR >= 2 %    (detectable membership signal, weak)
    none    otherwise: every attack's AUC CI reaches 0.5 and none exposes members at low FPR
"""

from __future__ import annotations

from typing import Any

LEVELS = ("none", "low", "medium", "high")
THRESHOLDS = {"high": (0.75, 0.20), "medium": (0.60, 0.05), "low": (0.50, 0.02)}
RESOLVE_FPR = 0.01


def attack_level(auc_low: float, tpr_1: float, nonmembers: int) -> str:
    """The risk level one attack shows."""
    resolvable = nonmembers >= round(1 / RESOLVE_FPR)
    for level in ("high", "medium", "low"):
        auc_bar, tpr_bar = THRESHOLDS[level]
        above = auc_low > auc_bar if level == "low" else auc_low >= auc_bar
        if above or (resolvable and tpr_1 >= tpr_bar):
            return level
    return "none"


def risk_level(attacks: list[dict[str, Any]], nonmembers: int) -> tuple[str, str]:
    """(level, reason) from attack results as in privacy.json (auc_ci, tpr_at_fpr)."""
    if not attacks:
        return "none", "no attack was run"
    graded = []
    for attack in attacks:
        tpr = attack["tpr_at_fpr"]["0.01"]
        graded.append((LEVELS.index(attack_level(attack["auc_ci"][0], tpr, nonmembers)), attack["auc_ci"][0],
                       attack))
    index, _, worst = max(graded, key=lambda g: (g[0], g[1]))
    level = LEVELS[index]
    figures = (f"{worst['name']}: AUC {worst['auc']:.3f} (CI {worst['auc_ci'][0]:.3f}-{worst['auc_ci'][1]:.3f}), "
               f"TPR {100 * worst['tpr_at_fpr']['0.01']:.1f}% at 1% FPR")
    resolution = "" if nonmembers >= 100 else f"; {nonmembers} non-members cannot resolve 1% FPR, so the AUC CI decides"
    if level == "none":
        return level, f"no attack beats chance with confidence; strongest {figures}{resolution}"
    auc_bar, tpr_bar = THRESHOLDS[level]
    return level, (f"{figures} reaches the '{level}' bar (AUC CI low {'>' if level == 'low' else '>='} {auc_bar} "
                   f"or TPR@1%FPR >= {100 * tpr_bar:g}%){resolution}")
