"""Per-group instance mask AP: checked against pycocotools run directly, on hand-made masks and predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segaudit.app.cli import mask_ap_command
from segaudit.app.cli.main import main
from segaudit.audit import instance_ap
from segaudit.audit.instance_ap import ALL, _annotation, _coco, _GroupEval, _matches, mask_ap_by_group
from segaudit.core.errors import InputError
from segaudit.models.checkpoint import save_checkpoint
from segaudit.models.data import AttributeSpec, DatasetSpec, load_package
from segaudit.models.data.writer import PackageWriter
from segaudit.models.maskrcnn import coco_mask_metrics

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")

SIZE = 32
SPEC = DatasetSpec(
    name="people", version="1", description="hand-made people", license="CC0-1.0", provenance="tests",
    classes={0: "background", 1: "person"},
    attributes={"light": AttributeSpec("light", "categorical", False, "annotated", values=("day", "night"))},
    instances=True,
    person_attributes={
        "group": AttributeSpec("group", "categorical", True, "annotated", values=("a", "b", "c")),
        "height_cm": AttributeSpec("height_cm", "continuous", False, "annotated", unit="cm", range=(50, 250)),
    },
)
# id -> (light, [(group, height, (row0, row1, col0, col1))]): group a only by day, group b only at night
SEPARATE = {
    "i0": ("day", [("a", 160, (2, 12, 2, 10)), ("a", 170, (16, 30, 14, 24))]),
    "i1": ("day", [("a", 180, (4, 20, 4, 12))]),
    "i2": ("day", [("a", 150, (0, 10, 20, 30)), ("a", 190, (14, 28, 2, 12))]),
    "i3": ("night", [("b", 165, (2, 14, 2, 14))]),
    "i4": ("night", [("b", 175, (10, 30, 10, 20)), ("b", 155, (0, 8, 0, 8))]),
    "i5": ("night", []),
}
# groups a and b side by side in the same images
MIXED = {
    "m0": ("day", [("a", 160, (2, 12, 2, 10)), ("b", 170, (16, 30, 14, 24))]),
    "m1": ("night", [("b", 180, (4, 20, 4, 12)), ("a", 175, (2, 12, 20, 30))]),
    "m2": ("day", [("a", 150, (0, 10, 20, 30)), ("b", 190, (14, 28, 2, 12)), ("a", 165, (20, 30, 20, 30))]),
}


def write_people(out: Path, layout: dict, crowd: dict | None = None) -> Path:
    """A schema-v2 package: each person a rectangle with instance id 1..K; `crowd` boxes become ignore (255)."""
    rng = np.random.default_rng(0)
    with PackageWriter(out, SPEC) as writer:
        for sample_id, (light, people) in layout.items():
            instances = np.zeros((SIZE, SIZE), np.int32)
            persons = []
            for k, (group, height, (r0, r1, c0, c1)) in enumerate(people, start=1):
                instances[r0:r1, c0:c1] = k
                persons.append({"instance": k, "group": group, "height_cm": height})
            mask = (instances > 0).astype(np.uint8)
            for r0, r1, c0, c1 in (crowd or {}).get(sample_id, []):
                mask[r0:r1, c0:c1] = np.where(mask[r0:r1, c0:c1] == 1, 1, 255)
            image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
            writer.add(sample_id, image, mask, "test", {"light": light}, instances=instances, persons=persons)
    return out


def truth(package) -> dict[str, np.ndarray]:
    """{id: bool masks [K, H, W]} of the people in instance-id order."""
    out = {}
    for row in package.manifest.to_dict("records"):
        instances = package.read_instances(row)
        ids = [k for k in np.unique(instances) if k > 0]
        out[row["id"]] = np.stack([instances == k for k in ids]) if ids else np.zeros((0, SIZE, SIZE), bool)
    return out


def perfect(masks: dict[str, np.ndarray]) -> dict[str, dict]:
    return {i: {"masks": m, "scores": np.linspace(0.9, 0.5, len(m))} for i, m in masks.items()}


def imperfect(masks: np.ndarray, seed: int) -> dict:
    """People shifted by 0..3 pixels (IoU from 1 down) with shuffled scores, plus one false positive."""
    rng = np.random.default_rng(seed)
    shifted = [np.roll(m, int(rng.integers(0, 4)), axis=1) for m in masks]
    blob = np.zeros((SIZE, SIZE), bool)
    blob[26:31, 26:31] = True
    out = np.stack([*shifted, blob])
    return {"masks": out, "scores": rng.permutation(len(out)) / 10 + rng.random() / 100 + 0.05}


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory):
    package = load_package(write_people(tmp_path_factory.mktemp("sep") / "pkg", SEPARATE), verify=True)
    return package, truth(package)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    package = load_package(write_people(tmp_path_factory.mktemp("mix") / "pkg", MIXED), verify=True)
    return package, truth(package)


def by_group(frame) -> dict[str, dict]:
    return {r["group"]: r for r in frame.to_dict("records")}


def test_perfect_predictions_give_ap_one_for_every_group(mixed) -> None:
    package, masks = mixed
    frame = mask_ap_by_group(perfect(masks), package, "test", "group", n_boot=50)
    groups = by_group(frame)
    assert list(groups) == [ALL, "a", "b", "c"]
    for name in (ALL, "a", "b"):
        row = groups[name]
        assert [row[k] for k in ("AP", "AP50", "AP75", "AP_ci_low", "AP_ci_high")] == pytest.approx([1.0] * 5)
    assert (groups["a"]["n_persons"], groups["a"]["n_images"]) == (4, 3)
    assert (groups["b"]["n_persons"], groups["b"]["n_images"]) == (3, 3)
    assert groups["c"]["n_persons"] == 0 and np.isnan(groups["c"]["AP"])  # declared, nobody in it


def test_group_alone_in_its_images_equals_cocoeval_on_those_images(separate) -> None:
    package, masks = separate
    predictions = {i: imperfect(m, seed=n) if SEPARATE[i][0] == "day" else perfect({i: m})[i]
                   for n, (i, m) in enumerate(masks.items())}
    day = [i for i in masks if SEPARATE[i][0] == "day"]
    direct = coco_mask_metrics([predictions[i] for i in day], [masks[i] for i in day])
    assert 0.05 < direct["AP"] < 0.95  # a real ranking problem, not a trivial 0 or 1
    for attribute, group in (("group", "a"), ("light", "day")):  # a person attribute and an image attribute
        frame = mask_ap_by_group(predictions, package, package.split("test"), attribute, n_boot=0)
        row = by_group(frame)[group]
        assert (row["AP"], row["AP50"], row["AP75"]) == pytest.approx(
            (direct["AP"], direct["AP50"], direct["AP75"]), abs=1e-12)
        assert (row["n_persons"], row["n_images"]) == (5, 3)
    # every person a positive: plain COCOeval over all images
    everyone = coco_mask_metrics([predictions[i] for i in masks], list(masks.values()))
    assert by_group(frame)[ALL]["AP"] == pytest.approx(everyone["AP"], abs=1e-12)
    assert frame.attrs["level"] == "image" and frame.attrs["images"] == 6


def test_removing_one_groups_detections_drops_only_its_ap(mixed) -> None:
    package, masks = mixed
    people = {i: [g for g, _, _ in MIXED[i][1]] for i in MIXED}
    predictions = {}
    for n, (i, m) in enumerate(masks.items()):
        rough = imperfect(m, seed=n)  # a's people shifted, b's people exact, one false positive
        is_b = np.array([g == "b" for g in people[i]] + [False])
        rough["masks"][is_b] = m[is_b[:-1]]
        predictions[i] = rough
    before = by_group(mask_ap_by_group(predictions, package, "test", "group", n_boot=0))
    without_b = {i: {"masks": p["masks"][[g != "b" for g in people[i]] + [True]],
                     "scores": p["scores"][[g != "b" for g in people[i]] + [True]]} for i, p in predictions.items()}
    after = by_group(mask_ap_by_group(without_b, package, "test", "group", n_boot=0))
    assert 0 < before["a"]["AP"] < 1 and before["b"]["AP"] > 0
    assert after["a"]["AP"] == before["a"]["AP"]  # b's detections were matched to b's people: ignored for a
    assert after["b"]["AP"] == 0.0 and after[ALL]["AP"] < before[ALL]["AP"]


def test_person_attribute_binned_and_instances_without_a_persons_row_are_unknown(tmp_path: Path) -> None:
    root = write_people(tmp_path / "pkg", MIXED)
    lines = (root / "persons.csv").read_text().splitlines()
    (root / "persons.csv").write_text("\n".join(lines[:-1]) + "\n")  # m2's third person loses its row
    with pytest.raises(InputError, match="no row in persons.csv"):
        load_package(root, verify=True)  # `data check` names the person without a row
    package = load_package(root)  # unchecked: mask-ap still counts the person, as unknown
    masks = truth(package)
    frame = mask_ap_by_group(perfect(masks), package, "test", "height_cm", bins=[170.0], n_boot=20)
    groups = by_group(frame)
    assert {g: r["n_persons"] for g, r in groups.items()} == {ALL: 7, "< 170": 2, ">= 170": 4, "unknown": 1}
    assert all(r["AP"] == pytest.approx(1.0) for r in groups.values())
    unknown = by_group(mask_ap_by_group(perfect(masks), package, "test", "group", n_boot=0))["unknown"]
    assert (unknown["n_persons"], unknown["n_images"]) == (1, 1)


def test_ignore_regions_absorb_detections_like_coco_crowds(tmp_path: Path) -> None:
    package = load_package(write_people(tmp_path / "pkg", {"x": SEPARATE["i0"]}, crowd={"x": [(0, 8, 24, 32)]}),
                           verify=True)
    masks = truth(package)["x"]
    on_crowd = np.zeros((1, SIZE, SIZE), bool)
    on_crowd[0, 1:7, 25:31] = True
    predictions = {"x": {"masks": np.concatenate([on_crowd, masks]), "scores": np.array([0.99, 0.9, 0.8])}}
    assert by_group(mask_ap_by_group(predictions, package, "test", "group", n_boot=0))["a"]["AP"] == pytest.approx(1)
    plain = mask_ap_by_group(predictions, package, "test", "group", n_boot=0, ignore_regions=False)
    assert by_group(plain)["a"]["AP"] < 1.0  # without the crowd region the detection is a false positive


def test_bootstrap_weights_equal_cocoeval_on_duplicated_images(separate) -> None:
    _, masks = separate
    ids = list(masks)
    predictions = [imperfect(masks[i], seed=10 + n) for n, i in enumerate(ids)]
    weights = np.array([2, 0, 1, 3, 1, 1])
    images, gts, dts = [], [], []
    for index, (i, prediction) in enumerate(zip(ids, predictions, strict=True), start=1):
        images.append({"id": index, "height": SIZE, "width": SIZE})
        for m in masks[i]:
            gts.append(_annotation(instance_ap._rle(m), index, len(gts) + 1, iscrowd=0, group=0))
        for m, s in zip(prediction["masks"], prediction["scores"], strict=True):
            dts.append(_annotation(instance_ap._rle(m), index, len(dts) + 1, score=float(s)))
    evaluator = _GroupEval(_coco(images, gts), _coco(images, dts), None)
    evaluator.evaluate()
    evaluator.accumulate()
    matches = _matches(evaluator, len(ids))
    ones = instance_ap.weighted_precision(matches, np.ones(len(ids), dtype=np.int64))
    np.testing.assert_allclose(ones, evaluator.eval["precision"][:, :, 0, 0, 0], atol=1e-12)
    repeated = [k for k, w in enumerate(weights) for _ in range(w)]
    direct = coco_mask_metrics([predictions[k] for k in repeated], [masks[ids[k]] for k in repeated])
    assert instance_ap.weighted_precision(matches, weights).mean() == pytest.approx(direct["AP"], abs=1e-12)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate(separate) -> None:
    package, masks = separate
    predictions = {i: imperfect(m, seed=n) for n, (i, m) in enumerate(masks.items())}
    first = mask_ap_by_group(predictions, package, "test", "group", n_boot=200, seed=3)
    again = mask_ap_by_group(predictions, package, "test", "group", n_boot=200, seed=3)
    assert first.equals(again)
    for row in first.to_dict("records")[:3]:
        assert row["AP_ci_low"] <= row["AP"] <= row["AP_ci_high"] and row["AP_ci_low"] < row["AP_ci_high"]
    # a resample may miss group b's two images: those resamples are left out, never scored as 0
    assert 0 < by_group(first)["b"]["n_boot"] <= 200 == by_group(first)[ALL]["n_boot"]


def test_library_input_errors(separate, tiny_package: Path) -> None:
    package, masks = separate
    with pytest.raises(InputError, match="unknown attribute 'age'"):
        mask_ap_by_group(perfect(masks), package, "test", "age")
    with pytest.raises(InputError, match="no instance masks"):
        mask_ap_by_group({}, load_package(tiny_package), "test", "tone")
    with pytest.raises(InputError, match="split 'val' has no images"):
        mask_ap_by_group({}, package, "val", "group")
    with pytest.raises(ValueError, match="no predictions for 1 images"):
        mask_ap_by_group({i: p for i, p in perfect(masks).items() if i != "i0"}, package, "test", "group")


# --- the command ---------------------------------------------------------------------------------------------

def test_cli_bad_input_exits_2(separate, tiny_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    package, _ = separate
    other = save_checkpoint(tmp_path / "alis", {"w": torch.zeros(1)}, model_name="alisnet", num_classes=2,
                            classes={0: "background", 1: "person"}, image_size=64)
    (tmp_path / "model.pte").write_bytes(b"\0\0\0\0ET12")
    cases = [
        (["--model", str(other), "--data", str(tiny_package), "--by", "tone"], "no instance masks"),
        (["--model", str(other), "--data", str(package.root), "--by", "age"], "unknown attribute 'age'"),
        (["--model", str(other), "--data", str(package.root), "--by", "group"], "'alisnet' is not a Mask R-CNN"),
        (["--model", str(tmp_path / "model.pte"), "--data", str(package.root), "--by", "group"], "ExecuTorch"),
        (["--model", str(tmp_path / "none"), "--data", str(package.root), "--by", "group"], "not found"),
        (["--model", str(other), "--data", str(package.root), "--by", "group", "--bootstrap", "-1"], "--bootstrap"),
    ]
    for argv, message in cases:
        assert main(["mask-ap", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_cli_default_bootstrap_matches_the_library() -> None:
    assert mask_ap_command.BOOTSTRAP == instance_ap.DEFAULT_BOOTSTRAP


def test_cli_runs_a_tiny_untrained_maskrcnn(separate, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from segaudit.models.maskrcnn import maskrcnn_resnet50_fpn

    package, _ = separate
    cfg = {"rpn_pre_nms_top_n_test": 50, "rpn_post_nms_top_n_test": 20, "box_detections_per_img": 5,
           "box_score_thresh": 0.0}
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "run" / "best", maskrcnn_resnet50_fpn(**cfg),
                                 model_name="maskrcnn_resnet50_fpn", num_classes=2,
                                 classes={0: "background", 1: "person"}, image_size=64, model_cfg=cfg)
    out = tmp_path / "ap.csv"
    argv = ["mask-ap", "--model", str(checkpoint.parent), "--data", str(package.root), "--by", "group",
            "--bootstrap", "20", "--out", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [g["group"] for g in report["groups"]] == [ALL, "a", "b", "c"] and report["level"] == "person"
    assert [g["n_persons"] for g in report["groups"]] == [8, 5, 3, 0] and report["groups"][3]["AP"] is None
    assert all(0.0 <= g["AP"] <= 1.0 for g in report["groups"][:3])
    assert out.read_text().splitlines()[0] == ",".join(instance_ap.COLUMNS)
