"""The dataset card: a dataset package's own declaration (dataset.yaml) and statistics computed from its
manifest, plus human-written facts (cards/<dataset>.yaml: authors, purpose, access, retention...), as Markdown
with Hugging Face front matter and one bar chart per attribute.

`dataset_summary(package)` is a JSON-ready snapshot of everything the card computes, so a card can be rendered
again without the images (reports/alisnet/dataset_summary.json keeps the bundled one).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from segaudit.cards.charts import split_bars
from segaudit.cards.environment import make_environment, render
from segaudit.cards.facts import check_facts, complete_facts, require_complete
from segaudit.cards.front_matter import dataset_metadata, front_matter
from segaudit.cards.schemas import DATASET_FACTS
from segaudit.models.data.package import DatasetPackage
from segaudit.models.data.spec import UNKNOWN

TEMPLATE = "dataset_card.md.j2"
SPLITS = ("train", "val", "test")
CONTINUOUS_BINS = 6


def dataset_summary(package: DatasetPackage) -> dict[str, Any]:
    """The package's declaration plus its statistics: images per split, image sizes, and per attribute the
    images per value (continuous attributes in equal-width bins of the declared range) and split."""
    spec, manifest = package.spec, package.manifest
    sizes: Counter[str] = Counter()
    for path in manifest["image"]:
        with Image.open(package.root / path) as image:
            sizes[f"{image.width}x{image.height}"] += 1
    attributes = {}
    for name, attribute in spec.attributes.items():
        entry: dict[str, Any] = attribute.to_dict()
        entry.setdefault("description", "")
        column = manifest[name]
        if attribute.kind == "continuous":
            known = column.dropna().astype(float)
            low, high = attribute.range or (float(known.min()), float(known.max()))
            edges = np.linspace(low, high, CONTINUOUS_BINS + 1)
            labels = [f"[{round(edges[i], 3):g}, {round(edges[i + 1], 3):g}{']' if i == CONTINUOUS_BINS - 1 else ')'}"
                      for i in range(CONTINUOUS_BINS)]
            binned = pd.cut(column.astype(float), edges, labels=labels, include_lowest=True, right=False)
            binned = binned.cat.add_categories([UNKNOWN]).fillna(UNKNOWN)
            binned[column.astype(float) == high] = labels[-1]
            order = [*labels, UNKNOWN]
            entry["stats"] = {"min": _round(known.min()), "median": _round(known.median()),
                              "max": _round(known.max()), "unknown": int(column.isna().sum())}
        else:
            binned = column
            order = [*(attribute.values or ()), UNKNOWN]
        table = pd.crosstab(binned.astype(str), manifest["split"]).reindex(index=order, columns=SPLITS,
                                                                           fill_value=0)
        entry["counts"] = {str(v): {s: int(table.loc[v, s]) for s in SPLITS} for v in order
                           if v != UNKNOWN or table.loc[v].sum() > 0}
        attributes[name] = entry
    return {"name": spec.name, "version": spec.version, "description": spec.description, "license": spec.license,
            "provenance": spec.provenance, "classes": {str(k): v for k, v in spec.classes.items()},
            "ignore_index": spec.ignore_index, "manifest": package.manifest_path.name,
            "manifest_sha256": package.manifest_sha256, "images": int(len(manifest)),
            "splits": {s: int((manifest["split"] == s).sum()) for s in SPLITS},
            "image_sizes": dict(sorted(sizes.items())), "attributes": attributes}


def _round(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 3)


def published_counts(summary: dict[str, Any], min_group_size: int) -> dict[str, dict[str, dict[str, int | None]]]:
    """Counts per attribute value and split, with cells of a sensitive attribute between 1 and
    min_group_size - 1 suppressed (None)."""
    out = {}
    for name, attribute in summary["attributes"].items():
        out[name] = {value: {s: (None if attribute["sensitive"] and 0 < n < min_group_size else n)
                             for s, n in row.items()} for value, row in attribute["counts"].items()}
    return out


def dataset_charts(summary: dict[str, Any], min_group_size: int) -> dict[str, bytes]:
    """One bar chart (PNG bytes) per attribute: images per value and split, suppressed cells left out."""
    counts = published_counts(summary, min_group_size)
    return {name: split_bars(f"{name}: images per value and split", counts[name], SPLITS) for name in counts}


def render_dataset_card(summary: dict[str, Any], facts: dict[str, Any] | None, *, draft: bool = False,
                        templates: str | Path | None = None, min_group_size: int = 30,
                        figures: dict[str, str] | None = None, facts_path: str | Path | None = None) -> str:
    """The dataset card's Markdown; `figures` maps attribute -> chart path relative to the card."""
    facts = facts or {}
    gaps = check_facts(facts, DATASET_FACTS)
    if not draft:
        require_complete(facts, DATASET_FACTS, facts_path)
    context = {
        "facts": complete_facts(facts, DATASET_FACTS),
        "summary": summary,
        "metadata": front_matter(dataset_metadata(summary, facts)),
        "counts": published_counts(summary, min_group_size),
        "min_group_size": min_group_size,
        "figures": figures or {},
        "draft_gaps": [str(g) for g in gaps] if draft else [],
        "splits": SPLITS,
    }
    return render(make_environment(templates), TEMPLATE, context)
