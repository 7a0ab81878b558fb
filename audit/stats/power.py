"""Power by the normal approximation: what shortfall a group of this size could reveal, and what n it needs.

Model: the estimated difference mean(reference) - mean(group) is normal with standard error
se = sqrt(sd_group^2 / n_group + sd_reference^2 / n_reference) (a z-test with the variances taken as known,
good for the tens-to-thousands of images per group an audit has; for very small groups the t-test's power is
somewhat lower). A one-sided level-alpha test of "no shortfall" then detects a true shortfall d with
probability `power` when

    d = (z_{1 - alpha} + z_{power}) * se            (two-sided: z_{1 - alpha/2}, the far tail ignored).

The same d is the shortfall margin that an equivalence bound (one-sided (1 - alpha) upper bound below the
margin) clears with probability `power` when the true shortfall is 0: the bound lands at about
z_{1-alpha} * se + error, so showing "fair within m" needs m >= d as well.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import ndtri

SIDES = ("one-sided", "two-sided")


def _z_sum(alpha: float, power: float, alternative: str) -> float:
    if alternative not in SIDES:
        raise ValueError(f"`alternative` must be one of {SIDES}, got {alternative!r}")
    for name, v in (("alpha", alpha), ("power", power)):
        if not 0.0 < v < 1.0:
            raise ValueError(f"`{name}` must be strictly between 0 and 1, got {v!r}")
    tail = alpha if alternative == "one-sided" else alpha / 2
    if power <= tail:
        raise ValueError(f"`power` ({power}) must exceed the test's tail probability ({tail})")
    return float(ndtri(1 - tail) + ndtri(power))


def _positive(v: Any, name: str, *, allow_inf: bool = False, allow_zero: bool = False) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    ok = ((arr >= 0) if allow_zero else (arr > 0)) & (np.isfinite(arr) | (allow_inf & np.isposinf(arr)))
    if not np.all(ok):
        raise ValueError(f"`{name}` must be {'non-negative' if allow_zero else 'positive'}"
                         f"{' (inf allowed)' if allow_inf else ''} and not NaN, got {v!r}")
    return arr


def minimum_detectable_difference(n_group: Any, n_reference: Any, sd_group: Any, sd_reference: Any = None,
                                  alpha: float = 0.05, power: float = 0.8,
                                  alternative: str = "one-sided") -> float | np.ndarray:
    """Smallest true difference of means detected with probability `power` by a level-`alpha` test.

    n_reference may be inf (a reference known without error); sd_reference defaults to sd_group. Array
    arguments broadcast (one value per group); scalars give a float.
    """
    z = _z_sum(alpha, power, alternative)
    n_g = _positive(n_group, "n_group")
    if np.any(n_g < 2):
        raise ValueError(f"`n_group` must be at least 2, got {n_group!r}")
    n_r = _positive(n_reference, "n_reference", allow_inf=True)
    sd_g = _positive(sd_group, "sd_group", allow_zero=True)
    sd_r = sd_g if sd_reference is None else _positive(sd_reference, "sd_reference", allow_zero=True)
    mdd = z * np.sqrt(sd_g**2 / n_g + sd_r**2 / n_r)
    return float(mdd) if mdd.ndim == 0 else mdd


def required_n(margin: float, sd: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
               sd_reference: float | None = None, alternative: str = "one-sided") -> int:
    """Group size n needed so that a shortfall of `margin` is detected with probability `power`.

    The reference has ratio * n observations (ratio=inf: a reference known without error); sd_reference
    defaults to sd. Inverse of `minimum_detectable_difference`: n = ceil(z^2 (sd^2 + sd_ref^2 / ratio) / m^2).
    """
    z = _z_sum(alpha, power, alternative)
    margin_ = float(_positive(margin, "margin"))
    sd_ = float(_positive(sd, "sd", allow_zero=True))
    sd_r = sd_ if sd_reference is None else float(_positive(sd_reference, "sd_reference", allow_zero=True))
    ratio_ = float(_positive(ratio, "ratio", allow_inf=True))
    n = z**2 * (sd_**2 + sd_r**2 / ratio_) / margin_**2
    return max(2, math.ceil(n * (1 - 1e-12)))
