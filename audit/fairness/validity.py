"""Operating characteristics of the fairness verdicts, by seeded simulation of audits with a known truth.

A verdict rule is right when its error rates are, so this module runs the real `audit_fairness` (the same code
path as `segaudit fairness`) on per-image IoU drawn from Beta distributions with mean about 0.9 and sd 0.05,
like a good person segmenter's (left-skewed), many times, and counts verdicts. benchmarks/fairness_validity.py
prints the whole table (README); tests/test_fairness_validity.py checks a few of its rows with fewer replicates.

Monte-Carlo error: a rate estimated from R audits has standard error sqrt(p (1 - p) / R).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segaudit.audit.fairness.audit import audit_fairness
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.verdict import FAIL, PASS
from segaudit.models.data import AttributeSpec

SD = 0.05
BASE = 0.90


def beta_params(mean: np.ndarray | float, sd: float = SD) -> tuple[np.ndarray, np.ndarray]:
    """Beta(a, b) with the given mean and sd."""
    mean = np.asarray(mean, dtype=np.float64)
    total = mean * (1 - mean) / sd**2 - 1
    return mean * total, (1 - mean) * total


@dataclass(frozen=True)
class Attribute:
    """A simulated attribute: group sizes and each group's true shift of the mean IoU (negative: worse)."""

    name: str
    sizes: tuple[int, ...]
    shifts: tuple[float, ...] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"{self.name}_{i}" for i in range(len(self.sizes)))


def simulate_table(rng: np.random.Generator, attributes: Sequence[Attribute], *, base: float = BASE,
                   sd: float = SD, photos_per_subject: int = 1, subject_sd: float = 0.0) -> pd.DataFrame:
    """One table: every attribute's groups have the given sizes (all attributes must sum to the same n; the
    groups of different attributes are assigned independently at random); IoU ~ Beta around base + shifts.

    photos_per_subject > 1: consecutive images belong to one subject (who is in one group of every attribute),
    whose own level varies by subject_sd around the group mean (the within-person correlation of real data).
    """
    n = sum(attributes[0].sizes)
    if any(sum(a.sizes) != n for a in attributes):
        raise ValueError("every simulated attribute needs the same total number of images")
    subjects = np.arange(n) // photos_per_subject
    n_subjects = int(subjects[-1]) + 1
    columns: dict[str, object] = {"id": [f"i{i}" for i in range(n)]}
    mean = np.full(n, base)
    for a in attributes:
        # assign whole subjects to groups: each group gets sizes[g] images (a multiple of photos_per_subject)
        per_subject = np.repeat(np.arange(len(a.sizes)), np.asarray(a.sizes) // photos_per_subject)
        codes = rng.permutation(per_subject)[subjects]
        columns[a.name] = np.asarray(a.labels, dtype=object)[codes]
        if a.shifts is not None:
            mean += np.asarray(a.shifts)[codes]
    if subject_sd > 0:
        mean += rng.normal(0.0, subject_sd, n_subjects)[subjects]
        mean = np.clip(mean, 0.5, 0.99)
    alpha, beta = beta_params(mean, sd)
    columns["iou"] = rng.beta(alpha, beta)
    if photos_per_subject > 1:
        columns["subject_id"] = [f"s{s}" for s in subjects]
    return pd.DataFrame(columns)


def specs(attributes: Sequence[Attribute]) -> dict[str, AttributeSpec]:
    return {a.name: AttributeSpec(a.name, "categorical", True, "synthetic", values=a.labels) for a in attributes}


@dataclass(frozen=True)
class Rates:
    """Share of simulated audits: the whole audit failing / passing, each attribute failing / passing (the mean
    over attributes), and R."""

    audit_fail: float
    audit_pass: float
    attribute_fail: float
    attribute_pass: float
    replicates: int

    def error(self, rate: float) -> float:
        """Monte-Carlo standard error of a rate."""
        return float(np.sqrt(max(rate * (1 - rate), 1e-12) / self.replicates))


def verdict_rates(attributes: Sequence[Attribute], *, replicates: int, seed: int,
                  intersections: tuple[tuple[str, str], ...] = (), config: FairnessConfig | None = None,
                  **table_options) -> Rates:
    """Run `replicates` seeded audits of simulated tables and count their verdicts."""
    config = config or FairnessConfig()
    rng = np.random.default_rng(seed)
    declared = specs(attributes)
    audit_fail = audit_pass = attribute_fail = attribute_pass = 0
    for r in range(replicates):
        table = simulate_table(rng, attributes, **table_options)
        run = FairnessConfig(**{**_fields(config), "seed": r, "intersections": intersections})
        result = audit_fairness(table, declared, run)
        audit_fail += result.verdict == FAIL
        audit_pass += result.verdict == PASS
        groupings = list(result.attributes.values())
        attribute_fail += sum(g.verdict == FAIL for g in groupings) / len(groupings)
        attribute_pass += sum(g.verdict == PASS for g in groupings) / len(groupings)
    return Rates(audit_fail / replicates, audit_pass / replicates, attribute_fail / replicates,
                 attribute_pass / replicates, replicates)


def _fields(config: FairnessConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def group_coverage(n: int, *, replicates: int, seed: int, rest: int = 900, photos_per_subject: int = 1,
                   subject_sd: float = 0.0, use_subjects: bool = True,
                   config: FairnessConfig | None = None) -> dict[str, float]:
    """How often the intervals of a group of `n` images (against a rest of `rest` images, same true mean) hold
    the truth: the two-sided (1 - alpha) t-interval of the group mean, and the one-sided (1 - alpha) upper and
    lower bounds of its shortfall (true shortfall 0)."""
    config = config or FairnessConfig(min_group_size=2)
    rng = np.random.default_rng(seed)
    attribute = Attribute("g", (n, rest))
    declared = specs([attribute])
    hits = {"mean": 0, "shortfall_upper": 0, "shortfall_lower": 0}
    truth = BASE
    for r in range(replicates):
        table = simulate_table(rng, [attribute], photos_per_subject=photos_per_subject, subject_sd=subject_sd)
        if not use_subjects:
            table = table.drop(columns=["subject_id"], errors="ignore")
        result = audit_fairness(table, declared, FairnessConfig(**{**_fields(config), "seed": r}))
        grouping = result.attributes["g"]
        group = grouping.groups[0]
        comparison = next(c for c in grouping.comparisons if c.group == group.group)
        hits["mean"] += group.ci_low <= truth <= group.ci_high
        hits["shortfall_upper"] += comparison.shortfall_upper >= 0.0
        hits["shortfall_lower"] += comparison.shortfall_lower <= 0.0
    return {k: v / replicates for k, v in hits.items()}


def detectable_check(n: int, groups: int, *, replicates: int, seed: int,
                     config: FairnessConfig | None = None) -> tuple[float, float]:
    """The detectable shortfall the audit reports for a group of `n` among `groups` equal groups, and how often
    a group with exactly that true shortfall is then failed (should be about the configured power or more)."""
    config = config or FairnessConfig()
    attribute = Attribute("g", (n,) * groups)
    table = simulate_table(np.random.default_rng(seed), [attribute])
    reported = audit_fairness(table, specs([attribute]), config).attributes["g"].groups[-1].detectable_shortfall
    shifted = Attribute("g", (n,) * groups, (0.0,) * (groups - 1) + (-float(reported),))
    # the shift is against the other groups, which are the rest: shortfall vs rest = the reported figure
    rates = verdict_rates([shifted], replicates=replicates, seed=seed + 1, config=config)
    return float(reported), rates.attribute_fail
