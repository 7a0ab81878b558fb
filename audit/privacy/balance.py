"""A valid membership game: members and non-members compared on who they are before anyone is attacked.

If members and non-members differ in composition (a training split skewed to light skin tones against a
balanced test split), an attack that only sees "the model is less sure here" separates them without any
membership: the rating would measure the data mix, not a leak. So, before rating:

1. **Balance table.** Every declared attribute (continuous ones in quartile bins, unknown values a group of
   their own) and two image statistics (mean brightness, fraction of person pixels; quartile bins) are compared
   between members and non-members: counts and shares per group and a chi-square test of independence.
2. **Balancing.** While some factor is imbalanced (p < alpha), the most imbalanced one joins the strata (at
   most MAX_FACTORS, crossed) and the game is subsampled so that every stratum holds members and non-members
   in one common ratio: within a stratum the side in excess is sampled down at random (seeded). The ratio is
   the one that keeps the most information (largest n1 n0 / (n1 + n0)). Strata with only one side are dropped.
   The table is recomputed on the balanced game and reported beside the raw one.

The rating is computed on the balanced game; the attacks' figures on the raw game are reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segaudit.audit.fairness.subgroups import attribute_grouping
from segaudit.models.data.spec import DatasetSpec

ALPHA = 0.05
MAX_FACTORS = 3
MIN_KEPT = 2  # members and non-members the balanced game must keep to be a game at all
IMAGE_STATISTICS = ("brightness", "person_fraction")


@dataclass(frozen=True)
class Factor:
    """One way of grouping the game's images: group code per image and the group names."""

    name: str
    kind: str  # "attribute" or "image statistic"
    codes: np.ndarray
    labels: tuple[str, ...]


@dataclass
class BalancedGame:
    """Which images the rated game keeps, and the balance before and after."""

    keep: np.ndarray  # bool over the pool
    strata: list[str]  # the factors the game was balanced on, in the order they joined
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return bool(self.strata)

    def to_dict(self, member: np.ndarray) -> dict[str, Any]:
        kept = member[self.keep]
        return {"alpha": ALPHA, "balanced_on": self.strata, "members": int(kept.sum()),
                "nonmembers": int((~kept).sum()), "dropped": int((~self.keep).sum()),
                "method": "stratified subsampling to one member/non-member ratio per stratum (seeded)",
                "before": self.before, "after": self.after, "notes": self.notes}


def image_statistics(images: list[np.ndarray], masks: list[np.ndarray], ignore_index: int) -> pd.DataFrame:
    """Per image: mean brightness (0-255, Rec. 601 luma) and the fraction of valid mask pixels that are not
    background (class 0)."""
    luma = np.array([0.299, 0.587, 0.114])
    brightness = [float((image[..., :3].astype(np.float64) @ luma).mean()) for image in images]
    fractions = []
    for mask in masks:
        valid = mask != ignore_index
        fractions.append(float((mask[valid] != 0).mean()) if valid.any() else 0.0)
    return pd.DataFrame({"brightness": brightness, "person_fraction": fractions})


def factors(table: pd.DataFrame, spec: DatasetSpec, statistics: pd.DataFrame | None) -> list[Factor]:
    """The declared attributes present in `table`, then the image statistics, as groupings."""
    out = []
    for name, attribute in spec.attributes.items():
        if name in table.columns:
            grouping = attribute_grouping(table.reset_index(drop=True), attribute, 4)
            out.append(Factor(name, "attribute", np.asarray(grouping.codes), tuple(map(str, grouping.labels))))
    if statistics is not None:
        for name in IMAGE_STATISTICS:
            codes, labels = quartiles(statistics[name].to_numpy(dtype=np.float64))
            out.append(Factor(name, "image statistic", codes, labels))
    return out


def quartiles(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes of pooled quartile bins (fewer bins when values repeat)."""
    edges = np.unique(np.quantile(values, [0.25, 0.5, 0.75]))
    codes = np.searchsorted(edges, values, side="right")
    bounds = [-np.inf, *edges, np.inf]
    labels = tuple(f"[{bounds[i]:.3g}, {bounds[i + 1]:.3g})" for i in range(len(bounds) - 1))
    return codes.astype(np.int64), labels


def balance_row(factor: Factor, member: np.ndarray) -> dict[str, Any]:
    """Counts and shares of one factor's groups among members and non-members, and the chi-square test."""
    n_groups = len(factor.labels)
    members = np.bincount(factor.codes[member], minlength=n_groups)
    nonmembers = np.bincount(factor.codes[~member], minlength=n_groups)
    used = (members + nonmembers) > 0
    table = np.stack([members[used], nonmembers[used]])
    if used.sum() < 2 or (table.sum(axis=1) == 0).any():
        chi2, dof, p_value = 0.0, 0, 1.0
    else:
        test = stats.chi2_contingency(table, correction=False)
        chi2, dof, p_value = float(test.statistic), int(test.dof), float(test.pvalue)
    n1, n0 = max(int(member.sum()), 1), max(int((~member).sum()), 1)
    groups = [{"group": factor.labels[g], "members": int(members[g]), "nonmembers": int(nonmembers[g]),
               "member_share": members[g] / n1, "nonmember_share": nonmembers[g] / n0}
              for g in range(n_groups) if used[g]]
    return {"factor": factor.name, "kind": factor.kind, "chi2": chi2, "dof": dof, "p_value": p_value,
            "balanced": p_value >= ALPHA, "groups": groups}


def stratified_keep(strata: np.ndarray, member: np.ndarray, seed: Any) -> np.ndarray:
    """Subsample so every stratum holds members and non-members in one common ratio (see the docstring)."""
    ids, codes = np.unique(strata, axis=0, return_inverse=True) if strata.ndim > 1 else np.unique(
        strata, return_inverse=True)
    codes = codes.reshape(-1)
    n1 = np.bincount(codes[member], minlength=len(ids))
    n0 = np.bincount(codes[~member], minlength=len(ids))
    both = (n1 > 0) & (n0 > 0)
    candidates = np.unique(np.r_[n1[both] / n0[both], member.sum() / max((~member).sum(), 1)])
    best, best_info = None, -1.0
    for ratio in candidates:
        k1, k0 = _kept(n1, n0, both, ratio)
        total1, total0 = k1.sum(), k0.sum()
        info = total1 * total0 / (total1 + total0) if total1 + total0 else 0.0
        if info > best_info:
            best, best_info = (k1, k0), info
    k1, k0 = best
    rng = np.random.default_rng(seed)
    keep = np.zeros(member.size, dtype=bool)
    for s in np.flatnonzero(both):
        for side, count in ((member, k1[s]), (~member, k0[s])):
            index = np.flatnonzero((codes == s) & side)
            keep[rng.permutation(index)[:count]] = True
    return keep


def _kept(n1: np.ndarray, n0: np.ndarray, both: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Members and non-members kept per stratum at `ratio` members per non-member."""
    members_limited = n1 < ratio * n0
    k1 = np.where(members_limited, n1, np.floor(ratio * n0 + 1e-9)).astype(np.int64)
    k0 = np.where(members_limited, np.floor(n1 / ratio + 1e-9), n0).astype(np.int64)
    k1, k0 = np.where(both & (k0 > 0) & (k1 > 0), k1, 0), np.where(both & (k0 > 0) & (k1 > 0), k0, 0)
    return k1, k0


def balance_game(table: pd.DataFrame, spec: DatasetSpec, member: np.ndarray, statistics: pd.DataFrame | None,
                 seed: Any = 0) -> BalancedGame:
    """The balanced game for the pool `table` (attribute columns in pool order) with membership `member`."""
    member = np.asarray(member, dtype=bool)
    all_factors = factors(table, spec, statistics)
    before = [balance_row(f, member) for f in all_factors]
    keep = np.ones(member.size, dtype=bool)
    strata: list[Factor] = []
    notes: list[str] = []
    while len(strata) < MAX_FACTORS:
        rows = {f.name: balance_row(_subset(f, keep), member[keep]) for f in all_factors
                if f.name not in {s.name for s in strata}}
        imbalanced = [(row["p_value"], name) for name, row in rows.items() if not row["balanced"]]
        if not imbalanced:
            break
        _, worst = min(imbalanced)
        factor = next(f for f in all_factors if f.name == worst)
        codes = np.stack([f.codes for f in [*strata, factor]], axis=1)
        candidate = stratified_keep(codes, member, [_seed(seed), len(strata) + 1])
        if min(int(member[candidate].sum()), int((~member[candidate]).sum())) < MIN_KEPT:
            notes.append(f"balancing on {', '.join(f.name for f in [*strata, factor])} would leave fewer than "
                         f"{MIN_KEPT} members or non-members; not balanced on {worst}")
            break
        strata.append(factor)
        keep = candidate
    after = [balance_row(_subset(f, keep), member[keep]) for f in all_factors]
    left = [row["factor"] for row in after if not row["balanced"]]
    if left:
        notes.append(f"still imbalanced after balancing (p < {ALPHA}): {', '.join(left)}; the rating may "
                     "partly measure composition")
    return BalancedGame(keep=keep, strata=[f.name for f in strata], before=before, after=after, notes=notes)


def _subset(factor: Factor, keep: np.ndarray) -> Factor:
    return Factor(factor.name, factor.kind, factor.codes[keep], factor.labels)


def _seed(seed: Any) -> int:
    return int(np.random.default_rng(seed).integers(2 ** 31))
