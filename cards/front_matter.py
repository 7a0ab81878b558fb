"""YAML front matter in the Hugging Face model / dataset card metadata format.

Hugging Face reads the block between the leading `---` lines: `license`, `tags`, `datasets`, `metrics`,
`pipeline_tag`, and `model-index` (name -> results of task / dataset / metrics) for model cards; `license`,
`pretty_name`, `size_categories`, `task_categories`, `tags` for dataset cards. segaudit adds its own keys under
`segaudit:`, which the Hub ignores.

Values come from users' data (a dataset's name, attribute names), and a renderer that does not know front matter
shows the block as Markdown. So every text that is not plain is written double-quoted on one line, with `<`, `>`,
`[` and `]` as YAML escapes (`\\x3C`...): a YAML reader gets the value back exactly, and the block holds no tag,
link, heading or second `---` line for any Markdown renderer.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from segaudit.cards.results import fairness_rows
from segaudit.core.errors import InputError

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.,:/+=@%()-]*")
_YAML_ESCAPES = {"<": "\\x3C", ">": "\\x3E", "[": "\\x5B", "]": "\\x5D"}


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing every text that is not plain as a one-line double-quoted scalar."""


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if _PLAIN.fullmatch(data) and "\n" not in data:
        return dumper.represent_str(data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')


_Dumper.add_representer(str, _represent_text)


def front_matter(metadata: dict[str, Any]) -> str:
    """The `---`-fenced YAML block that opens a card (see the module docstring for how values are written)."""
    body = yaml.dump(metadata, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31 - 1,
                     default_flow_style=False)
    # Outside double-quoted scalars the text holds none of these (keys and plain values are _PLAIN, YAML syntax
    # here is block style), and inside them a \xNN escape reads back as the character.
    for char, escape in _YAML_ESCAPES.items():
        body = body.replace(char, escape)
    return f"---\n{body}---\n"


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a card; InputError when it has no front matter or the YAML is not a mapping."""
    if not text.startswith("---\n"):
        raise InputError("a card starts with a '---' line opening its YAML front matter")
    end = text.find("\n---\n", 3)
    if end < 0:
        raise InputError("the front matter has no closing '---' line")
    data = yaml.safe_load(text[4:end + 1])
    if not isinstance(data, dict):
        raise InputError("the front matter is not a YAML mapping")
    return data, text[end + 5:]


def model_metadata(audit: dict[str, Any], facts: dict[str, Any], date: str, draft: bool = False,
                   min_group_size: int = 30) -> dict[str, Any]:
    """Model card metadata: the overall metric as a model-index eval result, and under `segaudit:` whether the
    card is a draft, the fairness verdict per attribute (worst group only when published, the largest gap with its
    simultaneous bounds) and the membership-inference rating with its evidence."""
    performance, dataset = audit["performance"], audit["dataset"]
    privacy = audit.get("privacy") or {}
    metadata: dict[str, Any] = {}
    if facts.get("model", {}).get("license"):
        metadata["license"] = facts["model"]["license"]
    metadata.update({
        "library_name": "executorch" if audit["model"].get("format") == "pte" else "pytorch",
        "pipeline_tag": "image-segmentation",
        "tags": ["image-segmentation", "human-segmentation", "model-card", "fairness-audit", "segaudit"],
        "datasets": [dataset["name"]],
        "metrics": ["mean_iou"],
        "model-index": [{
            "name": str(facts["model"]["name"]),
            "results": [{
                "task": {"type": "image-segmentation", "name": "Image Segmentation"},
                "dataset": {"type": dataset["name"], "name": f"{dataset['name']} {dataset['version']}",
                            "split": performance.get("split", "test")},
                "metrics": [{"type": "mean_iou", "name": "mIoU", "value": round(float(performance["miou"]), 4),
                             "verified": False}],
            }],
        }],
        "segaudit": {
            "audit_date": date,
            "tool_version": audit["provenance"].get("tool_version"),
            "artifact_sha256": audit["model"].get("sha256"),
            "miou_ci": [round(float(x), 4) for x in performance.get("miou_ci") or []],
            "fairness_verdict": audit["fairness"].get("verdict"),
            "privacy_risk": privacy.get("risk_level", "not assessed"),
            "draft": bool(draft),
            "fairness": {row["name"]: _fairness_summary(row) for row in
                         fairness_rows(audit["fairness"], min_group_size)},
            "privacy": _privacy_summary(privacy),
        },
    })
    return metadata


def _fairness_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One attribute or intersection: verdict, worst group (None when suppressed), gap and bounds in points."""
    gap = row.get("gap")
    return {"verdict": row["verdict"], "worst_group": row.get("worst"),
            "max_gap_points": None if gap is None else round(100 * float(gap), 2),
            "max_gap_bounds_points": None if not row.get("gap_ci") or None in row["gap_ci"]
            else [round(100 * float(x), 2) for x in row["gap_ci"]]}


def _privacy_summary(privacy: dict[str, Any]) -> dict[str, Any]:
    """The membership-inference rating: level, the game's sizes, and the attack whose bounds decided it."""
    if not privacy:
        return {"risk_level": "not assessed"}
    rating = privacy.get("rating") or {}
    decisive = max(rating.get("attacks") or [], key=lambda a: a.get("auc_lower") or 0.0, default=None)
    game = decisive or privacy  # the balanced game's sizes where the rating records them
    return {"risk_level": privacy.get("risk_level"), "members": game.get("members"),
            "nonmembers": game.get("nonmembers"), "shadow_models": privacy.get("shadow_models"),
            "strongest_attack": None if decisive is None else decisive.get("name"),
            "auc_bounds": None if decisive is None or decisive.get("auc_lower") is None
            else [round(float(decisive["auc_lower"]), 3), round(float(decisive.get("auc_upper") or 1.0), 3)]}


def dataset_metadata(summary: dict[str, Any], facts: dict[str, Any], draft: bool = False) -> dict[str, Any]:
    """Dataset card metadata (Hugging Face keys) for a segmentation dataset package; segaudit's own keys say whether
    the card is a draft, and also name the derived attributes and count the people, when the package has them."""
    images = int(summary["images"])
    metadata = {
        "license": summary["license"].lower() if summary["license"] else "other",
        "pretty_name": summary["name"],
        "size_categories": [_size_category(images)],
        "task_categories": ["image-segmentation"],
        "task_ids": ["semantic-segmentation"],
        "tags": ["human-segmentation", "dataset-card", "segaudit"],
        "segaudit": {"version": summary["version"], "manifest_sha256": summary.get("manifest_sha256"),
                     "images": images, "splits": summary["splits"],
                     "sensitive_attributes": [n for n, a in summary["attributes"].items() if a["sensitive"]],
                     "draft": bool(draft)},
    }
    derived = summary.get("derived")
    if derived:  # only then: the cards of packages without derived attributes keep their metadata as it was
        metadata["segaudit"]["derived_attributes"] = list(derived.get("attributes") or [])
        metadata["segaudit"]["derived_person_attributes"] = list(derived.get("person_attributes") or [])
    persons = summary.get("persons")
    if persons:
        metadata["segaudit"]["persons"] = persons["count"]
    return metadata


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"
