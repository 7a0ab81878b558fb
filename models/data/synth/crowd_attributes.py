"""Who is in a crowd scene and what makes their skin hard to read: the crowd attributes, declared and drawn.

Crowd scenes test skin-tone derivation where it failed on street photos: several people per image, each with
their own Monk tone (drawn without replacement, so one image mixes tones), some small, some in shade, under a
coloured light, some in skin-coloured clothes. Everything here is drawn from the per-sample generator before
any pixel is painted; the measured attributes (apparent size, how much of a person is visible, how much of
their skin is shaded) are filled in by the renderer from the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from skimage.color import rgb2lab

from segaudit.models.data.spec import AttributeSpec
from segaudit.models.data.synth import color
from segaudit.models.data.synth.attributes import ATTRIBUTES, Person, check_group_weights, draw_person
from segaudit.models.data.synth.monk import MONK_HEX, MONK_LINEAR, MONK_TONES
from segaudit.models.data.synth.outfit import Garment, Outfit
from segaudit.models.data.synth.scene import Lighting, draw_lighting

PEOPLE = ("1", "2", "3", "4")
PEOPLE_P = (0.15, 0.35, 0.35, 0.15)
"""How many people an image shows: mostly two or three."""
LIGHTS = ("neutral", "warm", "cool", "green", "low")
LIGHTS_P = (0.4, 0.15, 0.15, 0.15, 0.15)
TINTS: dict[str, tuple[float, float, float]] = {
    "neutral": (1.0, 1.0, 1.0), "warm": (1.3, 1.0, 0.62), "cool": (0.68, 0.92, 1.32), "green": (0.8, 1.22, 0.72)}
"""Linear-light gains of the whole frame per lighting (low keeps draw_lighting's own warm or cool cast)."""
SHADES = ("none", "partial", "full")
SHADES_P = (0.5, 0.3, 0.2)
YES_NO = ("yes", "no")
P_SKIN_CLOTHES = 0.3
SIZES = ("small", "medium", "large")
SIZE_BOUNDS = (0.35, 0.6)
"""apparent_size from height_fraction: small below 0.35, large from 0.6, medium between."""
DEPTHS = ((0.35, 0.2, 0.4), (0.4, 0.4, 0.65), (0.25, 0.65, 0.92))
"""(probability, low, high) of far, middle and near people: the fraction of the frame height a 200 cm person
would fill (far people are 15-35% of the frame, the hard small case)."""
DEPTH_RANGE = (DEPTHS[0][1], DEPTHS[-1][2])
MIN_DELTA_E = 15.0
"""Clothes of people without skin-coloured clothes come from palette colours at least this CIELAB distance
(Delta E 1976) from every Monk swatch."""

IMAGE_ATTRIBUTES: dict[str, AttributeSpec] = {
    "lighting": AttributeSpec(
        "lighting", "categorical", False, "synthetic", values=LIGHTS,
        description="Illumination of the whole frame: neutral (no colour cast), warm (orange), cool (blue), "
                    "green, or low (dim, noisy, with a warm or cool cast)."),
    "people": AttributeSpec(
        "people", "ordinal", False, "synthetic", values=PEOPLE,
        description="Number of people in the image (one row each in persons.csv)."),
}

PERSON_ATTRIBUTES: dict[str, AttributeSpec] = {
    "skin_tone": ATTRIBUTES["skin_tone"],
    "age_group": ATTRIBUTES["age_group"],
    "shade": AttributeSpec(
        "shade", "categorical", False, "synthetic", values=SHADES,
        description="none; partial (a soft-edged shadow over the part of the person on one side of a line "
                    "through the head or upper body); full (the whole person darkened to 20-45% of the light, "
                    "slightly bluish like skylight)."),
    "shaded_fraction": AttributeSpec(
        "shaded_fraction", "continuous", False, "synthetic", unit="fraction", range=(0.0, 1.0),
        description="Share of the person's visible skin pixels that lie more than half in their shadow; "
                    "empty when none of their skin is visible."),
    "skin_coloured_clothes": AttributeSpec(
        "skin_coloured_clothes", "categorical", False, "synthetic", values=YES_NO,
        description="yes: the top and/or the bottoms (or the dress) are a plain Monk swatch colour, half the time "
                    "the person's own, and sometimes the hair too. no: garments come from palette colours at least "
                    f"Delta E {MIN_DELTA_E:g} from every Monk swatch (before a small variation). Hair is natural "
                    "unless recoloured, and natural dark hair is close to Monk 8-10 either way."),
    "apparent_size": AttributeSpec(
        "apparent_size", "ordinal", False, "synthetic", values=SIZES,
        description=f"From height_fraction: small below {SIZE_BOUNDS[0]:g}, medium, large from {SIZE_BOUNDS[1]:g}."),
    "height_fraction": AttributeSpec(
        "height_fraction", "continuous", False, "synthetic", unit="fraction of image height", range=(0.0, 1.0),
        description="Rows spanned by the person's whole figure (hidden parts included), over the image height."),
    "visible_fraction": AttributeSpec(
        "visible_fraction", "continuous", False, "synthetic", unit="fraction", range=(0.0, 1.0),
        description="Share of the person's figure pixels not hidden by nearer people."),
}

_BASE = check_group_weights(None)["train"]
"""Unweighted draw probabilities of the single-person attributes (their skin tone is replaced)."""


def _lab(hex_codes: tuple[str, ...]) -> np.ndarray:
    return rgb2lab(np.stack([color.hex_rgb(code) for code in hex_codes])[None].astype(np.float64))[0]


def _not_skin(palette: tuple[str, ...]) -> tuple[str, ...]:
    """The palette colours at least MIN_DELTA_E from every Monk swatch."""
    distance = np.linalg.norm(_lab(palette)[:, None, :] - _lab(MONK_HEX)[None, :, :], axis=-1).min(axis=1)
    return tuple(code for code, d in zip(palette, distance, strict=True) if d >= MIN_DELTA_E)


NOT_SKIN = _not_skin(color.CLOTHES + color.DENIM)
"""Clothes colours far from every skin tone: no whites, blacks, beiges or browns."""


@dataclass(frozen=True)
class PersonPlan:
    """What is decided about one person before painting: the single-person traits and the crowd hard cases."""

    person: Person
    shade: str
    skin_coloured_clothes: str
    depth: float
    """Fraction of the frame height a 200 cm person would fill at this person's distance."""


def _pick(rng: np.random.Generator, values: tuple[str, ...], p: tuple[float, ...]) -> str:
    """One value by inverse CDF: always exactly one uniform draw."""
    return values[min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")), len(values) - 1)]


def draw_scene(rng: np.random.Generator) -> tuple[str, int]:
    """The image's lighting kind and number of people."""
    return _pick(rng, LIGHTS, LIGHTS_P), int(_pick(rng, PEOPLE, PEOPLE_P))


def scene_lighting(rng: np.random.Generator, kind: str) -> Lighting:
    """The existing normal or low lighting with the frame's colour cast set by `kind`."""
    lighting = draw_lighting(rng, "low" if kind == "low" else "normal")
    if kind == "low":
        return lighting
    return replace(lighting, tint=np.array(TINTS[kind], dtype=np.float32))


def draw_people(rng: np.random.Generator, count: int) -> list[PersonPlan]:
    """`count` people with distinct Monk tones (without replacement), their shade, clothes and distance."""
    tones = [MONK_TONES[i] for i in rng.permutation(len(MONK_TONES))[:count]]
    plans = []
    for tone in tones:
        person = replace(draw_person(rng, _BASE), skin_tone=tone, lighting="normal")
        shade = _pick(rng, SHADES, SHADES_P)
        clothes = YES_NO[0] if rng.random() < P_SKIN_CLOTHES else YES_NO[1]
        u = rng.random()
        band = DEPTHS[-1]
        for depth in DEPTHS:
            if u < depth[0]:
                band = depth
                break
            u -= depth[0]
        plans.append(PersonPlan(person, shade, clothes, float(rng.uniform(band[1], band[2]))))
    return plans


def dress(rng: np.random.Generator, outfit: Outfit, plan: PersonPlan) -> Outfit:
    """Recolour an outfit so that `skin_coloured_clothes` is true of it (see its declaration)."""
    if plan.skin_coloured_clothes == "no":
        def plain(garment: Garment) -> Garment:
            return replace(garment, colour=color.jitter(rng, color.pick(rng, NOT_SKIN), 0.05),
                           accent=color.jitter(rng, color.pick(rng, NOT_SKIN), 0.05))

        upper = plain(outfit.upper)
        lower = upper if outfit.bottom == "dress" else plain(outfit.lower)
        return replace(outfit, upper=upper, lower=lower)

    def swatch() -> np.ndarray:
        own = rng.random() < 0.5
        tone = plan.person.skin_tone if own else MONK_TONES[int(rng.integers(len(MONK_TONES)))]
        return color.jitter(rng, MONK_LINEAR[tone], 0.05)

    top = rng.random() < 0.75
    bottom = rng.random() < 0.5 or not top
    upper = replace(outfit.upper, colour=swatch(), pattern="solid") if top else outfit.upper
    lower = replace(outfit.lower, colour=swatch(), pattern="solid") if bottom else outfit.lower
    if outfit.bottom == "dress":
        upper = lower = upper if top else lower
    hair = swatch() * np.float32(0.9) if rng.random() < 0.35 else outfit.hair_colour
    return replace(outfit, upper=upper, lower=lower, hair_colour=hair)
