"""The people's attributes: how they are declared in dataset.yaml and how each person's are drawn.

Attributes are drawn first (from the per-sample generator), and everything about the picture follows from
them. `group_weights` skews a split the way real collections are skewed: a value's probability is its base
probability times its weight, renormalised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from segaudit.core.errors import InputError
from segaudit.models.data.spec import AttributeSpec
from segaudit.models.data.synth.monk import MONK_TONES
from segaudit.models.data.writer import SPLITS

SHAPES = ("slim", "average", "broad")
AGES = ("child", "adult", "senior")
LIGHTING = ("normal", "low", "backlit")
HEIGHT_RANGE = (80.0, 215.0)

ATTRIBUTES: dict[str, AttributeSpec] = {
    "skin_tone": AttributeSpec(
        "skin_tone", "ordinal", True, "synthetic", values=MONK_TONES,
        description="Monk Skin Tone scale swatch the skin was rendered from (shaded, not a flat fill)."),
    "body_shape": AttributeSpec(
        "body_shape", "ordinal", True, "synthetic", values=SHAPES,
        description="Derived from build: slim < 1/3 <= average < 2/3 <= broad."),
    "build": AttributeSpec(
        "build", "continuous", True, "synthetic", unit="index", range=(0.0, 1.0),
        description="Body width index: scales torso, waist, hips and limb thickness."),
    "age_group": AttributeSpec(
        "age_group", "ordinal", True, "synthetic", values=AGES,
        description="Expressed through proportions (head-to-height ratio, leg length) and hair greying."),
    "height_cm": AttributeSpec(
        "height_cm", "continuous", False, "synthetic", unit="cm", range=HEIGHT_RANGE,
        description="Standing height; the figure's pixel height at a fixed camera distance (+-5% jitter)."),
    "lighting": AttributeSpec(
        "lighting", "categorical", False, "synthetic", values=LIGHTING,
        description="normal, low (dim and noisy) or backlit (bright background, figure in shadow)."),
}

BASE: dict[str, dict[str, float]] = {
    "age_group": {"child": 0.2, "adult": 0.6, "senior": 0.2},
    "skin_tone": dict.fromkeys(MONK_TONES, 0.1),
    "body_shape": {"slim": 0.3, "average": 0.45, "broad": 0.25},
    "lighting": {"normal": 0.6, "low": 0.25, "backlit": 0.15},
}
"""Base distributions of the drawn categorical attributes (build follows body_shape, height follows age)."""

SKEWED_TRAIN: dict[str, dict[str, dict[str, float]]] = {
    "train": {"skin_tone": {"monk_08": 0.15, "monk_09": 0.1, "monk_10": 0.1}},
}
"""Preset: the training split holds few people with the darkest Monk tones (about 5% instead of 30%)."""

SKEWED_TRAIN_AND_TEST: dict[str, dict[str, dict[str, float]]] = {**SKEWED_TRAIN, "test": SKEWED_TRAIN["train"]}
"""Preset: the test split drawn with the training split's skew, so that a privacy audit's members (train) and
non-members (test) share one composition by design rather than by subsampling; the fairness audit of such a
test split has fewer dark-tone images to measure."""

Weights = dict[str, dict[str, dict[str, float]]]


@dataclass(frozen=True)
class Person:
    """One person's manifest attributes plus latent traits that shape the drawing but are not reported."""

    skin_tone: str
    body_shape: str
    build: float
    age_group: str
    height_cm: float
    lighting: str
    frame: float
    """0..1, narrow-hipped/broad-shouldered at 1: varies proportions; deliberately not an attribute."""
    youth: float
    """0..1 for children (1 = youngest); 0 for adults and seniors."""

    def manifest(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ATTRIBUTES}


def check_group_weights(group_weights: Weights | None) -> dict[str, dict[str, np.ndarray]]:
    """Validate {split: {attribute: {value: weight}}} into per-split probability vectors; InputError if bad."""
    probabilities = {split: {name: _normalised(BASE[name], {}) for name in BASE} for split in SPLITS}
    if group_weights is None:
        return probabilities
    if not isinstance(group_weights, dict):
        raise InputError("group_weights must map split -> attribute -> value -> weight", field="group_weights")
    for split, per_attribute in group_weights.items():
        where = f"group_weights.{split}"
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}; expected one of {list(SPLITS)}", field=where)
        if not isinstance(per_attribute, dict):
            raise InputError("must map attribute -> value -> weight", field=where)
        for name, weights in per_attribute.items():
            if name not in BASE:
                raise InputError(f"cannot weight {name!r}; weightable attributes: {sorted(BASE)}",
                                 field=f"{where}.{name}")
            if not isinstance(weights, dict):
                raise InputError("must map value -> weight", field=f"{where}.{name}")
            for value, weight in weights.items():
                if value not in BASE[name]:
                    raise InputError(f"unknown value {value!r}; expected one of {list(BASE[name])}",
                                     field=f"{where}.{name}")
                if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
                    raise InputError(f"weight for {value!r} must be a finite number >= 0, got {weight!r}",
                                     field=f"{where}.{name}")
            if sum(BASE[name][v] * weights.get(v, 1.0) for v in BASE[name]) <= 0:
                raise InputError("all weights are zero: nothing could be drawn", field=f"{where}.{name}")
            probabilities[split][name] = _normalised(BASE[name], weights)
    return probabilities


def _normalised(base: dict[str, float], weights: dict[str, float]) -> np.ndarray:
    p = np.array([base[v] * float(weights.get(v, 1.0)) for v in base], dtype=np.float64)
    return p / p.sum()


def _choose(rng: np.random.Generator, values: tuple[str, ...], p: np.ndarray) -> str:
    """One value by inverse CDF: always exactly one uniform draw, whatever the weights."""
    index = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
    index = min(index, len(values) - 1)
    while p[index] == 0:  # only reachable through float round-off at a boundary
        index -= 1
    return values[index]


def draw_person(rng: np.random.Generator, probabilities: dict[str, np.ndarray]) -> Person:
    """A person's attributes; the number of draws never depends on the weights (stable streams)."""
    age = _choose(rng, AGES, probabilities["age_group"])
    tone = _choose(rng, MONK_TONES, probabilities["skin_tone"])
    shape = _choose(rng, SHAPES, probabilities["body_shape"])
    position = rng.random()
    build = (SHAPES.index(shape) + 0.02 + 0.96 * position) / 3.0
    frame = float(rng.random())
    z = rng.normal()
    if age == "child":
        height = 125.0 + 13.0 * z
        low, high = 90.0, 158.0
    elif age == "adult":
        height = 162.0 + 15.0 * frame + 7.0 * z
        low, high = 145.0, 205.0
    else:
        height = 157.0 + 14.0 * frame + 7.0 * z
        low, high = 140.0, 195.0
    height = round(float(np.clip(height, low, high)), 1)
    youth = float(np.clip((160.0 - height) / 60.0, 0.1, 1.0)) if age == "child" else 0.0
    lighting = _choose(rng, LIGHTING, probabilities["lighting"])
    return Person(skin_tone=tone, body_shape=shape, build=round(float(build), 3), age_group=age,
                  height_cm=height, lighting=lighting, frame=frame, youth=youth)
