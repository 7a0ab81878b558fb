"""How well an attack's scores separate members from non-members: ROC, AUC with a bootstrap CI, TPR at low
FPR, membership advantage (descriptive figures of the raw game; the rating's tests are in rating.py, and a
valid DP lower bound needs the canary audit, canary.py: a split-based "epsilon" from one model is not one).

Convention everywhere: a higher score means "more likely a member"; `member` is a boolean array. The ROC is
scikit-learn's `roc_curve` with `drop_intermediate=False`: the exact step curve over every distinct score, ties
moving together. The AUC is the Mann-Whitney U statistic over n1 n0 (ties count one half), `rank_auc`: one
rankdata call ranks a whole block of resamples, the fast path the 1000-resample bootstrap needs. The point
estimate is the same statistic as its resamples; it equals `sklearn.metrics.roc_auc_score` to 1e-15 (tests,
ties included), whose trapezoid sum rounds the last bit differently in about a third of cases, which would move
the committed AUCs of reports/alisnet/privacy/privacy.json.

TPR at FPR alpha is the highest TPR among ROC points with FPR <= alpha (Carlini et al. 2022). With n0
non-members, FPRs below 1/n0 are not resolvable: the value is then the TPR at zero false positives, a
conservative figure; `fpr_resolution` = 1/n0 is reported beside it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as sklearn_metrics

LOW_FPRS = (0.01, 0.001)


def check_scores(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores as finite float64 and labels as bool, same length, both classes present (else ValueError)."""
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member, dtype=bool)
    if scores.ndim != 1 or scores.shape != member.shape:
        raise ValueError(f"scores {scores.shape} and member {member.shape} must be 1-D of the same length")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    if member.all() or not member.any():
        raise ValueError("the ROC needs both members and non-members")
    return scores, member


def roc_curve(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds decreasing from +inf; predict member when score >= threshold."""
    scores, member = check_scores(scores, member)
    return sklearn_metrics.roc_curve(member, scores, drop_intermediate=False)


def auc(scores: np.ndarray, member: np.ndarray) -> float:
    """Area under the ROC: P(score of a member > score of a non-member) + 1/2 P(tie)."""
    scores, member = check_scores(scores, member)
    return float(rank_auc(np.r_[scores[member], scores[~member]][np.newaxis], int(member.sum()))[0])


def rank_auc(scores: np.ndarray, members: int) -> np.ndarray:
    """AUC of each row of `scores` [b, n] whose first `members` columns are members -> [b].

    The fast path of `bootstrap_auc`: one rankdata call ranks a whole block of resamples, where roc_auc_score
    would sort and validate each of the 1000 resamples in a Python loop. Rank sums are exact (multiples of 1/2),
    so the order of the columns within each class does not change a bit of the result.
    """
    n0 = scores.shape[1] - members
    ranks = stats.rankdata(scores, axis=1)
    return (ranks[:, :members].sum(axis=1) - members * (members + 1) / 2) / (members * n0)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, alpha: float) -> float:
    """The highest TPR reachable with FPR <= alpha on the ROC (fpr, tpr)."""
    return float(tpr[fpr <= alpha + 1e-12].max())


def advantage(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Membership advantage (Yeom et al. 2018): max over thresholds of TPR - FPR."""
    return float(np.max(tpr - fpr))


def bootstrap_auc(scores: np.ndarray, member: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95,
                  seed: int | np.random.Generator = 0) -> tuple[float, float]:
    """Percentile CI of the AUC, resampling members and non-members separately (their counts stay fixed)."""
    scores, member = check_scores(scores, member)
    rng = np.random.default_rng(seed)
    positives, negatives = scores[member], scores[~member]
    n1, n0 = positives.size, negatives.size
    values = np.empty(n_resamples)
    block = max(1, (1 << 18) // (n1 + n0))
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        resampled = np.concatenate([positives[rng.integers(0, n1, (b, n1))],
                                    negatives[rng.integers(0, n0, (b, n0))]], axis=1)
        values[start:start + b] = rank_auc(resampled, n1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
