"""Privacy metrics against scikit-learn and scipy: ROC, AUC and its fast rank path, bootstrap CI, epsilon bound."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from segaudit.audit.privacy import metrics


def _scores(seed: int, n1: int = 60, n0: int = 90, shift: float = 0.8, ties: bool = False):
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(shift, 1, n1), rng.normal(0, 1, n0)]
    if ties:
        scores = np.round(scores, 1)
    member = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    return scores, member


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_and_auc_agree_with_sklearn(seed: int, ties: bool) -> None:
    scores, member = _scores(seed, ties=ties)
    fpr, tpr, thresholds = metrics.roc_curve(scores, member)
    sk_fpr, sk_tpr, sk_thresholds = sk_roc_curve(member, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    assert metrics.auc(scores, member) == pytest.approx(roc_auc_score(member, scores), abs=1e-12)


def test_tpr_at_low_fpr_and_advantage_from_the_roc() -> None:
    scores, member = _scores(3, n1=500, n0=2000, shift=1.5)
    fpr, tpr, _ = metrics.roc_curve(scores, member)
    sk_fpr, sk_tpr, _ = sk_roc_curve(member, scores)
    for alpha in metrics.LOW_FPRS:
        assert metrics.tpr_at_fpr(fpr, tpr, alpha) == pytest.approx(sk_tpr[sk_fpr <= alpha].max())
    assert metrics.advantage(fpr, tpr) == pytest.approx(np.max(sk_tpr - sk_fpr))
    # a perfect attack exposes everyone at zero false positives; a constant score exposes no one
    perfect = member.astype(float)
    f, t, _ = metrics.roc_curve(perfect, member)
    assert metrics.tpr_at_fpr(f, t, 0.001) == 1.0 and metrics.advantage(f, t) == 1.0
    f, t, _ = metrics.roc_curve(np.zeros(member.size), member)
    assert metrics.tpr_at_fpr(f, t, 0.01) == 0.0 and metrics.auc(np.zeros(member.size), member) == 0.5


def test_rank_auc_of_every_row_equals_sklearn_roc_auc_score_ties_included() -> None:
    rng = np.random.default_rng(8)
    rows = np.round(rng.normal(np.r_[np.full(25, 0.7), np.zeros(35)], 1, (50, 60)), 1)  # many ties per row
    rows[0] = 0.0  # all tied: 1/2
    rows[1, :25] = 5.0  # perfect: 1
    labels = np.r_[np.ones(25), np.zeros(35)]
    expected = [roc_auc_score(labels, row) for row in rows]
    np.testing.assert_allclose(metrics.rank_auc(rows, 25), expected, rtol=0, atol=1e-15)
    assert metrics.rank_auc(rows, 25)[:2].tolist() == [0.5, 1.0]


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_auc_matches_a_plain_loop_with_the_same_draws(ties: bool) -> None:
    scores, member = _scores(4, n1=30, n0=40, ties=ties)
    low, high = metrics.bootstrap_auc(scores, member, n_resamples=300, confidence=0.9, seed=7)
    rng = np.random.default_rng(7)
    positives, negatives = scores[member], scores[~member]
    values = []
    block = max(1, (1 << 18) // member.size)
    assert block >= 300  # one block: the draws below are in the same order
    p_index = rng.integers(0, 30, (300, 30))
    n_index = rng.integers(0, 40, (300, 40))
    for b in range(300):
        s = np.r_[positives[p_index[b]], negatives[n_index[b]]]
        values.append(roc_auc_score(np.r_[np.ones(30), np.zeros(40)], s))
    expected = np.quantile(values, [0.05, 0.95])
    assert (low, high) == pytest.approx(tuple(expected), abs=1e-12)
    assert low < metrics.auc(scores, member) < high


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="both members and non-members"):
        metrics.auc(np.arange(3.0), np.ones(3, bool))
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_curve(np.array([0.0, np.nan]), np.array([True, False]))
