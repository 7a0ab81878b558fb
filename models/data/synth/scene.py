"""The room behind the person, the lighting, and the camera (blur, noise, bloom).

A room is a wall with a texture and a light falloff, a floor with perspective planks / tiles / carpet, a
skirting board, and a few furniture-like things (cabinets, sofas, tables, doors, windows, pictures, shelves,
plants, lamps). Colours are drawn so that walls, floors and furniture often sit close to skin tones - on
purpose: segmentation must not be solvable by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from segaudit.models.data.synth import color
from segaudit.models.data.synth.monk import MONK_LINEAR, MONK_TONES
from segaudit.models.data.synth.noise import fractal_noise, value_noise
from segaudit.models.data.synth.sdf import box


@dataclass(frozen=True)
class Lighting:
    """How the frame is lit and exposed. Exposures multiply linear light; noise is in sRGB units (0..1)."""

    kind: str
    direction: np.ndarray
    """Unit vector towards the key light: x right, y down, z towards the camera."""
    ambient: float
    wrap: float
    exposure_room: float
    exposure_person: float
    tint: np.ndarray
    rim: float
    bloom: float
    noise: float
    blur: float
    """Gaussian blur sigma in pixels at 128 px (grows with the square root of the image size)."""


def draw_lighting(rng: np.random.Generator, kind: str) -> Lighting:
    lx, ly, lz = rng.uniform(-0.8, 0.8), rng.uniform(-0.7, 0.05), rng.uniform(0.6, 1.0)
    direction = np.array([lx, ly, lz], dtype=np.float32)
    direction /= np.linalg.norm(direction)
    warmth = rng.uniform(-1.0, 1.0)
    tint = np.array([1.0 + 0.08 * warmth, 1.0, 1.0 - 0.1 * warmth], dtype=np.float32)
    exposure = rng.uniform(0.8, 1.25)
    ambient = rng.uniform(0.28, 0.5)
    wrap, rim, bloom = rng.uniform(0.2, 0.6), 0.0, 0.0
    noise, blur = rng.uniform(0.005, 0.015), rng.uniform(0.2, 0.6)
    person = exposure
    if kind == "low":
        exposure = rng.uniform(0.1, 0.3)
        person = exposure * rng.uniform(0.8, 1.2)
        warm = rng.random() < 0.6
        tint = np.array([1.25, 0.95, 0.62] if warm else [0.7, 0.85, 1.2], dtype=np.float32)
        tint *= rng.uniform(0.9, 1.1, 3).astype(np.float32)
        noise, blur = rng.uniform(0.018, 0.04), rng.uniform(0.4, 0.9)
        ambient = rng.uniform(0.35, 0.6)
    elif kind == "backlit":
        exposure = rng.uniform(1.3, 2.2)
        person = exposure * rng.uniform(0.12, 0.3)
        direction = np.array([lx * 0.5, -0.3, -0.8], dtype=np.float32)
        direction /= np.linalg.norm(direction)
        ambient = rng.uniform(0.45, 0.7)
        rim, bloom = rng.uniform(0.4, 1.0), rng.uniform(0.1, 0.3)
        noise = rng.uniform(0.01, 0.025)
    return Lighting(kind, direction, float(ambient), float(wrap), float(exposure), float(person), tint,
                    float(rim), float(bloom), float(noise), float(blur))


def _room_colour(rng: np.random.Generator, palette: tuple[str, ...], skin: np.ndarray, p_skin: float,
                 ) -> np.ndarray:
    """A palette colour, or - with probability p_skin - a skin-like one (often the person's own tone)."""
    u = rng.random()
    if u < p_skin * 0.4:
        return color.jitter(rng, skin, 0.12)
    if u < p_skin:
        return color.jitter(rng, MONK_LINEAR[MONK_TONES[int(rng.integers(10))]], 0.12)
    return color.jitter(rng, color.pick(rng, palette), 0.12)


def _fill(image: np.ndarray, d: np.ndarray, colour: np.ndarray) -> None:
    """Paint `colour` ([3] or [h, w, 3]) where d < 0, anti-aliased over one pixel."""
    alpha = np.clip(0.5 - d, 0.0, 1.0)[..., None]
    image += alpha * (colour - image)


def room(rng: np.random.Generator, size: int, floor_y: float, skin: np.ndarray, lighting: Lighting,
         person_box: tuple[float, float, float, float]) -> np.ndarray:
    """The background [size, size, 3] in linear light (before exposure); floor starts at row floor_y."""
    shape = (size, size)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    wall = _room_colour(rng, color.WALLS, skin, 0.35)
    texture = 1.0 + rng.uniform(0.1, 0.35) * (fractal_noise(rng, shape, rng.uniform(2, 5)) - 0.5)
    texture += rng.uniform(0.03, 0.1) * (value_noise(rng, shape, (size / 3, size / 3)) - 0.5)
    pattern = rng.random()
    if pattern < 0.25:  # striped wallpaper
        period = size * rng.uniform(0.03, 0.12)
        texture *= 1.0 + rng.uniform(0.05, 0.2) * np.sin(x * (2 * np.pi / period))
    elif pattern < 0.4:  # vertical boards
        period = size * rng.uniform(0.06, 0.15)
        seam = np.abs((x / period) % 1.0 - 0.5) * period
        texture *= np.where(seam > period / 2 - max(1.0, size / 160), 0.7, 1.0)
        texture *= 1.0 + 0.15 * (value_noise(rng, shape, (size / 40, size / 2)) - 0.5)
    elif pattern < 0.5:  # tiles / bricks
        period = size * rng.uniform(0.05, 0.12)
        row = np.floor(y / (period * 0.5))
        shifted = x / period + 0.5 * (row % 2)
        grout = (np.abs(shifted % 1.0 - 0.5) > 0.47) | (np.abs((y / (period * 0.5)) % 1.0 - 0.5) > 0.44)
        texture *= np.where(grout, 0.75, 1.0)
    image = wall[None, None, :] * texture[..., None]

    # Floor: planks / tiles in perspective, or carpet (computed only on the rows it covers).
    first = int(np.clip(np.floor(floor_y) - 1, 0, size - 1))
    fx, fy, region = x[first:], y[first:], (size - first, size)
    floor = _room_colour(rng, color.FLOORS, skin, 0.3)
    vanish_x, vanish_y = size * rng.uniform(0.2, 0.8), floor_y - size * rng.uniform(0.4, 1.2)
    depth = np.maximum(fy - vanish_y, 1.0)
    u = (fx - vanish_x) / depth
    kind = rng.random()
    grain = value_noise(rng, region, (region[0] / 2, size / 12))
    if kind < 0.5:
        width = rng.uniform(0.08, 0.3)
        plank = np.floor(u / width).astype(np.int64) % 64
        tone = 1.0 + 0.25 * (rng.random(64).astype(np.float32)[plank] - 0.5) + 0.2 * (grain - 0.5)
        seam = np.abs((u / width) % 1.0 - 0.5) > 0.5 - 0.6 / (width * depth)
        floor_texture = tone * np.where(seam, 0.65, 1.0)
    elif kind < 0.75:
        width = rng.uniform(0.2, 0.5)
        v = size / depth
        grid = (np.abs((u / width) % 1.0 - 0.5) > 0.5 - 0.5 / (width * depth)) | \
               (np.abs((v / (width * 2)) % 1.0 - 0.5) > 0.46)
        floor_texture = (1.0 + 0.1 * (grain - 0.5)) * np.where(grid, 0.7, 1.0)
    else:
        floor_texture = 1.0 + 0.35 * (fractal_noise(rng, region, region[0] / 16, 2) - 0.5)
    floor_texture = floor_texture * (0.75 + 0.35 * np.clip((fy - floor_y) / size * 2.0, 0.0, 1.0))
    _fill(image[first:], floor_y - fy, floor[None, None, :] * floor_texture[..., None])
    board = color.linear_hex(("#f2f0ea", "#d9d4c8", "#6b4a31", "#2b2b2b")[int(rng.integers(4))])
    board_h = size * rng.uniform(0.012, 0.03)
    _fill(image, np.maximum(floor_y - board_h - y, y - floor_y), board * np.float32(0.9))

    for _ in range(int(rng.integers(3, 7))):
        _furniture(rng, image, x, y, size, floor_y, skin, lighting, person_box)

    # Light falloff from the key light's side, and a vignette.
    cx = size * (0.5 + 0.6 * lighting.direction[0])
    cy = size * (0.4 + 0.5 * lighting.direction[1])
    spread = size * rng.uniform(0.5, 1.1)
    falloff = 0.55 + 0.6 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * spread * spread))
    image *= falloff[..., None]
    return image


def _region(image: np.ndarray, x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the image and its pixel coordinates over the box [x0, x1] x [y0, y1] (plus a pixel)."""
    size = image.shape[0]
    r0, r1 = int(np.clip(np.floor(y0) - 1, 0, size)), int(np.clip(np.ceil(y1) + 1, 0, size))
    c0, c1 = int(np.clip(np.floor(x0) - 1, 0, size)), int(np.clip(np.ceil(x1) + 1, 0, size))
    r1, c1 = max(r1, r0 + 1), max(c1, c0 + 1)
    return image[r0:r1, c0:c1], x[r0:r1, c0:c1], y[r0:r1, c0:c1]


def _furniture(rng: np.random.Generator, image: np.ndarray, x: np.ndarray, y: np.ndarray, size: int,
               floor_y: float, skin: np.ndarray, lighting: Lighting,
               person_box: tuple[float, float, float, float]) -> None:
    """One piece of furniture or wall decoration, drawn into `image` in place (only over its own box)."""
    kind = ("cabinet", "sofa", "table", "picture", "window", "door", "shelf", "plant", "lamp")[
        int(rng.integers(9))]
    if lighting.kind == "backlit" and rng.random() < 0.6:
        kind = "window"
    colour = _room_colour(rng, color.FURNITURE, skin, 0.3)
    s = size
    feet = person_box[3]
    if kind in ("cabinet", "sofa", "table", "plant", "lamp"):
        # Stands on the floor behind the person (the person is painted over it, so it must be farther away).
        bottom = rng.uniform(floor_y + 0.01 * s, max(floor_y + 0.01 * s, min(feet - 0.02 * s, floor_y + 0.3 * s)))
        near = 0.6 + 0.8 * (bottom - floor_y) / s
        w = s * rng.uniform(0.2, 0.6) * near
        x0 = rng.uniform(-0.2 * s, s * 1.1 - w)
        h = s * rng.uniform(0.2, 0.55) * near
        if kind == "plant":
            pot, r = s * rng.uniform(0.06, 0.12) * near, s * rng.uniform(0.07, 0.18) * near
            box_ = (x0 + pot / 2 - 1.6 * r, bottom - pot * 1.1 - 2.4 * r, x0 + pot / 2 + 1.6 * r, bottom)
        elif kind == "lamp":
            lamp_w = s * rng.uniform(0.06, 0.12)
            box_ = (x0 - lamp_w / 2, bottom - h * 1.2 - lamp_w, x0 + lamp_w / 2, bottom)
        else:
            box_ = (x0, bottom - h, x0 + w, bottom)
    else:
        w = s * rng.uniform(0.12, 0.45)
        x0 = rng.uniform(-0.1 * s, s * 1.05 - w)
        if kind == "window" and lighting.kind == "backlit":
            px0, _, px1, _ = person_box
            w = max(w, (px1 - px0) * rng.uniform(1.2, 2.5))
            x0 = (px0 + px1) / 2 - w * rng.uniform(0.3, 0.7)
        if kind == "door":
            h = s * rng.uniform(0.5, 0.8)
            w = min(w, h * 0.45)
            top, bottom = floor_y - h, floor_y
        else:
            h = s * rng.uniform(0.12, 0.45)
            top = rng.uniform(floor_y - s * 0.95, floor_y - h - 0.03 * s)
            bottom = top + h
        box_ = (x0, top, x0 + w, bottom)
    image, x, y = _region(image, x, y, *box_)
    shape = image.shape[:2]
    lit = colour * (1.0 + 0.25 * (value_noise(rng, shape, (3, 3)) - 0.5))[..., None]
    dark = lit * np.float32(0.55)

    if kind == "cabinet":
        top = bottom - h
        _fill(image, box(x, y, x0, top, x0 + w, bottom, 0.5), lit)
        doors = int(rng.integers(1, 4))
        for i in range(1, doors):
            line = np.abs(x - (x0 + w * i / doors)) - 0.6
            _fill(image, np.maximum(line, box(x, y, x0, top, x0 + w, bottom)), dark)
        _fill(image, box(x, y, x0, top, x0 + w, top + max(1.0, s * 0.012)), lit * np.float32(1.3))
    elif kind == "sofa":
        h *= 0.6
        _fill(image, box(x, y, x0, bottom - h, x0 + w, bottom - h * 0.45, h * 0.15), dark * 1.3)
        _fill(image, box(x, y, x0 + w * 0.08, bottom - h * 0.55, x0 + w * 0.92, bottom - h * 0.05, h * 0.1), lit)
        for side in (x0, x0 + w * 0.88):
            _fill(image, box(x, y, side, bottom - h * 0.7, side + w * 0.12, bottom, h * 0.08), lit * 0.85)
    elif kind == "table":
        h *= 0.6
        _fill(image, box(x, y, x0, bottom - h, x0 + w, bottom - h + max(1.5, s * 0.025)), lit)
        leg = max(1.0, s * 0.015)
        for lx in (x0 + w * 0.05, x0 + w * 0.95 - leg):
            _fill(image, box(x, y, lx, bottom - h, lx + leg, bottom), dark)
    elif kind == "plant":
        _fill(image, box(x, y, x0, bottom - pot * 1.1, x0 + pot, bottom, 1.0), lit)
        leaf = color.jitter(rng, color.linear_hex("#3f6b35"), 0.25)
        cx, cy = x0 + pot / 2, bottom - pot * 1.1 - r * 0.8
        cells = (shape[0] / max(r * 0.4, 1.0), shape[1] / max(r * 0.4, 1.0))
        bush = np.hypot(x - cx, (y - cy) * 1.2) - r + r * 0.5 * value_noise(rng, shape, cells)
        veins = 0.6 + 0.6 * value_noise(rng, shape, (cells[0] * 2, cells[1] * 2))
        _fill(image, bush, leaf * veins[..., None])
    elif kind == "lamp":
        pole = max(1.0, s * 0.012)
        _fill(image, box(x, y, x0, bottom - h, x0 + pole, bottom), dark)
        glow = color.linear_hex("#fff1c8") * np.float32(rng.uniform(1.0, 2.5))
        top = bottom - h - lamp_w * 0.8
        _fill(image, box(x, y, x0 - lamp_w / 2, top, x0 + lamp_w / 2, bottom - h, 1.0), glow)
    else:
        frame = max(1.0, s * rng.uniform(0.01, 0.03))
        outer = box(x, y, x0, top, x0 + w, bottom, 0.5)
        inner = box(x, y, x0 + frame, top + frame, x0 + w - frame, bottom - frame)
        if kind == "window":
            sky = color.linear_hex(("#cfe3f5", "#f4f1e6", "#8fb3d9", "#e8d9b0")[int(rng.integers(4))])
            bright = 1.8 if lighting.kind == "backlit" else 1.3
            gradient = (bright * (0.8 + 0.4 * (bottom - y) / max(h, 1.0)))[..., None]
            frame_colour = color.linear_hex("#ecebe6") * np.float32(0.9)
            _fill(image, outer, frame_colour)
            _fill(image, inner, sky * gradient)
            bar = max(0.8, frame * 0.6)
            cross = np.minimum(np.abs(x - (x0 + w / 2)) - bar, np.abs(y - (top + h / 2)) - bar)
            _fill(image, np.maximum(cross, inner), frame_colour)
        elif kind == "door":
            _fill(image, outer, lit)
            panel = box(x, y, x0 + w * 0.15, top + h * 0.08, x0 + w * 0.85, top + h * 0.45)
            _fill(image, np.maximum(-panel, inner - frame), dark)
            knob = np.hypot(x - (x0 + w * 0.82), y - (top + h * 0.55)) - max(0.8, s * 0.008)
            _fill(image, knob, color.linear_hex("#c9b27a"))
        elif kind == "picture":
            _fill(image, outer, dark)
            paint = fractal_noise(rng, shape, rng.uniform(2, 6), 2)[..., None]
            other = _room_colour(rng, color.CLOTHES, skin, 0.3)
            _fill(image, inner, colour * paint + other * (1 - paint))
        else:  # shelf with books
            depth = max(1.5, s * 0.02)
            for level in range(int(rng.integers(1, 4))):
                yy = top + level * h / 3 + h / 3
                _fill(image, box(x, y, x0, yy - depth, x0 + w, yy), dark)
                books = np.floor((x - x0) / max(1.5, s * 0.02)).astype(np.int64) % 16
                book_colours = color.to_linear(rng.random((16, 3)).astype(np.float32) * 0.8 + 0.1)
                height = (0.4 + 0.5 * rng.random(16).astype(np.float32))[books] * h / 3 * 0.8
                spines = np.maximum(box(x, y, x0, yy - depth - h / 3, x0 + w, yy - depth), yy - depth - height - y)
                _fill(image, spines, book_colours[books])


def finish(rng: np.random.Generator, linear: np.ndarray, lighting: Lighting, size: int) -> np.ndarray:
    """Camera: bloom (backlit), blur, tint, sRGB, sensor noise, 8-bit quantisation -> [size, size, 3] uint8."""
    scale = size / 128.0
    if lighting.bloom > 0:
        bright = np.maximum(linear - 1.0, 0.0)
        linear = linear + lighting.bloom * gaussian_filter(bright, sigma=(4.0 * scale, 4.0 * scale, 0))
    linear *= lighting.tint[None, None, :]
    sigma = lighting.blur * np.sqrt(scale)  # downsampled photos carry less blur per pixel
    linear = gaussian_filter(linear, sigma=(sigma, sigma, 0), truncate=3.0)
    srgb = color.to_srgb(linear)
    noise = rng.random((size, size, 4), dtype=np.float32)  # uniform grain: 5x cheaper than normal draws
    noise -= 0.5
    noise *= np.float32(lighting.noise * 0.5 * np.sqrt(12.0))
    srgb += noise[..., :3]
    srgb += 2.0 * noise[..., 3:]  # luminance grain, on top of the per-channel (chroma) noise
    srgb *= 255.0
    srgb += 0.5
    np.clip(srgb, 0, 255, out=srgb)
    return srgb.astype(np.uint8)
