"""The model card: the documented template's sections in order, facts checked, findings written from results."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jinja2
import pytest
import yaml

from segaudit.app.cli.main import main
from segaudit.cards import check_facts, load_audit, load_facts, render_model_card
from segaudit.cards.environment import make_environment
from segaudit.cards.facts import marker
from segaudit.cards.front_matter import parse_front_matter
from segaudit.cards.results import by_group_document
from segaudit.cards.schemas import MODEL_FACTS
from segaudit.core.errors import InputError
from tests.headings import headings, missing_in_order

REPO = Path(__file__).resolve().parent.parent
SHARED_SEED = REPO.parent / "shared" / "seeds" / "alisnet-model-card.md"
SEED_COPY = REPO / "tests" / "fixtures" / "alisnet-model-card.seed.md"
AUDIT = REPO / "reports" / "alisnet" / "audit.json"
FACTS = REPO / "cards" / "alisnet.yaml"


@pytest.fixture(scope="module")
def seed() -> str:
    return (SHARED_SEED if SHARED_SEED.is_file() else SEED_COPY).read_text(encoding="utf-8")


@pytest.fixture
def audit() -> dict:
    audit = load_audit(AUDIT)
    audit["provenance"]["finished"] = "2026-11-21T08:14:03Z"  # the card's date comes from here
    return audit


@pytest.fixture
def facts() -> dict:
    return load_facts(FACTS)


def test_the_committed_seed_copy_is_the_template_itself():
    if SHARED_SEED.is_file():  # the copy keeps the test meaningful in a checkout without shared/
        assert SEED_COPY.read_text(encoding="utf-8") == SHARED_SEED.read_text(encoding="utf-8")
    assert headings(SEED_COPY.read_text(encoding="utf-8"))[0] == "# ALiSNet Model Documentation"


EXAMPLE_RENAMED = {
    "### Developer(s)": "### Developers", "### Owner(s)": "### Owner", "### Out of Scope Uses": "### Out Of Scope Uses",
    "## Training": "## Model Training Process", "## Evaluation": "## Model Testing and Evaluation",
    "## Model Documentation Metadata": "## Documentation Metadata",
    "#### Documentation Template Version": "### Template Version",
    "#### Documentation Authors": "### Documentation Authors",
}
"""The example's headings under the names the documented template gives the same sections."""


def test_the_alisnet_examples_sections_stay_recognisable(seed, audit, facts):
    """The card renders the whole template (tests/test_card_template.py); the example's sections are all there,
    in the example's order, under the template's names where the two differ."""
    expected = [EXAMPLE_RENAMED.get(h, h) for h in headings(seed)]
    assert len(expected) == 27  # the parser found the example's sections
    assert missing_in_order(expected, headings(render_model_card(audit, facts))) == []


def test_section_structure_holds_for_any_facts(audit, facts):
    reference = headings(render_model_card(audit, facts))
    titles = {f"#### {r['title']}" for r in facts["risks"]["other"]}
    facts["risks"]["other"] = []
    facts["model"]["name"] = "OtherNet"
    got = headings(render_model_card(audit, facts))
    assert got[0] == "# OtherNet Model Documentation"
    assert got[1:] == [h for h in reference[1:] if h not in titles]


def test_risks_are_written_from_the_results(audit, facts):
    card = render_model_card(audit, facts)
    assert ("As of 2026-11-21 the membership-inference audit of the int8 on-device model (ExecuTorch .pte) rated "
            "the risk inconclusive (population threshold AUC 0.51, bounds 0.47 to 0.56; the smallest AUC it "
            "detects with 80 % power is 0.553; 6 attacks at 95 % family-wise, 2364 members against 392 "
            "non-members after balancing on skin_tone (from 3000 and 500), 4 shadow models)") in card
    fails = [name for name, g in audit["fairness"]["attributes"].items() if g["verdict"] == "fail"]
    assert 0 < len(fails) < 6  # the committed audit has both verdicts, so both sentences are exercised
    assert f"found fail for {len(fails)} of 6 attributes, each resting on a test that holds after the correction" \
        in card
    for name in fails:  # each fail names the worst failing group's test, with its numbers
        worst = min((c for c in audit["fairness"]["attributes"][name]["comparisons"] if c["significant"]),
                    key=lambda c: c["difference"])
        assert (f"{name}, '{worst['group']}' (n=" in card.replace("&lt;", "<").replace("&gt;", ">")
                and f"shortfall {-100 * worst['difference']:.2f} points, one-sided 95 % bounds "
                    f"{-100 * worst['ci_high']:.2f} to {-100 * worst['ci_low']:.2f}" in card)
    assert "a shortfall beyond the margin for" not in card  # the old sentence, whatever the bounds said
    gaps = {name: g["max_gap"] for name, g in audit["fairness"]["attributes"].items()}
    widest = max(gaps, key=lambda name: gaps[name]["gap"])
    worst = audit["fairness"]["attributes"][widest]["worst"]["group"]
    assert (f"The largest gap: {widest} '{worst}'" in card
            and f"{100 * gaps[widest]['gap']:.2f} points below" in card
            and f"simultaneous 95 % bounds of the largest true gap {100 * gaps[widest]['ci_low']:.2f} to "
                f"{100 * gaps[widest]['ci_high']:.2f} points, the choice of the two groups accounted for" in card)
    audit["privacy"]["risk_level"] = "high"
    assert "rated the risk high" in render_model_card(audit, facts)
    audit["privacy"] = None
    card = render_model_card(audit, facts)
    assert "no membership-inference audit of the int8 on-device model (ExecuTorch .pte) is recorded" in card


def test_computed_fields_come_from_audit_json(audit, facts):
    audit["performance"]["miou"], audit["performance"]["miou_ci"] = 0.5, [0.4, 0.6]
    audit["provenance"]["tool_version"] = "9.9.9"
    card = render_model_card(audit, facts)
    assert "**mIoU**: 50.00 [40.00, 60.00]" in card
    assert "generated by segaudit 9.9.9 on 2026-11-21" in card
    assert f"| {audit['dataset']['n']['train']} samples |" in card


def test_strict_undefined_makes_a_missing_field_an_error(tmp_path, audit, facts):
    with pytest.raises(jinja2.UndefinedError):
        make_environment().from_string("{{ facts.owner.nmae }}").render(facts={"owner": {}})
    (tmp_path / "model_card.md.j2").write_text("# {{ facts.model.name }}\n{{ facts.model.no_such_field }}\n")
    with pytest.raises(InputError, match="no_such_field"):
        render_model_card(audit, facts, templates=tmp_path)


def test_a_users_template_folder_replaces_the_package_template(tmp_path, audit, facts):
    (tmp_path / "model_card.md.j2").write_text("{{ facts.model.name }}: {{ membership_statement }}\n")
    assert render_model_card(audit, facts, templates=tmp_path).startswith("ALiSNet: As of 2026-11-21")


def test_markdown_is_not_html_escaped_but_data_values_are_inert(audit, facts):
    facts["model"]["description"] = "Uses **bold** & <br> as written."
    grouping = audit["fairness"]["attributes"]["skin_tone"]
    grouping["groups"][0]["group"] = "<script>alert(1)</script>|x"
    card = render_model_card(audit, facts)
    assert "Uses **bold** & <br> as written." in card  # the author's Markdown, as written
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in card
    assert "<script>" not in card


def test_check_lists_every_missing_placeholder_or_invalid_fact(facts):
    assert check_facts(facts, MODEL_FACTS) == []
    facts["owners"]["team"]["name"] = "TODO: which team?"
    facts["owners"]["contact"]["name"] = "<contact person>"
    del facts["caveats"]
    facts["status"]["state"] = "Sometimes Updated"
    facts["known_applications"][0]["ai_act_risk"] = "Medium"
    facts["status"]["date"] = "21.11.2026"
    facts["intended_usee"] = "typo"
    gaps = {g.field: g.problem for g in check_facts(facts, MODEL_FACTS)}
    assert gaps == {
        "owners.team.name": "still a placeholder: 'TODO: which team?'",
        "owners.contact.name": "still a placeholder: '<contact person>'",
        "caveats": "missing",
        "status.state": gaps["status.state"],
        "status.date": "must be a date YYYY-MM-DD, got '21.11.2026'",
        "known_applications[0].ai_act_risk": gaps["known_applications[0].ai_act_risk"],
        "intended_usee": gaps["intended_usee"],
    }
    assert "Regularly Updated" in gaps["status.state"] and "Limited" in gaps["known_applications[0].ai_act_risk"]
    assert "unknown field" in gaps["intended_usee"]


def test_rendering_refuses_an_incomplete_card_unless_draft(audit, facts):
    facts["owners"]["team"]["name"] = "TBD"
    del facts["documentation"]
    with pytest.raises(InputError, match=r"owners\.team\.name.*\n.*documentation\.authors"):
        render_model_card(audit, facts)
    card = render_model_card(audit, facts, draft=True)
    assert "**DRAFT — not for publication.** 2 required fact(s)" in card
    assert f"**Team Name**: **{marker('owners.team.name')}**" in card
    assert marker("documentation.authors[0].name") in card


def test_small_groups_are_suppressed_in_the_card_and_by_group_json(audit, facts):
    card = render_model_card(audit, facts, min_group_size=60)
    assert "| skin_tone | monk_02 | 56 |" not in card
    assert "| skin_tone | monk_02 | < 60 | suppressed |" in card
    assert "| skin_tone | monk_06 | 62 |" in card
    verdict = audit["fairness"]["attributes"]["skin_tone"]["verdict"]
    assert f"| skin_tone | {verdict} | a group of fewer than 60 images |" in card  # monk_10 has n=50
    document = by_group_document(audit, 60)
    monk_02 = document["fairness"]["attributes"]["skin_tone"][1]
    assert monk_02 == {"group": "monk_02", "suppressed": True}
    cells = document["fairness"]["intersections"]["skin_tone × body_shape"]
    assert all(c["suppressed"] for c in cells)
    assert "'monk_10' (n=50)" not in card


def test_front_matter_is_hugging_face_model_card_metadata(audit, facts):
    metadata, body = parse_front_matter(render_model_card(audit, facts))
    assert body.lstrip().startswith("# ALiSNet Model Documentation")
    result = metadata["model-index"][0]["results"][0]
    assert metadata["model-index"][0]["name"] == "ALiSNet"
    assert result["task"]["type"] == "image-segmentation"
    assert result["dataset"] == {"type": "segaudit-synthetic-person", "name": "segaudit-synthetic-person 1.0.0",
                                 "split": "test"}
    assert result["metrics"] == [{"type": "mean_iou", "name": "mIoU",
                                  "value": round(audit["performance"]["miou"], 4), "verified": False}]
    assert metadata["license"] == "apache-2.0" and metadata["pipeline_tag"] == "image-segmentation"
    assert metadata["segaudit"]["privacy_risk"] == "inconclusive" and metadata["segaudit"]["audit_date"] == "2026-11-21"
    assert yaml.safe_load(yaml.safe_dump(metadata)) == metadata


def test_an_audit_without_a_required_field_is_an_input_error(audit, facts):
    broken = copy.deepcopy(audit)
    del broken["performance"]["miou"]
    with pytest.raises(InputError, match="miou"):
        render_model_card(broken, facts)


def test_cli_check_render_and_draft(tmp_path, capsys):
    assert main(["card", "check", str(FACTS)]) == 0
    incomplete = yaml.safe_load(FACTS.read_text())
    incomplete["intended_use"] = "TODO"
    bad = tmp_path / "facts.yaml"
    bad.write_text(yaml.safe_dump(incomplete))
    capsys.readouterr()
    assert main(["card", "check", str(bad)]) == 2
    assert "intended_use: still a placeholder: 'TODO'" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["card", "render", "--audit", str(AUDIT), "--facts", str(bad), "--out", str(out)]) == 2
    assert "facts.yaml" in capsys.readouterr().err and not out.exists()
    assert main(["card", "render", "--audit", str(AUDIT), "--facts", str(bad), "--out", str(out), "--draft",
                 "--min-group-size", "40"]) == 0
    assert marker("intended_use") in (out / "model_card.md").read_text()
    groups = json.loads((out / "by_group.json").read_text())
    assert groups["min_group_size"] == 40
    assert groups["fairness"]["attributes"]["skin_tone"][8] == {"group": "monk_09", "suppressed": True}
    # no temp files left:
    assert sorted(p.name for p in out.iterdir()) == ["by_group.json", "model_card.cdx.json", "model_card.md"]
