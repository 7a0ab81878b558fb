"""Views of an audit's results for cards and the report: fairness per attribute, membership inference,
performance and quantization, with small groups suppressed.

Suppression (sensitive data stays aggregate): a group of fewer than `min_group_size` images keeps its label but
loses every number, in the published cards and in by_group.json; a worst group that is suppressed is named only as
"a group of fewer than N images". The fairness groups follow `cards.disclosure.suppression_plan`: besides the small
groups, as many others as it takes so that no suppressed group can be recovered by subtraction from the published
totals (complementary suppression).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from segaudit.cards.disclosure import suppression_plan

TEST_NAMES = {"kruskal": "Kruskal-Wallis", "mann-whitney": "Mann-Whitney U", "permutation": "permutation test",
              "welch-t": "Welch t of shortfall > margin", "holm": "Holm", "bh": "Benjamini-Hochberg"}
ATTACK_NAMES = {"loss": "loss threshold", "population": "population threshold",
                "lira-offline": "LiRA offline", "lira-online": "LiRA online", "rmia": "RMIA",
                "rmia-online": "RMIA online", "loss-map-cnn": "loss-map CNN", "label-only": "label-only"}


def attack_label(name: str) -> str:
    return ATTACK_NAMES.get(name, name)


def is_suppressed(group: dict[str, Any], min_group_size: int) -> bool:
    n = group.get("n")
    return not isinstance(n, int) or n < min_group_size


def published_group(group: dict[str, Any], min_group_size: int, keys: tuple[str, ...]) -> dict[str, Any]:
    """A group for a published document: its `keys`, or only its label when it is too small to publish."""
    if is_suppressed(group, min_group_size):
        return {"group": group["group"], "suppressed": True}
    return {"group": group["group"], "suppressed": False, **{k: group.get(k) for k in keys}}


def tests_used(fairness: dict[str, Any], grouping: dict[str, Any]) -> str:
    """'Welch t of shortfall > margin vs rest and max-T largest gap, Holm over the audit's 23 tests' for one
    attribute: the tests its verdict rests on (rank tests are descriptive and not named here)."""
    test = TEST_NAMES.get(fairness.get("test", ""), fairness.get("test", ""))
    family = fairness.get("family") or {}
    correction = TEST_NAMES.get(fairness.get("correction", ""), fairness.get("correction", ""))
    over = (f"over the audit's {family['tests']} tests" if family.get("scope") == "audit" and "tests" in family
            else "within the attribute")
    return f"{test} vs {fairness.get('reference', 'rest')} and max-T largest gap, {correction} {over}"


def fairness_rows(fairness: dict[str, Any], min_group_size: int) -> list[dict[str, Any]]:
    """One row per attribute and intersection: verdict, worst group (or its suppression), gap with CI, tests."""
    plan = suppression_plan(fairness, min_group_size)
    rows = []
    for scope in ("attributes", "intersections"):
        for name, grouping in fairness.get(scope, {}).items():
            groups = {g["group"]: g for g in grouping["groups"]}
            worst = grouping.get("worst")
            worst_group = groups.get(worst["group"]) if worst else None
            suppressed = worst_group is not None and (name, str(worst_group["group"])) in plan
            ends = [grouping.get("best"), grouping.get("worst")]
            # the gap, ratio and equity-scaled metric of a pair with a suppressed end would give its mean away
            pair_hidden = any(end is None or (name, str(end["group"])) in plan for end in ends)
            gap = None if pair_hidden else grouping.get("max_gap")
            rows.append({
                "name": name, "scope": scope[:-1], "verdict": grouping["verdict"],
                "worst": None if worst is None else (None if suppressed else worst["group"]),
                "worst_n": None if worst_group is None or suppressed else worst_group["n"],
                "worst_suppressed": suppressed,
                "best": None if not grouping.get("best") or (name, str(grouping["best"]["group"])) in plan
                else grouping["best"]["group"],
                "gap": None if gap is None else gap["gap"],
                "gap_ci": None if gap is None else [gap["ci_low"], gap["ci_high"]],
                "gap_beyond_margin": bool(gap and gap.get("significant")),
                "ratio": None if pair_hidden else grouping.get("ratio"),
                "equity_scaled": None if pair_hidden else grouping.get("equity_scaled"),
                "gap_suppressed": pair_hidden and grouping.get("max_gap") is not None,
                "tests": tests_used(fairness, grouping),
                "n_groups": len(groups),
                "n_suppressed": sum((name, str(label)) in plan for label in groups),
            })
    return rows


def fairness_groups(fairness: dict[str, Any], min_group_size: int, scope: str = "attributes") -> dict[str, list]:
    """Per attribute (or intersection), its groups as published: n, mean, CI, status, or suppressed."""
    keys = ("n", "mean", "ci_low", "ci_high", "pooled", "status")
    plan = suppression_plan(fairness, min_group_size)
    return {name: [{"group": g["group"], "suppressed": True} if (name, str(g["group"])) in plan
                   else {"group": g["group"], "suppressed": False, **{k: g.get(k) for k in keys}}
                   for g in grouping["groups"]]
            for name, grouping in fairness.get(scope, {}).items()}


def privacy_attacks(privacy: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The attacks as a card lists them: label, and the level the rating gave each ("not rated" when it was left
    out, e.g. a loss-map CNN that learned nothing; absent in audits made before the rating was a test)."""
    levels = {a["name"]: a["level"] for a in ((privacy or {}).get("rating") or {}).get("attacks", [])}
    return [{**a, "label": attack_label(a["name"]), "rated_level": levels.get(a["name"], "not rated")}
            for a in (privacy or {}).get("attacks", [])]


def strongest_attack(privacy: dict[str, Any]) -> dict[str, Any]:
    """The attack with the highest TPR at 1 % FPR (then the highest AUC): the one a risk statement cites."""
    return max(privacy["attacks"], key=lambda a: ((a.get("tpr_at_fpr") or {}).get("0.01") or 0.0, a["auc"] or 0.0))


def privacy_groups(privacy: dict[str, Any] | None, min_group_size: int) -> dict[str, list]:
    """Per attribute, membership-inference AUC per group as published."""
    if not privacy:
        return {}
    keys = ("n", "attack", "auc", "auc_ci")
    return {name: [published_group(g, min_group_size, keys) for g in groups]
            for name, groups in (privacy.get("by_group") or {}).items()}


def most_exposed(privacy: dict[str, Any] | None, min_group_size: int) -> dict[str, Any] | None:
    """The published group with the highest membership-inference AUC among the attributes whose groups differ
    (Cochran's Q, Holm-adjusted, in privacy.json's group_differences); None when no test shows a difference: the
    maximum of many cells is not a finding."""
    differing = {(d["attribute"], d["attack"]) for d in
                 ((privacy or {}).get("group_differences") or {}).get("differences", []) if d.get("differs")}
    best = None
    for name, groups in privacy_groups(privacy, min_group_size).items():
        for g in groups:
            if (name, g.get("attack")) not in differing or g["suppressed"] or g.get("auc") is None:
                continue
            if best is None or g["auc"] > best["auc"]:
                best = {"attribute": name, **g}
    return best


def by_group_document(audit: dict[str, Any], min_group_size: int) -> dict[str, Any]:
    """by_group.json: every group's fairness and privacy results as published beside a model card."""
    fairness = audit["fairness"]
    return {
        "model": audit["model"]["name"], "artifact_sha256": audit["model"].get("sha256"),
        "metric": fairness.get("metric"), "aggregation": fairness.get("aggregation"),
        "confidence": fairness.get("confidence"), "min_group_size": min_group_size,
        "fairness": {"attributes": fairness_groups(fairness, min_group_size, "attributes"),
                     "intersections": fairness_groups(fairness, min_group_size, "intersections")},
        "privacy": privacy_groups(audit.get("privacy"), min_group_size),
    }


BY_GROUP_SCHEMA = Path(__file__).with_name("by_group.schema.json")
"""The published JSON Schema of by_group.json (shipped in the package; checked whenever one is written)."""


def by_group_errors(document: Any) -> list[str]:
    """Every place a by_group.json document breaks its schema ('path: message'), empty when it is valid."""
    from jsonschema import Draft202012Validator

    schema = json.loads(BY_GROUP_SCHEMA.read_text(encoding="utf-8"))
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in Draft202012Validator(schema).iter_errors(document)]


def artifact_description(audit: dict[str, Any]) -> str:
    """'the int8 on-device model (ExecuTorch .pte)' or 'the float checkpoint'."""
    if audit["model"].get("format") == "pte":
        return "the int8 on-device model (ExecuTorch .pte)"
    return "the float checkpoint"


def mebibytes(size: Any) -> str:
    return "n/a" if not isinstance(size, int | float) else f"{size / 2**20:.2f} MiB"
