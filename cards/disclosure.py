"""Disclosure control that holds: complementary suppression of small groups, checked by the subtraction attack.

Suppressing each small group on its own is not enough. The audit publishes, per attribute, every group's size n
and mean per-image IoU, and the whole test set's n and mean; per intersection, every cell. Those numbers are
tied by sums - the groups of an attribute add up to the whole set, the cells of a row of an intersection add up
to that row's group - so a lone suppressed group is the total minus the rest (n, and n x mean, hence its mean).

`suppression_plan` first marks every group under `min_group_size` (primary suppression), then, as long as some
sum has exactly one suppressed member, also suppresses the smallest published member of that sum
(complementary suppression; the whole set's total is never suppressed), until every sum that has a suppressed
member has at least two. `recoverable` is the attack: it solves the published sums for the suppressed values by
linear algebra and returns those that are uniquely determined, so tests (and the paranoid) can check a plan.
Empty cells (n = 0) carry no value and are published as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

CROSS = " × "
"""How the fairness audit labels an intersection cell: 'a-label × b-label' (audit.fairness.subgroups)."""
OVERALL = ("overall",)
Item = tuple[str, ...]
"""("overall",), (grouping, group label) for an attribute's group or an intersection's cell."""


@dataclass(frozen=True)
class Relation:
    """`total` = the sum of `parts` (for n and for n x mean alike)."""

    total: Item
    parts: tuple[Item, ...]


def relations_of(fairness: dict[str, Any]) -> tuple[dict[Item, int], list[Relation]]:
    """Every published group's n and the sums that tie them, from an audit's fairness block."""
    sizes: dict[Item, int] = {OVERALL: int(fairness.get("n_images") or 0)}
    relations: list[Relation] = []
    for name, result in (fairness.get("attributes") or {}).items():
        groups = [(name, str(g["group"])) for g in result.get("groups", [])]
        sizes.update({(name, str(g["group"])): int(g.get("n") or 0) for g in result.get("groups", [])})
        relations.append(Relation(OVERALL, tuple(groups)))
    for name, result in (fairness.get("intersections") or {}).items():
        axes = result.get("attributes") or []
        cells = {str(g["group"]): int(g.get("n") or 0) for g in result.get("groups", [])}
        sizes.update({(name, label): n for label, n in cells.items()})
        if len(axes) != 2 or any(a not in (fairness.get("attributes") or {}) for a in axes):
            continue
        a, b = axes
        labels_a = [str(g["group"]) for g in fairness["attributes"][a]["groups"]]
        labels_b = [str(g["group"]) for g in fairness["attributes"][b]["groups"]]
        for la in labels_a:
            parts = tuple((name, f"{la}{CROSS}{lb}") for lb in labels_b if f"{la}{CROSS}{lb}" in cells)
            relations.append(Relation((a, la), parts))
        for lb in labels_b:
            parts = tuple((name, f"{la}{CROSS}{lb}") for la in labels_a if f"{la}{CROSS}{lb}" in cells)
            relations.append(Relation((b, lb), parts))
    return sizes, relations


def suppression_plan(fairness: dict[str, Any], min_group_size: int) -> set[Item]:
    """The groups and cells to publish without numbers: the small ones and their complements (module doc)."""
    sizes, relations = relations_of(fairness)
    return complementary_suppression(sizes, relations, min_group_size)


def complementary_suppression(sizes: dict[Item, int], relations: list[Relation], min_group_size: int) -> set[Item]:
    """Primary suppression (0 < n < min_group_size) completed until no sum has exactly one suppressed member."""
    suppressed = {item for item, n in sizes.items() if 0 < n < min_group_size and item != OVERALL}
    changed = True
    while changed:
        changed = False
        for relation in relations:
            members = [relation.total, *relation.parts]
            hidden = [m for m in members if m in suppressed]
            if len(hidden) != 1:
                continue
            candidates = [p for p in relation.parts if p not in suppressed and sizes.get(p, 0) > 0]
            if not candidates and relation.total != OVERALL and relation.total not in suppressed:
                candidates = [relation.total]
            if candidates:
                suppressed.add(min(candidates, key=lambda item: (sizes.get(item, 0), item)))
                changed = True
    return suppressed


def recoverable(sizes: dict[Item, int], relations: list[Relation], suppressed: Iterable[Item]) -> set[Item]:
    """The suppressed items whose value the published ones determine exactly (the subtraction attack, in
    general: solve the sums for the unknowns; an unknown is determined when its unit vector lies in the row
    space of the system)."""
    unknown = sorted(set(suppressed))
    if not unknown:
        return set()
    index = {item: i for i, item in enumerate(unknown)}
    rows = []
    for relation in relations:
        row = np.zeros(len(unknown))
        for part in relation.parts:
            if part in index:
                row[index[part]] += 1.0
        if relation.total in index:
            row[index[relation.total]] -= 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(1.0, singular.max())).sum())
    null_space = vt[rank:]
    determined = np.abs(null_space).max(axis=0) < 1e-9 if null_space.size else np.ones(len(unknown), dtype=bool)
    return {item for item, known in zip(unknown, determined, strict=True) if known}
