"""Body geometry from a person's attributes, in centimetres.

Body coordinates: x to the image's right, y downwards, y = 0 at the top of the skull and y = height at the
floor. Proportions follow adult anthropometry (head about 1/7.4 of height, crotch at 0.47, knee at 0.28 from
the floor); children get bigger heads and shorter legs, build widens torso, waist and limbs, frame trades
hips for shoulders. The pose is the narrow standing pose: frontal, arms a little away from the body, feet a
little apart, small random differences between the two sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segaudit.models.data.synth.attributes import Person

Point = tuple[float, float]


@dataclass(frozen=True)
class Limb:
    """One arm or leg: joints and the radii at them (cm)."""

    root: Point
    mid: Point
    end: Point
    tip: Point
    r_root: float
    r_mid: float
    r_end: float
    r_tip: float


@dataclass(frozen=True)
class Body:
    height: float
    head_centre: Point
    head_rx: float
    head_ry: float
    head_tilt: float
    neck_radius: float
    neck_top: float
    neck_base: float
    shoulder_y: float
    waist_y: float
    hip_y: float
    crotch_y: float
    torso: np.ndarray
    """Closed polygon [k, 2] of the torso outline: neck base, shoulders, armpits, waist, hips, crotch."""
    profile_y: np.ndarray
    profile_half: np.ndarray
    """Half-width of the torso by height, for cylinder shading."""
    waist_half: float
    hip_half: float
    arms: tuple[Limb, Limb]
    """(image-left, image-right): shoulder, elbow, wrist, fingertips."""
    legs: tuple[Limb, Limb]
    """(image-left, image-right): hip joint, knee, ankle, floor point below the ankle."""

    @property
    def head_top(self) -> float:
        return self.head_centre[1] - self.head_ry


def build_body(person: Person, rng: np.random.Generator) -> Body:
    """The figure's geometry; draws a fixed number of values from `rng` for the pose jitter."""
    h, c, b, f = person.height_cm, person.youth, person.build, person.frame
    senior = person.age_group == "senior"
    head_h = h / (7.4 - 2.4 * c) * (1.0 + 0.02 * senior)
    head_w = head_h * (0.74 + 0.06 * c) * (0.96 + 0.08 * b)
    width = 0.88 + 0.22 * b + 0.12 * f
    shoulder_half = h * 0.125 * (1.0 - 0.14 * c) * width * (0.97 - 0.04 * senior)
    waist_half = h * 0.072 * (0.72 + 0.62 * b) * (1.0 + 0.08 * senior) * (1.0 + 0.08 * c)
    hip_half = h * 0.094 * (0.84 + 0.36 * b) * (1.06 - 0.12 * f) * (1.0 - 0.05 * c)
    chest_half = max(shoulder_half * 0.8, waist_half * 1.08)

    chin = head_h
    neck_r = head_w * (0.27 + 0.07 * b + 0.03 * f)
    neck_base = chin + h * 0.03 * (1.0 - 0.3 * c) * (0.85 if senior else 1.0)
    shoulder_y = chin + h * 0.048 * (1.0 - 0.2 * c)
    crotch_y = h * (0.53 + 0.06 * c)
    torso_len = crotch_y - shoulder_y
    armpit_y = shoulder_y + 0.2 * torso_len
    waist_y = shoulder_y + 0.55 * torso_len
    hip_y = shoulder_y + 0.83 * torso_len

    trap = shoulder_half * 0.62
    torso_right = [
        (neck_r * 0.95, neck_base - h * 0.004),
        (trap, shoulder_y - h * 0.018),
        (shoulder_half * 0.9, shoulder_y - h * 0.008),
        (shoulder_half, shoulder_y + h * 0.02),
        (chest_half, armpit_y),
        (waist_half, waist_y),
        (hip_half, hip_y),
        (hip_half * 0.93, crotch_y + h * 0.015),
        (h * 0.012, crotch_y),
    ]
    right = np.array(torso_right, dtype=np.float32)
    left = right[::-1] * np.array([-1.0, 1.0], dtype=np.float32)
    torso = np.concatenate([right, left])

    tilt = float(rng.normal(0.0, 0.035))
    head_centre = (float(rng.normal(0.0, 0.01)) * head_w, head_h / 2)

    limb_scale = 0.86 + 0.4 * b
    arms = []
    for side in (-1.0, 1.0):
        spread = np.radians(rng.uniform(7.0, 18.0))
        bend = np.radians(rng.uniform(-3.0, 8.0))
        upper, fore, hand = h * 0.186, h * 0.146, h * 0.104 * (1.0 + 0.08 * c)
        r_upper = h * 0.031 * limb_scale * (1.0 - 0.1 * c)
        shoulder = (side * (shoulder_half - r_upper * 0.95), shoulder_y + r_upper * 0.8)
        elbow = (shoulder[0] + side * upper * np.sin(spread), shoulder[1] + upper * np.cos(spread))
        angle = spread + bend
        wrist = (elbow[0] + side * fore * np.sin(angle), elbow[1] + fore * np.cos(angle))
        angle -= np.radians(rng.uniform(0.0, 6.0))
        tip = (wrist[0] + side * hand * np.sin(angle), wrist[1] + hand * np.cos(angle))
        arms.append(Limb(shoulder, elbow, wrist, tip, r_upper, h * 0.022 * limb_scale,
                         h * 0.015 * (0.88 + 0.25 * b), h * 0.017 * (0.9 + 0.2 * b)))
    legs = []
    ankle_y = h * (0.955 - 0.01 * c)
    for side in (-1.0, 1.0):
        spread = np.radians(rng.uniform(2.0, 6.5))
        hip = (side * hip_half * 0.5, hip_y)
        leg_len = (ankle_y - hip_y) / np.cos(spread)
        knee = (hip[0] + side * 0.52 * leg_len * np.sin(spread), hip_y + 0.52 * (ankle_y - hip_y))
        ankle = (hip[0] + side * leg_len * np.sin(spread), ankle_y)
        legs.append(Limb(hip, knee, ankle, (ankle[0], h), h * 0.052 * (0.78 + 0.55 * b) * (1.1 - 0.15 * f),
                         h * 0.029 * (0.85 + 0.35 * b), h * 0.0155 * (0.9 + 0.25 * b), h * 0.02))

    profile = right[1:8]
    return Body(
        height=h, head_centre=head_centre, head_rx=head_w / 2, head_ry=head_h / 2, head_tilt=tilt,
        neck_radius=neck_r, neck_top=chin - head_h * 0.2, neck_base=neck_base, shoulder_y=shoulder_y,
        waist_y=waist_y, hip_y=hip_y, crotch_y=crotch_y, torso=torso,
        profile_y=profile[:, 1].copy(), profile_half=profile[:, 0].copy(),
        waist_half=waist_half, hip_half=hip_half, arms=(arms[0], arms[1]), legs=(legs[0], legs[1]),
    )
