"""The cards render the whole documented templates: every heading of the template FILES (model documentation
template v1.0.0 and the data documentation template, techops, MIT: tests/fixtures/techops-LICENSE), in the
templates' order, in the committed bundled cards; what only a person knows is a fact or a visible marker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from segaudit.cards import load_audit, load_facts, render_dataset_card, render_model_card
from segaudit.cards.bundle import Bundle, load_summary
from segaudit.cards.facts import check_facts
from segaudit.cards.front_matter import parse_front_matter
from segaudit.cards.schemas import DATASET_FACTS, MODEL_FACTS
from tests.headings import headings, missing_in_order

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "seeds" / "techops"
FIXTURES = REPO / "tests" / "fixtures"
MODEL_TEMPLATE = "template-model-documentation.md"
DATA_TEMPLATE = "template-data-documentation.md"
BUNDLE = Bundle()


def template(name: str) -> str:
    """The template file: the shared seed where the checkout has it, else the committed copy (kept equal)."""
    return ((SHARED if (SHARED / name).is_file() else FIXTURES) / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [MODEL_TEMPLATE, DATA_TEMPLATE, "LICENSE"])
def test_the_committed_copies_are_the_templates_themselves(name):
    copy = FIXTURES / ("techops-LICENSE" if name == "LICENSE" else name)
    if (SHARED / name).is_file():
        assert copy.read_text(encoding="utf-8") == (SHARED / name).read_text(encoding="utf-8")
    assert copy.is_file()


def test_the_model_card_has_every_heading_of_the_template_file_missing_in_order():
    expected = headings(template(MODEL_TEMPLATE))
    assert expected[0] == "# Model Documentation Template" and len(expected) == 32  # the parser found them all
    assert "## Model Validation and Testing" not in expected  # commented out in the template: not a section
    card = BUNDLE.path(BUNDLE.model_card).read_text(encoding="utf-8")
    name = load_facts(BUNDLE.path(BUNDLE.model_facts))["model"]["name"]
    assert missing_in_order([f"# {name} Model Documentation", *expected[1:]], headings(card)) == []


def test_the_dataset_card_has_every_heading_of_the_template_file_missing_in_order():
    expected = headings(template(DATA_TEMPLATE))
    assert expected[0] == "# Data Documentation Template" and len(expected) == 64
    card = BUNDLE.path(BUNDLE.dataset_card).read_text(encoding="utf-8")
    name = load_summary(BUNDLE.path(BUNDLE.dataset_summary))["name"]
    assert missing_in_order([f"# {name} Dataset Documentation", *expected[1:]], headings(card)) == []
    example = ["## Example of Data Points", "### Typical Data Point", "### Atypical Data Point",
               "## Sensitive and Protected Attributes", "### Known Correlation(s)", "### Sensitivity Handling",
               "### Citation Guidelines"]  # what the skin-tone example adds, where this card keeps it
    assert missing_in_order(example, headings(card)) == []


def test_the_template_header_is_filled():
    card = BUNDLE.path(BUNDLE.model_card).read_text(encoding="utf-8")
    assert "**Model Owner**: segaudit maintainers, segaudit" in card
    assert "<br>**Document Version**: 1.0.0, generated on " in card
    assert "<br>**Reviewers**: " in card
    dataset = BUNDLE.path(BUNDLE.dataset_card).read_text(encoding="utf-8")
    assert "**Dataset Owner**: segaudit maintainers, segaudit" in dataset and "**Document Version**: 1.0.0" in dataset


@pytest.fixture
def audit() -> dict:
    return load_audit(BUNDLE.path(BUNDLE.audit_dir) / "audit.json")


@pytest.fixture
def facts() -> dict:
    return load_facts(BUNDLE.path(BUNDLE.model_facts))


def test_a_section_only_a_person_can_fill_is_marked_and_the_card_is_a_draft(audit, facts):
    del facts["conformity"], facts["domains"]["description"]
    assert check_facts(facts, MODEL_FACTS) == []  # optional: the card still renders without --draft
    card = render_model_card(audit, facts)
    eu = card.split("### EU Declaration of conformity\n")[1].split("\n#")[0]
    assert "**[needs a person: conformity.eu_declaration, the EU declaration of conformity, or that none exists]**" \
        in eu
    assert "[needs a person: domains.description" in card.split("### Domain(s) of use")[1].split("###")[0]
    notice = re.search(r"> \*\*Draft: (\d+) field\(s\) need a person\*\*.*\n> (.*)\.", card)
    assert notice and "conformity.eu_declaration" in notice.group(2) and "domains.description" in notice.group(2)
    assert parse_front_matter(card)[0]["segaudit"]["draft"] is True


def test_the_bundled_facts_state_what_no_declaration_and_no_standard_means(audit, facts):
    card = render_model_card(audit, facts)
    eu = card.split("### EU Declaration of conformity\n")[1].split("\n#")[0]
    assert "None exists for this model" in eu and "no EU declaration of conformity" in eu
    standards = card.split("### Standards applied\n")[1].split("\n#")[0]
    assert standards.strip().startswith("None: no harmonised standard")
    assert re.findall(r"\[needs a person: ([a-z_.]+)", card) == ["reviewers"]  # no person has reviewed it yet
    assert "> **Draft: 1 field(s) need a person**" in card and "> reviewers. Everything else" in card


def test_filled_from_the_audit_without_a_person(audit, facts):
    card = render_model_card(audit, facts)
    splitting = card.split("### Data Splitting")[1].split("\n## ")[0]
    n = audit["dataset"]["n"]
    assert f"**Training set**: train, {n['train']} images" in splitting
    assert "the membership-inference audit's members" in splitting
    assert f"audit command: `{audit['provenance']['command']}`" in splitting
    assert all(f"{k} = {v}" in splitting for k, v in audit["provenance"]["seeds"].items())
    process = card.split("## Model Training Process")[1].split("### Datasets")[0]
    recipe = audit["privacy"]["shadows"]["recipe"]
    assert f"**Optimiser**: AdamW, learning rate {recipe['lr']}, weight decay {recipe['weight_decay']}" in process
    assert f"batch size {recipe['batch_size']}" in process
    assert "**Threat model:** " + audit["privacy"]["threat_model"][:60] in card


def test_without_a_recipe_the_training_process_needs_a_person(audit, facts):
    del audit["privacy"]["shadows"], facts["training"]["early_stopping"]
    card = render_model_card(audit, facts)
    assert "[needs a person: training.process, the loss function, optimiser and hyperparameters]" in card
    assert "[needs a person: training.regularisation" in card and "[needs a person: training.early_stopping" in card


def test_dataset_card_fills_examples_correlations_and_citation():
    summary = load_summary(BUNDLE.path(BUNDLE.dataset_summary))
    card = render_dataset_card(summary, load_facts(BUNDLE.path(BUNDLE.dataset_facts)))
    typical = card.split("### Typical Data Point")[1].split("###")[0]
    assert "| age_group | adult |" in typical
    atypical = card.split("### Atypical Data Point")[1].split("##")[0]
    rare = min((v for v, row in summary["attributes"]["skin_tone"]["counts"].items() if sum(row.values()) >= 30),
               key=lambda v: sum(summary["attributes"]["skin_tone"]["counts"][v].values()))
    assert f"| skin_tone | {rare} |" in atypical
    correlations = card.split("### Known Correlation(s)")[1].split("### ")[0]
    assert "body_shape is build binned in thirds" in correlations and "height_cm follows age_group" in correlations
    assert "* skin_tone: spread differently over the splits" in correlations  # the train split's deliberate skew
    assert "* lighting: no difference between the splits shown" in correlations
    citation = card.split("### Citation Guidelines")[1].split("##")[0]
    assert f"{summary['name']} {summary['version']}" in citation and summary["manifest_sha256"] in citation


def test_dataset_card_without_the_new_facts_marks_them(tiny_package):
    from segaudit.cards import dataset_summary
    from segaudit.models.data.package import load_package

    facts = {k: v for k, v in load_facts(BUNDLE.path(BUNDLE.dataset_facts)).items()
             if k in ("summary", "authors", "owners", "data_subjects", "purpose", "usage", "access",
                      "transformations", "annotation", "validation", "sampling")}
    assert check_facts(facts, DATASET_FACTS) == []
    card = render_dataset_card(dataset_summary(load_package(tiny_package)), facts)
    for field in ("versioning.tools", "known_usage.models", "correlations", "conformity.eu_declaration",
                  "security.storage", "sensitivity.handling"):
        assert f"[needs a person: {field}," in card, field
    assert "> **Draft: " in card
