"""The dataset card of a package with derived attributes and people: every derived attribute flagged as derived,
its unknown skin tones counted with their reasons per image and per person, the measured agreement with an
annotated attribute (or plainly that it was not measured), and the people with their person attributes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from segaudit.app.cli.main import main
from segaudit.cards import dataset_summary, render_dataset_card
from segaudit.cards.front_matter import parse_front_matter
from segaudit.models.data.derive import DERIVED_ATTRIBUTES, derive_attributes, evidence_summary
from segaudit.models.data.derive_validation import VALIDATION_FILE, read_validation, validate_derived
from segaudit.models.data.package import load_package
from segaudit.models.data.synth.crowd import synthesize_crowd

NOT_MEASURED = "Agreement with annotated labels was not measured"


def crowd(out: Path, size: int, validate: bool = True) -> Path:
    synthesize_crowd(out, n=12, size=size, workers=1)
    derive_attributes(out)
    if validate:
        validate_derived(out, "skin_tone")
    return out


@pytest.fixture(scope="module")
def crowd64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crowd(tmp_path_factory.mktemp("crowd") / "crowd64", 64)


@pytest.fixture(scope="module")
def crowd128(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crowd(tmp_path_factory.mktemp("crowd") / "crowd128", 128)


def card_of(package: Path) -> str:
    return render_dataset_card(dataset_summary(load_package(package)), None, draft=True, min_group_size=1)


def section(card: str, heading: str) -> str:
    """The text of one `###` subsection."""
    return card.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


def test_every_derived_attribute_is_flagged_wherever_attributes_are_listed(crowd64):
    card = card_of(crowd64)
    package = load_package(crowd64)
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \|(?:[^|]*\|){3} ([^|]+) \|", card, re.M)}
    for name in DERIVED_ATTRIBUTES:
        assert f"\n### {name} (" in card and "derived)" in card.split(f"\n### {name} (")[1].split("\n")[0]
        assert f"\n### {name} (" in card.split("### People")[1]  # the person attribute too
    for name, attribute in {**package.spec.attributes, **package.spec.person_attributes}.items():
        assert rows[name].strip() == ("**derived**" if attribute.source == "derived" else attribute.source), name
    assert card.count("(estimated from the pixels, not a label)") == 2 * len(DERIVED_ATTRIBUTES)
    metadata, _ = parse_front_matter(card)
    assert metadata["segaudit"]["derived_attributes"] == list(DERIVED_ATTRIBUTES)
    assert metadata["segaudit"]["derived_person_attributes"] == list(DERIVED_ATTRIBUTES)


def test_people_and_their_attributes_are_listed(crowd64):
    package = load_package(crowd64)
    summary = dataset_summary(package)
    people = summary["persons"]
    assert people["count"] == len(package.persons) and people["source"] == "persons.csv"
    assert sum(people["splits"].values()) == people["count"] and people["images_with_people"] == 12
    tone = people["attributes"]["skin_tone"]["counts"]
    assert sum(sum(row.values()) for row in tone.values()) == people["count"]
    json.dumps(summary, allow_nan=False)
    card = card_of(crowd64)
    assert f"{people['count']} people in 12 images" in card and "one row each in `persons.csv`" in card
    listed = re.findall(r"^\| `([^`]+)` \|", section(card, "### People"), re.M)
    assert listed == list(package.spec.person_attributes)
    assert metadata_persons(card) == people["count"]


def metadata_persons(card: str) -> int:
    return parse_front_matter(card)[0]["segaudit"]["persons"]


def test_unknown_skin_tones_are_counted_with_their_reasons(crowd64):
    evidence = evidence_summary(crowd64)
    text = section(card_of(crowd64), "### Derived attributes")
    for unit in ("image", "person"):
        e = evidence[unit]
        assert f"* per {unit}: {e['total'] - e['known']} of {e['total']} unknown (" in text
        for reason, r in e["unknown"].items():
            assert f"{r['n']} {reason}: {r['why']}" in text
    assert "skin pixels from the head of the person mask" in text


def test_agreement_not_measured_is_said_plainly(crowd64, tmp_path):
    validation = read_validation(crowd64)
    assert validation["n_compared"] == 0  # at 64 px no person has enough skin pixels
    text = section(card_of(crowd64), "### Derived attributes")
    assert NOT_MEASURED in text and f"of the {validation['n_units']} units (per person) only 0" in text
    unvalidated = tmp_path / "unvalidated"
    shutil.copytree(crowd64, unvalidated)
    (unvalidated / VALIDATION_FILE).unlink()
    text = section(card_of(unvalidated), "### Derived attributes")
    assert f"{NOT_MEASURED} (no `derived_validation.json`" in text


def test_measured_agreement_is_reported_with_its_interval(crowd128):
    v = read_validation(crowd128)
    assert v["n_compared"] >= 5 and v["kappa_quadratic_ci"] is not None  # enough skin at 128 px
    text = section(card_of(crowd128), "### Derived attributes")
    assert NOT_MEASURED not in text
    assert f"measured per person on the {v['n_compared']} of {v['n_units']} that have both values" in text
    low, high = v["kappa_quadratic_ci"]
    assert f"quadratic-weighted Cohen's kappa {v['kappa_quadratic']:.2f} (95 % bootstrap CI [{low:.2f}, {high:.2f}]" \
        in text
    assert f"Spearman's rho of the annotated order and ITA {v['spearman_rho']:.2f}" in text
    assert "derived ita_skin_tone against annotated skin_tone" in text


def test_a_package_without_derived_attributes_has_no_derived_section(tiny_package):
    summary = dataset_summary(load_package(tiny_package))
    assert "derived" not in summary and "persons" not in summary
    card = render_dataset_card(summary, None, draft=True)
    assert "### Derived attributes" not in card and "### People" not in card and "**derived**" not in card


def test_the_cli_card_and_a_saved_summary_agree(crowd64, tmp_path):
    out = tmp_path / "card"
    assert main(["card", "dataset", "--data", str(crowd64), "--out", str(out), "--draft"]) == 0
    card = (out / "dataset_card.md").read_text(encoding="utf-8")
    again = tmp_path / "again"
    assert main(["card", "dataset", "--summary", str(out / "dataset_summary.json"), "--out", str(again),
                 "--draft"]) == 0
    assert (again / "dataset_card.md").read_text(encoding="utf-8") == card  # no package needed the second time
    assert "### Derived attributes" in card and NOT_MEASURED in card


def test_people_without_persons_csv_are_counted_in_the_instance_masks(tmp_path):
    out = tmp_path / "crowd"
    synthesize_crowd(out, n=12, size=64, workers=1)
    spec = yaml.safe_load((out / "dataset.yaml").read_text(encoding="utf-8"))
    del spec["person_attributes"]
    (out / "dataset.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (out / "persons.csv").unlink()
    people = dataset_summary(load_package(out))["persons"]
    assert people["source"] == "instance masks" and people["count"] >= 12 and people["attributes"] == {}
    card = card_of(out)
    assert f"{people['count']} people in 12 images" in card and "No person attributes are declared." in card
