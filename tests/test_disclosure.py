"""Complementary suppression: no suppressed group of a published audit can be recovered by subtraction."""

from __future__ import annotations

from pathlib import Path

import pytest

from segaudit.cards.disclosure import OVERALL, complementary_suppression, recoverable, relations_of, suppression_plan
from segaudit.core.audit_file import load_audit

AUDIT = Path(__file__).resolve().parents[1] / "reports" / "alisnet" / "audit.json"


@pytest.mark.parametrize(("min_group_size", "leaks"), [(20, 3), (30, 0), (35, 1), (60, 2)])
def test_suppressing_small_groups_one_by_one_leaks_and_the_plan_does_not(min_group_size: int, leaks: int) -> None:
    """The reference audit (500 test images, 6 attributes, 2 intersections): one-by-one suppression lets the attack
    recover `leaks` groups exactly (e.g. at 20, the child x backlit cell); the plan lets it recover none."""
    fairness = load_audit(AUDIT)["fairness"]
    sizes, relations = relations_of(fairness)
    primary = {item for item, n in sizes.items() if 0 < n < min_group_size and item != OVERALL}
    assert len(recoverable(sizes, relations, primary)) == leaks
    plan = suppression_plan(fairness, min_group_size)
    assert primary <= plan and OVERALL not in plan
    assert recoverable(sizes, relations, plan) == set()
    assert len(plan - primary) <= len(primary) // 4 + 1  # few complements: 5 at 20, 0-2 above


def test_a_lone_small_cell_takes_its_row_and_column_partners_with_it() -> None:
    # a 2 x 3 intersection: cell (x, q) is small; its row and column sums are published
    sizes = {OVERALL: 300, ("A", "x"): 100, ("A", "y"): 200, ("B", "p"): 100, ("B", "q"): 60, ("B", "r"): 140,
             ("AB", "x×p"): 40, ("AB", "x×q"): 5, ("AB", "x×r"): 55,
             ("AB", "y×p"): 60, ("AB", "y×q"): 55, ("AB", "y×r"): 85}
    from segaudit.cards.disclosure import Relation

    relations = [Relation(OVERALL, (("A", "x"), ("A", "y"))), Relation(OVERALL, (("B", "p"), ("B", "q"), ("B", "r"))),
                 *[Relation(("A", a), tuple(("AB", f"{a}×{b}") for b in "pqr")) for a in "xy"],
                 *[Relation(("B", b), tuple(("AB", f"{a}×{b}") for a in "xy")) for b in "pqr"]]
    assert recoverable(sizes, relations, {("AB", "x×q")}) == {("AB", "x×q")}
    plan = complementary_suppression(sizes, relations, 30)
    assert ("AB", "x×q") in plan and len(plan) >= 4  # a 2 x 2 block at least
    assert recoverable(sizes, relations, plan) == set()


def test_by_group_json_publishes_exactly_the_plan_and_the_attack_recovers_nothing_from_it() -> None:
    from segaudit.cards.results import by_group_document

    audit = load_audit(AUDIT)
    document = by_group_document(audit, 35)  # at 35, one-by-one suppression leaks skin_tone monk_09
    hidden = {(name, str(g["group"])) for scope in ("attributes", "intersections")
              for name, groups in document["fairness"][scope].items() for g in groups if g["suppressed"]}
    assert hidden == suppression_plan(audit["fairness"], 35)
    sizes, relations = relations_of(audit["fairness"])
    published = {(name, str(g["group"])): g["n"] for scope in ("attributes", "intersections")
                 for name, groups in document["fairness"][scope].items() for g in groups if not g["suppressed"]}
    assert all(sizes[item] == n for item, n in published.items())
    assert recoverable(sizes, relations, hidden) == set()


def test_by_group_json_follows_its_published_schema() -> None:
    import json

    from segaudit.cards.results import BY_GROUP_SCHEMA, by_group_errors

    committed = json.loads((AUDIT.parents[2] / "cards" / "alisnet.by_group.json").read_text())
    assert BY_GROUP_SCHEMA.is_file() and by_group_errors(committed) == []
    committed["fairness"]["attributes"]["skin_tone"][0]["mean"] = 84.4  # a percent, not a fraction
    del committed["fairness"]["intersections"]
    problems = by_group_errors(committed)
    assert any("84.4" in p for p in problems) and any("intersections" in p for p in problems)


def test_a_gap_whose_end_is_suppressed_is_not_published_anywhere_in_the_card() -> None:
    from segaudit.cards.facts import load_facts
    from segaudit.cards.model_card import render_model_card

    audit = load_audit(AUDIT)
    card = render_model_card(audit, load_facts(AUDIT.parents[2] / "cards" / "alisnet.yaml"), draft=True)
    plan = suppression_plan(audit["fairness"], 30)
    checked = 0
    for name, grouping in {**audit["fairness"]["attributes"], **audit["fairness"]["intersections"]}.items():
        ends = [grouping["best"]["group"], grouping["worst"]["group"]]
        if any((name, str(end)) in plan for end in ends):  # best - gap = the suppressed worst mean
            checked += 1
            gap = 100 * grouping["max_gap"]["gap"]
            assert f"{gap:.2f} points" not in card and f"max_gap_points: {round(gap, 2)}" not in card
    assert checked >= 1
