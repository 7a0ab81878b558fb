"""Judging an audit.json against a policy: one RuleResult per rule, each with the numbers behind it.

Fairness is judged per attribute and intersection. Where the policy asks the same margin, alpha and correction
the audit ran with, the audit's own verdict stands. Where it asks otherwise, the gate does not guess from
rounded summaries: it re-runs the fairness analysis for those attributes from the audit's per-image table
(fairness/table.csv) with the policy's settings and the audit's other settings (bootstrap, seed, bins), so the
verdict is exactly what `segaudit fairness` would give with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segaudit.audit.gate.policy import RISK_LEVELS, FairnessRule, GatePolicy
from segaudit.core import checks
from segaudit.core.errors import InputError

PASSED, FAILED = "passed", "failed"


@dataclass(frozen=True)
class RuleResult:
    """One rule: its family (fairness, privacy, performance, card), what it judged, and why it passed or not."""

    family: str
    name: str
    passed: bool
    message: str
    details: dict[str, Any]

    @property
    def status(self) -> str:
        return PASSED if self.passed else FAILED


def evaluate(audit: dict[str, Any], policy: GatePolicy, audit_dir: Path | None = None) -> list[RuleResult]:
    """Every rule of `policy` applied to `audit` (audit_dir: where audit.json lies, for the per-image table)."""
    results: list[RuleResult] = []
    if policy.fairness is not None:
        results += _fairness(audit, policy, audit_dir)
    if policy.max_risk is not None:
        results.append(_privacy(audit, policy.max_risk))
    if policy.min_miou is not None:
        results.append(_performance(audit, policy.min_miou))
    if policy.require_complete_card:
        results.append(_card(audit))
    return results


def _fairness(audit: dict[str, Any], policy: GatePolicy, audit_dir: Path | None) -> list[RuleResult]:
    fairness = _section(audit, "fairness")
    recorded = {**fairness.get("attributes", {}), **(fairness.get("intersections", {})
                                                     if policy.fairness_intersections else {})}
    audited = {**fairness.get("attributes", {}), **fairness.get("intersections", {})}
    for name in policy.fairness_overrides:
        if name not in audited:  # a typo in an override must never weaken the gate unnoticed
            raise InputError(f"the policy overrides the rule for {name!r}, which the audit does not have; audited: "
                             f"{sorted(audited)}", field=f"fairness.attribute.{name}")
    wanted = list(policy.fairness_attributes) if policy.fairness_attributes is not None else list(recorded)
    if policy.fairness_attributes is not None and policy.fairness_intersections:
        wanted += [name for name in fairness.get("intersections", {}) if name not in wanted]
    if not wanted:
        return [RuleResult("fairness", "attributes", False, "the audit judged no attribute; nothing to gate on",
                           {})]
    audit_rule = FairnessRule(margin=fairness["margin"], alpha=fairness["alpha"], correction=fairness["correction"])
    rerun = [name for name in wanted if name in recorded and not _same(policy.fairness_rule(name), audit_rule)]
    recomputed = _reanalyse(audit, fairness, {name: recorded[name] for name in rerun}, policy, audit_dir)
    results = []
    for name in wanted:
        rule = policy.fairness_rule(name)
        if name not in recorded:
            results.append(RuleResult("fairness", name, False, f"'{name}' was not audited: the audit covered "
                                      f"{sorted(recorded)}", {"margin": rule.margin}))
            continue
        verdict, reason, gap = recomputed.get(name) or (recorded[name]["verdict"], recorded[name]["reason"],
                                                       recorded[name].get("max_gap"))
        passed = verdict == "pass" or (verdict == "inconclusive" and not rule.inconclusive_fails)
        note = " (inconclusive is allowed by the policy)" if verdict == "inconclusive" and passed else ""
        if name in recomputed:
            note += (f" [re-analysed from the audit's per-image table with the policy's margin {rule.margin:g}, "
                     f"alpha {rule.alpha:g} and {rule.correction}, which differ from the audit's; "
                     "`segaudit audit --policy` analyses with them in the first place]")
        results.append(RuleResult("fairness", name, passed, f"{verdict}{note}: {reason}", {
            "verdict": verdict, "margin": rule.margin, "alpha": rule.alpha, "correction": rule.correction,
            "inconclusive_fails": rule.inconclusive_fails, "recomputed": name in recomputed,
            "max_gap": gap}))
    return results


def _same(rule: FairnessRule, audit_rule: FairnessRule) -> bool:
    return (rule.margin, rule.alpha, rule.correction) == (audit_rule.margin, audit_rule.alpha, audit_rule.correction)


def _reanalyse(audit: dict[str, Any], fairness: dict[str, Any], groupings: dict[str, dict[str, Any]],
               policy: GatePolicy, audit_dir: Path | None) -> dict[str, tuple[str, str, Any]]:
    """{name: (verdict, reason, gap)} for the groupings the policy judges with other settings than the audit."""
    if not groupings:
        return {}
    from segaudit.audit.fairness import FairnessConfig, audit_fairness
    from segaudit.audit.fairness.subgroups import recorded_attribute_specs
    from segaudit.audit.metrics import read_table

    table_path = _table_path(audit, audit_dir)
    table = read_table(table_path)
    specs = recorded_attribute_specs(audit)
    by_rule: dict[FairnessRule, list[str]] = {}
    for name in groupings:
        by_rule.setdefault(policy.fairness_rule(name), []).append(name)
    out = {}
    for rule, names in by_rule.items():
        attributes = tuple(n for n in names if groupings[n]["scope"] == "attribute")
        pairs = tuple(tuple(groupings[n]["attributes"]) for n in names if groupings[n]["scope"] != "attribute")
        needed = set(attributes) | {a for pair in pairs for a in pair}
        config = FairnessConfig.from_recorded(fairness, margin=rule.margin, alpha=rule.alpha,
                                              correction=rule.correction, attributes=attributes,
                                              intersections=pairs)
        source = specs if needed <= set(specs) else sorted(needed)
        result = audit_fairness(table, source, config, source=table_path)
        for grouping in result.results():
            if grouping.name in names:
                gap = None if grouping.gap is None else {"gap": grouping.gap.gap, "ci_low": grouping.gap.ci_low,
                                                         "ci_high": grouping.gap.ci_high,
                                                         "p_adjusted": grouping.gap.p_adjusted}
                out[grouping.name] = (grouping.verdict, grouping.reason, gap)
    return out


def _table_path(audit: dict[str, Any], audit_dir: Path | None) -> Path:
    folder = audit.get("outputs", {}).get("fairness", "fairness")
    path = (audit_dir or Path(".")) / folder / "table.csv"
    if not path.is_file():
        raise InputError("the policy judges fairness with other settings than the audit used, which needs the "
                         "audit's per-image table, and it is missing (audit with the same margin, alpha and "
                         "correction as the policy, or keep the audit folder whole)", path=path)
    return path


def _privacy(audit: dict[str, Any], max_risk: str) -> RuleResult:
    privacy = audit.get("privacy")
    if not privacy:
        return RuleResult("privacy", "membership_inference", False, "the audit holds no privacy (membership-"
                          "inference) results, so its risk is unknown", {"max_risk": max_risk})
    level = checks.choice(privacy.get("risk_level"), RISK_LEVELS, "privacy.risk_level")
    passed = RISK_LEVELS.index(level) <= RISK_LEVELS.index(max_risk)
    relation = "within" if passed else "above"
    return RuleResult("privacy", "membership_inference", passed,
                      f"risk {level}, {relation} the highest acceptable '{max_risk}': {privacy.get('risk_reason', '')}",
                      {"risk_level": level, "max_risk": max_risk})


def _performance(audit: dict[str, Any], min_miou: float) -> RuleResult:
    performance = _section(audit, "performance")
    miou = checks.number(performance.get("miou"), "performance.miou", 0.0, 1.0, note="a fraction, not a percent")
    passed = miou >= min_miou
    ci = performance.get("miou_ci")
    ci_text = f" (95% CI {100 * ci[0]:.2f} to {100 * ci[1]:.2f})" if ci else ""
    return RuleResult("performance", "min_miou", passed,
                      f"test mIoU {100 * miou:.2f}%{ci_text} {'>=' if passed else '<'} the required "
                      f"{100 * min_miou:.2f}% on {performance.get('n_images', '?')} {performance.get('split', '')} "
                      f"images", {"miou": miou, "miou_ci": ci, "min_miou": min_miou})


def _card(audit: dict[str, Any]) -> RuleResult:
    card = audit.get("card")
    if not card:
        return RuleResult("card", "complete", False, "the audit rendered no model card (no card facts given)", {})
    missing = list(card.get("missing", []))
    passed = bool(card.get("complete")) and not missing
    message = "every required card fact is filled in" if passed else \
        f"{len(missing)} required card fact(s) missing or placeholders: {', '.join(missing)}"
    return RuleResult("card", "complete", passed, message, {"missing": missing})


def _section(audit: dict[str, Any], key: str) -> dict[str, Any]:
    value = audit.get(key)
    if not isinstance(value, dict):
        raise InputError(f"audit.json has no '{key}' object, which the policy's rules need", field=key)
    return value
