"""Signed-distance shapes: negative inside, positive outside, in the units of the coordinates (cm here).

Every shape also returns a pseudo-normal (ux, uy): the offset from the shape's core scaled so that |u| = 1 on
the outline. Shading lifts it to a 3-D normal (ux, uy, sqrt(1 - |u|^2)), which makes limbs look like cylinders
and heads like spheres. The mask is `d < 0` of exactly these fields, so ground truth matches the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]


@dataclass
class Field:
    """A shape sampled on a grid: distance d [h, w] and pseudo-normal ux, uy [h, w]."""

    d: np.ndarray
    ux: np.ndarray
    uy: np.ndarray

    def union(self, other: Field) -> Field:
        """Both shapes; the normal comes from whichever is nearer (deeper inside)."""
        near = other.d < self.d
        return Field(np.where(near, other.d, self.d), np.where(near, other.ux, self.ux),
                     np.where(near, other.uy, self.uy))

    def cut(self, d: np.ndarray) -> Field:
        """Intersection with a region given by its distance (e.g. a half-plane): shape where both are inside."""
        return Field(np.maximum(self.d, d), self.ux, self.uy)

    def minus(self, d: np.ndarray) -> Field:
        return Field(np.maximum(self.d, -d), self.ux, self.uy)

    def grow(self, amount: float) -> Field:
        return Field(self.d - amount, self.ux, self.uy)


def union_all(fields: list[Field]) -> Field:
    out = fields[0]
    for field in fields[1:]:
        out = out.union(field)
    return out


def cone(x: np.ndarray, y: np.ndarray, a: Point, b: Point, ra: float, rb: float,
         end: float | None = None) -> Field:
    """A tapered capsule from a (radius ra) to b (radius rb); `end` in 0..1 cuts it square at that fraction."""
    bx, by = b[0] - a[0], b[1] - a[1]
    length2 = bx * bx + by * by
    wx, wy = x - a[0], y - a[1]
    s = (wx * bx + wy * by) / length2
    t = np.clip(s, 0.0, 1.0)
    qx, qy = wx - t * bx, wy - t * by
    r = ra + (rb - ra) * t
    d = np.sqrt(qx * qx + qy * qy) - r
    field = Field(d, qx / r, qy / r)
    if end is not None:
        field = field.cut((s - end) * np.sqrt(length2))
    return field


def ellipse(x: np.ndarray, y: np.ndarray, c: Point, rx: float, ry: float, angle: float = 0.0) -> Field:
    """An ellipse centred at c with radii rx, ry, rotated by `angle` radians (approximate distance)."""
    cos, sin = np.cos(angle), np.sin(angle)
    px, py = x - c[0], y - c[1]
    lx, ly = cos * px + sin * py, -sin * px + cos * py
    k0x, k0y = lx / rx, ly / ry
    k0 = np.sqrt(k0x * k0x + k0y * k0y)
    k1 = np.sqrt((lx / (rx * rx)) ** 2 + (ly / (ry * ry)) ** 2)
    d = k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)
    return Field(d, cos * k0x - sin * k0y, sin * k0x + cos * k0y)


def polygon(x: np.ndarray, y: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Exact signed distance to a closed polygon [k, 2] (any winding, may be non-convex)."""
    dx, dy = x - vertices[0, 0], y - vertices[0, 1]
    best = dx * dx + dy * dy
    inside = np.zeros(x.shape, dtype=bool)
    count = len(vertices)
    for i in range(count):
        vi, vj = vertices[i], vertices[i - 1]
        ex, ey = vj[0] - vi[0], vj[1] - vi[1]
        wx, wy = x - vi[0], y - vi[1]
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        bx, by = wx - ex * t, wy - ey * t
        best = np.minimum(best, bx * bx + by * by)
        above, below, left = y >= vi[1], y < vj[1], ex * wy > ey * wx
        inside ^= (above & below & left) | (~above & ~below & ~left)
    return np.where(inside, -1.0, 1.0).astype(x.dtype) * np.sqrt(best)


def box(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float, radius: float = 0.0) -> np.ndarray:
    """Rounded axis-aligned rectangle [x0, x1] x [y0, y1]."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 - radius, (y1 - y0) / 2 - radius
    qx, qy = np.abs(x - cx) - hx, np.abs(y - cy) - hy
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0) - radius
