"""Painting the figure part by part, back to front: hair behind, legs, torso, shoes, clothes, arms, head, hair.

Every part is a union of signed-distance shapes in body coordinates (see figure.py), evaluated only in a
window around it; its fashion label (skin, hair, t-shirt, shoes, pants, dress) goes to exactly the pixels the
shape covers after everything in front of it has been painted.
"""

from __future__ import annotations

import numpy as np

from segaudit.models.data.synth.canvas import KEY, Canvas, Grid, bounds, cloth
from segaudit.models.data.synth.figure import Body, Limb
from segaudit.models.data.synth.monk import shade_skin
from segaudit.models.data.synth.noise import value_noise
from segaudit.models.data.synth.outfit import Garment, Outfit
from segaudit.models.data.synth.sdf import Field, cone, ellipse, polygon, union_all

BACKGROUND, SKIN, HAIR, TOP, SHOES, PANTS, DRESS = range(7)
FASHION_CLASSES = {BACKGROUND: "background", SKIN: "skin", HAIR: "hair", TOP: "t-shirt", SHOES: "shoes",
                   PANTS: "pants", DRESS: "dress"}
Point = tuple[float, float]


def _noise(rng: np.random.Generator, grid: Grid, cm: tuple[float, float]) -> np.ndarray:
    """Noise over the whole crop whose features are about cm = (tall, wide) centimetres on the body."""
    h, w = grid.shape
    return value_noise(rng, (h, w), (h / (grid.ppc * cm[0]) + 1, w / (grid.ppc * cm[1]) + 1))


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _limb_window(grid: Grid, limb: Limb, pad: float) -> Grid:
    return grid.window(*bounds([limb.root, limb.mid, limb.end, limb.tip], max(limb.r_root, limb.r_mid) + pad))


def _torso_field(body: Body, grid: Grid, d: np.ndarray) -> Field:
    """The torso polygon's distance with a cylinder normal across its width."""
    half = np.interp(grid.y, body.profile_y, body.profile_half).astype(np.float32)
    return Field(d, np.clip(grid.x / half, -1.0, 1.0), np.zeros_like(d))


def _leg(grid: Grid, leg: Limb) -> Field:
    thigh = cone(grid.x, grid.y, leg.root, leg.mid, leg.r_root, leg.r_mid)
    shin = cone(grid.x, grid.y, leg.mid, leg.end, leg.r_mid, leg.r_end)
    shin_len = float(np.hypot(leg.end[0] - leg.mid[0], leg.end[1] - leg.mid[1]))
    calf = ellipse(grid.x, grid.y, _lerp(leg.mid, leg.end, 0.3), leg.r_mid * 1.08, shin_len * 0.25)
    return union_all([thigh, shin, calf])


def _arm(grid: Grid, arm: Limb, side: float) -> Field:
    x, y = grid.x, grid.y
    upper = cone(x, y, arm.root, arm.mid, arm.r_root, arm.r_mid)
    fore = cone(x, y, arm.mid, arm.end, arm.r_mid, arm.r_end)
    knuckle = _lerp(arm.end, arm.tip, 0.5)
    palm = cone(x, y, arm.end, knuckle, arm.r_end * 1.05, arm.r_tip)
    fingers = cone(x, y, knuckle, arm.tip, arm.r_tip * 0.95, arm.r_tip * 0.6)
    inward = -side * arm.r_tip * 0.8
    t0, t1 = _lerp(arm.end, arm.tip, 0.15), _lerp(arm.end, arm.tip, 0.5)
    thumb = cone(x, y, (t0[0] + inward, t0[1]), (t1[0] + inward * 1.2, t1[1]), arm.r_tip * 0.45,
                 arm.r_tip * 0.35)
    return union_all([upper, fore, palm, fingers, thumb])


class FigurePainter:
    """Paints one person onto a canvas; holds the shared noise fields and the skin shader."""

    def __init__(self, canvas: Canvas, body: Body, outfit: Outfit, skin: np.ndarray, youth: float,
                 rng: np.random.Generator) -> None:
        self.canvas, self.body, self.outfit, self.skin, self.youth = canvas, body, outfit, skin, youth
        grid = canvas.grid
        self.mottle = 0.94 + 0.12 * _noise(rng, grid, (6.0, 6.0))
        self.folds = _noise(rng, grid, (30.0, 5.0))
        self.strands = _noise(rng, grid, (12.0, 0.8))
        self.fuzz = _noise(rng, grid, (2.5, 2.5)) - 0.5
        # The torso outline is used by skin, trousers and top: its distance is computed once, in a window
        # around it; farther away it is simply "far outside", which no shape built from it can tell apart.
        self.torso = np.full(grid.shape, 1e3, dtype=np.float32)
        window = grid.window(*bounds([tuple(p) for p in body.torso], 8.0))
        self.torso[window.where] = polygon(window.x, window.y, body.torso)
        self.curls = _noise(rng, grid, (1.2, 1.2)) - 0.5

    def skin_colour(self, grid: Grid, field: Field, texture: np.ndarray | float = 1.0) -> np.ndarray:
        canvas = self.canvas
        light = canvas.lighting
        lit = shade_skin(self.skin, canvas.diffuse(field), canvas.specular(field, 14.0), light.ambient)
        return lit * (self.mottle[grid.where] * texture * (KEY * light.exposure_person))[..., None]

    def cloth_colour(self, grid: Grid, field: Field, garment: Garment,
                     texture: np.ndarray | float = 1.0) -> np.ndarray:
        return self.canvas.lit(field, cloth(garment, grid, self.folds[grid.where]), texture)

    def paint(self) -> None:
        self.back_hair()
        self.legs_and_torso()
        self.shoes()
        if self.outfit.bottom != "dress":
            self.pants()
        label = self.top()
        self.arms(label)
        self.head()

    def back_hair(self) -> None:
        outfit, body, canvas = self.outfit, self.body, self.canvas
        if outfit.hair_style != "long":
            return
        hcx, hcy = body.head_centre
        rx = body.head_rx
        bottom = body.shoulder_y + body.height * (0.02 + 0.12 * outfit.hair_volume / 0.18)
        top_half, low_half = rx * (1.0 + outfit.hair_volume), rx * (1.1 + outfit.hair_volume * 1.5)
        corners = [(hcx - top_half, hcy), (hcx + top_half, hcy), (hcx + low_half, bottom), (hcx - low_half, bottom)]
        grid = canvas.grid.window(*bounds(corners, rx * 0.2))
        d = polygon(grid.x, grid.y, np.array(corners, dtype=np.float32))
        d = d + self.fuzz[grid.where] * (rx * 0.12)
        half = top_half + (low_half - top_half) * np.clip((grid.y - hcy) / (bottom - hcy), 0.0, 1.0)
        back = Field(d, np.clip((grid.x - hcx) / half, -1.0, 1.0), np.zeros_like(d))
        texture = (0.7 + 0.45 * self.strands[grid.where]) * 0.75
        canvas.paint(grid, back.d, canvas.lit(back, outfit.hair_colour, texture), HAIR)

    def legs_and_torso(self) -> None:
        body, canvas = self.body, self.canvas
        for leg in body.legs:
            grid = _limb_window(canvas.grid, leg, 1.0)
            field = _leg(grid, leg)
            canvas.paint(grid, field.d, self.skin_colour(grid, field), SKIN)
        h = body.height
        grid = canvas.grid.window(*bounds([tuple(p) for p in body.torso] + [(0.0, body.neck_top)], 4.0))
        neck = cone(grid.x, grid.y, (body.head_centre[0] * 0.5, body.neck_top), (0.0, body.neck_base + h * 0.01),
                    body.neck_radius, body.neck_radius * 1.08)
        trunk = _torso_field(body, grid, self.torso[grid.where]).union(neck)
        chin = body.head_centre[1] + body.head_ry
        under_chin = 1.0 - 0.45 * np.exp(-np.maximum(grid.y - chin, 0.0) / (h * 0.012))
        canvas.paint(grid, trunk.d, self.skin_colour(grid, trunk, under_chin), SKIN)

    def shoes(self) -> None:
        body, canvas, h = self.body, self.canvas, self.body.height
        for side, leg in zip((-1.0, 1.0), body.legs, strict=True):
            ax, ay = leg.end
            grid = canvas.grid.window(ax - h * 0.04, ay - h * 0.03, ax + h * 0.04, h)
            x, y = grid.x, grid.y
            toe = ellipse(x, y, (ax + side * h * 0.004, h - h * 0.021), h * 0.03, h * 0.022)
            collar = cone(x, y, (ax, ay - h * 0.012), (ax, h - h * 0.02), leg.r_end * 1.3, h * 0.026)
            shoe = toe.union(collar).cut(y - h)
            sole = np.where(y > h - h * 0.007, 0.6, 1.0).astype(np.float32)
            canvas.paint(grid, shoe.d, canvas.lit(shoe, self.outfit.shoes, sole), SHOES)

    def pants(self) -> None:
        body, canvas, outfit, h = self.body, self.canvas, self.outfit, self.body.height
        ease = outfit.lower.ease
        waistband = body.waist_y - h * 0.01
        corners = [(-body.hip_half, waistband), (body.hip_half, waistband)]
        corners += [p for leg in body.legs for p in (leg.root, leg.mid, leg.end)]
        grid = canvas.grid.window(*bounds(corners, ease * 2.5 + body.legs[0].r_root))
        x, y = grid.x, grid.y
        pelvis = _torso_field(body, grid, self.torso[grid.where] - ease).cut(waistband - y)
        parts = [pelvis]
        for leg in body.legs:
            if outfit.bottom == "trousers":
                parts.append(cone(x, y, leg.root, leg.mid, leg.r_root + ease, leg.r_mid + ease * 1.4))
                hem = max(leg.r_end + ease * 2.0, leg.r_mid * 0.8 + ease)
                parts.append(cone(x, y, leg.mid, leg.end, leg.r_mid + ease * 1.4, hem, end=1.0))
            else:
                parts.append(cone(x, y, leg.root, leg.mid, leg.r_root + ease, leg.r_mid + ease * 2.0,
                                  end=outfit.hem))
        pants = union_all(parts)
        band = np.where(y < waistband + h * 0.015, 0.75, 1.0).astype(np.float32)
        crease = 1.0 - 0.25 * np.exp(-np.abs(x) / (h * 0.01)) * (y > body.crotch_y - h * 0.03)
        canvas.paint(grid, pants.d, self.cloth_colour(grid, pants, outfit.lower, band * crease), PANTS)

    def top(self) -> int:
        """The top or the dress over the torso, with a neck opening; returns its label (for the sleeves)."""
        body, canvas, outfit, h = self.body, self.canvas, self.outfit, self.body.height
        upper = outfit.upper
        label = DRESS if outfit.bottom == "dress" else TOP
        ease = upper.ease * 0.7
        corners = [tuple(p) for p in body.torso]
        if label == DRESS:
            knee_y = 0.5 * (body.legs[0].mid[1] + body.legs[1].mid[1])
            hem_y = body.crotch_y + outfit.hem * (knee_y - body.crotch_y)
            outer = 0.0
            for leg in body.legs:
                t = np.clip((hem_y - leg.root[1]) / (leg.mid[1] - leg.root[1]), 0.0, 1.5)
                outer = max(outer, abs(leg.root[0] + (leg.mid[0] - leg.root[0]) * t) + leg.r_root + 2.0)
            hem_half = max((body.hip_half + ease) * outfit.flare, outer)
            w0, w1 = body.waist_half + ease, body.hip_half + ease + 1.0
            skirt_pts = np.array([(w0, body.waist_y), (w1, body.hip_y), (hem_half, hem_y), (-hem_half, hem_y),
                                  (-w1, body.hip_y), (-w0, body.waist_y)], dtype=np.float32)
            corners += [tuple(p) for p in skirt_pts]
        grid = canvas.grid.window(*bounds(corners, ease + 1.0))
        x, y = grid.x, grid.y
        neck_y = body.neck_base - h * 0.004
        if outfit.neckline == "v":
            r = body.neck_radius * 1.3
            vee = np.array([(-r, neck_y - 2.0), (r, neck_y - 2.0), (0.0, neck_y + h * outfit.neck_depth * 2.0)],
                           dtype=np.float32)
            opening = polygon(x, y, vee)
        else:
            opening = ellipse(x, y, (0.0, neck_y), body.neck_radius * 1.2 + ease * 0.5, h * outfit.neck_depth).d
        shirt = _torso_field(body, grid, self.torso[grid.where] - ease).minus(opening)
        if label == TOP:
            shirt = shirt.cut(y - (body.hip_y + h * outfit.top_hem))
            if outfit.top == "tank":
                armpit = body.profile_y[4]
                shirt = shirt.minus(np.maximum(body.profile_half[3] * 0.78 + ease - np.abs(x), y - armpit))
        else:
            shirt = shirt.cut(y - body.waist_y - h * 0.02)
            skirt_d = polygon(x, y, skirt_pts)
            half = np.interp(y, [body.waist_y, body.hip_y, hem_y], [w0, w1, hem_half]).astype(np.float32)
            shirt = shirt.union(Field(skirt_d, np.clip(x / half, -1.0, 1.0), np.zeros_like(skirt_d)))
        canvas.paint(grid, shirt.d, self.cloth_colour(grid, shirt, upper), label)
        if upper.pattern == "print":
            logo_y = body.shoulder_y + 0.3 * (body.waist_y - body.shoulder_y)
            logo = ellipse(x, y, (0.0, logo_y), body.profile_half[3] * 0.35, h * 0.025)
            canvas.paint(grid, np.maximum(logo.d, shirt.d), canvas.lit(shirt, upper.accent), None, 0.9)
        return label

    def arms(self, label: int) -> None:
        canvas, outfit = self.canvas, self.outfit
        upper = outfit.upper
        sleeve_kind = {"tshirt": "short", "longsleeve": "long", "tank": "none"}.get(outfit.top, outfit.top)
        for side, arm in zip((-1.0, 1.0), self.body.arms, strict=True):
            grid = _limb_window(canvas.grid, arm, upper.ease * 1.5 + 1.0)
            x, y = grid.x, grid.y
            limb = _arm(grid, arm, side)
            canvas.paint(grid, limb.d, self.skin_colour(grid, limb), SKIN)
            if sleeve_kind == "none":
                continue
            e = upper.ease
            sleeve = cone(x, y, arm.root, arm.mid, arm.r_root + e * 0.25, arm.r_mid + e * 1.2,
                          end=outfit.sleeve_end if sleeve_kind == "short" else None)
            if sleeve_kind == "long":
                sleeve = sleeve.union(cone(x, y, arm.mid, arm.end, arm.r_mid + e * 1.2, arm.r_end + e * 0.8,
                                           end=0.96))
            canvas.paint(grid, sleeve.d, self.cloth_colour(grid, sleeve, upper), label)

    def head(self) -> None:
        """Ears, face with features, then the hair over it; in head coordinates (tilted with the head)."""
        body, canvas, outfit, youth = self.body, self.canvas, self.outfit, self.youth
        hcx, hcy = body.head_centre
        rx, ry = body.head_rx, body.head_ry
        reach = 1.0 + outfit.hair_volume * 1.4 + 0.1
        grid = canvas.grid.window(hcx - rx * reach - 1.0, hcy - ry * 1.6, hcx + rx * reach + 1.0, hcy + ry * 1.1)
        cos, sin = np.cos(body.head_tilt), np.sin(body.head_tilt)
        px, py = grid.x - hcx, grid.y - hcy
        x, y = cos * px + sin * py, -sin * px + cos * py
        exposure = canvas.lighting.exposure_person

        def skin(field: Field, texture: np.ndarray | float = 1.0) -> np.ndarray:
            return self.skin_colour(grid, field, texture)

        for side in (-1.0, 1.0):
            ear = ellipse(x, y, (side * rx * 0.96, ry * 0.08), rx * 0.16, ry * 0.26)
            canvas.paint(grid, ear.d, skin(ear, 0.85), SKIN)
        taper = 1.0 - (0.24 - 0.1 * youth) * np.clip(y / ry, 0.0, 1.0) ** 2
        head = ellipse(x / taper, y, (0.0, 0.0), rx, ry)
        canvas.paint(grid, head.d, skin(head), SKIN)

        # Features: image-only details inside the face.
        eye_y = ry * (0.02 + 0.15 * youth)
        brow_colour = outfit.hair_colour * np.float32(0.6 * exposure)
        for side in (-1.0, 1.0):
            white = ellipse(x, y, (side * rx * 0.38, eye_y), rx * 0.17, ry * 0.075)
            canvas.paint(grid, white.d, skin(white) * 0.6 + 0.2 * exposure, None, 0.8)
            iris = ellipse(x, y, (side * rx * 0.37, eye_y), rx * 0.085, ry * 0.075)
            canvas.paint(grid, iris.d, outfit.eye_colour * np.float32(0.3 * exposure), None)
            brow = ellipse(x, y, (side * rx * 0.4, eye_y - ry * 0.2), rx * 0.24, ry * 0.04, side * 0.15)
            canvas.paint(grid, brow.d, brow_colour, None, 0.8)
        nose = ellipse(x, y, (0.0, ry * 0.36), rx * 0.14, ry * 0.07)
        canvas.paint(grid, nose.d, skin(nose, 0.65), None, 0.7)
        mouth = ellipse(x, y, (0.0, ry * 0.6), rx * 0.28, ry * 0.05)
        lips = np.array([1.0, 0.75, 0.75], dtype=np.float32)
        canvas.paint(grid, mouth.d, skin(mouth, 0.55) * lips, None, 0.8)

        style, volume = outfit.hair_style, outfit.hair_volume
        cap = ellipse(x, y, (0.0, -ry * 0.04), rx * (1.0 + volume * 0.7), ry * (1.0 + volume))
        top, bottom = -outfit.hairline * ry, ry * 1.6
        opening = 0.92 if style in ("short", "buzz", "bald", "bun") else 0.86
        window = ellipse(x, y, (0.0, (top + bottom) / 2), rx * opening, (bottom - top) / 2).d
        limit = {"short": 0.05, "buzz": -0.05, "bob": 0.7, "long": 0.95, "curly": 0.6, "bun": 0.0,
                 "bald": 0.15}[style]
        hair = cap.minus(window).cut(y - ry * limit)
        rough = self.curls[grid.where] * (0.2 * ry) if style == "curly" else self.fuzz[grid.where] * (0.08 * ry)
        hair = Field(hair.d + rough, hair.ux, hair.uy)
        if style == "bald":
            hair = hair.cut(-ry * 0.25 - y)
        if style == "bun":
            hair = hair.union(ellipse(x, y, (0.0, -ry * 1.1), rx * 0.42, ry * 0.34))
        texture = 0.65 + 0.55 * (self.curls[grid.where] + 0.5 if style == "curly" else self.strands[grid.where])
        colour = canvas.lit(hair, outfit.hair_colour, texture)
        colour = colour + (0.12 * canvas.specular(hair, 10.0) * exposure)[..., None]
        canvas.paint(grid, hair.d, colour, HAIR)
