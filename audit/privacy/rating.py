"""The membership-inference rating: one family of one-sided tests over the attacks, and the level they support.

A rating is a claim a reviewer signs, so it is a test with a stated false-alarm rate, not a reading of point
estimates. For each of the m rated attacks, on the (balanced) game:

Each attack makes two claims (its AUC, its TPR at low FPR), so the Bonferroni family has 2 m members and each
gets ALPHA / (2 m): valid however correlated the attacks are.

- AUC with DeLong's standard error (the variance of the Mann-Whitney statistic from its structural components);
  one-sided bounds at 1 - ALPHA / (2 m).
- TPR at TARGET_FPR with a threshold fixed on held-out data: the game is split in two halves (stratified by
  membership, seeded); the threshold is the lowest score that flags at most TARGET_FPR of the first half's
  non-members; on the second half the members flagged (TPR) and non-members flagged (FPR) get Clopper-Pearson
  one-sided bounds at 1 - ALPHA / (4 m) each (the TPR claim needs both). Used only when both halves hold at
  least 1 / TARGET_FPR non-members (otherwise the threshold cannot resolve the rate and the AUC alone decides).

Levels of one attack, the first its bounds support ("excess": TPR lower minus FPR upper, the members flagged
beyond the false positives, which is what exposure at a low FPR means; with no leak TPR = FPR at any threshold,
and a threshold estimated from a few hundred non-members can land at a true FPR of 3-5 %, so the TPR alone
would read chance as exposure):

    high          AUC lower >= 0.75  or  excess >= 19 points   (TPR 20 % where chance is the 1 % target FPR)
    medium        AUC lower >= 0.60  or  excess >= 4 points    (TPR 5 % where chance is 1 %)
    low           AUC lower >  0.50  or  excess >  0           (a membership signal, shown)
    none          AUC upper <  NEGLIGIBLE_AUC and (TPR unresolved or TPR upper < 5 %): a leak of practical size
                  is ruled out
    inconclusive  otherwise: no signal shown, and none of practical size ruled out; reported with the smallest
                  AUC and TPR the audit would detect with 80 % power at its sizes

The audit's level is the highest over the attacks, in the order none < inconclusive < low < medium < high.
With no leak every attack's AUC is 0.5 and its TPR equals its FPR, so a level above 'none'/'inconclusive'
needs at least one bound to be wrong: probability <= ALPHA in all. The operating characteristics (false alarms
under the null, power against AUC 0.55 / 0.60, coverage of the bounds) are measured by
benchmarks/privacy_rating.py and stated in the README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from segaudit.audit.privacy import metrics
from segaudit.audit.stats.binomial import clopper_pearson

ALPHA = 0.05
TARGET_FPR = 0.01
NEGLIGIBLE_AUC = 0.55
POWER = 0.80
LEVELS = ("none", "inconclusive", "low", "medium", "high")
BARS = {"high": (0.75, 0.20 - TARGET_FPR), "medium": (0.60, 0.05 - TARGET_FPR)}  # (AUC lower, TPR excess)
NONE_TPR = 0.05


@dataclass(frozen=True)
class AttackRating:
    """One attack's evidence on the rated game and the level it supports."""

    name: str
    members: int
    nonmembers: int
    auc: float
    auc_se: float
    auc_lower: float  # one-sided bounds at 1 - alpha / m
    auc_upper: float
    tpr_resolved: bool
    threshold: float | None
    tpr: float | None  # held-out, at the threshold fixed on the other half
    fpr: float | None
    tpr_lower: float | None
    fpr_upper: float | None
    tpr_upper: float | None
    flagged_members: int | None
    eval_members: int | None
    flagged_nonmembers: int | None
    eval_nonmembers: int | None
    level: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rating:
    """The audit's level, why, and what it could have detected."""

    level: str
    reason: str
    attacks: list[AttackRating]
    alpha: float
    tests: int  # 2 m: the Bonferroni family (an AUC and a TPR claim per attack)
    detectable_auc: float  # at 80 % power, for the rated game's sizes
    detectable_tpr: float | None  # at TARGET_FPR, 80 % power (None when the TPR is unresolved)
    members: int
    nonmembers: int

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "reason": self.reason, "alpha": self.alpha, "tests": self.tests,
                "correction": "bonferroni over attacks", "target_fpr": TARGET_FPR,
                "negligible_auc": NEGLIGIBLE_AUC, "power": POWER, "detectable_auc": self.detectable_auc,
                "detectable_tpr": self.detectable_tpr, "members": self.members, "nonmembers": self.nonmembers,
                "attacks": [a.to_dict() for a in self.attacks]}


def delong(scores: np.ndarray, member: np.ndarray) -> tuple[float, float]:
    """(AUC, DeLong standard error): AUC = mean over member/non-member pairs of 1[s1 > s0] + 1/2 1[tie];
    variance = var(V10) / n1 + var(V01) / n0 with V10_i, V01_j each score's share of the pairs it wins."""
    scores, member = metrics.check_scores(scores, member)
    positives, negatives = scores[member], scores[~member]
    n1, n0 = positives.size, negatives.size
    every = stats.rankdata(np.r_[positives, negatives])
    v10 = (every[:n1] - stats.rankdata(positives)) / n0  # non-members each member beats (ties 1/2)
    v01 = 1.0 - (every[n1:] - stats.rankdata(negatives)) / n1  # members that beat each non-member
    auc = float(v10.mean())
    variance = (v10.var(ddof=1) if n1 > 1 else 0.0) / n1 + (v01.var(ddof=1) if n0 > 1 else 0.0) / n0
    return auc, float(np.sqrt(variance))


def auc_bounds(auc: float, se: float, z: float) -> tuple[float, float]:
    """auc -/+ z se, kept inside [0, 1] (the normal approximation can step outside near perfect separation;
    clipping moves no bound across any bar of the rating)."""
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


def hanley_mcneil_se(auc: float, n1: int, n0: int) -> float:
    """Standard error of an AUC at sizes (n1, n0) under the exponential model (Hanley & McNeil 1982): the
    planning formula behind the minimum detectable AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    return float(np.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n0 - 1) * (q2 - auc ** 2)) / (n1 * n0)))


def detectable_auc(n1: int, n0: int, alpha: float, power: float = POWER) -> float:
    """The smallest true AUC whose one-sided lower bound at 1 - alpha clears 0.5 with probability `power`."""
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    gap = lambda auc: auc - 0.5 - z * hanley_mcneil_se(auc, n1, n0)  # noqa: E731
    return 1.0 if gap(0.999) < 0 else float(optimize.brentq(gap, 0.5, 0.999))


def detectable_tpr(n1: int, n0: int, fpr: float, alpha: float, power: float = POWER) -> float:
    """The smallest TPR at `fpr` that the held-out rule shows (TPR lower > FPR upper) with probability `power`,
    in the normal approximation of the two proportions."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    gap = lambda t: t - fpr - z * np.sqrt(t * (1 - t) / n1 + fpr * (1 - fpr) / n0)  # noqa: E731
    return 1.0 if gap(0.9999) < 0 else float(optimize.brentq(gap, fpr, 0.9999))


def held_out_split(member: np.ndarray, seed: Any) -> np.ndarray:
    """A boolean selection half, stratified by membership (the other half evaluates)."""
    rng = np.random.default_rng(seed)
    selection = np.zeros(member.size, dtype=bool)
    for label in (True, False):
        index = np.flatnonzero(member == label)
        selection[rng.permutation(index)[: index.size // 2]] = True
    return selection


def threshold_at(nonmember_scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold t (flag when score >= t) that flags at most `fpr` of these non-members."""
    allowed = int(np.floor(fpr * nonmember_scores.size + 1e-9))
    ordered = np.sort(nonmember_scores)[::-1]
    if allowed >= ordered.size:
        return float(-np.inf)
    return float(np.nextafter(ordered[allowed], np.inf))  # just above the first score that must stay unflagged


def rate_attack(name: str, scores: np.ndarray, member: np.ndarray, tests: int, alpha: float = ALPHA,
                seed: Any = 0) -> AttackRating:
    """The evidence of one attack and the level it supports (see the module docstring)."""
    scores, member = metrics.check_scores(scores, member)
    n1, n0 = int(member.sum()), int((~member).sum())
    auc, se = delong(scores, member)
    z = stats.norm.ppf(1 - alpha / tests)  # tests = 2 m: this attack's AUC claim gets alpha / (2 m)
    lower, upper = auc_bounds(auc, se, z)
    selection = held_out_split(member, seed)
    needed = int(np.ceil(1 / TARGET_FPR))
    resolved = int((selection & ~member).sum()) >= needed and int((~selection & ~member).sum()) >= needed
    detail: dict[str, Any] = {"threshold": None, "tpr": None, "fpr": None, "tpr_lower": None, "fpr_upper": None,
                              "tpr_upper": None, "flagged_members": None, "eval_members": None,
                              "flagged_nonmembers": None, "eval_nonmembers": None}
    if resolved:
        threshold = threshold_at(scores[selection & ~member], TARGET_FPR)
        held, held_member = scores[~selection], member[~selection]
        flagged = held >= threshold
        tp, fp = int((flagged & held_member).sum()), int((flagged & ~held_member).sum())
        m1, m0 = int(held_member.sum()), int((~held_member).sum())
        each = 1 - alpha / (2 * tests)  # the TPR claim's alpha / (2 m), split between its two bounds
        detail = {"threshold": threshold, "tpr": tp / m1, "fpr": fp / m0,
                  "tpr_lower": clopper_pearson(tp, m1, each, alternative="greater").low,
                  "tpr_upper": clopper_pearson(tp, m1, each, alternative="less").high,
                  "fpr_upper": clopper_pearson(fp, m0, each, alternative="less").high,
                  "flagged_members": tp, "eval_members": m1, "flagged_nonmembers": fp, "eval_nonmembers": m0}
    level = _level(lower, upper, resolved, detail)
    return AttackRating(name=name, members=n1, nonmembers=n0, auc=auc, auc_se=se, auc_lower=float(lower),
                        auc_upper=float(upper), tpr_resolved=resolved, level=level, **detail)


def _level(lower: float, upper: float, resolved: bool, detail: dict[str, Any]) -> str:
    excess = detail["tpr_lower"] - detail["fpr_upper"] if resolved else -1.0
    for level in ("high", "medium"):
        auc_bar, excess_bar = BARS[level]
        if lower >= auc_bar or excess >= excess_bar - 1e-12:
            return level
    if lower > 0.5 or excess > 0:
        return "low"
    if upper < NEGLIGIBLE_AUC and (not resolved or detail["tpr_upper"] < NONE_TPR):
        return "none"
    return "inconclusive"


def rate(scores: dict[str, np.ndarray], member: np.ndarray, alpha: float = ALPHA, seed: Any = 0) -> Rating:
    """The audit's rating from each rated attack's scores on the game (see the module docstring)."""
    member = np.asarray(member, dtype=bool)
    n1, n0 = int(member.sum()), int((~member).sum())
    tests = 2 * max(1, len(scores))
    rated = [rate_attack(name, values, member, tests, alpha, seed=[_seed(seed), i])
             for i, (name, values) in enumerate(scores.items())]
    auc_mde = detectable_auc(n1, n0, alpha / tests)
    resolved = [a for a in rated if a.tpr_resolved]
    tpr_mde = (detectable_tpr(resolved[0].eval_members, resolved[0].eval_nonmembers, TARGET_FPR, alpha / tests)
               if resolved else None)
    if not rated:
        return Rating("inconclusive", "no attack was rated", [], alpha, 0, auc_mde, tpr_mde, n1, n0)
    level = max((a.level for a in rated), key=LEVELS.index)
    return Rating(level, _reason(level, rated, tests, alpha, auc_mde, tpr_mde), rated, alpha, tests, auc_mde,
                  tpr_mde, n1, n0)


def _seed(seed: Any) -> int:
    return int(np.random.default_rng(seed).integers(2 ** 31))


def _reason(level: str, rated: list[AttackRating], tests: int, alpha: float, auc_mde: float,
            tpr_mde: float | None) -> str:
    attacks = tests // 2
    family = f"{attacks} attack{'s' if attacks > 1 else ''}, {100 * (1 - alpha):g} % family-wise"
    strongest = max(rated, key=lambda a: (LEVELS.index(a.level), a.auc_lower))
    figures = f"{strongest.name}: AUC {strongest.auc:.3f} (bounds {strongest.auc_lower:.3f}-{strongest.auc_upper:.3f})"
    if strongest.tpr_resolved:
        figures += (f", held-out TPR {100 * strongest.tpr:.1f} % (lower bound {100 * strongest.tpr_lower:.1f} %) "
                    f"at FPR {100 * strongest.fpr:.1f} %")
    detectable = f"AUC {auc_mde:.3f}" + (f" or TPR {100 * tpr_mde:.1f} % at 1 % FPR" if tpr_mde is not None else "")
    if level == "none":
        return (f"no attack shows membership, and every attack's AUC is below {NEGLIGIBLE_AUC} with confidence "
                f"({family}); strongest {figures}")
    if level == "inconclusive":
        return (f"no attack shows membership ({family}), but the audit cannot rule out a leak of AUC "
                f"{NEGLIGIBLE_AUC}: it detects {detectable} with {100 * POWER:g} % power; strongest {figures}")
    return f"{figures} supports '{level}' ({family}; the bounds, not the point estimates, decide)"
