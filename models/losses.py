"""Per-pixel segmentation losses and class weights.

Every loss is an ``nn.Module`` called as ``loss(logits, target)`` with

- ``logits``: float ``[B, C, H, W]`` raw class scores (any float dtype; computed in float32),
- ``target``: long ``[B, H, W]`` class indices, where ``ignore_index`` (255) marks pixels that take no part
  in the loss at all: changing the logits there changes neither the value nor the gradient,

and returns a scalar. A batch whose pixels are all ignored gives a zero loss that is still attached to the
graph, so a training step never sees NaN from an empty crop.

Two reductions, both from the project's seed (the diploma's face-segmentation experiments):

- pixel losses (``ce``, ``focal``, ``bias``) weight each pixel by the weight of its target class and take the
  weighted mean ``sum_i w_{y_i} l_i / sum_i w_{y_i}``, which is exactly what
  ``torch.nn.functional.cross_entropy(weight=...)`` does;
- class losses (``bce``, ``dice``, ``tversky``, ``lovasz``) compute one loss per class and return
  ``mean_c(w_c * L_c)`` ("loss calculated separately for all classes ... multiplied by weights ... mean value
  of loss for each class"). With non-equal weights the scale of these losses therefore follows the weights.

Set losses (``dice``, ``tversky``, ``lovasz``) use softmax probabilities: the target is one class per pixel.
(The seed used sigmoids on one-hot masks; ``bce`` keeps that one-vs-rest form.)

``build_loss("ce+0.5*dice", num_classes, class_weights)`` builds any of these, or a weighted sum of them.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)

IGNORE_INDEX = 255
_EPS = 1e-12

__all__ = [
    "BiasLoss",
    "CombinedLoss",
    "DiceLoss",
    "FocalLoss",
    "LovaszSoftmaxLoss",
    "LOSS_NAMES",
    "TverskyLoss",
    "WeightedBCELoss",
    "WeightedCrossEntropyLoss",
    "build_loss",
    "class_weights",
    "count_class_pixels",
]


# ---------------------------------------------------------------------------------------------- helpers


def _as_weight(weight: Tensor | Sequence[float] | None) -> Tensor | None:
    """Per-class weights as a 1-D float32 tensor (or None); rejects negative or non-finite values."""
    if weight is None:
        return None
    w = torch.as_tensor(weight, dtype=torch.float32).detach().clone().reshape(-1)
    if not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"class weights must be finite and >= 0, got {w.tolist()}")
    return w


class _SegLoss(nn.Module):
    """Shared plumbing: optional per-class ``weight`` buffer, ``ignore_index`` and input checks."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.register_buffer("weight", _as_weight(weight))
        self.ignore_index = ignore_index

    def _check(self, logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Validate shapes; return (float32 logits [B,C,H,W], target with ignored set to 0, valid [B,H,W] bool)."""
        if logits.dim() != 4:
            raise ValueError(f"logits must be [B, C, H, W], got shape {tuple(logits.shape)}")
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(
                f"target must be [B, H, W] = {tuple(logits.shape[:1] + logits.shape[2:])} to match logits "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}"
            )
        if self.weight is not None and self.weight.numel() != logits.shape[1]:
            raise ValueError(f"{self.weight.numel()} class weights for logits with {logits.shape[1]} classes")
        valid = target != self.ignore_index
        return logits.float(), target.long().masked_fill(~valid, 0), valid

    def _class_weights(self, num_classes: int, like: Tensor) -> Tensor:
        """[C] weights on ``like``'s device (all ones when none were given)."""
        if self.weight is None:
            return like.new_ones(num_classes)
        return self.weight.to(like.device)

    def _one_hot(self, target: Tensor, valid: Tensor, num_classes: int) -> Tensor:
        """[B,H,W] indices -> [B,C,H,W] float one-hot, zero at ignored pixels."""
        onehot = F.one_hot(target, num_classes).permute(0, 3, 1, 2).float()
        return onehot * valid.unsqueeze(1)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}"


def _weighted_pixel_mean(per_pixel: Tensor, pixel_weight: Tensor) -> Tensor:
    """``sum(w * l) / sum(w)``; 0 (attached to the graph) when every weight is 0 (e.g. all pixels ignored)."""
    return (per_pixel * pixel_weight).sum() / pixel_weight.sum().clamp_min(_EPS)


# ---------------------------------------------------------------------------------------------- pixel losses


class WeightedCrossEntropyLoss(_SegLoss):
    """Softmax cross-entropy, optionally class-weighted: equals ``F.cross_entropy(logits, target, weight,
    ignore_index=255)`` (weighted mean over non-ignored pixels), but returns 0 instead of NaN on an all-ignored
    batch."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        w = self._class_weights(logits.shape[1], logits)
        ce = F.cross_entropy(logits, target, reduction="none")  # [B,H,W]
        return _weighted_pixel_mean(ce, w[target] * valid)


class FocalLoss(_SegLoss):
    """Multi-class focal loss (Lin et al. 2017): ``FL = -alpha_t (1 - p_t)^gamma log p_t``.

    ``weight`` plays the role of the per-class ``alpha_t``. Reduced as a weighted mean
    ``sum alpha_t FL / sum alpha_t``, so ``gamma=0`` is exactly weighted cross-entropy. ``gamma > 0`` shrinks the
    loss of confident, correct pixels (``p_t -> 1``) so the rare, hard pixels dominate the gradient.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        weight: Tensor | Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        w = self._class_weights(logits.shape[1], logits)
        logp_t = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)  # [B,H,W]
        # 1 - p_t computed as -expm1(log p_t) for precision; the clamp keeps d/dp of x**gamma finite at p_t = 1.
        modulating = (-torch.expm1(logp_t)).clamp_min(_EPS) ** self.gamma if self.gamma else 1.0
        return _weighted_pixel_mean(-modulating * logp_t, w[target] * valid)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, {super().extra_repr()}"


class BiasLoss(_SegLoss):
    """Bias loss (Abrahamyan et al. 2021, "Bias Loss for Mobile Neural Networks").

    Cross-entropy where each sample ``i`` is scaled by ``z(v_i) = exp(alpha * v_i) - beta``; ``v_i`` is the
    variance of the sample's feature maps, min-max normalised to [0, 1] over the batch and detached. Samples
    whose features carry little information (low variance) get less weight, so the many poorly-learned samples
    do not dominate the update. ``alpha = beta = 0.3`` as in the paper (z in [0.7, 1.05]); note that the
    authors' released code writes the same idea as ``exp(beta * v) - 1 + alpha``.

    Segmentation adaptation (ours):

    - ``forward(logits, target, features)`` with ``features`` ``[B, ...]`` (e.g. the last feature map the
      model computes before its classifier): one ``z`` per *image*, applied to all of its pixels;
    - ``forward(logits, target)`` (the training loop's plain ``criterion(logits, target)``): one ``z`` per
      *pixel*, from the variance of that pixel's logit vector across classes (``Var_c logits[b, :, h, w]``),
      min-max normalised over the non-ignored pixels of the batch. A flat logit vector (an undecided pixel)
      gets the least weight, exactly as a low-variance feature map does in the paper.

    If all variances are equal (e.g. batch size 1 with features) every ``v`` is 0 and the loss is
    ``(1 - beta) * CE``. Class weights act per pixel as in weighted CE; the reduction is
    ``sum(z * w_t * ce) / sum(w_t)`` (the paper's ``1/N``).
    """

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.3,
        weight: Tensor | Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        self.alpha = float(alpha)
        self.beta = float(beta)

    @staticmethod
    def _min_max(v: Tensor, valid: Tensor) -> Tensor:
        """Scale ``v`` to [0, 1] using min and max over ``valid`` entries only; zeros when they are all equal."""
        lo = v.masked_fill(~valid, float("inf")).min()
        hi = v.masked_fill(~valid, float("-inf")).max()
        span = hi - lo
        ok = torch.isfinite(span) & (span > 0)  # no host sync: a degenerate span selects the zeros
        return torch.where(ok, ((v - lo) / span.clamp_min(_EPS)).clamp(0.0, 1.0), torch.zeros_like(v))

    def forward(self, logits: Tensor, target: Tensor, features: Tensor | None = None) -> Tensor:
        logits, target, valid = self._check(logits, target)
        w = self._class_weights(logits.shape[1], logits)
        ce = F.cross_entropy(logits, target, reduction="none")  # [B,H,W]
        if features is not None:
            if features.shape[0] != logits.shape[0]:
                raise ValueError(f"features batch {features.shape[0]} != logits batch {logits.shape[0]}")
            var = features.detach().float().flatten(1).var(dim=1, unbiased=False)  # [B]
            v = self._min_max(var, torch.ones_like(var, dtype=torch.bool)).view(-1, 1, 1)  # [B,1,1]
        else:
            var = logits.detach().var(dim=1, unbiased=False)  # [B,H,W]
            v = self._min_max(var, valid)
        z = torch.exp(self.alpha * v) - self.beta
        return _weighted_pixel_mean(z * ce, w[target] * valid)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, {super().extra_repr()}"


# ---------------------------------------------------------------------------------------------- class losses


class WeightedBCELoss(_SegLoss):
    """One-vs-rest binary cross-entropy on one-hot targets, as in the seed's "BCEWeighted".

    For every class ``c`` the sigmoid BCE of ``logits[:, c]`` against ``target == c`` is averaged over the
    non-ignored pixels of the batch, giving ``L_c``; the loss is ``mean_c(w_c * L_c)``.
    """

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        num_classes = logits.shape[1]
        onehot = self._one_hot(target, valid, num_classes)  # [B,C,H,W]
        bce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")  # [B,C,H,W]
        per_class = (bce * valid.unsqueeze(1)).sum(dim=(0, 2, 3)) / valid.sum().clamp_min(1)  # [C]
        return (self._class_weights(num_classes, logits) * per_class).mean()


class TverskyLoss(_SegLoss):
    """Soft Tversky loss (Salehi et al. 2017) per class, on softmax probabilities over the whole batch.

    ``T_c = (TP_c + s) / (TP_c + alpha * FP_c + beta * FN_c + s)`` with ``TP = sum p g``,
    ``FP = sum p (1 - g)``, ``FN = sum (1 - p) g``; loss ``mean_c(w_c * (1 - T_c))``. ``alpha`` weighs false
    positives, ``beta`` false negatives (the paper's 0.3 / 0.7 favour recall of small structures).
    ``alpha = beta = 0.5`` is the Dice loss (with ``DiceLoss(smooth=2 * s)``).
    """

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float = 1.0,
        weight: Tensor | Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        if alpha < 0 or beta < 0 or smooth < 0:
            raise ValueError(f"alpha, beta and smooth must be >= 0, got {alpha}, {beta}, {smooth}")
        self.alpha, self.beta, self.smooth = float(alpha), float(beta), float(smooth)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        num_classes = logits.shape[1]
        probs = F.softmax(logits, dim=1) * valid.unsqueeze(1)  # [B,C,H,W], zero at ignored pixels
        onehot = self._one_hot(target, valid, num_classes)
        dims = (0, 2, 3)
        tp = (probs * onehot).sum(dims)  # [C]
        fp = probs.sum(dims) - tp
        fn = onehot.sum(dims) - tp
        denom = (tp + self.alpha * fp + self.beta * fn + self.smooth).clamp_min(_EPS)
        tversky = (tp + self.smooth) / denom
        return (self._class_weights(num_classes, logits) * (1.0 - tversky)).mean()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, smooth={self.smooth}, {super().extra_repr()}"


class DiceLoss(_SegLoss):
    """Soft Dice loss per class, on softmax probabilities over the whole batch, then ``mean_c(w_c * loss_c)``.

    ``D_c = (2 sum p g + s) / (sum p + sum g + s)``; with ``squared=True`` the denominator is
    ``sum p^2 + sum g^2`` (Milletari et al., the seed's formula). The smooth term ``s`` keeps a class absent from
    both prediction and target at loss 0 instead of 0/0.
    """

    def __init__(
        self,
        smooth: float = 1.0,
        squared: bool = False,
        weight: Tensor | Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.smooth = float(smooth)
        self.squared = bool(squared)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        num_classes = logits.shape[1]
        probs = F.softmax(logits, dim=1) * valid.unsqueeze(1)
        onehot = self._one_hot(target, valid, num_classes)
        dims = (0, 2, 3)
        inter = (probs * onehot).sum(dims)  # [C]
        p_sum = (probs * probs).sum(dims) if self.squared else probs.sum(dims)
        total = p_sum + onehot.sum(dims)  # sum g^2 == sum g for one-hot g
        dice = (2.0 * inter + self.smooth) / (total + self.smooth).clamp_min(_EPS)
        return (self._class_weights(num_classes, logits) * (1.0 - dice)).mean()

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}, squared={self.squared}, {super().extra_repr()}"


def _lovasz_grad(gt_sorted: Tensor) -> Tensor:
    """Gradient of the Lovász extension of the Jaccard loss w.r.t. sorted errors (Berman et al. 2018, Alg. 1).

    gt_sorted: [C, P] 0/1 float, per class the ground truth of the pixels sorted by decreasing error. Returns
    [C, P]: entry i is ``Delta(first i+1 pixels) - Delta(first i pixels)`` with ``Delta(M) = |M| / |G ∪ M|``.
    """
    n_gt = gt_sorted.sum(dim=1, keepdim=True)
    intersection = n_gt - gt_sorted.cumsum(dim=1)
    union = n_gt + (1.0 - gt_sorted).cumsum(dim=1)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], dim=1)


class LovaszSoftmaxLoss(_SegLoss):
    """Lovász-softmax loss (Berman et al. 2018): a convex surrogate of ``1 - IoU`` per class.

    For class ``c`` the pixel errors ``|[y = c] - p_c|`` are sorted in decreasing order and dotted with the
    gradient of the Jaccard set function; on hard (0/1) probabilities the result is exactly ``1 - IoU_c``.
    ``classes="present"`` averages over the classes present in the target (the paper's default), ``"all"`` over
    every class. ``per_image=True`` computes the loss per image and averages over images. Ignored pixels get
    error 0 and no ground truth, so they sort last and contribute nothing. Reduction ``mean_c(w_c * L_c)``.
    All classes are sorted in one call (no host sync); still, sorting every pixel makes this the slowest loss
    on CPU.
    """

    def __init__(
        self,
        classes: str = "present",
        per_image: bool = False,
        weight: Tensor | Sequence[float] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__(weight, ignore_index)
        if classes not in ("present", "all"):
            raise ValueError(f"classes must be 'present' or 'all', got {classes!r}")
        self.classes = classes
        self.per_image = bool(per_image)

    def _flat_loss(self, probs: Tensor, onehot: Tensor, w: Tensor) -> Tensor:
        """probs, onehot: [C, P] (both zero at ignored pixels); w: [C]. Scalar loss over these P pixels."""
        errors = (onehot - probs).abs()  # [C, P]; 0 at ignored pixels
        errors_sorted, order = torch.sort(errors, dim=1, descending=True)
        per_class = (errors_sorted * _lovasz_grad(onehot.gather(1, order))).sum(dim=1)  # [C]
        if self.classes == "all":
            return (w * per_class).mean()
        present = (onehot.sum(dim=1) > 0).float()
        return (w * per_class * present).sum() / present.sum().clamp_min(1.0)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        logits, target, valid = self._check(logits, target)
        num_classes = logits.shape[1]
        w = self._class_weights(num_classes, logits)
        probs = F.softmax(logits, dim=1) * valid.unsqueeze(1)  # [B,C,H,W]
        onehot = self._one_hot(target, valid, num_classes)
        if self.per_image:
            per_image = [self._flat_loss(p.flatten(1), g.flatten(1), w) for p, g in zip(probs, onehot, strict=True)]
            return torch.stack(per_image).mean()
        return self._flat_loss(probs.transpose(0, 1).flatten(1), onehot.transpose(0, 1).flatten(1), w)

    def extra_repr(self) -> str:
        return f"classes={self.classes!r}, per_image={self.per_image}, {super().extra_repr()}"


# ---------------------------------------------------------------------------------------------- combination


class CombinedLoss(nn.Module):
    """Weighted sum ``sum_k coef_k * loss_k(logits, target)``; ``features`` reaches only the terms that take it."""

    def __init__(self, terms: Sequence[tuple[float, nn.Module]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("CombinedLoss needs at least one term")
        self.coefficients = [float(c) for c, _ in terms]
        self.terms = nn.ModuleList([m for _, m in terms])

    def forward(self, logits: Tensor, target: Tensor, features: Tensor | None = None) -> Tensor:
        total = logits.new_zeros((), dtype=torch.float32)
        for coef, term in zip(self.coefficients, self.terms, strict=True):
            if features is not None and isinstance(term, BiasLoss):
                total = total + coef * term(logits, target, features)
            else:
                total = total + coef * term(logits, target)
        return total

    def extra_repr(self) -> str:
        return f"coefficients={self.coefficients}"


LOSS_NAMES: dict[str, type[_SegLoss]] = {
    "ce": WeightedCrossEntropyLoss,
    "bce": WeightedBCELoss,
    "focal": FocalLoss,
    "dice": DiceLoss,
    "tversky": TverskyLoss,
    "bias": BiasLoss,
    "lovasz": LovaszSoftmaxLoss,
}

_TERM = re.compile(r"^\s*(?:(?P<coef>\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?(?P<name>[a-z]+)\s*$")


def build_loss(
    name: str,
    num_classes: int,
    class_weights: Tensor | Sequence[float] | None = None,
    ignore_index: int = IGNORE_INDEX,
    **kwargs: object,
) -> nn.Module:
    """Build a loss by name: one of ``LOSS_NAMES`` or a sum such as ``"ce+dice"`` / ``"ce+0.5*lovasz"``.

    ``class_weights`` ([num_classes]) go to every term. Keyword arguments go to every term whose constructor
    takes them (``gamma`` to focal, ``smooth`` to dice and tversky, ...); prefix one with the loss name to aim
    it at a single term (``tversky_alpha=0.7`` vs ``bias_alpha=0.3``). A keyword that no term takes is an error.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    weight = _as_weight(class_weights)
    if weight is not None and weight.numel() != num_classes:
        raise ValueError(f"got {weight.numel()} class weights for num_classes={num_classes}")

    parsed: list[tuple[float, str]] = []
    for part in name.lower().split("+"):
        match = _TERM.match(part)
        if match is None or match["name"] not in LOSS_NAMES:
            raise ValueError(
                f"unknown loss {part.strip()!r} in {name!r}; valid names: {', '.join(LOSS_NAMES)} "
                "(or a sum such as 'ce+dice' or 'ce+0.5*dice')"
            )
        parsed.append((float(match["coef"] or 1.0), match["name"]))

    used: set[str] = set()
    terms: list[tuple[float, nn.Module]] = []
    for coef, term_name in parsed:
        cls = LOSS_NAMES[term_name]
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "weight", "ignore_index"}
        term_kwargs = {}
        for key, value in kwargs.items():
            if key.startswith(term_name + "_") and key[len(term_name) + 1 :] in accepted:
                term_kwargs[key[len(term_name) + 1 :]] = value
                used.add(key)
            elif key in accepted and f"{term_name}_{key}" not in kwargs:
                term_kwargs[key] = value
                used.add(key)
        terms.append((coef, cls(weight=weight, ignore_index=ignore_index, **term_kwargs)))

    unused = sorted(set(kwargs) - used)
    if unused:
        raise ValueError(f"loss {name!r} takes no keyword argument(s) {unused}")
    log.debug("built loss %s with %d term(s)", name, len(terms))
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1]
    return CombinedLoss(terms)


# ---------------------------------------------------------------------------------------------- class weights


def count_class_pixels(
    masks: Iterable[np.ndarray | Tensor], num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Pixels per class over an iterable of masks (each any shape of class indices; numpy or torch).

    Returns int64 ``[num_classes]``. ``ignore_index`` pixels are skipped; any other value outside
    ``[0, num_classes)`` is an error.
    """
    counts = np.zeros(num_classes, dtype=np.int64)
    for i, mask in enumerate(masks):
        arr = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
        values = arr.reshape(-1).astype(np.int64)
        values = values[values != ignore_index]
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            bad = values[(values < 0) | (values >= num_classes)][0]
            raise ValueError(f"mask {i} holds class {bad}, outside [0, {num_classes}) and not {ignore_index}")
        counts += np.bincount(values, minlength=num_classes)
    return counts


def class_weights(
    mode: str,
    pixel_counts: Sequence[int] | np.ndarray | Tensor | None = None,
    empirical: Sequence[float] | np.ndarray | Tensor | None = None,
    num_classes: int | None = None,
) -> Tensor:
    """Per-class loss weights, float32 ``[C]``, in one of the seed's three modes.

    - ``"equal"``: all 1 (``C`` from ``num_classes``, ``pixel_counts`` or ``empirical``);
    - ``"empirical"``: the user's hand-set weights, as given (the seed's were
      ``[0.5, 3, 3, 1, 0.5, 3, 2, 0.5, 1.5, 1.5, 1.5]`` for background, lips, eye, nose, hair, eyebrows,
      teeth, face, ears, glasses, beard);
    - ``"proportional"``: inverse pixel frequency, ``w_c = N / (K * n_c)`` with ``n_c`` the pixels of class
      ``c``, ``N = sum_c n_c`` and ``K`` the number of classes with ``n_c > 0``. The seed lists its
      proportional weights without their normalisation; we use this one (scikit-learn's "balanced") because it
      makes the pixel-weighted mean weight ``sum_c n_c w_c / N`` exactly 1, so a weighted CE keeps the scale of
      the unweighted one. A class with no pixels gets weight 0 (it cannot be weighted by its frequency) and a
      warning is logged.
    """
    if mode == "equal":
        sizes = [len(x) for x in (pixel_counts, empirical) if x is not None]
        size = num_classes if num_classes is not None else (sizes[0] if sizes else None)
        if size is None or size < 1:
            raise ValueError("'equal' class weights need num_classes (or pixel_counts / empirical to size them)")
        return torch.ones(size, dtype=torch.float32)
    if mode == "empirical":
        if empirical is None:
            raise ValueError("'empirical' class weights need the weights themselves: empirical=[...]")
        weight = _as_weight(empirical)
        assert weight is not None
    elif mode == "proportional":
        if pixel_counts is None:
            raise ValueError("'proportional' class weights need pixel_counts (see count_class_pixels)")
        counts = torch.as_tensor(np.asarray(pixel_counts, dtype=np.float64))
        if counts.dim() != 1 or (counts < 0).any() or counts.sum() <= 0:
            raise ValueError(f"pixel_counts must be a 1-D vector of counts >= 0 with a positive sum, got {counts}")
        absent = counts == 0
        if absent.any():
            missing = absent.nonzero().flatten().tolist()
            log.warning("classes %s have no pixels; their proportional weight is set to 0", missing)
        present = int((~absent).sum())
        weight = torch.where(absent, 0.0, counts.sum() / (present * counts.clamp_min(1))).float()
    else:
        raise ValueError(f"unknown class-weight mode {mode!r}; valid: 'equal', 'empirical', 'proportional'")
    if num_classes is not None and weight.numel() != num_classes:
        raise ValueError(f"{weight.numel()} class weights for num_classes={num_classes}")
    return weight
