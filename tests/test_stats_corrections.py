"""Holm and Benjamini-Hochberg adjusted p-values: worked examples, scipy, the textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from segaudit.audit.stats import adjust_pvalues, benjamini_hochberg, holm


def _holm_by_definition(p: np.ndarray) -> np.ndarray:
    m = p.size
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _bh_by_definition(p: np.ndarray) -> np.ndarray:
    """adj_(i) = min over j >= i of min(1, m p_(j) / j), one hypothesis at a time (statsmodels is not installed)."""
    m = p.size
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        running = min(running, m * p[order[rank]] / (rank + 1))
        out[order[rank]] = running
    return out


def test_holm_worked_example() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], rtol=1e-12)


def test_benjamini_hochberg_worked_example() -> None:
    # sorted: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04 -> running min from the top
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02], rtol=1e-12)


def test_benjamini_hochberg_equals_scipy_false_discovery_control() -> None:
    p = np.random.default_rng(0).uniform(0, 0.2, 25) ** 2
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_benjamini_hochberg_equals_its_textbook_step_up_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.r_[rng.uniform(0, 0.05, 10), rng.uniform(0, 1, 30), [1.0, 0.0]]
    p[[5, 20]] = p[12]  # ties
    rng.shuffle(p)
    np.testing.assert_allclose(benjamini_hochberg(p), _bh_by_definition(p), rtol=1e-12, atol=0)


def test_holm_equals_its_definition_and_both_are_monotone_and_capped() -> None:
    p = np.random.default_rng(1).uniform(0, 0.5, 30)
    p[[4, 9]] = p[2]
    np.testing.assert_allclose(holm(p), _holm_by_definition(p), rtol=1e-12)
    for adjusted in (holm(p), benjamini_hochberg(p)):
        order = np.argsort(p)
        assert np.all(np.diff(adjusted[order]) >= 0)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1.0)
    assert np.all(holm(p) >= benjamini_hochberg(p))


def test_single_p_value_is_unchanged_and_adjust_pvalues_dispatches() -> None:
    assert holm([0.03]).tolist() == [0.03] and benjamini_hochberg([0.03]).tolist() == [0.03]
    p = [0.2, 0.01, 0.04]
    np.testing.assert_array_equal(adjust_pvalues(p), holm(p))
    np.testing.assert_array_equal(adjust_pvalues(p, "bh"), benjamini_hochberg(p))
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)


@pytest.mark.parametrize(
    ("pvalues", "message"),
    [([], "empty"), ([0.1, np.nan], "NaN at index 1"), ([0.1, 1.5], "in \\[0, 1\\]; got 1.5 at index 1"),
     ([[0.1, 0.2]], "one-dimensional"), (["a"], "numeric")],
)
def test_bad_pvalues_raise_value_error_naming_the_problem(pvalues, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        holm(pvalues)
    with pytest.raises(ValueError, match=message):
        benjamini_hochberg(pvalues)


def test_unknown_correction_method_is_refused() -> None:
    with pytest.raises(ValueError, match="`method` must be one of"):
        adjust_pvalues([0.1], "bonferroni")
