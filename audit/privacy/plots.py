"""The log-log ROC of every attack: low false-positive rates are where membership inference matters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segaudit.audit.privacy.result import PrivacyResult


def plot_roc(result: PrivacyResult, path: Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 0.5 / max(result.nonmembers, 1)
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    grid = np.logspace(np.log10(floor), 0, 200)
    ax.plot(grid, grid, ":", color="grey", label="chance")
    for attack in result.attacks:
        fpr = np.maximum(attack.fpr, floor)
        tpr = np.maximum(attack.tpr, 0.5 / max(result.members, 1))
        ax.step(fpr, tpr, where="post",
                label=f"{attack.name}: AUC {attack.auc:.3f}, TPR@1% {100 * attack.tpr_at_fpr['0.01']:.1f}%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(0.5 / max(result.members, 1), 1.05)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or f"membership inference, {result.members} members / {result.nonmembers} non-members "
                 f"({result.risk_level})", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
