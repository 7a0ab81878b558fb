"""Colour helpers: sRGB <-> linear light, and the palettes for hair, clothes and rooms.

All shading and compositing happens in linear light (so a shadow darkens a colour the way light does, rather
than greying it); only the finished frame is converted back to sRGB.
"""

from __future__ import annotations

import numpy as np

GAMMA = 2.2


def hex_rgb(code: str) -> np.ndarray:
    """'#a07e56' -> sRGB floats in [0, 1], shape [3]."""
    code = code.lstrip("#")
    return np.array([int(code[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float32) / 255.0


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light (a plain 2.2 power law is close enough here)."""
    return np.power(np.clip(srgb, 0.0, 1.0), GAMMA).astype(np.float32)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB in [0, 1]."""
    return np.power(np.clip(linear, 0.0, 1.0), 1.0 / GAMMA).astype(np.float32)


def linear_hex(code: str) -> np.ndarray:
    return to_linear(hex_rgb(code))


def jitter(rng: np.random.Generator, linear: np.ndarray, amount: float) -> np.ndarray:
    """A colour varied a little in brightness and per channel (multiplicative, so it stays a colour)."""
    gain = np.exp(rng.normal(0.0, amount)) * np.exp(rng.normal(0.0, amount / 2.0, 3))
    return (linear * gain).astype(np.float32)


def pick(rng: np.random.Generator, palette: tuple[str, ...]) -> np.ndarray:
    return linear_hex(palette[int(rng.integers(len(palette)))])


HAIR = ("#16120f", "#2a1e17", "#3b2a20", "#4f3525", "#6b4a31", "#8a6242", "#743620", "#a97f4d",
        "#c9a46c", "#2d2a28")
HAIR_GREY = ("#8f8b86", "#a9a6a1", "#c9c6c0", "#dcd9d3", "#6e6a66")
CLOTHES = (
    "#1f2a44", "#101012", "#e9e9e4", "#8a8d91", "#4a4d52", "#b22a2a", "#6d1f2b", "#5a6b2f", "#b5a27a",
    "#d8c7a6", "#c49a6c", "#a0703f", "#6b4a2e", "#3e5f8a", "#9bb8d8", "#2f6b45", "#c9a227", "#e39fb4",
    "#6a4a8c", "#d86a2c", "#2b7a7a", "#f2d9c0", "#7a5a48", "#3a2f2a",
)
DENIM = ("#2b3f63", "#3c5580", "#5a76a0", "#1e2633", "#6d7f99")
SHOES = ("#141414", "#f0f0ee", "#5a3a22", "#8b6a4a", "#2a2f3a", "#b03030", "#c8c2b4", "#3a3a3a")
WALLS = ("#e8e4da", "#d9cdb8", "#c7c9c4", "#a9b7c2", "#9aa88e", "#b9745a", "#2e3a4f", "#3b3b3d",
         "#6b5443", "#e0c9a6", "#f1ece3", "#8f7f70", "#54443a", "#c2a78a")
FLOORS = ("#8a5a35", "#6b4329", "#a8784a", "#5b4a3d", "#c8b49a", "#3d3229", "#7f7a72", "#9c8c7a",
          "#2e2620", "#b58b62")
FURNITURE = ("#5a3b25", "#7c5a3c", "#2b2b2e", "#d6d0c4", "#3f5060", "#6e2e2e", "#8c8570", "#b99470",
             "#4a5a3a", "#9d7b5b", "#1f1b18", "#c8b8a0")
