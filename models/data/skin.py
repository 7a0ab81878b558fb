"""Skin pixels of one person and the skin tone they give (ITA), with the evidence behind it.

A photograph shows skin, hair, clothes, shade and background side by side; a skin tone read from the wrong
pixels is worse than none. So the pixels are narrowed in steps, each for a reason:

1. **Where**: the person's own pixels (an instance mask when the package has one, else the union of the
   person classes), eroded by a pixel or so (edge pixels mix with the background), and their head: the top
   `HEAD_FRACTION` of the person's height (`HEAD_FRACTION_CUT` for a person cut off at the bottom edge, a
   portrait), narrowed to the columns of the head (the top rows' extent, so raised arms and shoulders drop
   out). An annotated skin/face class replaces the head geometry when the package has one.
2. **Can be skin** (`can_be_skin`): skin is reddish-yellow in every light a camera keeps sane, so a pixel must
   have a* > 0 and b* > 0 (hue in the first CIELAB quadrant; grey, blue and green pixels never enter ITA), L*
   in [`L_STAR_RANGE`], no clipped channel (highlights and crushed blacks carry no colour), and pass the
   chroma box of `is_skin_colour`.
3. **Not in deep shade**: light falls on one side of a face. Pixels more than `SHADE_DROP` L* units below the
   upper quartile of the kept pixels' L* are shade and are dropped (a relative rule, so dark skin is not cut
   away for being dark).
4. **Enough, and consistent**: fewer than `MIN_SKIN_PIXELS` pixels, or an interquartile range of per-pixel
   ITA above `MAX_ITA_IQR`, and the tone is unknown, with the reason. The median ITA of what is left is the
   estimate; `SkinEstimate` carries the pixel count and the spread as its evidence.

An optional illumination correction (`white_balance`) divides the image, in linear RGB, by the colour of the
background (grey-world on pixels outside every person); it helps under coloured light and hurts when the
background itself is coloured, so it is off by default (its effect is measured in benchmarks/derive_skin.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

B_STAR_FLOOR = 1e-6
"""Floor for b* inside `ita_degrees`: at or below it ITA tends to +/-90 by the sign of L* - 50."""
MIN_SKIN_PIXELS = 20
"""Fewer skin pixels than this for a person and their ITA is unknown."""
MAX_ITA_IQR = 30.0
"""Interquartile range (degrees) of per-pixel ITA above which the pixels disagree too much to name one tone."""
L_STAR_RANGE = (8.0, 96.0)
"""L* outside this is too dark or too bright to carry a skin colour (the darkest Monk swatch has L* ~ 15)."""
CLIP_LEVELS = (3, 252)
"""A pixel with any sRGB channel at or outside these is clipped (highlight or crushed black)."""
SHADE_DROP = 15.0
"""Pixels this many L* units below the upper quartile of the person's candidate pixels are in shade."""
ERODE_PX_PER_256 = 1
"""The person mask is eroded by max(1, round(this * min(H, W) / 256)) pixels (mixed edge pixels)."""
HEAD_FRACTION = 0.2
HEAD_FRACTION_CUT = 0.5
"""The top fraction of the person's height searched for skin; the second for a person cut off at the bottom."""
HEAD_TOP_FRACTION = 0.08
"""The top rows (this fraction of the person's height) whose column extent marks the head's columns."""
HEAD_WIDTH_MARGIN = 0.5
"""The head's columns are widened by this fraction of their width on each side (ears, a tilted head)."""
SKIN_CB_RANGE = (77.0, 127.0)
SKIN_CR_RANGE = (130.0, 173.0)
"""Chroma box of the skin-colour rule in full-range BT.601 YCbCr (see `is_skin_colour`)."""

KNOWN = ""
NO_PERSON = "no_person"
TOO_FEW = "too_few_skin_pixels"
DISPERSED = "dispersed"
SEVERAL_PEOPLE = "several_people"
REASONS = {
    NO_PERSON: "no person pixels",
    TOO_FEW: f"fewer than {MIN_SKIN_PIXELS} pixels that can be skin (small, turned away, covered or in shade)",
    DISPERSED: f"the skin pixels' ITA spreads over more than {MAX_ITA_IQR:g} degrees (IQR)",
    SEVERAL_PEOPLE: "several people in the image (each person has their own value in persons.csv)",
}
"""Why a derived skin tone is unknown, by reason code."""


@dataclass(frozen=True)
class SkinEstimate:
    """The skin tone of one person and its evidence: median ITA (NaN when unknown), the number of skin
    pixels it rests on, the interquartile range of their ITA, and why it is unknown ("" when known)."""

    ita_deg: float
    pixels: int
    iqr_deg: float
    reason: str = KNOWN

    @property
    def known(self) -> bool:
        return not self.reason


def ita_degrees(rgb: np.ndarray) -> np.ndarray:
    """ITA in degrees of each pixel of a [..., 3] uint8 sRGB array; returns the array's shape without the 3.

    Lab comes from `skimage.color.rgb2lab` on floats in [0, 1] (sRGB, D65, 2-degree observer), so L* is in
    0..100 and a*, b* are unshifted (OpenCV's 8-bit conversion scales L* to 0..255 and offsets a*, b* by 128:
    ITA on those numbers is silently wrong). Only uint8 input is accepted so that a float image in 0..255
    cannot be misread as 0..1. ITA = arctan((L* - 50) / b*) as defined (not arctan2); b* <= `B_STAR_FLOOR` is
    floored so the angle tends to +/-90 by the sign of L* - 50 and stays in [-90, 90].
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"expected [..., 3] uint8 sRGB, got {rgb.dtype} {rgb.shape}")
    lab = rgb2lab(rgb.reshape(-1, 3).astype(np.float64) / 255.0)
    lightness, b_star = lab[:, 0], np.maximum(lab[:, 2], B_STAR_FLOOR)
    return np.degrees(np.arctan((lightness - 50.0) / b_star)).reshape(rgb.shape[:-1])


def is_skin_colour(rgb: np.ndarray) -> np.ndarray:
    """Boolean [...] mask of [..., 3] uint8 pixels inside the skin chroma box.

    The box of Chai & Ngan (1999) in full-range BT.601 YCbCr, Cb in [77, 127] and Cr in [133, 173], with the
    lower Cr bound relaxed to 130: the original box rejects the darkest Monk swatch (MST-10 #292420 has
    Cr ~ 130.8). Luma is not bounded, so that dark skin is not cut away. Fixed chroma boxes were fitted on
    mostly lighter skin, so very dark and very light skin sits near their edges; this is one reason a derived
    tone comes with its evidence and may be unknown.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cb = 128.0 - 0.168736 * red - 0.331264 * green + 0.5 * blue
    cr = 128.0 + 0.5 * red - 0.418688 * green - 0.081312 * blue
    return ((SKIN_CB_RANGE[0] <= cb) & (cb <= SKIN_CB_RANGE[1])
            & (SKIN_CR_RANGE[0] <= cr) & (cr <= SKIN_CR_RANGE[1]))


def can_be_skin(rgb: np.ndarray) -> np.ndarray:
    """Boolean [N] mask of [N, 3] uint8 pixels whose colour can be skin: a* > 0, b* > 0, L* in `L_STAR_RANGE`,
    no clipped channel, inside the chroma box. A pixel with b* <= 0 never passes."""
    rgb = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    lab = rgb2lab(rgb.astype(np.float64) / 255.0)
    unclipped = (rgb > CLIP_LEVELS[0]).all(axis=1) & (rgb < CLIP_LEVELS[1]).all(axis=1)
    return ((lab[:, 1] > 0) & (lab[:, 2] > 0) & (L_STAR_RANGE[0] <= lab[:, 0]) & (lab[:, 0] <= L_STAR_RANGE[1])
            & unclipped & is_skin_colour(rgb))


def head_region(person: np.ndarray) -> np.ndarray:
    """The eroded head of an HxW boolean person mask (see the module docstring, step 1); empty if none."""
    rows = np.flatnonzero(person.any(axis=1))
    region = np.zeros_like(person, dtype=bool)
    if rows.size == 0:
        return region
    top, height = rows[0], rows[-1] - rows[0] + 1
    erode = max(1, round(ERODE_PX_PER_256 * min(person.shape) / 256))
    eroded = ndimage.binary_erosion(person, structure=np.ones((3, 3), dtype=bool), iterations=erode)
    fraction = HEAD_FRACTION_CUT if rows[-1] == person.shape[0] - 1 else HEAD_FRACTION
    bottom = top + math.ceil(fraction * height)
    head_rows = person[top:top + max(1, math.ceil(HEAD_TOP_FRACTION * height))]
    columns = np.flatnonzero(head_rows.any(axis=0))
    margin = math.ceil(HEAD_WIDTH_MARGIN * (columns[-1] - columns[0] + 1))
    left, right = max(0, columns[0] - margin), columns[-1] + margin + 1
    region[top:bottom, left:right] = eroded[top:bottom, left:right]
    return region


def white_balanced(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The image with its background made neutral (grey-world on the background pixels, in linear RGB).

    Each channel is scaled so that the median background colour becomes grey of the same luminance. With too
    few background pixels (under 1 % of the image) the image is returned unchanged.
    """
    if background.sum() < 0.01 * background.size:
        return image
    linear = _to_linear(image.astype(np.float64) / 255.0)
    reference = np.median(linear[background], axis=0)
    if np.any(reference <= 1e-4):
        return image
    grey = float(reference @ np.array([0.2126, 0.7152, 0.0722]))
    balanced = np.clip(linear * (grey / reference), 0.0, 1.0)
    return np.round(_to_srgb(balanced) * 255.0).astype(np.uint8)


def estimate_skin(image: np.ndarray, person: np.ndarray, skin: np.ndarray | None = None,
                  min_pixels: int = MIN_SKIN_PIXELS) -> SkinEstimate:
    """The skin tone of one person: image HxWx3 uint8, person HxW bool; `skin` (HxW bool, optional) marks
    annotated skin/face pixels and replaces the head geometry. Returns the median ITA with its evidence."""
    if not np.asarray(person).any():
        return SkinEstimate(math.nan, 0, math.nan, NO_PERSON)
    return estimate_from_pixels(image[skin_mask(image, person, skin)], min_pixels)


def estimate_from_pixels(pixels: np.ndarray, min_pixels: int = MIN_SKIN_PIXELS) -> SkinEstimate:
    """The median ITA of [N, 3] uint8 pixels already chosen as skin, unknown when too few or too spread."""
    if len(pixels) < min_pixels:
        return SkinEstimate(math.nan, len(pixels), math.nan, TOO_FEW)
    ita = ita_degrees(pixels)
    low, high = np.percentile(ita, [25, 75])
    if high - low > MAX_ITA_IQR:
        return SkinEstimate(math.nan, len(pixels), float(high - low), DISPERSED)
    return SkinEstimate(float(np.median(ita)), len(pixels), float(high - low))


def skin_mask(image: np.ndarray, person: np.ndarray, skin: np.ndarray | None = None) -> np.ndarray:
    """HxW bool: the pixels of one person that `estimate_skin` reads (steps 1-3 of the module docstring)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != person.shape:
        raise ValueError(f"expected an HxWx3 image and an HxW mask, got {image.shape} and {person.shape}")
    region = (skin & person) if skin is not None else head_region(person)
    rows, cols = np.nonzero(region)
    kept = skin_pixels_of(image[rows, cols], return_index=True)
    out = np.zeros(person.shape, dtype=bool)
    out[rows[kept], cols[kept]] = True
    return out


def skin_pixels_of(candidates: np.ndarray, return_index: bool = False) -> np.ndarray:
    """The [N, 3] pixels among [M, 3] uint8 candidates that can be skin and are not in deep shade (or, with
    `return_index`, their indices among the candidates)."""
    candidates = np.asarray(candidates, dtype=np.uint8).reshape(-1, 3)
    index = np.flatnonzero(can_be_skin(candidates))
    if index.size:
        lightness = rgb2lab(candidates[index].astype(np.float64) / 255.0)[:, 0]
        index = index[lightness >= np.percentile(lightness, 75) - SHADE_DROP]
    return index if return_index else candidates[index]


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
