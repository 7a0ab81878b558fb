"""Group means with the variance of each mean, and of the mean of "the rest", with images clustered by subject.

An audit's unit of independence is the person, not the photo: several photos of one person are not several
independent draws. With a cluster (subject) per image, the variance of a group's mean is the cluster-robust
(sandwich) estimate

    var(mean_g) = K_g / (K_g - 1) * sum_k (U_k - mean_g * C_k)^2 / n_g^2

over the K_g clusters k of the group (U_k: the sum of the cluster's values, C_k: its number of images), with
K_g - 1 degrees of freedom. Without subjects every image is its own cluster and this is s_g^2 / n_g exactly,
the variance Welch's t-test uses (and scipy.stats.ttest_ind(equal_var=False) reproduces every figure).

Clusters are (group, subject) pairs: a subject seen in two groups (a per-photo attribute such as lighting)
counts as one cluster in each. That ignores the covariance of a group with the rest through shared subjects,
which for the usual positive within-person correlation makes the variance of a difference too large, not too
small (conservative).

The third cumulant of each mean, sum_k (U_k - mean C_k)^3 / n^3 (mu_3 / n^2 without subjects), feeds the
skewness correction of the tests (margin_tests.py): per-image IoU is skewed, and a plain t bound on a skewed
mean covers too little on one side.

"The rest" of group g is every image of the other groups that take part; its mean, cluster-robust variance and
third cumulant come from per-group power sums of U and C, so all G comparisons cost O(n + G), not O(n * G).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusteredMeans:
    """Per group g: images n, clusters k, mean, variance of the mean, sd (images), and the same for the rest."""

    n: np.ndarray
    clusters: np.ndarray
    mean: np.ndarray
    var_mean: np.ndarray
    sd: np.ndarray
    rest_n: np.ndarray
    rest_clusters: np.ndarray
    rest_mean: np.ndarray
    rest_var_mean: np.ndarray
    kappa3_mean: np.ndarray
    rest_kappa3_mean: np.ndarray

    @property
    def df(self) -> np.ndarray:
        return self.clusters - 1.0

    @property
    def rest_df(self) -> np.ndarray:
        return self.rest_clusters - 1.0


def clustered_means(values: np.ndarray, codes: np.ndarray, n_groups: int, clusters: np.ndarray | None = None,
                    take_part: np.ndarray | None = None, min_clusters: int = 2) -> ClusteredMeans:
    """Means and variances of means for every group and its rest.

    values [n] finite; codes [n] group index in 0..n_groups-1; clusters [n] integer cluster id per image (None:
    every image its own); take_part [n_groups] bool: which groups form the rests (default: every group with at
    least `min_clusters` clusters). Undefined figures (a group of one cluster) are NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    center = float(x.mean()) if x.size else 0.0
    y = x - center  # centred: the sums of squares below lose no precision at a million images
    if clusters is None:
        cell = np.arange(x.size)
    else:
        _, cluster_codes = np.unique(np.asarray(clusters), return_inverse=True)
        # one cluster per (group, subject) pair
        _, cell = np.unique(codes * (int(cluster_codes.max(initial=0)) + 1) + cluster_codes, return_inverse=True)
    cell_count = np.bincount(cell).astype(np.float64)
    cell_sum = np.bincount(cell, weights=y)
    cell_group = np.zeros(cell_count.size, dtype=np.int64)
    cell_group[cell] = codes

    n = np.bincount(codes, minlength=n_groups).astype(np.float64)
    k = np.bincount(cell_group, minlength=n_groups).astype(np.float64)
    total = np.bincount(codes, weights=y, minlength=n_groups)
    uu = np.bincount(cell_group, weights=cell_sum**2, minlength=n_groups)
    uc = np.bincount(cell_group, weights=cell_sum * cell_count, minlength=n_groups)
    cc = np.bincount(cell_group, weights=cell_count**2, minlength=n_groups)
    cubes = [np.bincount(cell_group, weights=cell_sum ** (3 - j) * cell_count**j, minlength=n_groups)
             for j in range(4)]  # sums of U^3, U^2 C, U C^2, C^3
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = total / n
        ss_images = np.bincount(codes, weights=(y - mean_c[codes]) ** 2, minlength=n_groups)
        sd = np.where(n >= 2, np.sqrt(ss_images / (n - 1)), np.nan)
        if clusters is None:
            var_mean = np.where(n >= 2, ss_images / (n - 1) / n, np.nan)
        else:
            var_mean = _sandwich(uu, uc, cc, mean_c, n, k)

        part = (k >= min_clusters) if take_part is None else np.asarray(take_part, dtype=bool)
        rest_n = n[part].sum() - np.where(part, n, 0.0)
        rest_k = k[part].sum() - np.where(part, k, 0.0)
        rest_total = total[part].sum() - np.where(part, total, 0.0)
        rest_mean_c = rest_total / rest_n
        rest_var = _sandwich(uu[part].sum() - np.where(part, uu, 0.0), uc[part].sum() - np.where(part, uc, 0.0),
                             cc[part].sum() - np.where(part, cc, 0.0), rest_mean_c, rest_n, rest_k)
        kappa3 = _third(cubes, mean_c, n)
        rest_kappa3 = _third([s[part].sum() - np.where(part, s, 0.0) for s in cubes], rest_mean_c, rest_n)
    return ClusteredMeans(n=n, clusters=k, mean=mean_c + center, var_mean=var_mean, sd=sd, rest_n=rest_n,
                          rest_clusters=rest_k, rest_mean=rest_mean_c + center, rest_var_mean=rest_var,
                          kappa3_mean=kappa3, rest_kappa3_mean=rest_kappa3)


def _third(cubes: list[np.ndarray], mean: np.ndarray, n: np.ndarray) -> np.ndarray:
    """sum_k (U_k - mean C_k)^3 / n^3 from the sums of U^3, U^2 C, U C^2 and C^3."""
    u3, u2c, uc2, c3 = cubes
    return (u3 - 3.0 * mean * u2c + 3.0 * mean**2 * uc2 - mean**3 * c3) / n**3


def _sandwich(uu: np.ndarray, uc: np.ndarray, cc: np.ndarray, mean: np.ndarray, n: np.ndarray,
              k: np.ndarray) -> np.ndarray:
    """K/(K-1) * sum_k (U_k - mean C_k)^2 / n^2 from the sums of U^2, U C and C^2 (NaN below two clusters)."""
    ss = np.maximum(uu - 2.0 * mean * uc + mean**2 * cc, 0.0)
    return np.where(k >= 2, k / (k - 1.0) * ss / n**2, np.nan)
