"""Derived skin tone before and after: per person, with pixels that can be skin, on synthetic crowd scenes.

    python benchmarks/derive_skin.py [--n 400] [--sizes 128,256] [--seed 0]

Scenes come from `segaudit.models.data.synth.crowd_render.render_crowd`: 1-4 people per image, each with their own
Monk tone, small figures, shade, coloured light and skin-coloured clothes; the renderer also says which pixels
are whose skin, so the purity of what each method reads can be measured. Three methods:

* before: the method up to this change - one value per image, from the head of the union of all person pixels,
  pixels kept by the YCbCr chroma box alone, at least 20 of them; every person of the image gets it;
* after: `models.data.skin.estimate_skin` per person (head of their own instance; a* > 0, b* > 0, sane L*, no
  clipping, not in deep shade; unknown below 20 pixels or above 30 degrees of ITA spread);
* after + white balance: the same on the image white-balanced on its background (`white_balanced`).

Printed per method and image size: people, share with a known value, Spearman's rho of the true Monk index and
the derived ITA (known only; perfect ordering is -1), quadratic-weighted kappa of the derived Chardon category
against the Monk swatch's own category, purity (share of the pixels read that are the person's own skin), and
the share of pixels read with b* <= 0; then rho within each hard case.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict

import numpy as np
from scipy import ndimage
from scipy.stats import spearmanr
from skimage.color import rgb2lab
from sklearn.metrics import cohen_kappa_score

from segaudit.models.data.derive import ITA_CATEGORIES, ita_category
from segaudit.models.data.derive_validation import category_mapping
from segaudit.models.data.skin import (
    MIN_SKIN_PIXELS,
    estimate_from_pixels,
    is_skin_colour,
    ita_degrees,
    skin_mask,
    white_balanced,
)
from segaudit.models.data.synth.attributes import ATTRIBUTES
from segaudit.models.data.synth.crowd_render import render_crowd

MAPPING = category_mapping(ATTRIBUTES["skin_tone"])


def before_mask(image: np.ndarray, union: np.ndarray) -> np.ndarray:
    """The pixels the method before this change read: the chroma box over the eroded head of all people."""
    rows = np.flatnonzero(union.any(axis=1))
    if rows.size == 0:
        return union
    erode = max(1, round(min(union.shape) / 256))
    region = ndimage.binary_erosion(union, structure=np.ones((3, 3), dtype=bool), iterations=erode)
    fraction = 0.5 if rows[-1] == union.shape[0] - 1 else 0.2
    region[rows[0] + math.ceil(fraction * (rows[-1] - rows[0] + 1)):] = False
    return region & is_skin_colour(image)


def median_or_nan(image: np.ndarray, used: np.ndarray) -> float:
    pixels = image[used]
    return float(np.median(ita_degrees(pixels))) if len(pixels) >= MIN_SKIN_PIXELS else math.nan


def run(n: int, size: int, seed: int) -> dict[str, list[dict]]:
    """One record per person and method: truth, hard cases, the derived ITA and the pixels' purity."""
    records: dict[str, list[dict]] = defaultdict(list)
    for index in range(n):
        scene = render_crowd(seed, index, size)
        union = scene.instances > 0
        balanced = white_balanced(scene.image, ~union)
        old_used = before_mask(scene.image, union)
        old_ita = median_or_nan(scene.image, old_used)
        for person in scene.people:
            own = scene.instances == person.instance
            truth = {"monk": int(person.person.skin_tone[-2:]), "tone": person.person.skin_tone,
                     "shade": person.shade, "clothes": person.skin_coloured_clothes, "size": person.apparent_size,
                     "lighting": scene.lighting, "several": len(scene.people) > 1}
            own_skin = scene.skin(person.instance)
            for method, image, used in (("before", scene.image, old_used),
                                        ("after", scene.image, skin_mask(scene.image, own)),
                                        ("after + white balance", balanced, skin_mask(balanced, own))):
                ita = old_ita if method == "before" else estimate_from_pixels(image[used]).ita_deg
                pixels = image[used]
                negative_b = float((rgb2lab(pixels.astype(np.float64) / 255.0)[:, 2] <= 0).mean()) \
                    if len(pixels) else math.nan
                records[method].append({**truth, "ita": ita, "read": int(used.sum()),
                                        "purity": float((used & own_skin).sum() / used.sum()) if used.any()
                                        else math.nan, "negative_b": negative_b})
    return records


def summarise(rows: list[dict]) -> dict[str, float]:
    known = [r for r in rows if not math.isnan(r["ita"])]
    rho = spearmanr([r["monk"] for r in known], [r["ita"] for r in known]).statistic if len(known) > 2 else math.nan
    kappa = cohen_kappa_score([MAPPING[r["tone"]] for r in known], [ita_category(r["ita"]) for r in known],
                              labels=list(ITA_CATEGORIES), weights="quadratic") if len(known) > 2 else math.nan
    purity = np.nanmean([r["purity"] for r in rows]) if rows else math.nan
    negative = np.nanmean([r["negative_b"] for r in rows]) if rows else math.nan
    return {"people": len(rows), "known": len(known) / max(1, len(rows)), "rho": rho, "kappa": kappa,
            "purity": purity, "negative_b": negative}


CASES = {
    "all": lambda r: True,
    "easy: neutral light, unshaded, not small": lambda r: r["lighting"] == "neutral" and r["shade"] == "none"
    and r["size"] != "small",
    "several people in the image": lambda r: r["several"],
    "small figure": lambda r: r["size"] == "small",
    "partly shaded": lambda r: r["shade"] == "partial",
    "fully shaded": lambda r: r["shade"] == "full",
    "skin-coloured clothes": lambda r: r["clothes"] == "yes",
    "coloured light (warm/cool/green)": lambda r: r["lighting"] in ("warm", "cool", "green"),
    "low light": lambda r: r["lighting"] == "low",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="scenes per image size (default 400)")
    parser.add_argument("--sizes", default="128,256", help="image sides in pixels (default 128,256)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        records = run(args.n, size, args.seed)
        print(f"\n{args.n} scenes at {size} px ({len(records['after'])} people), "
              f"{time.perf_counter() - started:.0f} s")
        print(f"{'method':<24}{'known':>7}{'rho':>8}{'kappa_q':>9}{'purity':>8}{'b*<=0':>7}")
        for method, rows in records.items():
            s = summarise(rows)
            print(f"{method:<24}{100 * s['known']:>6.0f}%{s['rho']:>8.2f}{s['kappa']:>9.2f}"
                  f"{100 * s['purity']:>7.0f}%{100 * s['negative_b']:>6.1f}%")
        print(f"\nrho (known %) per hard case at {size} px")
        print(f"{'case':<34}{'people':>7}" + "".join(f"{m:>24}" for m in records))
        for case, keep in CASES.items():
            cells = []
            for rows in records.values():
                s = summarise([r for r in rows if keep(r)])
                cells.append(f"{s['rho']:>+8.2f} ({100 * s['known']:>3.0f}%)")
            people = sum(keep(r) for r in records["after"])
            print(f"{case:<34}{people:>7}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
