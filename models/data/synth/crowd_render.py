"""Rasterising one crowd scene: lay out 1-4 people in depth, paint each with the single-person painter, shade
them, composite far to near over a room, and measure what ended up visible.

`render_crowd(seed, index, size)` is a pure function of its arguments (every draw comes from
`np.random.default_rng([seed, index])`). Each person is painted on a canvas of their own with exact labels;
compositing far to near lets nearer people hide farther ones, and the instance mask takes the id of the
person whose labels are frontmost, so masks stay exact under occlusion. Ids are 1..K in drawing order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, shift

from segaudit.models.data.synth.attributes import Person
from segaudit.models.data.synth.canvas import Canvas, Grid
from segaudit.models.data.synth.crowd_attributes import (
    DEPTH_RANGE,
    SIZE_BOUNDS,
    SIZES,
    PersonPlan,
    draw_people,
    draw_scene,
    dress,
    scene_lighting,
)
from segaudit.models.data.synth.figure import Body, build_body
from segaudit.models.data.synth.monk import skin_colour
from segaudit.models.data.synth.outfit import Outfit, choose_outfit
from segaudit.models.data.synth.parts import SKIN, FigurePainter
from segaudit.models.data.synth.render import MARGIN, _extent
from segaudit.models.data.synth.scene import Lighting, finish, room

SHADE_TINT = np.array([0.92, 0.98, 1.1], dtype=np.float32)
"""Light left in a shadow is skylight: a little bluer than the key light."""
MAX_COVERED = 0.5
"""Layout: at most this share of a person's bounding box may lie under nearer people's boxes."""
LAYOUT_TRIES = 30


@dataclass
class CrowdPerson:
    """One person of a rendered scene: drawn traits and what was measured from the pixels."""

    instance: int
    person: Person
    shade: str
    skin_coloured_clothes: str
    height_fraction: float
    visible_fraction: float
    shaded_fraction: float
    """NaN when none of their skin is visible."""

    @property
    def apparent_size(self) -> str:
        return SIZES[int(np.searchsorted(SIZE_BOUNDS, self.height_fraction, side="right"))]

    def record(self) -> dict[str, Any]:
        """The persons.csv row (without the image id)."""
        return {"instance": self.instance, "skin_tone": self.person.skin_tone, "age_group": self.person.age_group,
                "shade": self.shade, "shaded_fraction": self.shaded_fraction,
                "skin_coloured_clothes": self.skin_coloured_clothes, "apparent_size": self.apparent_size,
                "height_fraction": self.height_fraction, "visible_fraction": self.visible_fraction}


@dataclass
class CrowdSample:
    """A rendered scene. `labels` (fashion classes, parts.SKIN = skin) and `shadow` (0..1 shade weight) describe
    the visible person at each pixel: with `instances` they say exactly which pixels are whose skin."""

    image: np.ndarray
    instances: np.ndarray
    labels: np.ndarray
    shadow: np.ndarray
    lighting: str
    people: list[CrowdPerson]

    def manifest(self) -> dict[str, Any]:
        return {"lighting": self.lighting, "people": str(len(self.people))}

    def persons(self) -> list[dict[str, Any]]:
        return [person.record() for person in self.people]

    def skin(self, instance: int) -> np.ndarray:
        """[size, size] bool: the visible skin pixels of one person."""
        return (self.instances == instance) & (self.labels == SKIN)


@dataclass
class _Figure:
    """One person placed in the frame (pixels per cm, roll, feet at (ax, ay))."""

    plan: PersonPlan
    body: Body
    outfit: Outfit
    skin: np.ndarray
    extent: tuple[float, float, float]
    ppc: float
    roll: float
    ax: float = 0.0
    ay: float = 0.0

    @property
    def tall(self) -> float:
        return (self.body.height - self.extent[2]) * self.ppc

    @property
    def slack(self) -> float:
        return abs(self.roll) * self.tall

    def box(self) -> tuple[float, float, float, float]:
        left, right, _ = self.extent
        return (self.ax + left * self.ppc - self.slack, self.ay - self.tall - self.slack,
                self.ax + right * self.ppc + self.slack, self.ay)


def _figure(rng: np.random.Generator, plan: PersonPlan, size: int) -> _Figure:
    """Body, clothes and scale of one person, shrunk if needed so that the whole figure fits the frame."""
    body = build_body(plan.person, rng)
    outfit = dress(rng, choose_outfit(rng, plan.person), plan)
    skin = skin_colour(rng, plan.person.skin_tone)
    roll = float(np.clip(rng.normal(0.0, 0.02), -0.05, 0.05))
    figure = _Figure(plan, body, outfit, skin, _extent(body, outfit), plan.depth * size / 200.0, roll)
    room_for = size * (1.0 - 2.0 * MARGIN) - 1.0
    if figure.tall * (1.0 + 2.0 * abs(roll)) > room_for:
        figure.ppc *= room_for / (figure.tall * (1.0 + 2.0 * abs(roll)))
    left, right, _ = figure.extent
    if (right - left) * figure.ppc + 2 * figure.slack > room_for:
        figure.ppc *= room_for / ((right - left) * figure.ppc + 2 * figure.slack)
    return figure


def _place_in_depth(rng: np.random.Generator, figures: list[_Figure], size: int, floor_y: float) -> None:
    """Feet rows: nearer (bigger) people stand lower in the frame; every head stays inside it."""
    margin = MARGIN * size
    low, high = DEPTH_RANGE
    for figure in figures:
        near = (figure.plan.depth - low) / (high - low)
        target = floor_y + (size - margin - floor_y) * (0.1 + 0.9 * near) + rng.normal(0.0, 0.02 * size)
        y_lo, y_hi = max(floor_y + 2.0, margin + figure.tall + figure.slack), size - margin
        figure.ay = float(np.clip(target, y_lo, max(y_lo, y_hi)))


def _covered_too_much(figures: list[_Figure], size: int) -> bool:
    """Whether a person's box lies more than MAX_COVERED under the boxes of people drawn after them."""
    front = np.zeros((size, size), dtype=bool)
    for figure in reversed(figures):
        x0, y0, x1, y1 = (int(np.clip(round(v), 0, size)) for v in figure.box())
        area = max(1, (x1 - x0) * (y1 - y0))
        if front[y0:y1, x0:x1].sum() > MAX_COVERED * area:
            return True
        front[y0:y1, x0:x1] = True
    return False


def _place_across(rng: np.random.Generator, figures: list[_Figure], size: int) -> None:
    """Columns: one slot of the width per person in random order, jittered; re-drawn while anyone is mostly
    hidden (after LAYOUT_TRIES the last layout stays; visible_fraction records the truth)."""
    margin = MARGIN * size
    count = len(figures)
    for _ in range(LAYOUT_TRIES):
        slots = rng.permutation(count)
        for figure, slot in zip(figures, slots, strict=True):
            left, right, _ = figure.extent
            centre = (slot + 0.5 + rng.uniform(-0.7, 0.7)) * size / count
            x_lo = margin - left * figure.ppc + figure.slack
            x_hi = size - margin - right * figure.ppc - figure.slack
            figure.ax = float(np.clip(centre, x_lo, x_hi)) if x_hi > x_lo else size / 2
        if not _covered_too_much(figures, size):
            return


def _shade_map(rng: np.random.Generator, grid: Grid, body: Body, shade: str) -> np.ndarray:
    """[h, w] shade weight 0..1 on a person's crop: 0, 1, or a soft half-plane through the head or upper body."""
    if shade == "none":
        return np.zeros(grid.shape, dtype=np.float32)
    if shade == "full":
        return np.ones(grid.shape, dtype=np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    px = body.head_centre[0] + rng.uniform(-1.0, 1.0) * body.head_rx
    py = rng.uniform(body.head_centre[1], body.waist_y)
    soft = rng.uniform(1.5, 6.0)
    t = (grid.x - px) * np.float32(np.cos(angle)) + (grid.y - py) * np.float32(np.sin(angle))
    return np.clip(0.5 + t / np.float32(soft), 0.0, 1.0).astype(np.float32)


@dataclass
class _Painted:
    figure: _Figure
    canvas: Canvas
    shadow: np.ndarray
    where: tuple[slice, slice]
    rows: np.ndarray
    cols: np.ndarray


def _paint(rng: np.random.Generator, figure: _Figure, lighting: Lighting, size: int) -> _Painted:
    """The person on a canvas over their crop, with their shade applied to the colours (not the labels)."""
    body, ppc = figure.body, figure.ppc
    x_a, y_a, x_b, y_b = figure.box()
    pad = 3.0 + 0.1 * figure.tall
    x0, x1 = int(max(0, np.floor(x_a - pad))), int(min(size, np.ceil(x_b + pad)))
    y0, y1 = int(max(0, np.floor(y_a - pad))), int(min(size, np.ceil(y_b + pad)))
    rows, cols = np.mgrid[y0:y1, x0:x1].astype(np.float32) + np.float32(0.5)
    dx, dy = (cols - figure.ax) / ppc, (rows - figure.ay) / ppc
    cos, sin = np.float32(np.cos(figure.roll)), np.float32(np.sin(figure.roll))
    grid = Grid(cos * dx + sin * dy, -sin * dx + cos * dy + np.float32(body.height), ppc,
                origin=(figure.ax - x0 - 0.5, figure.ay - y0 - 0.5), roll=figure.roll, height=body.height)
    canvas = Canvas(grid, lighting)
    FigurePainter(canvas, body, figure.outfit, figure.skin, figure.plan.person.youth, rng).paint()
    shadow = _shade_map(rng, grid, body, figure.plan.shade)
    left = np.float32(rng.uniform(0.2, 0.45)) * SHADE_TINT
    canvas.rgb *= 1.0 - shadow[..., None] * (1.0 - left)
    return _Painted(figure, canvas, shadow, (slice(y0, y1), slice(x0, x1)), rows, cols)


def _cast_shadows(background: np.ndarray, painted: _Painted, lighting: Lighting, size: int) -> None:
    """The person's soft drop shadow (away from the light) and contact shadow on the room, in place."""
    figure, alpha = painted.figure, painted.canvas.alpha
    crop = background[painted.where]
    tall = figure.tall
    soft = gaussian_filter(alpha, sigma=max(0.5, 0.03 * tall))
    offset = (0.025 * tall, -float(lighting.direction[0]) * 0.075 * tall)
    cast = shift(soft, offset, order=1, mode="constant", cval=0.0)
    crop *= (1.0 - (0.25 + 0.3 * (1.0 - lighting.ambient)) * cast)[..., None]
    feet_x = (painted.cols - figure.ax) / max(1.0, figure.body.hip_half * 1.6 * figure.ppc)
    feet_y = (painted.rows - figure.ay) / max(0.5, 0.025 * tall)
    crop *= (1.0 - 0.5 * np.exp(-(feet_x ** 2 + feet_y ** 2)))[..., None]


def render_crowd(seed: int, index: int, size: int) -> CrowdSample:
    """One crowd scene: image [size, size, 3] uint8, instance ids, labels, shadow weights and the people."""
    rng = np.random.default_rng([seed, index])
    kind, count = draw_scene(rng)
    lighting = scene_lighting(rng, kind)
    figures = [_figure(rng, plan, size) for plan in draw_people(rng, count)]
    floor_y = size * rng.uniform(0.3, 0.5)
    _place_in_depth(rng, figures, size, floor_y)
    figures.sort(key=lambda f: (f.ay, f.plan.depth))  # far to near: the drawing order
    _place_across(rng, figures, size)

    boxes = np.array([f.box() for f in figures])
    union = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].min()))
    background = room(rng, size, floor_y, figures[int(rng.integers(count))].skin, lighting, union)
    background *= np.float32(lighting.exposure_room)

    painted = [_paint(rng, figure, lighting, size) for figure in figures]
    for item in painted:  # on the room only, before anyone stands on it: no unrecorded shade on a person
        _cast_shadows(background, item, lighting, size)
    instances = np.zeros((size, size), dtype=np.uint8)
    labels = np.zeros((size, size), dtype=np.uint8)
    shadow = np.zeros((size, size), dtype=np.float32)
    for number, item in enumerate(painted, start=1):
        canvas, where = item.canvas, item.where
        background[where] = background[where] * (1.0 - canvas.alpha[..., None]) + canvas.rgb
        own = canvas.labels > 0
        instances[where][own] = number
        labels[where][own] = canvas.labels[own]
        shadow[where][own] = item.shadow[own]
    image = finish(rng, background, lighting, size)
    people = _measure(painted, instances, labels, shadow, size)
    present = np.bincount(instances.ravel(), minlength=len(people) + 1)[1:] > 0
    if not present.all():  # someone entirely hidden: not in the picture, so not in the data
        remap = np.zeros(len(people) + 1, dtype=np.uint8)
        remap[1:][present] = np.arange(1, int(present.sum()) + 1, dtype=np.uint8)
        instances = remap[instances]
        people = [p for p, shown in zip(people, present, strict=True) if shown]
        for number, person in enumerate(people, start=1):
            person.instance = number
    return CrowdSample(image, instances, labels, shadow, kind, people)


def _measure(painted: list[_Painted], instances: np.ndarray, labels: np.ndarray, shadow: np.ndarray,
             size: int) -> list[CrowdPerson]:
    """Each person's size, visibility and shaded skin, counted on the final masks."""
    people = []
    for number, item in enumerate(painted, start=1):
        own = item.canvas.labels > 0
        rows = np.flatnonzero(own.any(axis=1))
        height = (rows[-1] - rows[0] + 1) / size if rows.size else 0.0
        visible = instances == number
        skin = visible & (labels == SKIN)
        shaded = float(np.mean(shadow[skin] > 0.5)) if skin.any() else math.nan
        people.append(CrowdPerson(number, item.figure.plan.person, item.figure.plan.shade,
                                  item.figure.plan.skin_coloured_clothes, round(float(height), 4),
                                  round(float(visible.sum() / max(1, own.sum())), 4),
                                  shaded if math.isnan(shaded) else round(shaded, 4)))
    return people
