"""The model card's front matter as machine-readable record: Hugging Face reads it, it says whether the card is
a draft, and it carries the audit's fairness and privacy summary as audit.json has it."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from segaudit.cards.disclosure import suppression_plan
from segaudit.cards.facts import check_facts, load_facts
from segaudit.cards.front_matter import parse_front_matter
from segaudit.cards.model_card import render_model_card
from segaudit.cards.schemas import MODEL_FACTS
from segaudit.core.audit_file import load_audit

REPO = Path(__file__).resolve().parents[1]
AUDIT = REPO / "reports" / "alisnet" / "audit.json"
FACTS = REPO / "cards" / "alisnet.yaml"


def metadata(card: str) -> dict:
    data, _ = parse_front_matter(card)
    assert ModelCard(card).data.to_dict()["pipeline_tag"] == "image-segmentation"  # the Hub's own parser
    return data["segaudit"]


def test_the_draft_flag_follows_the_gaps_and_the_verdicts_come_from_audit_json() -> None:
    audit = load_audit(AUDIT)
    facts = load_facts(FACTS)
    card = render_model_card(audit, facts, draft=True)
    ours = metadata(card)
    # a draft: a required fact missing, or a section only a person can fill (the bundled card: its reviewers)
    assert ours["draft"] is (bool(check_facts(facts, MODEL_FACTS)) or "[needs a person" in card)
    plan = suppression_plan(audit["fairness"], 30)
    for name, result in {**audit["fairness"]["attributes"], **audit["fairness"]["intersections"]}.items():
        summary = ours["fairness"][name]
        assert summary["verdict"] == result["verdict"]
        hidden = any((name, str(result[end]["group"])) in plan for end in ("best", "worst"))
        assert summary["max_gap_points"] == (None if hidden else round(100 * result["max_gap"]["gap"], 2))
    decisive = max(audit["privacy"]["rating"]["attacks"], key=lambda a: a["auc_lower"])
    assert ours["privacy"]["risk_level"] == audit["privacy"]["risk_level"]
    assert ours["privacy"]["auc_bounds"] == [round(decisive["auc_lower"], 3), round(decisive["auc_upper"], 3)]
    assert ours["privacy"]["members"] == decisive["members"]  # the balanced game, not the raw split


def test_a_card_with_gaps_says_draft_in_its_metadata_and_suppressed_worst_groups_stay_unnamed() -> None:
    audit = load_audit(AUDIT)
    facts = load_facts(FACTS)
    facts["model"].pop("description", None)
    ours = metadata(render_model_card(audit, facts, draft=True, min_group_size=60))
    assert ours["draft"] is True
    worst = audit["fairness"]["attributes"]["skin_tone"]["worst"]["group"]
    n = next(g["n"] for g in audit["fairness"]["attributes"]["skin_tone"]["groups"] if g["group"] == worst)
    assert n < 60 and ours["fairness"]["skin_tone"]["worst_group"] is None


def test_the_dataset_card_says_draft_in_its_metadata_when_it_needs_a_person() -> None:
    import json

    from segaudit.cards.dataset_card import render_dataset_card

    summary = json.loads((REPO / "reports" / "alisnet" / "dataset_summary.json").read_text())
    card = render_dataset_card(summary, load_facts(REPO / "cards" / "synthetic-people.yaml"), draft=True)
    data, _ = parse_front_matter(card)
    assert data["segaudit"]["draft"] is ("[needs a person" in card)
