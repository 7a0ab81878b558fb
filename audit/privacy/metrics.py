"""How well an attack's scores separate members from non-members: ROC, AUC with a bootstrap CI, TPR at low
FPR, membership advantage, and the empirical epsilon lower bound of Jagielski et al. (2020).

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

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn import metrics as sklearn_metrics

from segaudit.audit.stats.binomial import clopper_pearson

LOW_FPRS = (0.01, 0.001)


@dataclass(frozen=True)
class EpsilonBound:
    """An empirical lower bound on the epsilon of any (epsilon, delta)-DP guarantee the model could have.

    threshold: chosen on the selection half; fpr/fnr: on the held-out half, with their Clopper-Pearson upper
    bounds; epsilon: the bound (0 when the attack shows nothing); balanced_accuracy: at that threshold, held out.
    """

    epsilon: float
    threshold: float
    false_positives: int
    nonmembers: int
    false_negatives: int
    members: int
    fpr_upper: float
    fnr_upper: float
    balanced_accuracy: float
    confidence: float


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


def epsilon_from_rates(fpr_upper: float, fnr_upper: float, delta: float = 0.0) -> float:
    """The epsilon any (epsilon, delta)-DP mechanism must exceed to allow these error rates (Kairouz et al.)."""
    candidates = [0.0]
    for a, b in ((fpr_upper, fnr_upper), (fnr_upper, fpr_upper)):
        if a > 0 and 1 - delta - b > 0:
            candidates.append(float(np.log((1 - delta - b) / a)))
    return max(candidates)


def epsilon_lower_bound(scores: np.ndarray, member: np.ndarray, confidence: float = 0.95, delta: float = 0.0,
                        seed: int | np.random.Generator = 0) -> EpsilonBound:
    """Jagielski et al. (2020): choose the threshold on one stratified half, bound FPR and FNR on the other.

    The threshold maximises the bound on the selection half; on the held-out half the false positives and false
    negatives get one-sided Clopper-Pearson upper bounds at 1 - (1 - confidence) / 2 each, so both hold together
    with probability >= `confidence`, and the bound is epsilon_from_rates of those upper bounds.
    """
    scores, member = check_scores(scores, member)
    rng = np.random.default_rng(seed)
    selection = np.zeros(scores.size, dtype=bool)
    for label in (True, False):
        index = np.flatnonzero(member == label)
        selection[rng.permutation(index)[: index.size // 2]] = True
    each = 1 - (1 - confidence) / 2
    threshold = _best_threshold(scores[selection], member[selection], each, delta) \
        if member[selection].any() and (~member[selection]).any() else np.inf
    held, held_member = scores[~selection], member[~selection]
    predicted = held >= threshold
    false_positives = int((predicted & ~held_member).sum())
    false_negatives = int((~predicted & held_member).sum())
    n0, n1 = int((~held_member).sum()), int(held_member.sum())
    fpr_upper = clopper_pearson(false_positives, n0, each, alternative="less").high
    fnr_upper = clopper_pearson(false_negatives, n1, each, alternative="less").high
    balanced = 0.5 * ((1 - false_positives / n0) + (1 - false_negatives / n1))
    return EpsilonBound(epsilon=epsilon_from_rates(fpr_upper, fnr_upper, delta), threshold=float(threshold),
                        false_positives=false_positives, nonmembers=n0, false_negatives=false_negatives,
                        members=n1, fpr_upper=fpr_upper, fnr_upper=fnr_upper, balanced_accuracy=float(balanced),
                        confidence=confidence)


def _best_threshold(scores: np.ndarray, member: np.ndarray, each: float, delta: float) -> float:
    """The ROC threshold whose Clopper-Pearson epsilon bound on these scores is largest (ties: the highest)."""
    fpr, tpr, thresholds = roc_curve(scores, member)
    n1, n0 = int(member.sum()), int((~member).sum())
    fp, fn = np.rint(fpr[1:] * n0), np.rint((1 - tpr[1:]) * n1)
    fpr_upper = clopper_pearson(fp, n0, each, alternative="less").high
    fnr_upper = clopper_pearson(fn, n1, each, alternative="less").high
    with np.errstate(divide="ignore", invalid="ignore"):
        bounds = np.maximum.reduce([np.zeros_like(fpr_upper),
                                    np.log(np.clip(1 - delta - fnr_upper, 0, None) / fpr_upper),
                                    np.log(np.clip(1 - delta - fpr_upper, 0, None) / fnr_upper)])
    bounds = np.nan_to_num(bounds, nan=0.0, neginf=0.0)
    return float(thresholds[1:][int(np.argmax(bounds))])
