"""Computed sections a reviewer can verify: every verdict sentence shows what it rests on (comparison, estimate,
bounds against the margin, adjusted p against alpha, rule) in words computed from those numbers; TPRs only at
FPRs the non-members resolve; the threat model and the limits of both audits; and readiness sentences that no
verdict contradicts (a fail never stands next to a readiness claim, the facts' included)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from segaudit.cards import load_audit, load_facts, render_model_card
from segaudit.cards.front_matter import parse_front_matter
from segaudit.cards.statements import (
    fairness_limits,
    membership_statement,
    readiness_claims,
    readiness_statements,
    verdict_sentences,
)

REPO = Path(__file__).resolve().parent.parent
AUDIT = REPO / "reports" / "alisnet" / "audit.json"
FACTS = REPO / "cards" / "alisnet.yaml"
NOT_READY = "Not ready for deployment to the affected population without mitigation"
RELATION = re.compile(r"bounds (-?\d+\.\d+) to (-?\d+\.\d+)(?: \([^)]*\))?, "
                      r"(entirely beyond|entirely below|straddling) the (\d+\.\d+)-point margin; "
                      r"adjusted p = ([0-9.e+-]+) (≤|>) α = (\d+(?:\.\d+)?)")


@pytest.fixture
def audit() -> dict:
    return load_audit(AUDIT)


@pytest.fixture
def facts() -> dict:
    return load_facts(FACTS)


def pts(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def sentence_of(audit: dict, name: str, min_group_size: int = 30) -> str:
    names = [*audit["fairness"]["attributes"], *audit["fairness"]["intersections"]]
    return verdict_sentences(audit["fairness"], min_group_size)[names.index(name)]


def passing(audit: dict, name: str) -> dict:
    """`audit` with attribute `name` made a pass: every shortfall and the largest gap within the margin."""
    audit = copy.deepcopy(audit)
    grouping = audit["fairness"]["attributes"][name]
    for i, c in enumerate(grouping["comparisons"]):
        c.update(difference=-0.001 * i, ci_low=-0.001 * i - 0.004, ci_high=-0.001 * i + 0.002, p_value=1.0,
                 p_adjusted=1.0, significant=False)
    grouping["max_gap"].update(gap=0.005, ci_low=0.001, ci_high=0.008, p_value=0.9, p_adjusted=1.0,
                               significant=False)
    grouping["verdict"] = "pass"
    for g in grouping["groups"]:
        g["status"] = "ok"
    return audit


def all_pass(audit: dict) -> dict:
    """Every attribute and intersection a pass, membership inference rated none."""
    for scope in ("attributes", "intersections"):
        for name in list(audit["fairness"][scope]):
            if scope == "attributes":
                audit = passing(audit, name)
            else:
                audit["fairness"][scope][name]["verdict"] = "pass"
                for c in audit["fairness"][scope][name]["comparisons"]:
                    c["significant"] = False
    audit["fairness"]["verdict"] = "pass"
    audit["privacy"]["risk_level"] = "none"
    return audit


# ------------------------------------------------------------------------------------------ verdict sentences


def test_a_fail_sentence_names_comparison_estimate_bounds_adjusted_p_margin_and_rule(audit):
    grouping = audit["fairness"]["attributes"]["body_shape"]
    assert grouping["verdict"] == "fail"
    worst = min((c for c in grouping["comparisons"] if c["significant"]), key=lambda c: c["difference"])
    sentence = sentence_of(audit, "body_shape")
    assert sentence.startswith("**body_shape: fail**")
    assert f"'{worst['group']}' (n=142) against the rest" in sentence  # the comparison
    assert f"shortfall {pts(-worst['difference'])} points" in sentence  # the estimate
    assert f"one-sided 95 % bounds {pts(-worst['ci_high'])} to {pts(-worst['ci_low'])}" in sentence  # its bounds
    assert "entirely beyond the 1.00-point margin" in sentence  # the margin, and where the bounds lie
    assert f"adjusted p = {worst['p_adjusted']:.3g} ≤ α = 0.05" in sentence
    gap = grouping["max_gap"]
    assert (f"the largest pairwise gap 'broad' − 'slim': {pts(gap['gap'])} points, simultaneous 95 % bounds "
            f"{pts(gap['ci_low'])} to {pts(gap['ci_high'])}") in sentence
    assert "Rule: fail when a shortfall test (against the 1.00-point margin) holds after the correction, Holm over " \
           "the audit's 72 tests: adjusted p ≤ α = 0.05." in sentence


def test_an_inconclusive_sentence_says_what_keeps_it_open(audit):
    grouping = audit["fairness"]["attributes"]["lighting"]
    assert grouping["verdict"] == "inconclusive"
    sentence = sentence_of(audit, "lighting")
    widest = max(grouping["comparisons"], key=lambda c: -c["ci_low"])  # the largest upper bound of a shortfall
    assert sentence.startswith("**lighting: inconclusive**, resting on the largest upper bound, "
                               f"'{widest['group']}' (n=126) against the rest: shortfall "
                               f"{pts(-widest['difference'])} points, one-sided 95 % bounds "
                               f"{pts(-widest['ci_high'])} to {pts(-widest['ci_low'])}, straddling the 1.00-point "
                               f"margin; adjusted p = {widest['p_adjusted']:.3g} > α = 0.05")
    gap = grouping["max_gap"]  # beyond the margin at its own level, but its test does not hold after Holm
    assert gap["ci_low"] > 0.01 and gap["p_adjusted"] > 0.05
    assert (f"{pts(gap['ci_low'])} to {pts(gap['ci_high'])} (the choice of the two groups accounted for), entirely "
            f"beyond the 1.00-point margin; adjusted p = {gap['p_adjusted']:.3g} > α = 0.05 (beyond the margin at "
            "the test's own level only, not after the correction)") in sentence
    assert "Rule: inconclusive when no shortfall test holds after the correction" in sentence
    assert "not significant is not fair" in sentence


def test_a_pass_sentence_shows_the_largest_upper_bound_and_the_gap_below_the_margin(audit):
    sentence = sentence_of(passing(audit, "lighting"), "lighting")
    assert sentence.startswith("**lighting: pass**, resting on the largest upper bound, ")
    assert "'backlit' (n=87) against the rest: shortfall 0.20 points, one-sided 95 % bounds 0.00 to 0.60, entirely " \
           "below the 1.00-point margin; adjusted p = 1 > α = 0.05" in sentence
    assert "simultaneous 95 % bounds 0.10 to 0.80 (the choice of the two groups accounted for), entirely below " \
           "the 1.00-point margin" in sentence
    assert "Rule: pass when every group has at least 30 subjects and every one-sided upper bound" in sentence


def test_a_suppressed_group_is_never_named_nor_its_figures_given(audit):
    sentence = sentence_of(audit, "skin_tone × body_shape")
    assert "a cell of fewer than 30 images against the rest (its estimate, bounds and p are suppressed" in sentence
    labels = [g["group"] for g in audit["fairness"]["intersections"]["skin_tone × body_shape"]["groups"]]
    assert not any(f"'{label}'" in sentence for label in labels)
    sentence = sentence_of(audit, "skin_tone", min_group_size=60)  # monk_10 (n=50) is then suppressed
    assert "monk_10" not in sentence and "a group of fewer than 60 images against the rest" in sentence


@pytest.mark.parametrize("shift", [0.0, -0.012, 0.02, 0.05])
def test_the_words_that_judge_a_number_follow_the_number(audit, shift):
    """Whatever the bounds and p-values are, 'beyond', 'below', 'straddling', '≤' and '>' are read from them:
    no sentence can call a shortfall beyond the margin while its interval reaches below it."""
    for scope in ("attributes", "intersections"):
        for grouping in audit["fairness"][scope].values():
            for c in grouping["comparisons"]:
                c.update(difference=c["difference"] - shift, ci_low=c["ci_low"] - shift, ci_high=c["ci_high"] - shift)
                c["p_adjusted"] = min(1.0, c["p_adjusted"] * (1 + 40 * abs(shift)))
    checked = 0
    for sentence in verdict_sentences(audit["fairness"], 30):
        for low, high, relation, margin, p, sign, alpha in RELATION.findall(sentence):
            low, high, margin, p, alpha = map(float, (low, high, margin, p, alpha))
            expected = ("entirely beyond" if low > margin else "entirely below" if high < margin else "straddling")
            assert relation == expected, sentence
            assert sign == ("≤" if p <= alpha else ">"), sentence
            checked += 1
    assert checked >= 10


def test_the_summary_statement_rests_each_fail_on_a_test_that_holds(audit):
    text = membership_statement(audit, "2026-12-01")
    assert "rated the risk inconclusive" in text
    from segaudit.cards.statements import fairness_statement

    statement = fairness_statement(audit, "2026-12-01", 30)
    assert "found fail for 4 of 6 attributes, each resting on a test that holds after the correction" in statement
    assert "inconclusive for skin_tone, lighting (no test holds after the correction" in statement
    assert "Intersections: skin_tone × body_shape inconclusive, age_group × lighting fail." in statement
    for match in re.finditer(r"bounds (-?\d+\.\d+) to (-?\d+\.\d+), entirely beyond", statement):
        assert float(match.group(1)) > 1.0  # every 'beyond' in the summary has its lower bound past the margin


# ------------------------------------------------------------------------------------------------ privacy


def table_cells(card: str) -> list[list[str]]:
    """The rows of the card's attack table, as cells."""
    table = card.split("| Attack | AUC (95 % CI) |")[1].split("\n\n")[0]
    return [[c.strip() for c in row.strip("|").split("|")] for row in table.splitlines()[2:]]


def test_a_tpr_at_an_fpr_the_non_members_do_not_resolve_is_never_a_number(audit, facts):
    assert audit["privacy"]["nonmembers"] == 500 and audit["privacy"]["fpr_resolution"] == pytest.approx(0.002)
    card = render_model_card(audit, facts)
    rows = table_cells(card)
    assert rows and all(row[3] == "not resolved at 500 non-members" for row in rows)  # 0.1 % FPR < 1/500
    assert all(re.fullmatch(r"\d+\.\d %", row[2]) for row in rows)  # 1 % FPR is resolved
    assert "the 500 non-members resolve FPRs down to 0.20 %: no TPR is reported at a lower FPR" in card

    resolved = copy.deepcopy(audit)
    resolved["privacy"].update(nonmembers=2000, fpr_resolution=0.0005)
    rows = table_cells(render_model_card(resolved, facts))
    assert all(re.fullmatch(r"\d+\.\d\d %", row[3]) for row in rows)

    coarse = copy.deepcopy(audit)
    coarse["privacy"].update(nonmembers=50, fpr_resolution=0.02)
    rows = table_cells(render_model_card(coarse, facts))
    assert all(row[2] == "not resolved at 50 non-members" for row in rows)
    coarse["privacy"]["rating"] = None  # the unrated sentence cites a TPR at 1 % FPR: not as a number here
    statement = membership_statement(coarse, "2026-12-01")
    assert "TPR at 1 % FPR not resolved at 50 non-members" in statement and not re.search(r"TPR \d", statement)


def test_the_card_states_the_threat_model_and_the_limits_of_both_audits(audit, facts):
    card = render_model_card(audit, facts)
    assert f"**Threat model:** {audit['privacy']['threat_model']}" in card
    rating = audit["privacy"]["rating"]
    assert (f"the rating detects, with 80 % power, an AUC of {rating['detectable_auc']:.3f} or more and a TPR of "
            f"{100 * rating['detectable_tpr']:.1f} % or more at 1 % FPR; a smaller leak can go unnoticed") in card
    limits = dict(line.split(": ", 1) for line in fairness_limits(audit["fairness"], 30))
    groups = audit["fairness"]["attributes"]["skin_tone"]["groups"]
    low = min(groups, key=lambda g: g["detectable_shortfall"])
    high = max(groups, key=lambda g: g["detectable_shortfall"])
    assert limits["skin_tone"] == (f"{pts(low['detectable_shortfall'])} points ('{low['group']}') to "
                                   f"{pts(high['detectable_shortfall'])} points ('{high['group']}')")
    assert "**Limits of the audit**" in card and f"* skin_tone: {limits['skin_tone']}" in card


# ----------------------------------------------------------------------------------------------- readiness


@pytest.mark.parametrize("text, claims", [
    ("The model is ready to be deployed to edge devices.", 1),
    ("Production-ready. Fast.", 1),
    ("It is fit for deployment in shops.", 1),
    ("It is not ready for deployment to children.", 0),
    ("Not ready to ship as a file to devices without mitigation.", 0),
    ("Fitness for the groups of x is not shown; safety is not shown either.", 0),
    ("Designed for edge devices.", 0),
])
def test_readiness_claims_are_found_and_negations_are_not(text, claims):
    assert len(readiness_claims(text)) == claims


def test_a_fail_never_stands_next_to_a_readiness_claim(audit, facts):
    facts["caveats"] = "Watch low light. The model is ready to be deployed to edge devices."
    facts["intended_use"] += " It is production-ready."
    card = render_model_card(audit, facts)
    assert audit["fairness"]["verdict"] == "fail"
    assert readiness_claims(card) == []  # neither computed nor from the facts
    assert NOT_READY in card.split("## Caveats and Recommendations")[1]
    assert "Watch low light." in card and "ready to be deployed" not in card and "production-ready" not in card
    assert "[needs a person: caveats claimed readiness for deployment, which the audit contradicts" in card
    assert "[needs a person: intended_use claimed readiness" in card
    assert parse_front_matter(card)[0]["segaudit"]["draft"] is True


def test_readiness_follows_the_verdicts_both_ways(audit, facts):
    facts["caveats"] = "The model is ready to be deployed to edge devices."
    clean = all_pass(copy.deepcopy(audit))
    card = render_model_card(clean, facts)
    claims = readiness_claims(card)
    assert "The model is ready to be deployed to edge devices." in claims  # no verdict contradicts it: kept
    assert any(c.startswith("Ready for deployment to the audited population") for c in claims)
    assert NOT_READY not in card

    one_fail = copy.deepcopy(clean)  # one attribute fails: every readiness claim goes, the computed one included
    grouping = one_fail["fairness"]["attributes"]["age_group"]
    grouping["verdict"], one_fail["fairness"]["verdict"] = "fail", "fail"
    grouping["comparisons"][0].update(difference=-0.05, ci_low=-0.07, ci_high=-0.03, p_adjusted=0.001,
                                      significant=True)
    card = render_model_card(one_fail, facts)
    assert readiness_claims(card) == []
    assert f"{NOT_READY}: the fairness audit failed for 1 of 8 attributes and intersections" in card
    assert "(age_group: 'child' (n=96))" in card

    leaky = copy.deepcopy(clean)  # a high membership-inference rating also stands against shipping the file
    leaky["privacy"]["risk_level"] = "high"
    card = render_model_card(leaky, facts)
    assert readiness_claims(card) == [] and "Not ready to ship as a file to devices without mitigation" in card


def test_every_readiness_sentence_is_computed_from_the_verdicts(audit):
    sentences = readiness_statements(audit, 30)
    assert sentences[0].startswith(NOT_READY)
    assert "Fitness for the groups of skin_tone, lighting, skin_tone × body_shape is not shown" in sentences[1]
    assert "cannot rule out a small leak (it detects an AUC of 0.553 or more)" in sentences[2]
    assert all(not readiness_claims(s) for s in sentences)
    clean = readiness_statements(all_pass(audit), 30)
    assert clean[-1].startswith("Ready for deployment to the audited population as far as these audits reach")


def test_the_bundled_card_claims_no_readiness_and_says_why_not():
    card = (REPO / "cards" / "alisnet.md").read_text(encoding="utf-8")
    assert readiness_claims(card) == []
    assert NOT_READY in card.split("## Caveats and Recommendations")[1]


def test_a_fail_on_the_largest_gap_alone_names_its_lower_end(audit):
    grouping = audit["fairness"]["attributes"]["lighting"]
    grouping["verdict"] = "fail"
    grouping["max_gap"].update(p_adjusted=0.01, significant=True)
    sentence = sentence_of(audit, "lighting")
    assert sentence.startswith("**lighting: fail**, resting on the largest pairwise gap 'backlit' − 'low': ")
    assert "adjusted p = 0.01 ≤ α = 0.05" in sentence
    assert "lighting: 'low' (n=126), the lower end of the largest gap" in readiness_statements(audit, 30)[0]
