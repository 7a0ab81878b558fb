"""The person as the unit of the fairness audit: per-person IoU within the person's region, each person grouped by
their own attributes, the people of one image as one cluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.audit.fairness import FairnessConfig, audit_fairness
from segaudit.audit.metrics import person_metrics, table_from_predictions, unit_attributes
from segaudit.core.errors import InputError
from segaudit.models.data.derive import derive_attributes
from segaudit.models.data.package import load_package
from segaudit.models.data.synth import synthesize
from segaudit.models.data.synth.crowd import synthesize_crowd

DARK = ("monk_08", "monk_09", "monk_10")


def test_person_metrics_count_the_region_around_the_person_only() -> None:
    instances = np.zeros((20, 20), dtype=np.int32)
    instances[4:12, 2:6] = 1  # 32 pixels; region rows 2..13, cols 1..6
    instances[4:12, 10:14] = 2
    predicted = np.zeros((20, 20), dtype=bool)
    predicted[4:12, 2:5] = True  # 24 of the 32
    predicted[4:12, 10:14] = True  # the neighbour: not in person 1's region
    predicted[13, 1:7] = True  # 6 false pixels just below, inside the region
    predicted[19, 19] = True  # far away: outside the region
    values = person_metrics(predicted, instances, 1)
    assert values["recall"] == pytest.approx(24 / 32)
    assert values["iou"] == pytest.approx(24 / (32 + 6))
    assert values["dice"] == pytest.approx(2 * 24 / (30 + 32))
    assert (values["intersection_person"], values["union_person"]) == (24, 38)


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """60 crowd scenes at 64 px and predictions equal to the truth except that dark-toned people lose their lower
    half (every one of them, in images shared with lighter people too)."""
    root = tmp_path_factory.mktemp("per_person")
    package_dir = synthesize_crowd(root / "crowd", n=60, seed=5, size=64, split_fractions=(0.0, 0.0, 1.0),
                                   workers=1)
    package = load_package(package_dir)
    predictions = root / "pred"
    predictions.mkdir()
    for row in package.manifest.to_dict("records"):
        mask = package.read_mask(row).copy()
        instances = package.read_instances(row)
        for person in package.persons_of(row["id"], instances).to_dict("records"):
            if person["skin_tone"] in DARK:
                rows = np.flatnonzero((instances == person["instance"]).any(axis=1))
                cut = (instances == person["instance"]) & (np.arange(64)[:, None] > (rows[0] + rows[-1]) // 2)
                mask[cut] = 0
        Image.fromarray(mask).save(predictions / f"{row['id']}.png")
    return package_dir, predictions


def test_per_person_table_groups_each_person_by_their_own_tone(crowd: tuple[Path, Path]) -> None:
    package_dir, predictions = crowd
    package = load_package(package_dir)
    table = table_from_predictions(package, predictions, unit="person")
    assert len(table) == len(package.persons) and {"instance", "recall", "skin_tone", "lighting"} <= set(table)
    dark = table["skin_tone"].isin(DARK)
    assert (table.loc[~dark, "iou"] == 1.0).all()
    assert table.loc[dark, "recall"].between(0.2, 0.8).all()
    result = audit_fairness(table, unit_attributes(package.spec, "person"),
                            FairnessConfig(attributes=("skin_tone", "lighting"), min_group_size=3, bootstrap=200))
    assert result.unit.startswith(f"people ({len(table)} in 60 images)")
    assert result.aggregation == "mean of per-person IoU"
    gap = result.attributes["skin_tone"].gap
    assert gap.worst in DARK and gap.best not in DARK
    # per image, every mixed scene would average the loss away: the image table sees a smaller gap
    image_table = table_from_predictions(package, predictions)
    assert image_table["iou"].min() > table["iou"].min()


def test_fairness_cli_per_person_and_refusal_without_instances(crowd: tuple[Path, Path], tmp_path: Path) -> None:
    package_dir, predictions = crowd
    out = tmp_path / "fair"
    assert main(["fairness", "--data", str(package_dir), "--predictions", str(predictions), "--unit", "person",
                 "--attributes", "skin_tone", "--min-group-size", "3", "--bootstrap", "200", "--no-plots",
                 "--out", str(out)]) == 0
    written = json.loads((out / "fairness.json").read_text())
    assert "per-person" in json.dumps(written) and written["derived_attributes"] == []
    derived = derive_attributes(package_dir, out=tmp_path / "derived")  # adds ita_skin_tone per person
    assert main(["fairness", "--data", str(derived), "--predictions", str(predictions), "--unit", "person",
                 "--attributes", "skin_tone,ita_skin_tone", "--min-group-size", "3", "--bootstrap", "200",
                 "--no-plots", "--out", str(tmp_path / "fair2")]) == 0
    assert json.loads((tmp_path / "fair2" / "fairness.json").read_text())["derived_attributes"] == ["ita_skin_tone"]
    plain = synthesize(tmp_path / "plain", n=4, seed=0, size=64, workers=1)
    with pytest.raises(InputError, match="instance masks"):
        table_from_predictions(plain, predictions, unit="person")
    assert main(["fairness", "--data", str(plain), "--predictions", str(predictions), "--unit", "person",
                 "--out", str(tmp_path / "no")]) == 2
