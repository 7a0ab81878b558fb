"""The Monk Skin Tone (MST) scale: the ten published swatches, and how skin is shaded under a light.

The swatches are the base colours; a person's skin varies a little around theirs, and is lit with a soft
(wrapped) Lambert term, warm subsurface tint in the shadows and a faint specular sheen - never a flat fill.
"""

from __future__ import annotations

import numpy as np

from segaudit.models.data.synth.color import jitter, linear_hex

MONK_HEX = ("#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96",
            "#a07e56", "#825c43", "#604134", "#3a312a", "#292420")
"""MST-1 .. MST-10, as published with the scale (skintone.google)."""
MONK_TONES = tuple(f"monk_{i:02d}" for i in range(1, 11))
MONK_LINEAR = {tone: linear_hex(code) for tone, code in zip(MONK_TONES, MONK_HEX, strict=True)}

SUBSURFACE = np.array([1.0, 0.86, 0.78], dtype=np.float32)
"""Shadowed skin turns warmer: light scattered under the skin comes back reddish."""


def skin_colour(rng: np.random.Generator, tone: str) -> np.ndarray:
    """A person's own skin colour (linear RGB): their Monk swatch with a small individual variation."""
    return jitter(rng, MONK_LINEAR[tone], 0.06)


def shade_skin(base: np.ndarray, diffuse: np.ndarray, specular: np.ndarray, ambient: float) -> np.ndarray:
    """Lit skin [h, w, 3] from a base colour [3], diffuse [h, w] in 0..1 and specular [h, w]."""
    light = ambient + (1.0 - ambient) * diffuse
    tint = SUBSURFACE[None, None, :] ** (1.0 - diffuse[..., None])
    return base[None, None, :] * light[..., None] * tint + 0.04 * specular[..., None]
