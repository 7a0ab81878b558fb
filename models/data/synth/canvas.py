"""Painting shapes onto the figure layer: coverage, labels, shading and cloth textures.

The figure is painted back to front into a premultiplied colour + alpha layer. A shape's image coverage is
its signed distance turned into a one-pixel anti-aliased ramp; its label goes to the pixels with d < 0 -
the same field, so the mask is exact and only the image is anti-aliased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from segaudit.models.data.synth.outfit import Garment
from segaudit.models.data.synth.scene import Lighting
from segaudit.models.data.synth.sdf import Field as Shape

KEY = 1.25
"""Light on a surface facing the key light, relative to a swatch's own colour (so typical shading ~ swatch)."""


@dataclass
class Grid:
    """Body coordinates (cm) of pixel centres in a window of the crop, and the scale: pixels per cm.

    `window` narrows it to the pixels around a part, so each part costs only its own area.
    """

    x: np.ndarray
    y: np.ndarray
    ppc: float
    rows: slice = field(default_factory=lambda: slice(None))
    cols: slice = field(default_factory=lambda: slice(None))
    origin: tuple[float, float] = (0.0, 0.0)
    """Pixel position (column, row) of body point (0, height), relative to the crop."""
    roll: float = 0.0
    height: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.x.shape

    @property
    def where(self) -> tuple[slice, slice]:
        return self.rows, self.cols

    def window(self, x0: float, y0: float, x1: float, y1: float) -> Grid:
        """The sub-grid covering the body-cm box [x0, x1] x [y0, y1] plus one pixel (of the full crop grid)."""
        cos, sin = np.cos(self.roll), np.sin(self.roll)
        corners_x = np.array([x0, x1, x0, x1], dtype=np.float64)
        corners_y = np.array([y0, y0, y1, y1], dtype=np.float64) - self.height
        cols = self.origin[0] + self.ppc * (cos * corners_x - sin * corners_y)
        rows = self.origin[1] + self.ppc * (sin * corners_x + cos * corners_y)
        h, w = self.shape
        r0, r1 = max(0, int(np.floor(rows.min())) - 1), min(h, int(np.ceil(rows.max())) + 2)
        c0, c1 = max(0, int(np.floor(cols.min())) - 1), min(w, int(np.ceil(cols.max())) + 2)
        r1, c1 = max(r1, r0 + 1), max(c1, c0 + 1)
        return Grid(self.x[r0:r1, c0:c1], self.y[r0:r1, c0:c1], self.ppc, slice(r0, r1), slice(c0, c1),
                    self.origin, self.roll, self.height)


def bounds(points: list[tuple[float, float]], pad: float) -> tuple[float, float, float, float]:
    """Box around points, padded by `pad` cm: (x0, y0, x1, y1)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


class Canvas:
    """The figure layer of one crop: premultiplied rgb [h, w, 3], alpha [h, w], labels [h, w], distance."""

    def __init__(self, grid: Grid, lighting: Lighting) -> None:
        h, w = grid.shape
        self.grid = grid
        self.lighting = lighting
        self.rgb = np.zeros((h, w, 3), dtype=np.float32)
        self.alpha = np.zeros((h, w), dtype=np.float32)
        self.labels = np.zeros((h, w), dtype=np.uint8)
        self.distance = np.full((h, w), np.inf, dtype=np.float32)
        """Signed distance (px) to the whole figure, for rim light."""

    def paint(self, grid: Grid, d: np.ndarray, colour: np.ndarray, label: int | None,
              opacity: float = 1.0) -> None:
        """Paint a shape (distance d in cm on `grid`'s window) with colour [3] or [h, w, 3].

        label None paints an image-only detail (eyes, a print) that leaves the mask alone.
        """
        where = grid.where
        d_px = d * self.grid.ppc
        cover = np.clip(0.5 - d_px, 0.0, 1.0)
        if opacity != 1.0:
            cover *= opacity
        rgb = self.rgb[where]
        rgb += cover[..., None] * (colour - rgb)
        alpha = self.alpha[where]
        alpha += cover * (1.0 - alpha)
        if label is not None:
            self.labels[where][d_px < 0] = label
            distance = self.distance[where]
            np.minimum(distance, d_px, out=distance)

    def diffuse(self, field: Shape) -> np.ndarray:
        """Wrapped Lambert term [h, w] in 0..1 from the shape's pseudo-normal."""
        light = self.lighting
        nz = np.sqrt(np.clip(1.0 - field.ux * field.ux - field.uy * field.uy, 0.0, 1.0))
        ndl = field.ux * light.direction[0] + field.uy * light.direction[1] + nz * light.direction[2]
        return np.clip((ndl + light.wrap) / (1.0 + light.wrap), 0.0, 1.0)

    def specular(self, field: Shape, power: float) -> np.ndarray:
        direction = self.lighting.direction + np.array([0.0, 0.0, 1.0], dtype=np.float32)
        direction = direction / np.linalg.norm(direction)
        nz = np.sqrt(np.clip(1.0 - field.ux * field.ux - field.uy * field.uy, 0.0, 1.0))
        ndh = field.ux * direction[0] + field.uy * direction[1] + nz * direction[2]
        return np.clip(ndh, 0.0, 1.0) ** power

    def lit(self, field: Shape, base: np.ndarray, texture: np.ndarray | float = 1.0) -> np.ndarray:
        """A matte surface: base colour [3] or [h, w, 3] x (ambient + key light) x texture, exposed."""
        light = self.lighting
        shade = (light.ambient + (1.0 - light.ambient) * self.diffuse(field)) * (KEY * light.exposure_person)
        shade = shade * texture
        if base.ndim == 1:
            return base[None, None, :] * shade[..., None]
        return base * shade[..., None]


def cloth(garment: Garment, grid: Grid, folds: np.ndarray) -> np.ndarray:
    """The garment's colour pattern [h, w, 3] in body coordinates, with folds (folds: [h, w] noise 0..1)."""
    x, y = grid.x, grid.y
    base = garment.colour[None, None, :]
    accent = garment.accent[None, None, :]
    period = garment.period
    if garment.pattern == "stripes":
        mix = np.clip(np.sin(y * (2 * np.pi / period)) * 2.0 + 0.5, 0.0, 1.0)[..., None]
        colour = base + mix * (accent - base)
    elif garment.pattern == "plaid":
        a = np.clip(np.sin(y * (2 * np.pi / period)) * 2.0 - 1.0, 0.0, 1.0)
        b = np.clip(np.sin(x * (2 * np.pi / period)) * 2.0 - 1.0, 0.0, 1.0)
        colour = base + (0.35 * (a + b))[..., None] * (accent - base)
    elif garment.pattern == "denim":
        weave = np.sin((x + y) * (2 * np.pi / 0.35)) * 0.04
        colour = base * (1.0 + weave)[..., None]
    else:
        colour = np.broadcast_to(base, (*x.shape, 3))
    return colour * (0.78 + 0.44 * folds)[..., None]
