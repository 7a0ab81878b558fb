"""Differences of group means with bootstrap CIs, read off a stratified group bootstrap.

Every difference here is a fixed contrast of group means, theta = sum_h c_h * mean_h, evaluated on each row of
`GroupBootstrapResult.resampled_means`:

- 'rest': the group against all other observations. The rest mean is the n-weighted mean of the other groups'
  means, and in each replicate the n-weighted mean of their resampled means. Since each group was resampled
  within itself at its own size, that is exactly a stratified resample of the rest: no extra draws needed and
  the group and the rest come from the same replicate.
- 'best': the group with the highest observed mean, chosen once on the data and held fixed across replicates.
  (Choosing the best on the same data favours it slightly, the winner's curse: shortfalls to the best lean
  large.)
- 'average': the unweighted mean of all group means, the group itself included (MediaPipe's "average").
- 'overall': the n-weighted mean of all group means = the mean over all observations.
- any group label: that group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segaudit.audit.stats._intervals import check_method, contrast_acceleration, interval
from segaudit.audit.stats._validation import check_alternative, check_probability
from segaudit.audit.stats.results import DifferenceResult, GroupBootstrapResult

REFERENCES = ("rest", "best", "average", "overall")


def reference_weights(boot: GroupBootstrapResult, reference: Any, exclude: int | None = None) -> np.ndarray:
    """Weights w [G] such that the reference mean is `w @ means` (and `resampled_means @ w` per replicate)."""
    n = boot.n.astype(np.float64)
    w = np.zeros(boot.labels.size)
    is_keyword = isinstance(reference, str) and reference in REFERENCES
    if is_keyword and np.any(boot.labels == reference):
        raise ValueError(f"reference {reference!r} is ambiguous: it is both a keyword and a group label")
    if not is_keyword:
        w[boot.index(reference)] = 1.0
    elif reference == "rest":
        if exclude is None or boot.labels.size < 2:
            raise ValueError("reference 'rest' needs a group and at least one other group")
        w[:] = n
        w[exclude] = 0.0
        w /= w.sum()
    elif reference == "best":
        w[int(np.argmax(boot.mean))] = 1.0
    elif reference == "average":
        w[:] = 1.0 / boot.labels.size
    else:  # overall
        w[:] = n / n.sum()
    return w


def contrast_ci(
    boot: GroupBootstrapResult,
    weights: np.ndarray,
    *,
    group: Any,
    reference: Any,
    confidence: float | None = None,
    alternative: str = "two-sided",
    method: str | None = None,
) -> DifferenceResult:
    """Bootstrap CI of `weights @ means`, reported as the difference `group - reference`."""
    confidence = boot.confidence if confidence is None else check_probability(confidence, "confidence")
    method = boot.method if method is None else check_method(method)
    alternative = check_alternative(alternative)
    c = np.asarray(weights, dtype=np.float64)
    theta_hat = float(c @ boot.mean)
    theta_b = boot.resampled_means @ c
    spread = c != 0
    if np.all(boot.m2[spread] == 0.0):  # only constant groups involved: no sampling variability at all
        theta_b = np.full_like(theta_b, theta_hat)
    low_high = interval(theta_b, theta_hat, confidence=confidence, alternative=alternative, method=method,
                        acceleration=contrast_acceleration(c, boot.n.astype(np.float64), boot.m2, boot.m3))
    return DifferenceResult(group=group, reference=reference, difference=theta_hat, confidence_interval=low_high,
                            confidence=confidence, alternative=alternative, method=method, resampled=theta_b)


def mean_difference_ci(
    boot: GroupBootstrapResult,
    group: Any,
    reference: Any = "rest",
    *,
    confidence: float | None = None,
    alternative: str = "two-sided",
    method: str | None = None,
) -> DifferenceResult:
    """CI of mean(group) - mean(reference); reference is 'rest', 'best', 'average', 'overall' or a label.

    confidence and method default to those of `boot`. Shortfall = reference - group = -difference. For the
    equivalence check, its one-sided (1 - alpha) upper bound is -low of alternative='greater' at
    confidence=1 - alpha (equivalently -low of the two-sided interval at confidence 1 - 2 alpha); for a
    one-sided test of a shortfall, alternative='less' bounds group - reference from above.
    """
    g = boot.index(group)
    c = -reference_weights(boot, reference, exclude=g)
    c[g] += 1.0
    ref_name = boot.labels[int(np.argmax(boot.mean))] if reference == "best" else reference
    return contrast_ci(boot, c, group=group, reference=ref_name, confidence=confidence, alternative=alternative,
                       method=method)


def worst_to_average_gap(
    boot: GroupBootstrapResult,
    *,
    weighting: str = "equal",
    confidence: float | None = None,
    alternative: str = "two-sided",
    method: str | None = None,
) -> DifferenceResult:
    """The gap average - worst (>= 0) with its CI; the worst group is chosen on the observed means and fixed.

    weighting 'equal' averages the group means (MediaPipe's average); 'n' uses the mean over all observations.
    The result reads group='average' (or 'overall'), reference=<worst label>.
    """
    if weighting not in ("equal", "n"):
        raise ValueError(f"`weighting` must be 'equal' or 'n', got {weighting!r}")
    worst = int(np.argmin(boot.mean))
    name = "average" if weighting == "equal" else "overall"
    c = reference_weights(boot, name)
    c[worst] -= 1.0
    return contrast_ci(boot, c, group=name, reference=boot.labels[worst], confidence=confidence,
                       alternative=alternative, method=method)
