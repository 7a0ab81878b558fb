"""Rasterising one sample: place the person in the frame, paint the room, the figure, shadows, camera.

`render_sample(seed, index, size, probabilities)` is a pure function of its arguments: every random draw comes
from `np.random.default_rng([seed, index])`, so any worker renders the same bytes.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, shift

from segaudit.models.data.synth.attributes import Person, draw_person
from segaudit.models.data.synth.canvas import Canvas, Grid
from segaudit.models.data.synth.figure import Body, build_body
from segaudit.models.data.synth.monk import skin_colour
from segaudit.models.data.synth.outfit import Outfit, choose_outfit
from segaudit.models.data.synth.parts import FigurePainter
from segaudit.models.data.synth.scene import draw_lighting, finish, room

PIXELS_PER_CM_AT_128 = 128 * 0.8 / 200.0
"""The fixed camera distance: a 200 cm person fills 80% of the frame height (+-5% jitter per image)."""
MARGIN = 0.04
"""Free border around the whole figure, as a fraction of the frame."""


def _extent(body: Body, outfit: Outfit) -> tuple[float, float, float]:
    """(left, right, top) of everything drawn, in body cm (the floor is at y = height)."""
    h = body.height
    xs = [abs(p[0]) + r for limb in (*body.arms, *body.legs)
          for p, r in ((limb.mid, limb.r_mid), (limb.end, limb.r_end), (limb.tip, limb.r_tip))]
    half = max(max(xs), body.head_rx * (1.6 + outfit.hair_volume * 1.6), body.hip_half * 1.5 + 4.0) + 3.0
    hair_top = body.head_ry * (outfit.hair_volume + 0.1) * (1.3 if outfit.hair_style == "curly" else 1.0)
    if outfit.hair_style == "bun":
        hair_top = body.head_ry * 0.5
    return -half, half, body.head_top - hair_top - 0.01 * h


def render_sample(seed: int, index: int, size: int, probabilities: dict[str, np.ndarray],
                  ) -> tuple[np.ndarray, np.ndarray, Person]:
    """One sample: image [size, size, 3] uint8, fashion labels [size, size] uint8, and the person."""
    rng = np.random.default_rng([seed, index])
    person = draw_person(rng, probabilities)
    body = build_body(person, rng)
    outfit = choose_outfit(rng, person)
    lighting = draw_lighting(rng, person.lighting)
    skin = skin_colour(rng, person.skin_tone)

    # Camera: fixed distance (pixels per cm) up to a small jitter, a small roll, free position.
    ppc = PIXELS_PER_CM_AT_128 * size / 128.0 * rng.uniform(0.95, 1.05)
    roll = float(np.clip(rng.normal(0.0, 0.02), -0.05, 0.05))
    left, right, top = _extent(body, outfit)
    tall = (body.height - top) * ppc
    slack = abs(roll) * tall
    margin = MARGIN * size
    x_lo, x_hi = margin - left * ppc + slack, size - margin - right * ppc - slack
    y_lo, y_hi = margin + tall + slack, size - margin
    ax = rng.uniform(x_lo, x_hi) if x_hi > x_lo else size / 2
    ay = rng.uniform(y_lo, y_hi) if y_hi > y_lo else (size + tall) / 2
    person_box = (ax + left * ppc, ay - tall, ax + right * ppc, ay)
    floor_y = float(np.clip(ay - size * rng.uniform(0.06, 0.3), size * 0.25, ay - 2.0))

    background = room(rng, size, floor_y, skin, lighting, person_box) * np.float32(lighting.exposure_room)

    pad = 3.0 + 0.08 * size
    x0, x1 = int(max(0, np.floor(person_box[0] - pad))), int(min(size, np.ceil(person_box[2] + pad)))
    y0, y1 = int(max(0, np.floor(person_box[1] - pad))), int(min(size, np.ceil(ay + pad)))
    rows, cols = np.mgrid[y0:y1, x0:x1].astype(np.float32) + np.float32(0.5)
    dx, dy = (cols - ax) / ppc, (rows - ay) / ppc
    cos, sin = np.float32(np.cos(roll)), np.float32(np.sin(roll))
    grid = Grid(cos * dx + sin * dy, -sin * dx + cos * dy + np.float32(body.height), ppc,
                origin=(ax - x0 - 0.5, ay - y0 - 0.5), roll=roll, height=body.height)

    canvas = Canvas(grid, lighting)
    FigurePainter(canvas, body, outfit, skin, person.youth, rng).paint()

    # Shadows on the room (soft drop shadow away from the light, contact shadow under the feet).
    crop = background[y0:y1, x0:x1]
    if lighting.kind != "backlit":
        soft = gaussian_filter(canvas.alpha, sigma=0.025 * size)
        offset = (0.02 * size, -lighting.direction[0] * 0.06 * size)
        cast = shift(soft, offset, order=1, mode="constant", cval=0.0)
        strength = 0.25 + 0.3 * (1.0 - lighting.ambient)
        crop *= (1.0 - strength * cast)[..., None]
    feet = np.exp(-(((cols - ax) / (body.hip_half * 1.6 * ppc)) ** 2 + ((rows - ay) / (0.02 * size)) ** 2))
    crop *= (1.0 - 0.5 * feet)[..., None]

    figure = canvas.rgb
    if lighting.rim > 0:
        inside = np.maximum(-canvas.distance, 0.0)
        rim = np.exp(-inside / max(0.6, 0.006 * size)) * canvas.alpha
        glow = lighting.rim * 0.25
        figure = figure + (rim * glow)[..., None]
    background[y0:y1, x0:x1] = crop * (1.0 - canvas.alpha[..., None]) + figure

    image = finish(rng, background, lighting, size)
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[y0:y1, x0:x1] = canvas.labels
    return image, labels, person
