"""Percentile and BCa intervals from a bootstrap distribution, computed as scipy.stats.bootstrap does.

Any contrast of group means, theta = sum_h c_h * mean_h, gets its BCa acceleration in closed form: leaving
observation i of group h out moves theta by c_h * (mean_h - x_i) / (n_h - 1), so scipy's multi-sample jackknife
formula (Efron & Tibshirani 1993, eq. 14.15) reduces to group moments:

    a = 1/6 * sum_h c_h^3 m3_h / n_h^2  /  (sum_h c_h^2 m2_h / n_h) ** 1.5

with m2, m3 the biased central moments. For one group this is the familiar skewness / (6 sqrt(n)).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.special import ndtr, ndtri

logger = logging.getLogger(__name__)

METHODS = ("percentile", "bca")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    return method


def contrast_acceleration(c: np.ndarray, n: np.ndarray, m2: np.ndarray, m3: np.ndarray) -> float:
    """BCa acceleration of the contrast `c @ means` (0 when the contrast has no spread)."""
    den = float(np.sum(c**2 * m2 / n))
    if den <= 0.0:
        return 0.0
    return float(np.sum(c**3 * m3 / n**2)) / (6.0 * den**1.5)


def interval(theta_b: np.ndarray, theta_hat: float, *, confidence: float, alternative: str, method: str,
             acceleration: float = 0.0) -> tuple[float, float]:
    """CI of a statistic from its bootstrap replicates `theta_b` [B].

    Two-sided: the (alpha, 1 - alpha) quantiles with alpha = (1 - confidence) / 2. One-sided ('less' gives an
    upper bound, 'greater' a lower bound): alpha = 1 - confidence, the other end infinite. Hence the one-sided
    (1 - a) upper bound equals the upper end of the two-sided (1 - 2a) interval. Quantiles interpolate linearly.
    """
    alpha = (1.0 - confidence) / 2.0 if alternative == "two-sided" else 1.0 - confidence
    if method == "bca":
        probs = _bca_probabilities(theta_b, theta_hat, alpha, acceleration)
    else:
        probs = np.array([alpha, 1.0 - alpha])
    if np.isnan(probs).any():
        logger.warning("BCa interval undefined (the estimate lies outside all bootstrap replicates); returning NaN")
        low = high = float("nan")
    else:
        low, high = (float(v) for v in np.quantile(theta_b, probs))
    if alternative == "less":
        low = -np.inf
    elif alternative == "greater":
        high = np.inf
    return low, high


def _bca_probabilities(theta_b: np.ndarray, theta_hat: float, alpha: float, acceleration: float) -> np.ndarray:
    """Adjusted quantile levels (alpha_1, alpha_2) of the BCa interval."""
    below = np.count_nonzero(theta_b < theta_hat) + np.count_nonzero(theta_b <= theta_hat)
    z0 = ndtri(below / (2.0 * theta_b.size))
    z = np.array([ndtri(alpha), -ndtri(alpha)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return ndtr(z0 + (z0 + z) / (1.0 - acceleration * (z0 + z)))
