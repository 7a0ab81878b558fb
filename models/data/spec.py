"""`dataset.yaml`: what a dataset package declares about itself, parsed strictly.

A package declares its classes (id -> name), the `ignore_index` used in masks, and the attributes its manifest
carries. Each attribute has a kind (categorical | ordinal | continuous), its allowed values (ordered for
ordinal) or its unit and range (continuous), whether it is sensitive, and where the values came from.
Every problem is an `InputError` naming the file and the field.

Schema version 2 (optional `schema_version: 2`; a file without the key is version 1 and reads as before) adds
people as units below the image:

* `instances: true` - the manifest has an `instances` column: per image, a single-channel PNG (8- or 16-bit)
  whose pixel value is the instance id of the person it belongs to (0: no person, 1..K: the people of that
  image, numbered in any order, gaps allowed);
* `person_attributes:` - attributes of each person, declared like `attributes`, whose values are in
  `persons.csv` (columns `id`, `instance`, then one per person attribute; one row per person). Needs
  `instances: true`. Without persons.csv every instance of the masks is a person with unknown attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.core.reading import load_yaml

SPEC_FILE = "dataset.yaml"
KINDS = ("categorical", "ordinal", "continuous")
SOURCES = ("self-reported", "annotated", "derived", "synthetic")
UNKNOWN = "unknown"
"""The explicit value a missing categorical/ordinal attribute becomes (continuous ones become NaN)."""
REQUIRED_TEXT = ("name", "version", "description", "license", "provenance")
SCHEMA_VERSION = 2
"""The newest dataset.yaml schema this code reads and writes (see the module docstring)."""
INSTANCES_COLUMN = "instances"
PERSONS_FILE = "persons.csv"
RESERVED_COLUMNS = frozenset({"id", "image", "mask", "split", INSTANCES_COLUMN, "instance"})


@dataclass(frozen=True)
class AttributeSpec:
    """One declared attribute of the people in a dataset."""

    name: str
    kind: str
    sensitive: bool
    source: str
    values: tuple[str, ...] | None = None
    unit: str | None = None
    range: tuple[float, float] | None = None
    description: str = ""

    def parse(self, raw: Any) -> str | float:
        """A manifest cell as a validated value: UNKNOWN / NaN for an empty cell, ValueError if not allowed."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
            return math.nan if self.kind == "continuous" else UNKNOWN
        if self.kind == "continuous":
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"'{raw}' is not a number") from None
            low, high = self.range or (-math.inf, math.inf)
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{value:g} is outside the declared range [{low:g}, {high:g}] {self.unit}")
            return value
        text = str(raw).strip()
        if text == UNKNOWN:
            return UNKNOWN
        assert self.values is not None
        if text not in self.values:
            raise ValueError(f"'{text}' is not one of the declared values {list(self.values)}")
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "continuous":
            out["unit"] = self.unit
            out["range"] = list(self.range) if self.range else None
        else:
            out["values"] = list(self.values or ())
        out.update(sensitive=self.sensitive, source=self.source)
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class DatasetSpec:
    """The whole of `dataset.yaml`."""

    name: str
    version: str
    description: str
    license: str
    provenance: str
    classes: dict[int, str]
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)
    ignore_index: int = 255
    instances: bool = False
    """Whether the manifest has an `instances` column of instance-id masks (schema version 2)."""
    person_attributes: dict[str, AttributeSpec] = field(default_factory=dict)
    """Attributes of each person, with values in persons.csv (schema version 2, needs `instances`)."""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def schema_version(self) -> int:
        """1 for a package without instances (written exactly as before version 2 existed), else 2."""
        return 2 if self.instances else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": 2} if self.instances else {}
        out.update({
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "license": self.license,
            "provenance": self.provenance,
            "classes": dict(self.classes),
            "ignore_index": self.ignore_index,
            "attributes": {name: a.to_dict() for name, a in self.attributes.items()},
        })
        if self.instances:
            out["instances"] = True
            out["person_attributes"] = {name: a.to_dict() for name, a in self.person_attributes.items()}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset.yaml; every problem is an InputError naming the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError("missing: a dataset package needs a dataset.yaml at its top", path=path)
    return spec_from_dict(load_yaml(path, what="dataset.yaml"), path)


def spec_from_dict(data: Any, path: str | Path = SPEC_FILE) -> DatasetSpec:
    """Validate the parsed YAML mapping of a dataset.yaml."""
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type(data).__name__}", path=path)
    for key in REQUIRED_TEXT:
        if not isinstance(data.get(key), str | int | float) or str(data.get(key)).strip() == "":
            raise InputError("required, as non-empty text", path=path, field=key)
    checks.known_keys(data, {*REQUIRED_TEXT, "schema_version", "classes", "ignore_index", "attributes", "instances",
                             "person_attributes"}, path=path)
    schema_version = checks.integer(data.get("schema_version", 1), "schema_version", minimum=1, path=path)
    if schema_version > SCHEMA_VERSION:
        raise InputError(f"schema version {schema_version} is newer than this segaudit reads ({SCHEMA_VERSION}); "
                         "upgrade segaudit", path=path, field="schema_version")
    for key in ("instances", "person_attributes"):
        if key in data and schema_version < 2:
            raise InputError("needs schema_version: 2 (version 1 has no instances)", path=path, field=key)
    instances = checks.boolean(data.get("instances", False), "instances", path=path)
    raw_people = checks.table(data.get("person_attributes") or {}, "person_attributes",
                              what="a mapping of attribute name -> declaration", path=path)
    if raw_people and not instances:
        raise InputError("person attributes need `instances: true` (the people are the instances of the masks)",
                         path=path, field="person_attributes")
    person_attributes = {str(name): _parse_attribute(str(name), decl, path, "person_attributes")
                         for name, decl in raw_people.items()}
    ignore_index = checks.integer(data.get("ignore_index", 255), "ignore_index", minimum=0, maximum=255, path=path)
    classes = _parse_classes(data.get("classes"), ignore_index, path)
    raw_attributes = checks.table(data.get("attributes") or {}, "attributes",
                                  what="a mapping of attribute name -> declaration", path=path)
    attributes = {
        str(name): _parse_attribute(str(name), decl, path) for name, decl in raw_attributes.items()
    }
    return DatasetSpec(
        name=str(data["name"]),
        version=str(data["version"]),
        description=str(data["description"]),
        license=str(data["license"]),
        provenance=str(data["provenance"]),
        classes=classes,
        attributes=attributes,
        ignore_index=ignore_index,
        instances=instances,
        person_attributes=person_attributes,
    )


def _parse_classes(raw: Any, ignore_index: int, path: str | Path) -> dict[int, str]:
    if not isinstance(raw, dict) or len(raw) < 2:
        raise InputError("must map class ids to names, at least two classes", path=path, field="classes")
    classes: dict[int, str] = {}
    for key, name in raw.items():
        try:
            class_id = int(key)
        except (TypeError, ValueError):
            raise InputError(f"class id {key!r} is not an integer", path=path, field="classes") from None
        if class_id == ignore_index or not 0 <= class_id <= 254:
            raise InputError(f"class id {class_id} must be in 0..254 and differ from ignore_index",
                             path=path, field="classes")
        classes[class_id] = str(name)
    if sorted(classes) != list(range(len(classes))):
        raise InputError(f"class ids must be 0..{len(classes) - 1} without gaps, got {sorted(classes)}",
                         path=path, field="classes")
    return dict(sorted(classes.items()))


def _parse_attribute(name: str, decl: Any, path: str | Path, block: str = "attributes") -> AttributeSpec:
    where = f"{block}.{name}"
    if name in RESERVED_COLUMNS:
        raise InputError("this name is a reserved manifest column", path=path, field=where)
    checks.table(decl, where, what="a mapping with kind, values or unit/range, sensitive, source", path=path)
    checks.known_keys(decl, ("kind", "values", "unit", "range", "sensitive", "source", "description"), where,
                      path=path)
    kind = checks.choice(decl.get("kind"), KINDS, f"{where}.kind", path=path)
    sensitive = checks.boolean(decl.get("sensitive"), f"{where}.sensitive", path=path)
    source = checks.choice(decl.get("source"), SOURCES, f"{where}.source", path=path)
    description = str(decl.get("description", ""))
    if kind == "continuous":
        unit, value_range = decl.get("unit"), decl.get("range")
        if not isinstance(unit, str) or not unit:
            raise InputError("a continuous attribute needs its unit", path=path, field=f"{where}.unit")
        if (
            not isinstance(value_range, list | tuple)
            or len(value_range) != 2
            or not all(isinstance(v, int | float) for v in value_range)
            or value_range[0] >= value_range[1]
        ):
            raise InputError(f"must be [low, high] with low < high, got {value_range!r}",
                             path=path, field=f"{where}.range")
        return AttributeSpec(name, kind, sensitive, source, unit=unit,
                             range=(float(value_range[0]), float(value_range[1])), description=description)
    values = decl.get("values")
    if not isinstance(values, list) or not values:
        raise InputError("must list the allowed values (in order, for an ordinal attribute)",
                         path=path, field=f"{where}.values")
    texts = tuple(str(v) for v in values)
    if len(set(texts)) != len(texts):
        raise InputError("values must be distinct", path=path, field=f"{where}.values")
    if UNKNOWN in texts or any(t.strip() == "" for t in texts):
        raise InputError(f"'{UNKNOWN}' and empty text are reserved for missing values",
                         path=path, field=f"{where}.values")
    return AttributeSpec(name, kind, sensitive, source, values=texts, description=description)
