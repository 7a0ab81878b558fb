"""Differentially private training with Opacus DP-SGD: the mitigation the privacy audit measures.

`make_private` wraps model, optimizer and loader in one call, the way Opacus' PrivacyEngine does, after
replacing BatchNorm (which mixes samples and so breaks per-sample privacy) through Opacus' validator. The
loader switches to Poisson sampling, so a batch can be empty; the training loop still takes the noisy step.

Accounting is Opacus' RDP accountant, with its slow part done once: the RDP curve of one step at a given
(noise multiplier, sample rate) costs about a second in pure Python (150 orders, series sums), and Opacus
recomputes it on every `get_epsilon` call. RDP composes linearly over steps, so `epsilon_spent` multiplies the
cached one-step curve by the steps — the same arithmetic as Opacus, equal to the last bit (tested) — and the
noise multiplier found for a budget is remembered for the shadows that share the target's recipe.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset

from segaudit.core import checks
from segaudit.core.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DPConfig:
    """The privacy budget asked for: (epsilon, delta), and the per-sample gradient clipping norm."""

    epsilon: float
    delta: float = 1e-5
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        checks.number(self.epsilon, "dp_epsilon", 0.0, open_low=True)
        checks.probability(self.delta, "dp_delta")
        checks.number(self.max_grad_norm, "max_grad_norm", 0.0, open_low=True)


def replace_batchnorm(model: nn.Module) -> nn.Module:
    """The model with every module Opacus cannot privatise (BatchNorm) replaced (GroupNorm)."""
    from opacus.validators import ModuleValidator

    fixed = ModuleValidator.fix(model)
    errors = ModuleValidator.validate(fixed, strict=False)
    if errors:
        raise InputError(f"model cannot be trained with DP-SGD: {errors[:3]}", field="model")
    return fixed


class TupleDataset(Dataset):
    """(image, mask) tuples of a dict-item dataset: Opacus builds its empty batches from tensor tuples."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):  # noqa: ANN204
        item = self.dataset[index]
        return item["image"], item["mask"]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]


def make_private(model: nn.Module, optimizer: Optimizer, loader: DataLoader, config: DPConfig, epochs: int,
                 seed: int, canaries: GradientCanaries | None = None):  # noqa: ANN201 - Opacus' own types
    """Wrap model, optimizer and loader for DP-SGD with the noise calibrated to reach `config.epsilon`.
    `canaries`: Dirac gradient canaries to inject and observe (a white-box audit of this run; see
    GradientCanaries)."""
    import torch
    from opacus import PrivacyEngine

    engine = PrivacyEngine(accountant="rdp")
    batch_size = loader.batch_size or loader.batch_sampler.batch_size  # a batch sampler's (make_loader's NoLoneBatch)
    tuple_loader = DataLoader(TupleDataset(loader.dataset), batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    # What PrivacyEngine.make_private_with_epsilon does, with the noise multiplier's search remembered
    sigma = noise_multiplier(config.epsilon, config.delta, 1 / len(tuple_loader), epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about secure RNG; we document that runs are seeded
        private_model, private_optimizer, private_loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=tuple_loader, noise_multiplier=sigma,
            max_grad_norm=config.max_grad_norm, poisson_sampling=True,
            noise_generator=torch.Generator().manual_seed(seed + 1),
        )
    log.info("DP-SGD: noise multiplier %.3f for epsilon %.2f, delta %g over %d epochs",
             private_optimizer.noise_multiplier, config.epsilon, config.delta, epochs)
    if canaries is not None:
        canaries.install(private_optimizer, sample_rate=1 / len(tuple_loader), max_grad_norm=config.max_grad_norm)
    return private_model, private_optimizer, private_loader, engine


@functools.lru_cache(maxsize=64)
def noise_multiplier(epsilon: float, delta: float, sample_rate: float, epochs: int) -> float:
    """Opacus' noise multiplier for (epsilon, delta) after `epochs` at `sample_rate` (its binary search over
    the RDP accountant), remembered: every shadow of a DP recipe asks the same question."""
    from opacus.accountants.utils import get_noise_multiplier

    return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                      epochs=epochs, accountant="rdp"))


def epsilon_spent(history: Sequence[tuple[float, float, int]], delta: float) -> float:
    """Epsilon of an RDP accountant's history [(noise multiplier, sample rate, steps)] at `delta`: what
    `RDPAccountant.get_epsilon` returns, with each one-step RDP curve computed once per process."""
    from opacus.accountants.analysis import rdp as analysis

    if not history:
        return 0.0
    rdp = sum([np.asarray(_one_step_rdp(float(sigma), float(rate))) * steps for sigma, rate, steps in history])
    epsilon, _ = analysis.get_privacy_spent(orders=_orders(), rdp=rdp, delta=delta)
    return float(epsilon)


def _orders() -> list[float]:
    from opacus.accountants import RDPAccountant

    return list(RDPAccountant.DEFAULT_ALPHAS)


@functools.lru_cache(maxsize=256)
def _one_step_rdp(sigma: float, sample_rate: float) -> tuple[float, ...]:
    from opacus.accountants.analysis import rdp as analysis

    return tuple(analysis.compute_rdp(q=sample_rate, noise_multiplier=sigma, steps=1, orders=_orders()))


@dataclass
class GradientCanaries:
    """Dirac gradient canaries for a white-box audit of one DP-SGD run (Steinke, Nasr & Jagielski 2023, white-box
    auditing with Dirac canaries).

    Canary i is an extra training example whose clipped gradient is `max_grad_norm` times the unit vector of one
    coordinate of the flattened trainable parameters: its norm is exactly the clipping norm, the most any example
    may contribute. When the run starts, m distinct coordinates are drawn and each canary is included with
    probability 1/2 (`included`, seeded). An included canary is Poisson-sampled into each step at the loader's
    sample rate, like every training example, and its gradient is added to the step's sum of clipped gradients
    *before* Opacus adds the noise. So the run's DP guarantee covers the canaries exactly as it covers the
    training images, and the accountant needs no change. The white-box auditor sees every noisy gradient:
    `observed[i]` is the sum over steps of the noisy summed gradient at canary i's coordinate (an included canary
    adds about steps x sample rate x max_grad_norm). The model trains on the canaries too, as on any example.
    """

    m: int
    seed: int = 0
    parameters: int = field(init=False, default=0)  # trainable parameters the coordinates are drawn from
    coordinates: np.ndarray = field(init=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    included: np.ndarray = field(init=False, default_factory=lambda: np.zeros(0, dtype=bool))
    observed: np.ndarray = field(init=False, default_factory=lambda: np.zeros(0))
    steps: int = field(init=False, default=0)
    sampled: int = field(init=False, default=0)  # canary inclusions over all steps

    def __post_init__(self) -> None:
        checks.integer(self.m, "canaries", minimum=1)
        checks.integer(self.seed, "seed", minimum=0)

    def install(self, optimizer: Any, sample_rate: float, max_grad_norm: float) -> None:
        """Draw the canaries over the optimizer's parameters and wrap its `add_noise`: add the sampled canaries'
        gradients to the clipped sum, let Opacus add its noise, then record the noisy sum at every canary."""
        import torch

        params = list(optimizer.params)
        sizes = np.array([p.numel() for p in params], dtype=np.int64)
        self.parameters = int(sizes.sum())
        if self.m > self.parameters:
            raise InputError(f"{self.m} gradient canaries need as many distinct coordinates, the model has "
                             f"{self.parameters} trainable parameters", field="canaries")
        rng = np.random.default_rng([self.seed, 0xD12A])
        self.coordinates = np.sort(rng.choice(self.parameters, size=self.m, replace=False))
        self.included = rng.random(self.m) < 0.5
        self.observed = np.zeros(self.m)
        ends = np.cumsum(sizes)
        owner = np.searchsorted(ends, self.coordinates, side="right")
        slots = [(params[k], np.flatnonzero(owner == k),
                  torch.as_tensor(self.coordinates[owner == k] - (ends[k] - sizes[k]), device=params[k].device))
                 for k in np.unique(owner)]
        sampler = np.random.default_rng([self.seed, 0x5A3E])
        original = optimizer.add_noise

        def add_noise() -> None:
            sampled = self.included & (sampler.random(self.m) < sample_rate)
            self.sampled += int(sampled.sum())
            for param, which, local in slots:
                push = torch.as_tensor(sampled[which] * max_grad_norm, dtype=param.summed_grad.dtype)
                param.summed_grad.view(-1)[local] += push.to(param.summed_grad.device)
            original()
            for param, which, local in slots:
                self.observed[which] += param.grad.detach().reshape(-1)[local].double().cpu().numpy()
            self.steps += 1

        optimizer.add_noise = add_noise
