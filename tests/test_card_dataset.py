"""The dataset card: the package's declaration and computed statistics, human facts, charts, front matter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.cards import dataset_summary, load_facts, render_dataset_card
from segaudit.cards.front_matter import parse_front_matter
from segaudit.core.errors import InputError
from segaudit.models.data.package import load_package

REPO = Path(__file__).resolve().parent.parent
FACTS = REPO / "cards" / "synthetic-people.yaml"
SECTIONS = ["Overview", "Data Versioning", "Known Usages", "Dataset Characteristics", "Example of Data Points",
            "Data Origin and Source", "Provenance", "Data Pre-Processing", "Data Annotation and Labeling",
            "Validation Types", "Sampling Methods", "Sensitive and Protected Attributes",
            "Dataset Distribution and Licensing", "Access, Retention, and Deletion", "Data Risk Assessment",
            "Cybersecurity Measures"]
"""The data documentation template's top-level sections in its order, with the example's Example of Data Points
and Sensitive and Protected Attributes (tests/test_card_template.py checks every heading against the template)."""


def test_summary_counts_every_value_per_split(tiny_package):
    summary = dataset_summary(load_package(tiny_package))
    assert summary["splits"] == {"train": 2, "val": 2, "test": 2} and summary["image_sizes"] == {"32x32": 6}
    tone = summary["attributes"]["tone"]["counts"]
    assert tone["light"] == {"train": 2, "val": 0, "test": 0} and tone["unknown"] == {"train": 0, "val": 0, "test": 1}
    height = summary["attributes"]["height_cm"]
    assert sum(sum(row.values()) for row in height["counts"].values()) == 6
    assert height["stats"] == {"min": 150.0, "median": 152.0, "max": 154.0, "unknown": 1}
    json.dumps(summary, allow_nan=False)


def test_card_sections_statistics_and_suppression(tiny_package):
    summary = dataset_summary(load_package(tiny_package))
    summary["attributes"]["tone"]["values"][0] = "<script>"
    summary["attributes"]["tone"]["counts"]["<script>"] = summary["attributes"]["tone"]["counts"].pop("light")
    card = render_dataset_card(summary, load_facts(FACTS), min_group_size=2)
    metadata, body = parse_front_matter(card)
    assert [line[3:] for line in body.splitlines() if line.startswith("## ")] == SECTIONS
    assert metadata["task_categories"] == ["image-segmentation"] and metadata["size_categories"] == ["n<1K"]
    assert metadata["license"] == "cc0-1.0" and metadata["segaudit"]["sensitive_attributes"] == ["tone"]
    assert "| &lt;script&gt; | 2 | 0 | 0 |" in card  # n=2 is not below 2: published, and escaped
    assert "| medium | 0 | 2 | 0 |" in card
    assert "| dark | 0 | 0 | < 2 |" in card and "| unknown | 0 | 0 | < 2 |" in card  # sensitive 1-image cells
    assert "| [150, 183.333) | 2 | 2 | 1 |" in card  # height_cm is not sensitive: nothing suppressed
    assert "<script>" not in card


def test_dataset_card_needs_facts_unless_draft(tiny_package, tmp_path, capsys):
    summary = dataset_summary(load_package(tiny_package))
    with pytest.raises(InputError, match="purpose"):
        render_dataset_card(summary, {})
    assert "**[DRAFT: access.retention missing]**" in render_dataset_card(summary, None, draft=True)
    assert main(["card", "dataset", "--data", str(tiny_package), "--out", str(tmp_path / "a")]) == 2
    assert "--facts" in capsys.readouterr().err
    out = tmp_path / "b"
    assert main(["card", "dataset", "--data", str(tiny_package), "--facts", str(FACTS), "--out", str(out)]) == 0
    card = (out / "dataset_card.md").read_text()
    assert "![tone: images per value and split](figures/dataset_card-tone.png)" in card
    with Image.open(out / "figures" / "dataset_card-tone.png") as chart:
        assert chart.format == "PNG" and chart.width > 200
    again = tmp_path / "c"
    assert main(["card", "dataset", "--summary", str(out / "dataset_summary.json"), "--facts", str(FACTS),
                 "--out", str(again)]) == 0
    assert (again / "dataset_card.md").read_text() == card


def test_check_dataset_facts(tmp_path, capsys):
    assert main(["card", "check", "--dataset", str(FACTS)]) == 0
    facts = yaml.safe_load(FACTS.read_text())
    facts["access"]["deletion"] = "<how to delete>"
    bad = tmp_path / "d.yaml"
    bad.write_text(yaml.safe_dump(facts))
    assert main(["card", "check", "--dataset", str(bad)]) == 2
    assert "access.deletion: still a placeholder: '<how to delete>'" in capsys.readouterr().out
