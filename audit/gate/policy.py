"""The gate's policy (gate.toml): what a model must show to pass CI, read strictly.

    [fairness]                      # defaults for every audited attribute and intersection
    margin = 0.02                   # largest acceptable shortfall of a group, as a fraction (0.02 = 2 IoU points)
    alpha = 0.05                    # error rate of the tests, 1 - confidence of the intervals
    correction = "holm"             # holm (family-wise) | bh (false discovery rate)
    inconclusive_fails = true       # an attribute the data cannot decide fails the gate
    attributes = ["skin_tone"]      # optional: only these (default: every attribute the audit covered)
    intersections = true            # judge the audit's intersections too
    [fairness.attribute.skin_tone]  # per-attribute overrides of margin, alpha, correction, inconclusive_fails
    margin = 0.01

    [privacy]
    max_risk = "low"                # highest acceptable membership-inference risk: none | low | medium | high

    [performance]
    min_miou = 0.85                 # the overall test mIoU must reach this

    [card]
    require_complete = true         # every required card fact filled in (no placeholders)

A table or key the gate does not know is an error naming it (a typo must not silently weaken the gate), as is
a value of the wrong type or out of range. A section left out sets no rule.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from segaudit.core.errors import InputError
from segaudit.core.reading import load_toml

RISK_LEVELS = ("none", "low", "medium", "high")
CORRECTIONS = ("holm", "bh")
FAIRNESS_RULE_KEYS = ("margin", "alpha", "correction", "inconclusive_fails")
SECTIONS = ("fairness", "privacy", "performance", "card")


@dataclass(frozen=True)
class FairnessRule:
    """How one attribute (or intersection) is judged."""

    margin: float = 0.01
    alpha: float = 0.05
    correction: str = "holm"
    inconclusive_fails: bool = True


@dataclass(frozen=True)
class GatePolicy:
    """The whole policy; None for a section that sets no rule."""

    fairness: FairnessRule | None = None
    fairness_overrides: dict[str, FairnessRule] = field(default_factory=dict)
    fairness_attributes: tuple[str, ...] | None = None
    fairness_intersections: bool = True
    max_risk: str | None = None
    min_miou: float | None = None
    require_complete_card: bool = False

    def fairness_rule(self, name: str) -> FairnessRule:
        """The rule for attribute or intersection `name`: its override, else the section's defaults."""
        assert self.fairness is not None
        return self.fairness_overrides.get(name, self.fairness)


def load_policy(path: str | Path) -> GatePolicy:
    """Read and validate gate.toml (InputError naming the file and the key on any problem)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("not found: the gate's policy file (TOML)", path=path)
    raw = load_toml(path, what="gate policy (TOML)")
    try:
        return parse_policy(raw)
    except InputError as error:
        raise InputError(error.message, path=path, field=error.field) from None


def parse_policy(raw: Mapping[str, Any]) -> GatePolicy:
    """A GatePolicy from the parsed TOML tables."""
    _known(raw, SECTIONS, "")
    if not raw:
        raise InputError(f"the policy sets no rule; give at least one of the tables {list(SECTIONS)}")
    policy = GatePolicy()
    if "fairness" in raw:
        policy = _fairness(policy, _table(raw["fairness"], "fairness"))
    if "privacy" in raw:
        section = _table(raw["privacy"], "privacy")
        _known(section, ("max_risk",), "privacy")
        if "max_risk" in section and section["max_risk"] not in RISK_LEVELS:
            raise InputError(f"must be one of {list(RISK_LEVELS)}, got {section['max_risk']!r}",
                             field="privacy.max_risk")
        policy = replace(policy, max_risk=section.get("max_risk", "low"))
    if "performance" in raw:
        section = _table(raw["performance"], "performance")
        _known(section, ("min_miou",), "performance")
        if "min_miou" not in section:
            raise InputError("the [performance] table needs min_miou", field="performance.min_miou")
        policy = replace(policy, min_miou=_fraction(section["min_miou"], "performance.min_miou", upper=1.0))
    if "card" in raw:
        section = _table(raw["card"], "card")
        _known(section, ("require_complete",), "card")
        policy = replace(policy, require_complete_card=_bool(section.get("require_complete", True),
                                                            "card.require_complete"))
    return policy


def _fairness(policy: GatePolicy, section: Mapping[str, Any]) -> GatePolicy:
    _known(section, (*FAIRNESS_RULE_KEYS, "attributes", "intersections", "attribute"), "fairness")
    defaults = _rule(FairnessRule(), section, "fairness")
    overrides = {}
    for name, table in _table(section.get("attribute", {}), "fairness.attribute").items():
        where = f"fairness.attribute.{name}"
        table = _table(table, where)
        _known(table, FAIRNESS_RULE_KEYS, where)
        overrides[str(name)] = _rule(defaults, table, where)
    attributes = section.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, list) or not all(isinstance(a, str) and a for a in attributes):
            raise InputError(f"must be a list of attribute names, got {attributes!r}", field="fairness.attributes")
        attributes = tuple(attributes)
    return replace(policy, fairness=defaults, fairness_overrides=overrides, fairness_attributes=attributes,
                   fairness_intersections=_bool(section.get("intersections", True), "fairness.intersections"))


def _rule(base: FairnessRule, table: Mapping[str, Any], where: str) -> FairnessRule:
    changes: dict[str, Any] = {}
    if "margin" in table:
        changes["margin"] = _fraction(table["margin"], f"{where}.margin", upper=1.0, open_upper=True)
    if "alpha" in table:
        alpha = _fraction(table["alpha"], f"{where}.alpha", upper=1.0, open_upper=True)
        if alpha == 0:
            raise InputError("must be strictly between 0 and 1, got 0", field=f"{where}.alpha")
        changes["alpha"] = alpha
    if "correction" in table:
        if table["correction"] not in CORRECTIONS:
            raise InputError(f"must be one of {list(CORRECTIONS)}, got {table['correction']!r}",
                             field=f"{where}.correction")
        changes["correction"] = table["correction"]
    if "inconclusive_fails" in table:
        changes["inconclusive_fails"] = _bool(table["inconclusive_fails"], f"{where}.inconclusive_fails")
    return replace(base, **changes)


def _known(table: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            place = f"[{where}]" if where else "the top level"
            raise InputError(f"unknown key {key!r} in {place}; known: {list(keys)}",
                             field=f"{where}.{key}" if where else key)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"must be a table ([{where}]), got {type(value).__name__}", field=where)
    return value


def _fraction(value: Any, where: str, upper: float, open_upper: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= upper \
            or (open_upper and float(value) == upper):
        bound = f"[0, {upper:g})" if open_upper else f"[0, {upper:g}]"
        raise InputError(f"must be a number in {bound} (fractions: 0.01 = 1 point), got {value!r}", field=where)
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"must be true or false, got {value!r}", field=where)
    return value
