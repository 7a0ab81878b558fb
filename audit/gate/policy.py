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
    max_risk = "low"                # highest acceptable membership-inference risk (none < inconclusive < low
                                    # < medium < high)

    [performance]
    min_miou = 0.85                 # the overall test mIoU must reach this

    [card]
    require_complete = true         # every required card fact filled in (no placeholders)

A table or key the gate does not know is an error naming it (a typo must not silently weaken the gate), as is
a value of the wrong type or out of range. A section left out sets no rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.core.reading import load_toml

# "inconclusive": no attack showed membership, but the audit could not rule out a leak of practical size; it
# ranks above "none" (a policy demanding "none" needs an audit large enough to show it) and below "low".
RISK_LEVELS = ("none", "inconclusive", "low", "medium", "high")
CORRECTIONS = ("holm", "bh")
FAIRNESS_RULE_KEYS = ("margin", "alpha", "correction", "inconclusive_fails")
SECTIONS = ("fairness", "privacy", "performance", "card")
FRACTION = "a fraction: 0.01 = 1 point"


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
    checks.known_keys(raw, SECTIONS)
    if not raw:
        raise InputError(f"the policy sets no rule; give at least one of the tables {list(SECTIONS)}")
    policy = GatePolicy()
    if "fairness" in raw:
        policy = _fairness(policy, _table(raw["fairness"], "fairness"))
    if "privacy" in raw:
        section = _table(raw["privacy"], "privacy")
        checks.known_keys(section, ("max_risk",), "privacy")
        policy = replace(policy, max_risk=checks.choice(section.get("max_risk", "low"), RISK_LEVELS,
                                                        "privacy.max_risk"))
    if "performance" in raw:
        section = _table(raw["performance"], "performance")
        checks.known_keys(section, ("min_miou",), "performance")
        if "min_miou" not in section:
            raise InputError("the [performance] table needs min_miou", field="performance.min_miou")
        policy = replace(policy, min_miou=checks.number(section["min_miou"], "performance.min_miou", 0.0, 1.0,
                                                        note=FRACTION))
    if "card" in raw:
        section = _table(raw["card"], "card")
        checks.known_keys(section, ("require_complete",), "card")
        policy = replace(policy, require_complete_card=checks.boolean(section.get("require_complete", True),
                                                                      "card.require_complete"))
    return policy


def _fairness(policy: GatePolicy, section: Mapping[str, Any]) -> GatePolicy:
    checks.known_keys(section, (*FAIRNESS_RULE_KEYS, "attributes", "intersections", "attribute"), "fairness")
    defaults = _rule(FairnessRule(), section, "fairness")
    overrides = {}
    for name, table in _table(section.get("attribute", {}), "fairness.attribute").items():
        where = f"fairness.attribute.{name}"
        table = _table(table, where)
        checks.known_keys(table, FAIRNESS_RULE_KEYS, where)
        overrides[str(name)] = _rule(defaults, table, where)
    attributes = section.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, list) or not all(isinstance(a, str) and a for a in attributes):
            raise InputError(f"must be a list of attribute names, got {attributes!r}", field="fairness.attributes")
        attributes = tuple(attributes)
    return replace(policy, fairness=defaults, fairness_overrides=overrides, fairness_attributes=attributes,
                   fairness_intersections=checks.boolean(section.get("intersections", True),
                                                         "fairness.intersections"))


def _rule(base: FairnessRule, table: Mapping[str, Any], where: str) -> FairnessRule:
    changes: dict[str, Any] = {}
    if "margin" in table:
        changes["margin"] = checks.number(table["margin"], f"{where}.margin", 0.0, 1.0, open_high=True,
                                          note=FRACTION)
    if "alpha" in table:
        changes["alpha"] = checks.probability(table["alpha"], f"{where}.alpha")
    if "correction" in table:
        changes["correction"] = checks.choice(table["correction"], CORRECTIONS, f"{where}.correction")
    if "inconclusive_fails" in table:
        changes["inconclusive_fails"] = checks.boolean(table["inconclusive_fails"], f"{where}.inconclusive_fails")
    return replace(base, **changes)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    return checks.table(value, where, what=f"a table ([{where}])")
