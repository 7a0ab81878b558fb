"""What a person wears and how their hair is done: styles, colours, patterns, fit.

Choices depend on age and frame (seniors grey more often, long hair and dresses are more frequent on narrow
frames) but never on skin tone; some clothes are deliberately close to skin colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segaudit.models.data.synth import color
from segaudit.models.data.synth.attributes import Person
from segaudit.models.data.synth.monk import MONK_LINEAR, MONK_TONES

HAIR_STYLES = ("short", "bob", "long", "curly", "bun", "bald", "buzz")


@dataclass(frozen=True)
class Garment:
    colour: np.ndarray
    pattern: str
    """solid | stripes | plaid | print | denim"""
    accent: np.ndarray
    period: float
    """Pattern period in cm."""
    ease: float
    """How far the cloth stands off the body (cm)."""


@dataclass(frozen=True)
class Outfit:
    hair_style: str
    hair_colour: np.ndarray
    hair_volume: float
    """Thickness of the hair over the skull, in head radii."""
    hairline: float
    """Height of the front hairline above the head centre, in head radii."""
    top: str
    """tshirt | longsleeve | tank (or the dress's sleeves: none | short | long)."""
    bottom: str
    """trousers | shorts | dress"""
    upper: Garment
    lower: Garment
    sleeve_end: float
    neckline: str
    neck_depth: float
    hem: float
    """Shorts: fraction of the thigh they cover; dress: hem between crotch (0) and knee (1); trousers: unused."""
    top_hem: float
    """Top's hem below the hip line, as a fraction of height."""
    flare: float
    shoes: np.ndarray
    eye_colour: np.ndarray


def _garment(rng: np.random.Generator, patterns: tuple[str, ...], p: tuple[float, ...]) -> Garment:
    u = rng.random()
    if u < 0.2:  # close to a skin tone: beige, tan, brown, nude
        base = color.jitter(rng, MONK_LINEAR[MONK_TONES[int(rng.integers(10))]], 0.1)
    else:
        base = color.jitter(rng, color.pick(rng, color.CLOTHES), 0.1)
    pick_at = int(np.searchsorted(np.cumsum(p), rng.random() * sum(p), side="right"))
    pattern = patterns[min(pick_at, len(patterns) - 1)]
    if pattern == "denim":
        base = color.jitter(rng, color.pick(rng, color.DENIM), 0.08)
    accent = color.jitter(rng, color.pick(rng, color.CLOTHES), 0.1)
    return Garment(base, pattern, accent, float(rng.uniform(2.0, 7.0)), float(rng.uniform(0.6, 3.0)))


def choose_outfit(rng: np.random.Generator, person: Person) -> Outfit:
    """Hair and clothes for one person; a fixed sequence of draws from `rng`."""
    age, frame = person.age_group, person.frame
    if age == "child":
        p_style = (0.3, 0.2, 0.2, 0.15, 0.1, 0.0, 0.05)
    elif age == "adult":
        p_style = (0.2 + 0.25 * frame, 0.15 * (1 - frame), 0.3 * (1 - frame), 0.12, 0.1 * (1 - frame),
                   0.06 * frame, 0.12 * frame)
    else:
        p_style = (0.3, 0.12 * (1 - frame), 0.08 * (1 - frame), 0.08, 0.12 * (1 - frame), 0.25 * frame,
                   0.1 * frame)
    cdf = np.cumsum(p_style)
    style = HAIR_STYLES[min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), 6)]
    grey = {"child": 0.0, "adult": 0.06, "senior": 0.8}[age]
    palette = color.HAIR_GREY if rng.random() < grey else color.HAIR
    hair_colour = color.jitter(rng, color.pick(rng, palette), 0.08)
    volume = {"short": (0.06, 0.14), "bob": (0.1, 0.2), "long": (0.08, 0.18), "curly": (0.25, 0.55),
              "bun": (0.04, 0.1), "bald": (0.03, 0.06), "buzz": (0.02, 0.04)}[style]
    hair_volume = float(rng.uniform(*volume))
    hairline = float(rng.uniform(0.3, 0.6))

    dress = rng.random() < (0.3 * (1.0 - frame) if age != "senior" else 0.15 * (1.0 - frame))
    u = rng.random()
    if dress:
        bottom, top = "dress", ("none", "short", "long")[min(int(u * 3), 2)]
        hem = float(rng.uniform(0.3, 1.4))
    else:
        bottom = "shorts" if rng.random() < (0.35 if age == "child" else 0.2) else "trousers"
        top = "tshirt" if u < 0.5 else "longsleeve" if u < 0.85 else "tank"
        hem = float(rng.uniform(0.35, 0.95))
    upper = _garment(rng, ("solid", "stripes", "plaid", "print"), (0.55, 0.2, 0.12, 0.13))
    lower = _garment(rng, ("solid", "denim", "stripes", "plaid"), (0.5, 0.4, 0.05, 0.05))
    if dress:
        lower = upper
    sleeve_end = float(rng.uniform(0.35, 0.7))
    top_hem = float(rng.uniform(-0.05, 0.04))
    neckline = "v" if rng.random() < 0.3 else "crew"
    neck_depth = float(rng.uniform(0.01, 0.05))
    flare = float(rng.uniform(1.0, 1.45))
    shoes = color.jitter(rng, color.pick(rng, color.SHOES), 0.1)
    eyes = color.linear_hex(("#2a1a10", "#3d2614", "#4a6a8a", "#4f5a34", "#1a1210")[int(rng.integers(5))])
    if rng.random() < 0.25:
        hair_colour = hair_colour * np.float32(0.8)
    return Outfit(style, hair_colour, hair_volume, hairline, top, bottom, upper, lower, sleeve_end, neckline,
                  neck_depth, hem, top_hem, flare, shoes, eyes)
