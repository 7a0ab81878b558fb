"""A differential-privacy audit in one training run with canaries (Steinke, Nasr & Jagielski 2023, "Privacy
auditing with one (1) training run", arXiv 2305.08846).

Why: a membership-inference AUC, or an epsilon read off one threshold chosen on the same scores, says how
exposed one model is, but it is not a lower bound on the epsilon of the training procedure. This audit is:
m canaries are each put into the training set independently with probability 1/2, the recipe trains once, and
an auditor who sees the trained model guesses, for the canaries it is surest about, whether each was in. Under
(epsilon, delta)-DP the guesses can be right only so often (each one is at best a randomized response of
accuracy e^eps / (1 + e^eps): the paper's main theorem, and its p-value algorithm for delta > 0), so many correct
guesses reject every epsilon below the reported one at the stated confidence.

Two kinds of canaries (`CanaryConfig.kind`):

- "images" (black-box, any recipe): images the recipe never trains on, each with its mask mirrored; the
  auditor sees only the final model. This is what an outside attacker could do, and on our small models it is
  weak: a DP-SGD run at epsilon 8 gives a bound of 0.
- "gradients" (white-box, DP-SGD recipes only): Dirac gradient canaries (models.dp.GradientCanaries), examples
  whose clipped gradient is the clipping norm on one random parameter coordinate, Poisson-sampled like every
  example and added before the noise; the auditor sees every noisy gradient. This is the strongest adversary
  DP-SGD's accounting covers, so its bound is the one that tests the DP implementation and its accountant:
  a bound above the accountant's epsilon is a bug (tests/test_privacy_canary.py makes one on purpose).

How to read it: `epsilon_lower_bound` >= 0 is what the run provably leaks at least, with probability
`confidence` over the canaries' coin flips, whatever the model and the data. A private recipe whose accountant
says epsilon 8 must never give a bound above 8 (that would be a bug in the DP implementation or its
accounting); a bound far below 8 is normal: one run with a few hundred canaries sees only part of the worst case.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from segaudit.core import checks
from segaudit.core.atomic import link_or_copy
from segaudit.core.errors import InputError

log = logging.getLogger(__name__)

KINDS = ("images", "gradients")
DEFAULT_CANARIES = {"images": 256, "gradients": 5000}  # images: limited by the split; gradients cost nothing
METHOD = {
    "images": ("one-run canary audit (Steinke, Nasr & Jagielski 2023), black-box: m canary images with mirrored "
               "masks, each trained on w.p. 1/2, scored from the final model; top k+ guessed in, bottom k- out; "
               "Bonferroni over the guess grid"),
    "gradients": ("one-run canary audit (Steinke, Nasr & Jagielski 2023), white-box: m Dirac gradient canaries "
                  "(the clipping norm on one random parameter each), each included w.p. 1/2 and Poisson-sampled "
                  "like every example before the noise, scored by the sum of the noisy gradients at their "
                  "coordinates over every step; top k+ guessed in, bottom k- out; Bonferroni over the guess grid"),
}
# (k+, k-) as fractions of the m canaries: declared before any score is seen, so choosing the best of them only
# costs the Bonferroni factor len(grid).
GUESS_GRID = ((0.1, 0.0), (0.25, 0.0), (0.1, 0.1), (0.25, 0.25), (0.5, 0.5))
SELECTION_IMAGES = 16  # training images copied into the audit run's val split (checkpoint selection only)


# --- the bound ------------------------------------------------------------------------------------------------

def guess_accuracy(epsilon: float) -> float:
    """e^eps / (1 + e^eps): the best accuracy of one guess about an eps-DP bit (randomized response)."""
    return 1.0 / (1.0 + math.exp(-epsilon))


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """An upper bound on P[>= v of r guesses correct] under (epsilon, delta)-DP with m canaries.

    delta = 0: the binomial tail P[Binomial(r, q) >= v], q = guess_accuracy(epsilon). delta > 0 (the paper's
    Algorithm 2): that tail plus 2 m delta times the largest average, over i = 1..v, of the binomial mass
    P[v - i <= Binomial(r, q) < v] / i: delta lets the mechanism move a little mass from just below v to v.
    """
    q = guess_accuracy(epsilon)
    from scipy import stats

    tail = float(stats.binom.sf(v - 1, r, q))
    if delta == 0 or v == 0:
        return min(tail, 1.0)
    just_below = stats.binom.pmf(np.arange(v - 1, -1, -1), r, q)  # P[B = v-1], P[B = v-2], ..., P[B = 0]
    spread = float(np.max(np.cumsum(just_below) / np.arange(1, v + 1)))
    return min(tail + 2.0 * m * delta * spread, 1.0)


def one_run_epsilon_bound(m: int, r: int, v: int, delta: float, confidence: float) -> float:
    """The largest epsilon whose p-value for "v or more of r guesses correct" is at most 1 - confidence: every
    smaller epsilon is rejected at that confidence, so the training run is not (epsilon, delta)-DP for any of
    them. 0.0 when even epsilon = 0 is not rejected (in particular whenever v <= r / 2).

    m canaries, each included independently with probability 1/2; the auditor guessed on r of them (abstaining on
    the rest) and v guesses were right. The p-value increases with epsilon, so the bound is its one crossing of
    1 - confidence, found by scipy's brentq.
    """
    m = checks.integer(m, "m", minimum=1)
    r = checks.integer(r, "r", minimum=0, maximum=m)
    v = checks.integer(v, "v", minimum=0, maximum=r)
    delta = checks.number(delta, "delta", 0.0, 1.0, open_high=True)
    confidence = checks.number(confidence, "confidence", 0.5, 1.0, open_low=True, open_high=True)
    level = 1.0 - confidence
    if r == 0 or p_value(m, r, v, 0.0, delta) > level:
        return 0.0
    high = 1.0
    while p_value(m, r, v, high, delta) <= level:  # ends: at epsilon 64, q is 1 in double precision and p is 1
        high *= 2.0
    from scipy.optimize import brentq

    return float(brentq(lambda eps: p_value(m, r, v, eps, delta) - level, 0.0, high, xtol=1e-10, rtol=1e-12))


def best_guess_bound(scores: np.ndarray, included: np.ndarray, delta: float, confidence: float,
                     grid: tuple[tuple[float, float], ...] = GUESS_GRID) -> tuple[float, dict[str, Any],
                                                                                  list[dict[str, Any]]]:
    """Guess "in" for the k+ highest scores and "out" for the k- lowest, for each (k+, k-) of `grid` (fractions
    of m); each bound at confidence 1 - (1 - confidence) / len(grid), so that reporting the best of them holds at
    `confidence` (Bonferroni). Returns (best bound, its row, every row)."""
    scores, included = np.asarray(scores, dtype=float), np.asarray(included, dtype=bool)
    m = len(scores)
    each = 1.0 - (1.0 - confidence) / len(grid)
    order = np.argsort(-scores, kind="stable")  # ties keep canary order, which the coin flips do not depend on
    rows = []
    for plus_fraction, minus_fraction in grid:
        k_plus = min(m, round(plus_fraction * m))
        k_minus = min(m - k_plus, round(minus_fraction * m))
        top, bottom = order[:k_plus], order[m - k_minus:] if k_minus else order[:0]
        v = int(included[top].sum() + (~included[bottom]).sum())
        r = k_plus + k_minus
        rows.append({"k_plus": k_plus, "k_minus": k_minus, "r": r, "v": v,
                     "epsilon_lower_bound": one_run_epsilon_bound(m, r, v, delta, each)})
    best = max(rows, key=lambda row: row["epsilon_lower_bound"])  # the first of equals
    return best["epsilon_lower_bound"], best, rows


# --- the audit --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CanaryConfig:
    """Settings of a one-run canary audit.

    kind: "images" (black-box canary images, any recipe) or "gradients" (white-box Dirac gradient canaries, DP-SGD
    recipes only); see the module docstring. canaries: m (None: DEFAULT_CANARIES of the kind; canary images are
    at most the whole of `canary_split`). canary_split: images the recipe's training split does not contain
    ("val" or "test"; images only). guesses: the (k+, k-) grid as fractions of m, fixed before training.
    confidence: of the reported bound (the grid is Bonferroni-corrected). seed: which images or coordinates
    become canaries and the coin flips that include them.
    """

    kind: str = "images"
    canaries: int | None = None
    canary_split: str = "val"
    guesses: tuple[tuple[float, float], ...] = GUESS_GRID
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        checks.choice(self.kind, KINDS, "kind")
        if self.canaries is None:
            object.__setattr__(self, "canaries", DEFAULT_CANARIES[self.kind])
        checks.integer(self.canaries, "canaries", minimum=2)
        checks.choice(self.canary_split, ("val", "test"), "canary_split")
        checks.number(self.confidence, "confidence", 0.5, 1.0, open_low=True, open_high=True)
        checks.integer(self.seed, "seed", minimum=0)
        if not isinstance(self.guesses, tuple | list) or not self.guesses:
            raise InputError(f"must be a non-empty list of (k+, k-) fractions, got {self.guesses!r}", field="guesses")
        grid = []
        for i, pair in enumerate(self.guesses):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InputError(f"must be a (k+, k-) pair of fractions of the canaries, got {pair!r}",
                                 field=f"guesses[{i}]")
            plus = checks.number(pair[0], f"guesses[{i}][0]", 0.0, 1.0)
            minus = checks.number(pair[1], f"guesses[{i}][1]", 0.0, 1.0)
            if plus + minus > 1.0 or plus + minus == 0.0:
                raise InputError(f"k+ + k- must be in (0, 1] (fractions of the canaries), got {pair!r}",
                                 field=f"guesses[{i}]")
            grid.append((plus, minus))
        object.__setattr__(self, "guesses", tuple(grid))


@dataclass
class CanaryResult:
    """The bound and what it was computed from (see the module docstring for how to read it)."""

    epsilon_lower_bound: float
    confidence: float
    delta: float  # the recipe's dp_delta (its default, 1e-5, for a recipe without DP)
    m: int  # canaries
    included: int  # of them trained on
    r: int  # guesses made (k_plus + k_minus)
    v: int  # of them correct
    k_plus: int
    k_minus: int
    dp_epsilon_spent: float | None  # the audit run's accountant (its result.json); None: not a DP run
    dp_epsilon: float | None  # the recipe's target; None: the recipe trains without DP
    kind: str = "images"
    method: str = METHOD["images"]
    recipe: str = ""
    canary_split: str | None = "val"  # None for gradient canaries
    steps: int | None = None  # gradient canaries: DP-SGD steps observed
    parameters: int | None = None  # gradient canaries: trainable parameters their coordinates were drawn from
    seed: int = 0
    guesses: list[dict[str, Any]] = field(default_factory=list)  # every (k+, k-) of the grid and its bound
    scores: list[float] = field(default_factory=list)  # per canary, higher = more likely trained on
    canary_ids: list[str] = field(default_factory=list)
    canary_included: list[bool] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON types."""
        return asdict(self)

    def summary(self) -> str:
        """One line: the bound, the evidence, and what the run's accountant claims."""
        spent = ("the run is not differentially private (no DP-SGD in the recipe)" if self.dp_epsilon_spent is None
                 else f"the run spent epsilon {self.dp_epsilon_spent:.2f} (target {self.dp_epsilon:g}, "
                      f"delta {self.delta:g})")
        what = "gradient canaries, white-box" if self.kind == "gradients" else "canary images, black-box"
        return (f"epsilon >= {self.epsilon_lower_bound:.2f} at {100 * self.confidence:g} % ({self.v} of {self.r} "
                f"guesses correct, {self.m} {what}, {self.included} trained on); {spent}")


def run_canary_audit(recipe: str | Path | Any, data_dir: str | Path, config: CanaryConfig | None = None,
                     work_dir: str | Path | None = None) -> CanaryResult:
    """Train the recipe once on its training images plus a coin-flipped half of m canaries, score every canary
    with the trained model, and bound epsilon from the guesses (see the module docstring).

    recipe: a run's config.json (or a TrainConfig). data_dir: the dataset package the recipe trains on.
    work_dir: where the audit's package and run are kept (a new canary-* folder inside it); None: a temporary
    folder, removed afterwards.

    Canaries: images of `canary_split` with their masks mirrored left-right, so the label draws the person where
    their mirror image would stand. Why mirrored rather than person/background swapped: a mirrored label is
    implied by no other image, so the model fits it only by memorising that image, and fitting it teaches
    nothing about the other canaries; a swap is one rule ("this kind of room is inverted") that the model
    generalises to look-alike images, so excluded canaries scored as high as included ones in our trials. It also
    keeps the class balance. A centred, symmetric person makes a weak canary; it scores near 0, in the middle of
    the ranking, where the auditor abstains. The score is how much more likely the model finds the mirrored mask
    than the true one (mean cross-entropy of the true mask minus that of the mirrored mask, at the model's input
    size as `signals` measures it, averaged over the image and its mirror): the per-image difficulty cancels.

    The audit run's val split (checkpoint selection, early stopping) holds up to SELECTION_IMAGES of the training
    images: a set fixed before the coin flips (so selecting on it is post-processing of the training, which keeps
    the bound valid) that does not, as the canary images with their true masks would, prefer the checkpoints that
    memorised the canaries least.
    """
    from segaudit.audit.privacy.target import read_recipe
    from segaudit.models.data.package import load_package
    from segaudit.models.train import TrainConfig

    config = config if config is not None else CanaryConfig()
    recipe_path = None
    if not isinstance(recipe, TrainConfig):
        recipe_path = Path(recipe)
        recipe = read_recipe(recipe_path)
    recipe = replace(recipe, max_minutes=None)  # a run stopped by its clock would train on fewer steps
    package = load_package(data_dir)
    if config.kind == "gradients":
        return _gradient_audit(recipe, recipe_path, package, config, work_dir)
    train_rows = _rows(package.split("train"))
    candidates = _rows(package.split(config.canary_split))
    if not train_rows:
        raise InputError("the package has no 'train' images for the recipe to train on", path=package.manifest_path,
                         field="split")
    if len(candidates) < 2:
        raise InputError(f"the split {config.canary_split!r} holds {len(candidates)} image(s); the canaries are "
                         "taken from it and need at least 2", path=package.manifest_path, field="canary_split")
    rng = np.random.default_rng([config.seed, 0xCA7A])
    m = min(config.canaries, len(candidates))
    if m < config.canaries:
        log.warning("the split %r holds %d images: %d canaries instead of %d", config.canary_split,
                    len(candidates), m, config.canaries)
    canaries = [candidates[i] for i in sorted(rng.choice(len(candidates), size=m, replace=False))]
    included = rng.random(m) < 0.5
    selection = [train_rows[i] for i in sorted(rng.permutation(len(train_rows))[:SELECTION_IMAGES])]

    with _work_folder(work_dir) as folder:
        data = folder / "data"
        _write_package(package, data, train_rows, canaries, included, selection)
        log.info("training %s once on %d training images and %d of %d canaries (in %s)", recipe.model,
                 len(train_rows), int(included.sum()), m, folder)
        _quiet_train(data, folder / "run", recipe)
        trained = json.loads((folder / "run" / "result.json").read_text())
        scores = _score(folder / "run" / "best", package, canaries)
    bound, best, rows = best_guess_bound(scores, included, recipe.dp_delta, config.confidence, config.guesses)
    spent = trained.get("dp_epsilon_spent")
    return CanaryResult(epsilon_lower_bound=bound, confidence=config.confidence, delta=recipe.dp_delta, m=m,
                        included=int(included.sum()), r=best["r"], v=best["v"], k_plus=best["k_plus"],
                        k_minus=best["k_minus"], dp_epsilon_spent=None if spent is None else float(spent),
                        dp_epsilon=recipe.dp_epsilon, kind="images", method=METHOD["images"],
                        recipe=str(recipe_path or ""), canary_split=config.canary_split,
                        seed=config.seed, guesses=rows, scores=[float(s) for s in scores],
                        canary_ids=[row["id"] for row in canaries], canary_included=[bool(i) for i in included])


def _gradient_audit(recipe: Any, recipe_path: Path | None, package: Any, config: CanaryConfig,
                    work_dir: str | Path | None) -> CanaryResult:
    """One DP-SGD run of the recipe on its own package with m Dirac gradient canaries (models.dp), scored by the
    noisy gradient sums the white-box auditor saw, and the bound from them."""
    from segaudit.models.dp import GradientCanaries

    if recipe.dp_epsilon is None:
        raise InputError("gradient canaries audit DP-SGD's clipping and noise, and this recipe trains without DP "
                         "(no dp_epsilon); audit it with canary images (kind 'images')", path=recipe_path,
                         field="dp_epsilon")
    canaries = GradientCanaries(config.canaries, seed=config.seed)
    with _work_folder(work_dir) as folder:
        log.info("training %s once with DP-SGD and %d gradient canaries (in %s)", recipe.model, config.canaries,
                 folder)
        _quiet_train(package, folder / "run", recipe, canaries)
        trained = json.loads((folder / "run" / "result.json").read_text())
    bound, best, rows = best_guess_bound(canaries.observed, canaries.included, recipe.dp_delta, config.confidence,
                                         config.guesses)
    return CanaryResult(epsilon_lower_bound=bound, confidence=config.confidence, delta=recipe.dp_delta,
                        m=config.canaries, included=int(canaries.included.sum()), r=best["r"], v=best["v"],
                        k_plus=best["k_plus"], k_minus=best["k_minus"],
                        dp_epsilon_spent=float(trained["dp_epsilon_spent"]), dp_epsilon=recipe.dp_epsilon,
                        kind="gradients", method=METHOD["gradients"], recipe=str(recipe_path or ""),
                        canary_split=None, steps=canaries.steps, parameters=canaries.parameters, seed=config.seed,
                        guesses=rows, scores=[float(s) for s in canaries.observed],
                        canary_ids=[f"parameter-{int(c)}" for c in canaries.coordinates],
                        canary_included=[bool(i) for i in canaries.included])


def mirror_mask(mask: np.ndarray) -> np.ndarray:
    """The canary label: the true mask mirrored left-right (the person drawn where their mirror image stands)."""
    return np.ascontiguousarray(mask[:, ::-1])


def _rows(frame: Any) -> list[dict[str, str]]:
    return [{"id": str(r["id"]), "image": str(r["image"]), "mask": str(r["mask"])} for r in frame.to_dict("records")]


@contextlib.contextmanager
def _work_folder(work_dir: str | Path | None) -> Iterator[Path]:
    if work_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="segaudit-canary-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    parent = Path(work_dir)
    if parent.exists() and not parent.is_dir():
        raise InputError("exists and is not a folder", path=parent, field="work")
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="canary-", dir=parent))
    try:
        yield folder
    except BaseException:  # a failed or interrupted audit leaves no half-built package or run behind
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _write_package(source: Any, data: Path, train_rows: list[dict[str, str]], canaries: list[dict[str, str]],
                   included: np.ndarray, selection: list[dict[str, str]]) -> None:
    """The audit's package: the training images and the included canaries (train), the selection images (val).
    Source files are hard-linked; the included canaries' mirrored masks are new files."""
    from segaudit.models.data.writer import MANIFEST_FILE, encode_png

    data.mkdir(parents=True)
    shutil.copy2(source.root / "dataset.yaml", data / "dataset.yaml")
    manifest = []
    for row in train_rows:
        for column in ("image", "mask"):
            link_or_copy(source.root / row[column], data / row[column])
        manifest.append({**row, "split": "train"})
    for row, inside in zip(canaries, included, strict=True):
        if not inside:
            continue
        link_or_copy(source.root / row["image"], data / row["image"])
        mask_file = Path("canary-masks") / f"{row['id']}.png"
        (data / mask_file).parent.mkdir(exist_ok=True)
        (data / mask_file).write_bytes(encode_png(mirror_mask(source.read_mask(row))))
        manifest.append({"id": f"canary-{row['id']}", "image": row["image"], "mask": mask_file.as_posix(),
                         "split": "train"})
    manifest += [{**row, "id": f"selection-{row['id']}", "split": "val"} for row in selection]
    # attribute columns empty (unknown): training reads only images, masks and splits
    with open(data / MANIFEST_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "image", "mask", "split", *source.spec.attributes],
                                restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)


def _quiet_train(data: Any, run: Path, recipe: Any, canaries: Any = None) -> None:
    """The recipe's training without its per-epoch log lines (the audit prints its own summary)."""
    from segaudit.models.train import quiet_training, train

    with quiet_training():
        train(data, run, recipe, canaries=canaries)


def _score(checkpoint: Path, package: Any, canaries: list[dict[str, str]]) -> np.ndarray:
    """Per canary: mean cross-entropy of the true mask minus that of the mirrored mask (higher: trained on)."""
    from segaudit.audit.privacy.signals import compute_signals
    from segaudit.models.runtime import Segmenter

    segmenter = Segmenter(checkpoint)
    images = [package.read_image(row) for row in canaries]
    true_masks = [package.read_mask(row) for row in canaries]
    ignore = package.spec.ignore_index
    true_loss = compute_signals(segmenter, images, true_masks, ignore, label_only=False).loss
    canary_loss = compute_signals(segmenter, images, [mirror_mask(mask) for mask in true_masks], ignore,
                                  label_only=False).loss
    assert true_loss is not None and canary_loss is not None
    return true_loss.mean(axis=1) - canary_loss.mean(axis=1)
