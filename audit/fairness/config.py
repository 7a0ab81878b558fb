"""What a fairness audit is asked: the metric, the margin, the error rates and how hard to look.

Every field has the default the issue and the CLI document; a bad value is an `InputError` naming the field.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from segaudit.core import checks
from segaudit.core.errors import InputError

CORRECTIONS = ("holm", "bh")
FAMILIES = ("audit", "grouping")
REFERENCES = ("rest",)
TREND_CIS = ("auto", "bootstrap", "bonett-wright")


@dataclass(frozen=True)
class FairnessConfig:
    """Settings of a fairness audit.

    metric: per-image metric column (fractions in [0, 1]). margin: the largest shortfall of a group, and the
    largest gap between two groups, as a fraction (0.01 = 1 IoU point), that still counts as fair. alpha: error
    rate of every verdict. correction: 'holm' (family-wise error) or 'bh' (false discovery rate) over the fail
    tests of the `family`: 'audit' (every attribute and intersection together, the default) or 'grouping' (each
    attribute on its own). reference: 'rest' (each group against all other images; the largest pairwise gap is
    tested besides, selection accounted for). bootstrap: resamples of the trends' paired bootstrap.
    skew_correction: 'hall' (default) corrects the one-sided bounds and tests for the skewness of per-image
    metrics (Hall 1992); 'none' gives plain Welch t. subject_column: the table column naming the person in
    each photo; when present, subjects (not images) are
    the unit of every interval and test. attributes: which attributes to audit (None: every declared one).
    intersections: pairs of attributes. min_group_size: the subjects a group needs to count towards a pass.
    min_test_size: the subjects a group needs to be tested for a shortfall at all (a t-test of 2 or 3 values
    whose spread happens to be tiny "proves" anything; from 10 the test holds its level).
    bins: per continuous attribute, a list of cut points or
    a number of quantile bins (default `quantiles`). power: the power for detectable shortfalls and needed n.
    omnibus_permutation: add the permutation test of the largest gap (O(permutations * n), off by default).
    trend_ci: 'auto' uses the paired bootstrap up to `trend_bootstrap_max_n` values, Bonett-Wright above.
    workers: threads analysing groupings side by side (the results are identical for any number).
    """

    metric: str = "iou"
    margin: float = 0.01
    alpha: float = 0.05
    correction: str = "holm"
    family: str = "audit"
    reference: str = "rest"
    bootstrap: int = 2000
    seed: int = 0
    subject_column: str = "subject_id"
    skew_correction: str = "hall"
    attributes: tuple[str, ...] | None = None
    intersections: tuple[tuple[str, str], ...] = ()
    min_group_size: int = 30
    min_test_size: int = 10
    bins: Mapping[str, int | Sequence[float]] = field(default_factory=dict)
    quantiles: int = 4
    power: float = 0.8
    omnibus_permutation: bool = False
    permutations: int = 2000
    trend_ci: str = "auto"
    trend_bootstrap_max_n: int = 5000
    workers: int = 1

    def __post_init__(self) -> None:
        checks.probability(self.alpha, "alpha")
        checks.probability(self.power, "power")
        checks.number(self.margin, "margin", 0.0, 1.0, open_high=True, note="a fraction: 0.01 = 1 point")
        checks.choice(self.correction, CORRECTIONS, "correction")
        checks.choice(self.family, FAMILIES, "family")
        checks.choice(self.skew_correction, ("hall", "none"), "skew_correction")
        if self.reference == "best":
            raise InputError("'best' is no longer offered: comparing with the best group picked on the same data "
                             "needs a correction for that choice, which the largest-gap test (always run) has; "
                             "use 'rest'", field="reference")
        checks.choice(self.reference, REFERENCES, "reference")
        checks.choice(self.trend_ci, TREND_CIS, "trend_ci")
        for name, minimum in (("bootstrap", 100), ("permutations", 100), ("seed", 0), ("min_group_size", 2),
                              ("min_test_size", 2), ("quantiles", 2), ("trend_bootstrap_max_n", 4), ("workers", 1)):
            checks.integer(getattr(self, name), name, minimum=minimum)
        if self.attributes is not None:
            object.__setattr__(self, "attributes", tuple(str(a) for a in self.attributes))
        pairs = []
        for pair in self.intersections:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise InputError(f"an intersection is two different attributes, got {pair!r}",
                                 field="intersections")
            pairs.append((str(pair[0]), str(pair[1])))
        object.__setattr__(self, "intersections", tuple(pairs))
        object.__setattr__(self, "bins", {str(k): _bins(v, str(k)) for k, v in dict(self.bins).items()})

    @classmethod
    def from_recorded(cls, recorded: Mapping[str, Any], **overrides: Any) -> FairnessConfig:
        """The settings a fairness.json (or audit.json's fairness block) was computed with, `overrides` on top:
        what the gate and the reference re-analysis rebuild. Recorded keys that are results, not settings, are
        left out; `family` is recorded as {'scope': ...}."""
        names = set(cls.__dataclass_fields__) - {"attributes", "intersections", "workers"}
        settings = {k: recorded[k] for k in names if k in recorded}
        if isinstance(settings.get("family"), Mapping):
            settings["family"] = settings["family"].get("scope", "audit")
        return cls(**{**settings, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The settings as they appear in fairness.json."""
        return {"metric": self.metric, "alpha": self.alpha, "margin": self.margin, "correction": self.correction,
                "family": self.family, "reference": self.reference, "test": "welch-t",
                "bootstrap": self.bootstrap, "ci_method": "t", "seed": self.seed,
                "subject_column": self.subject_column, "skew_correction": self.skew_correction,
                "min_group_size": self.min_group_size, "min_test_size": self.min_test_size,
                "power": self.power, "omnibus_permutation": self.omnibus_permutation,
                "permutations": self.permutations, "trend_ci": self.trend_ci,
                "bins": {k: v if isinstance(v, int) else list(v) for k, v in self.bins.items()},
                "quantiles": self.quantiles}


def _bins(value: Any, name: str) -> int | tuple[float, ...]:
    """A number of quantile bins (>= 2) or strictly increasing finite cut points (at least one)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 2:
            raise InputError(f"needs at least 2 quantile bins, got {value}", field=f"bins.{name}")
        return int(value)
    try:
        edges = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"must be a number of quantile bins or a list of cut points, got {value!r}",
                         field=f"bins.{name}") from None
    if not edges or any(e != e or e in (float("inf"), float("-inf")) for e in edges) or \
            any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise InputError(f"cut points must be finite and strictly increasing, got {list(edges)}",
                         field=f"bins.{name}")
    return edges
