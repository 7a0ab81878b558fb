"""The dataset card: a dataset package's own declaration (dataset.yaml) and statistics computed from its
manifest, plus human-written facts (cards/<dataset>.yaml: authors, purpose, access, retention...), as Markdown
with Hugging Face front matter and one bar chart per attribute.

The card renders every section of the documented data documentation template, in its order, with the sections
of its skin-tone example that a segmentation dataset needs (example data points, sensitive and protected
attributes, known correlations, sensitivity handling, citation guidelines). What the package tells is computed:
statistics, a typical and an atypical data point (from the published counts), how each attribute is spread over
the splits (a chi-squared test of attribute against split), a citation. What only a person knows comes from the
facts, and where they do not say it the card shows a "[needs a person: ...]" marker and calls itself a draft.

`dataset_summary(package)` is a JSON-ready snapshot of everything the card computes, so a card can be rendered
again without the images (reports/alisnet/dataset_summary.json keeps the bundled one).

Derived attributes (`source: derived`, estimated by `segaudit data derive` from the pixels) are flagged as such
wherever the card lists attributes, and the card says how far to trust them: how many derived skin tones are
unknown and why, per image and per person (derived_evidence.csv), and the measured agreement with an annotated
attribute (derived_validation.json), or plainly that it was not measured. A package with instances (dataset.yaml
schema 2) also gets its number of people and its person attributes, counted per value and split of the image.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

from segaudit.cards.charts import split_bars
from segaudit.cards.environment import make_environment, render
from segaudit.cards.facts import ask, check_facts, complete_facts, require_complete
from segaudit.cards.front_matter import dataset_metadata, front_matter
from segaudit.cards.schemas import DATASET_FACTS
from segaudit.models.data.derive import evidence_summary
from segaudit.models.data.derive_validation import read_validation
from segaudit.models.data.package import DatasetPackage
from segaudit.models.data.spec import UNKNOWN, AttributeSpec

TEMPLATE = "dataset_card.md.j2"
SPLITS = ("train", "val", "test")
CONTINUOUS_BINS = 6
DERIVED = "derived"
VALIDATION_KEYS = ("annotated", "derived", "unit", "method", "n_units", "n_compared", "n_unknown_derived",
                   "n_unknown_annotated", "kappa", "kappa_linear", "kappa_quadratic", "kappa_quadratic_ci",
                   "spearman_rho", "spearman_p")
"""What the card keeps of derived_validation.json (the confusion matrix stays in the package)."""
SPLIT_ASSOCIATION_P = 0.001
"""An attribute whose spread over the splits differs at this p (chi-squared, attribute x split) is named."""
PERSON_FIELDS: dict[str, str] = {
    "documentation.version": "the version of this document",
    "reviewers": "who reviewed this document, with their role",
    "status.date": "the date of the dataset's status",
    "status.state": "its status (Under Preparation, Regularly Updated, Actively Maintained, Limited Maintenance "
                    "or Deprecated)",
    "links": "links to the repository, paper or other documentation",
    "deployer_instructions": "instructions for use for deployers",
    "versioning.tools": "the data version control used",
    "versioning.change_log": "what changed between versions",
    "versioning.maintenance": "the maintenance plan and the next planned update",
    "known_usage.models": "the models that use this dataset, their task and what for",
    "known_usage.applications": "the applications that use it and what for",
    "characteristics.geographical_scope": "where the data was collected",
    "characteristics.collection_dates": "when it was collected",
    "origin.sources": "where the data comes from",
    "origin.third_party": "whether any part comes from third parties, and under which terms",
    "origin.ethical_sourcing": "consent, transparency to data subjects, GDPR or other compliance",
    "collection.methods": "the collection method(s)",
    "collection.details": "each collection method in detail",
    "collection.sources": "each upstream source",
    "collection.cadence": "static, streamed or dynamic",
    "preprocessing.cleaning": "missing data, outliers, duplicates, error correction",
    "preprocessing.feature_engineering": "features selected, extracted or created",
    "preprocessing.dimensionality_reduction": "any dimensionality reduction",
    "preprocessing.augmentation": "any augmentation",
    "sampling_details.methods": "the sampling method(s)",
    "sampling_details.characteristics": "the characteristics of the sample",
    "sampling_details.criteria": "the sampling criteria",
    "correlations": "known correlations between attributes",
    "sensitivity.types": "the kinds of sensitive data held",
    "sensitivity.handling": "how sensitive data is secured and handled",
    "distribution.availability": "open, public or private, and where",
    "distribution.rights": "user rights and limitations",
    "access_details.security_classification": "the data security classification, in and out of scope",
    "access_details.prerequisites": "what access requires",
    "access_details.retention_reasons": "why it is kept that long",
    "access_details.retention_policy": "the retention policy",
    "risk_assessment": "foreseeable unintended outcomes or biases, sources of discrimination or harm",
    "security.storage": "encryption, access control, backup, integrity of stored data",
    "security.transfer": "encryption in transit, endpoint and API security",
    "security.processing": "secure environments, audit logs, data minimisation",
    "security.standards": "the security standards applied, or that none were",
    "security.monitoring": "data drift detection and audit logs after release",
    "conformity.eu_declaration": "the EU declaration of conformity, or that none exists",
    "conformity.standards": "the standards and frameworks applied, or that none were",
}
"""The data template's fields only a person can fill, in the template's order, with what to write there."""


def dataset_summary(package: DatasetPackage) -> dict[str, Any]:
    """The package's declaration plus its statistics: images per split, image sizes, and per attribute the
    images per value (continuous attributes in equal-width bins of the declared range) and split; with
    instances, the people (`persons`); with derived attributes, their evidence and validation (`derived`)."""
    spec, manifest = package.spec, package.manifest
    sizes: Counter[str] = Counter()
    for path in manifest["image"]:
        with Image.open(package.root / path) as image:
            sizes[f"{image.width}x{image.height}"] += 1
    attributes = {name: _attribute_entry(attribute, manifest[name], manifest["split"])
                  for name, attribute in spec.attributes.items()}
    summary: dict[str, Any] = {
        "name": spec.name, "version": spec.version, "description": spec.description, "license": spec.license,
        "provenance": spec.provenance, "classes": {str(k): v for k, v in spec.classes.items()},
        "ignore_index": spec.ignore_index, "manifest": package.manifest_path.name,
        "manifest_sha256": package.manifest_sha256, "images": int(len(manifest)),
        "splits": {s: int((manifest["split"] == s).sum()) for s in SPLITS},
        "image_sizes": dict(sorted(sizes.items())), "attributes": attributes}
    if spec.instances:
        summary["persons"] = persons_summary(package)
    derived = derived_summary(package)
    if derived is not None:
        summary["derived"] = derived
    return summary


def _attribute_entry(attribute: AttributeSpec, column: pd.Series, split: pd.Series) -> dict[str, Any]:
    """An attribute's declaration and its counts per value (or bin) and split."""
    entry: dict[str, Any] = attribute.to_dict()
    entry.setdefault("description", "")
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
    table = pd.crosstab(binned.astype(str), split).reindex(index=order, columns=SPLITS, fill_value=0)
    entry["counts"] = {str(v): {s: int(table.loc[v, s]) for s in SPLITS} for v in order
                       if v != UNKNOWN or table.loc[v].sum() > 0}
    return entry


def persons_summary(package: DatasetPackage) -> dict[str, Any]:
    """The people of a package with instances: how many (per split of their image), where their attributes come
    from, and per person attribute the people per value and split. Without persons.csv the people are counted in
    the instance masks and their attributes are unknown."""
    spec, manifest = package.spec, package.manifest
    persons = package.persons
    source = "persons.csv"
    if persons is None:
        source = "instance masks"
        ids = [str(row["id"]) for row in manifest.to_dict("records")
               for instance in np.unique(package.read_instances(row)) if instance > 0]
        persons = pd.DataFrame({"id": ids})
        for name, attribute in spec.person_attributes.items():
            persons[name] = np.nan if attribute.kind == "continuous" else UNKNOWN
    split_of = dict(zip(manifest["id"].astype(str), manifest["split"], strict=True))
    split = persons["id"].astype(str).map(split_of).reset_index(drop=True)
    persons = persons.reset_index(drop=True)
    return {"count": int(len(persons)), "source": source,
            "splits": {s: int((split == s).sum()) for s in SPLITS},
            "images_with_people": int(persons["id"].nunique()),
            "attributes": {name: _attribute_entry(attribute, persons[name], split)
                           for name, attribute in spec.person_attributes.items()}}


def derived_summary(package: DatasetPackage) -> dict[str, Any] | None:
    """The derived attributes (per image and per person), how many derived skin tones are unknown and why
    (`evidence`, from derived_evidence.csv; None when the package has none) and the agreement with an annotated
    attribute (`validation`, from derived_validation.json; None when it was not measured). None when the
    package has nothing derived."""
    spec = package.spec
    image = [n for n, a in spec.attributes.items() if a.source == DERIVED]
    person = [n for n, a in spec.person_attributes.items() if a.source == DERIVED]
    evidence = evidence_summary(package.root)
    validation = read_validation(package.root)
    if not (image or person or evidence or validation):
        return None
    if validation is not None:
        validation = {key: validation.get(key) for key in VALIDATION_KEYS}
    return {"attributes": image, "person_attributes": person, "evidence": evidence, "validation": validation}


def _round(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 3)


def published_counts(summary: dict[str, Any], min_group_size: int,
                     scope: str = "attributes") -> dict[str, dict[str, dict[str, int | None]]]:
    """Counts per attribute value and split, with cells of a sensitive attribute between 1 and
    min_group_size - 1 suppressed (None); `scope` "persons" for the person attributes."""
    attributes = summary["attributes"] if scope == "attributes" else (summary.get("persons") or {}).get(
        "attributes", {})
    out = {}
    for name, attribute in attributes.items():
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
    facts = complete_facts(facts, DATASET_FACTS)
    asked, missing = ask(facts, PERSON_FIELDS)
    context = {
        "facts": facts,
        "asked": asked,
        "needs_person": missing,
        "examples": example_points(summary, min_group_size),
        "split_association": split_association(summary),
        "citation": citation(summary, facts),
        "summary": summary,
        "metadata": front_matter(dataset_metadata(summary, facts, draft=bool(missing) or (draft and bool(gaps)))),
        "counts": published_counts(summary, min_group_size),
        "person_counts": published_counts(summary, min_group_size, "persons"),
        "persons": summary.get("persons"),
        "derived": summary.get("derived"),
        "min_group_size": min_group_size,
        "figures": figures or {},
        "draft_gaps": [str(g) for g in gaps] if draft else [],
        "splits": SPLITS,
    }
    return render(make_environment(templates), TEMPLATE, context)


def example_points(summary: dict[str, Any], min_group_size: int) -> dict[str, dict[str, str]]:
    """A typical and an atypical data point, built from the published counts (not a row of the manifest): per
    attribute its most common value (bin) and its rarest value held by at least `min_group_size` images (any
    image for an attribute that is not sensitive), so that no suppressed cell shows through."""
    typical, atypical = {}, {}
    for name, attribute in summary["attributes"].items():
        totals = {value: sum(row.values()) for value, row in attribute["counts"].items() if value != UNKNOWN}
        floor = min_group_size if attribute.get("sensitive") else 1
        shown = {value: n for value, n in totals.items() if n >= floor}
        if not shown:
            typical[name] = atypical[name] = f"(every value held by fewer than {min_group_size} images)"
            continue
        typical[name] = max(shown, key=lambda v: shown[v])
        atypical[name] = min(shown, key=lambda v: shown[v])
    return {"typical": typical, "atypical": atypical}


def split_association(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per attribute, whether its values are spread differently over the splits: a chi-squared test of attribute
    against split on the images' counts, with the total variation distance between the train split's
    distribution and the other splits' (0: the same spread, 1: no value in common)."""
    out = []
    for name, attribute in summary["attributes"].items():
        table = np.array([[row.get(s, 0) for s in SPLITS] for row in attribute["counts"].values()], dtype=float)
        table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
        if table.shape[0] < 2 or table.shape[1] < 2:
            continue
        chi2, p, dof, _ = stats.chi2_contingency(table)
        train = table[:, 0] / table[:, 0].sum() if table[:, 0].sum() else table[:, 0]
        rest = table[:, 1:].sum(axis=1)
        rest = rest / rest.sum() if rest.sum() else rest
        out.append({"name": name, "chi2": float(chi2), "dof": int(dof), "p": float(p),
                    "tvd": float(0.5 * np.abs(train - rest).sum()), "differs": bool(p < SPLIT_ASSOCIATION_P)})
    return out


def citation(summary: dict[str, Any], facts: dict[str, Any]) -> str:
    """A citation computed from the package: authors, name, version, licence and the manifest hash (which pins
    the exact files); the card shows it unless the facts give their own `citation`."""
    authors = ", ".join(str(a.get("name")) for a in facts.get("authors") or [] if isinstance(a, dict))
    return (f"{authors + ': ' if authors else ''}{summary['name']} {summary['version']} "
            f"({summary['license']}), manifest sha256 {summary['manifest_sha256']}")
