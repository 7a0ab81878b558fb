"""The one-run canary DP audit (Steinke, Nasr & Jagielski 2023): the bound against scipy, its validity by
simulation of a mechanism that is exactly eps0-DP, and the audit end to end on seeded synthetic people at 32 px.

- the bound: at delta = 0 the binomial tail at the returned epsilon is 1 - confidence; the p-value rises with
  epsilon; delta > 0 never raises the bound; no better than chance gives 0; the guess grid is Bonferroni-corrected;
- validity: randomized response on the inclusion bits (exactly eps0-DP): the bound exceeds eps0 in at most about
  1 - confidence of 200 seeded trials, and with many canaries it comes close to eps0;
- end to end: a recipe without DP trained on a few images and the canaries (the CLI, one training in the module
  fixture) gives a bound > 0; a DP-SGD recipe (2 epochs, cheap) gives a bound in [0, epsilon spent];
- gradient canaries (white-box): injected exactly (a fake optimizer without noise); a DP-SGD run at epsilon 8
  gets a bound well above 0 and below what its accountant spent; the same audit catches a DP bug made on purpose
  (Opacus adding a twentieth of the noise its accountant charges for: the bound exceeds the claimed epsilon),
  which the honest run at that epsilon does not;
- bad input exits with code 2 naming the field or file.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from segaudit.app.cli.main import main
from segaudit.audit.privacy.canary import (
    GUESS_GRID,
    CanaryConfig,
    best_guess_bound,
    guess_accuracy,
    one_run_epsilon_bound,
    p_value,
    run_canary_audit,
)
from segaudit.core.errors import InputError
from segaudit.models.data.synth import synthesize
from segaudit.models.dp import GradientCanaries
from segaudit.models.train import TrainConfig

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:This API is experimental")]

# 4 training images and 40 canaries (about 20 of them trained on): sinet at 32 px, trained long enough to
# memorise the included canaries' mirrored masks.
RECIPE = {"model": "sinet", "size": 32, "epochs": 50, "batch_size": 8, "lr": 5e-3, "weight_decay": 0.0,
          "early_stop_patience": 1000, "lr_patience": 1000}
CANARIES, SEED = 40, 1


# --- the bound --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("m", "r", "v", "confidence"), [(100, 100, 80, 0.95), (1000, 200, 190, 0.99),
                                                         (50, 10, 10, 0.95), (256, 256, 140, 0.9)])
def test_bound_at_delta_0_is_where_the_binomial_tail_reaches_1_minus_confidence(m, r, v, confidence) -> None:
    epsilon = one_run_epsilon_bound(m, r, v, 0.0, confidence)
    assert epsilon > 0
    assert stats.binom.sf(v - 1, r, math.exp(epsilon) / (1 + math.exp(epsilon))) == pytest.approx(
        1 - confidence, abs=1e-6)
    assert p_value(m, r, v, epsilon * 0.99, 0.0) < 1 - confidence < p_value(m, r, v, epsilon * 1.01, 0.0)


@pytest.mark.parametrize("delta", [0.0, 1e-5, 1e-3])
def test_p_value_rises_with_epsilon(delta: float) -> None:
    for m, r, v in ((100, 100, 80), (1000, 300, 250), (40, 20, 15), (10, 4, 4)):
        values = np.array([p_value(m, r, v, eps, delta) for eps in np.linspace(0, 8, 161)])
        assert np.all(np.diff(values) >= -1e-15), (m, r, v)
        assert values.min() >= 0 and values.max() <= 1


def test_delta_never_raises_the_bound_and_chance_gives_zero() -> None:
    for m, r, v in ((100, 100, 80), (1000, 200, 190), (1000, 1000, 700), (64, 32, 30)):
        at_zero = one_run_epsilon_bound(m, r, v, 0.0, 0.95)
        assert one_run_epsilon_bound(m, r, v, 1e-5, 0.95) <= at_zero
        assert one_run_epsilon_bound(m, r, v, 1e-2, 0.95) < at_zero
    for r, v in ((10, 5), (100, 40), (1, 0), (0, 0), (7, 3)):  # v <= r / 2: not better than a coin
        assert one_run_epsilon_bound(100, r, v, 0.0, 0.95) == 0.0
        assert one_run_epsilon_bound(100, r, v, 1e-5, 0.95) == 0.0
    with pytest.raises(InputError, match="v"):
        one_run_epsilon_bound(10, 5, 6, 0.0, 0.95)


def test_the_guess_grid_is_bonferroni_corrected() -> None:
    rng = np.random.default_rng(0)
    included = rng.random(400) < 0.5
    scores = included + rng.normal(0, 0.8, 400)
    bound, best, rows = best_guess_bound(scores, included, 0.0, 0.95)
    assert len(rows) == len(GUESS_GRID) and bound == best["epsilon_lower_bound"] == max(r["epsilon_lower_bound"]
                                                                                        for r in rows)
    each = 1 - 0.05 / len(GUESS_GRID)
    assert bound == pytest.approx(one_run_epsilon_bound(400, best["r"], best["v"], 0.0, each), abs=1e-12)
    single, _, _ = best_guess_bound(scores, included, 0.0, 0.95, grid=((best["k_plus"] / 400, best["k_minus"] / 400),))
    assert single > bound > 0  # one pre-declared guess needs no correction
    order = np.argsort(-scores, kind="stable")
    top, bottom = order[:best["k_plus"]], order[400 - best["k_minus"]:] if best["k_minus"] else order[:0]
    assert best["v"] == included[top].sum() + (~included[bottom]).sum()


# --- validity by simulation --------------------------------------------------------------------------------------

def randomized_response(m: int, epsilon: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inclusion bits and an exactly epsilon-DP release of them: each bit kept w.p. e^eps / (1 + e^eps)."""
    included = rng.random(m) < 0.5
    kept = rng.random(m) < guess_accuracy(epsilon)
    return np.where(kept, included, ~included).astype(float), included


@pytest.mark.parametrize(("grid", "delta"), [(((0.5, 0.5),), 0.0), (GUESS_GRID, 0.0), (((0.5, 0.5),), 1e-5)])
def test_the_bound_exceeds_the_true_epsilon_at_most_1_minus_confidence_of_the_time(grid, delta) -> None:
    epsilon0, trials, confidence = 1.0, 200, 0.95
    exceed = 0
    for trial in range(trials):
        rng = np.random.default_rng([7, trial])
        scores, included = randomized_response(500, epsilon0, rng)
        scores += 1e-9 * rng.random(500)  # ties broken at random, independently of the bits
        exceed += best_guess_bound(scores, included, delta, confidence, grid)[0] > epsilon0
    # at most 5 % expected (10 of 200); 3 binomial standard deviations of slack
    assert exceed <= trials * 0.05 + 3 * math.sqrt(trials * 0.05 * 0.95), exceed


def test_many_canaries_bring_the_bound_close_to_the_true_epsilon() -> None:
    epsilon0 = 1.0
    bounds = []
    for trial in range(3):
        scores, included = randomized_response(20_000, epsilon0, np.random.default_rng([8, trial]))
        bounds.append(best_guess_bound(scores, included, 0.0, 0.95, ((0.5, 0.5),))[0])
    assert 0.9 * epsilon0 < np.median(bounds) <= epsilon0 * 1.02, bounds


# --- end to end ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("canary") / "people", n=44, seed=0, size=64,
                      split_fractions=(4 / 44, 40 / 44, 0.0), workers=1)


@pytest.fixture(scope="module")
def memorising(people: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    """The CLI on a recipe without DP: (the JSON it wrote, what it printed, its work folder)."""
    root = tmp_path_factory.mktemp("memorising")
    recipe = root / "run" / "config.json"
    recipe.parent.mkdir()
    recipe.write_text(json.dumps(asdict(TrainConfig(**RECIPE))))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["dp-audit", "--recipe", str(recipe), "--data", str(people), "--out", str(root / "dp.json"),
                     "--canaries", str(CANARIES), "--seed", str(SEED), "--work", str(root / "work")])
    assert code == 0
    return json.loads((root / "dp.json").read_text()), printed.getvalue(), root / "work"


def test_a_recipe_without_dp_that_memorises_gets_a_positive_bound(memorising) -> None:
    data, printed, work = memorising
    assert data["epsilon_lower_bound"] > 0, data["guesses"]
    assert data["m"] == CANARIES and data["r"] == data["k_plus"] + data["k_minus"] and data["v"] <= data["r"]
    assert data["included"] == sum(data["canary_included"]) and len(data["scores"]) == CANARIES
    assert data["dp_epsilon"] is None and data["dp_epsilon_spent"] is None and data["confidence"] == 0.95
    assert len(data["guesses"]) == len(GUESS_GRID) and data["method"].startswith("one-run canary audit")
    assert printed.startswith(f"epsilon >= {data['epsilon_lower_bound']:.2f} at 95 % ({data['v']} of {data['r']}")
    # the audit's package: the 4 training images, the included canaries with their mirrored masks, selection val
    folder = next(work.iterdir())
    manifest = (folder / "data" / "manifest.csv").read_text().splitlines()
    assert sum(",train," in line for line in manifest) == 4 + data["included"]
    assert (folder / "run" / "best" / "model.json").is_file()


def test_a_dp_sgd_recipe_gets_a_bound_within_what_its_accountant_spent(people: Path) -> None:
    recipe = TrainConfig(**{**RECIPE, "epochs": 2, "dp_epsilon": 8.0})
    result = run_canary_audit(recipe, people, CanaryConfig(canaries=CANARIES, seed=SEED))
    assert result.dp_epsilon == 8.0 and 0 < result.dp_epsilon_spent <= 8.0
    assert 0.0 <= result.epsilon_lower_bound <= result.dp_epsilon_spent
    assert result.delta == recipe.dp_delta
    assert "the run spent epsilon" in result.summary()


# --- gradient canaries (white-box) ---------------------------------------------------------------------------

# 32 training images, batch 8 (sample rate 1/4), 4 epochs: 16 DP-SGD steps of SINet at 32 px
DP_RECIPE = {**RECIPE, "epochs": 4}
GRADIENT_CANARIES = 5000


class NoiselessOptimizer:
    """What GradientCanaries sees of Opacus' DPOptimizer: params with summed_grad, and add_noise setting p.grad."""

    def __init__(self, shapes: list[tuple[int, ...]]) -> None:
        import torch

        self.params = [torch.zeros(shape) for shape in shapes]
        for param in self.params:
            param.summed_grad = torch.zeros_like(param)

    def add_noise(self) -> None:
        for param in self.params:
            param.grad = param.summed_grad.clone()
            param.summed_grad.zero_()


def test_gradient_canaries_add_the_clipping_norm_at_their_coordinates_when_sampled() -> None:
    optimizer = NoiselessOptimizer([(3, 4), (5,), (2, 2, 2)])
    canaries = GradientCanaries(m=20, seed=3)
    canaries.install(optimizer, sample_rate=1.0, max_grad_norm=2.5)
    assert canaries.parameters == 25 and np.unique(canaries.coordinates).size == 20
    for _ in range(3):
        optimizer.add_noise()
    assert canaries.steps == 3 and canaries.sampled == 3 * canaries.included.sum()
    np.testing.assert_array_equal(canaries.observed, np.where(canaries.included, 3 * 2.5, 0.0))
    flat = np.concatenate([p.grad.reshape(-1).numpy() for p in optimizer.params])  # the last step's gradient
    np.testing.assert_array_equal(flat[canaries.coordinates], np.where(canaries.included, 2.5, 0.0))
    assert flat[np.setdiff1d(np.arange(25), canaries.coordinates)].sum() == 0
    # Poisson sampling at rate 0.3: each included canary is in a step with probability 0.3
    optimizer, canaries = NoiselessOptimizer([(100, 100)]), GradientCanaries(m=2000, seed=4)
    canaries.install(optimizer, sample_rate=0.3, max_grad_norm=1.0)
    for _ in range(10):
        optimizer.add_noise()
    trials = 10 * int(canaries.included.sum())
    assert stats.binomtest(canaries.sampled, trials, 0.3).pvalue > 1e-3
    assert canaries.observed[~canaries.included].sum() == 0
    with pytest.raises(InputError, match="canaries"):
        GradientCanaries(m=30).install(NoiselessOptimizer([(5, 5)]), sample_rate=0.5, max_grad_norm=1.0)


@pytest.fixture(scope="module")
def dp_people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("dp-canary") / "people", n=40, seed=0, size=64,
                      split_fractions=(32 / 40, 8 / 40, 0.0), workers=1)


def test_gradient_canaries_bound_a_dp_sgd_run_below_what_it_spent(dp_people: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "config.json"
    recipe.write_text(json.dumps(asdict(TrainConfig(**{**DP_RECIPE, "dp_epsilon": 8.0}))))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["dp-audit", "--kind", "gradients", "--recipe", str(recipe), "--data", str(dp_people),
                     "--out", str(tmp_path / "dp.json"), "--canaries", str(GRADIENT_CANARIES), "--seed", "1"])
    assert code == 0
    data = json.loads((tmp_path / "dp.json").read_text())
    assert data["kind"] == "gradients" and data["method"].startswith("one-run canary audit") and "white-box" in \
        data["method"]
    assert 0 < data["dp_epsilon_spent"] <= 8.0 and data["steps"] == 16 and data["canary_split"] is None
    # measured 1.4-1.6 on this run: far from vacuous, and below the accountant's epsilon as DP requires
    assert 1.0 < data["epsilon_lower_bound"] <= data["dp_epsilon_spent"], data["guesses"]
    assert data["m"] == len(data["scores"]) == len(data["canary_ids"]) == GRADIENT_CANARIES
    included = np.array(data["canary_included"])
    assert data["included"] == included.sum() and np.mean(np.array(data["scores"])[included]) > np.mean(
        np.array(data["scores"])[~included])
    assert "gradient canaries, white-box" in printed.getvalue()


def test_a_dp_bug_that_adds_less_noise_than_accounted_is_caught(dp_people: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Opacus adding a twentieth of its noise while its accountant charges for all of it is the kind of bug a DP
    audit exists to find: the bound must exceed the claimed epsilon. The honest run at that epsilon does not."""
    recipe = TrainConfig(**{**DP_RECIPE, "dp_epsilon": 1.0})
    config = CanaryConfig(kind="gradients", canaries=GRADIENT_CANARIES, seed=1)
    honest = run_canary_audit(recipe, dp_people, config)
    assert 0.0 <= honest.epsilon_lower_bound <= honest.dp_epsilon_spent <= 1.0
    import opacus.optimizers.optimizer as dp_optimizer

    generate = dp_optimizer._generate_noise
    monkeypatch.setattr(dp_optimizer, "_generate_noise",
                        lambda std, reference, **kwargs: generate(std / 20, reference, **kwargs))
    broken = run_canary_audit(recipe, dp_people, config)
    assert broken.dp_epsilon_spent == honest.dp_epsilon_spent  # the accountant cannot see the bug
    assert broken.epsilon_lower_bound > 2 * broken.dp_epsilon_spent, broken.guesses


def test_gradient_canaries_need_a_dp_sgd_recipe(dp_people: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "config.json"
    recipe.write_text(json.dumps(asdict(TrainConfig(**DP_RECIPE))))
    assert main(["dp-audit", "--kind", "gradients", "--recipe", str(recipe), "--data", str(dp_people),
                 "--out", str(tmp_path / "dp.json")]) == 2
    err = capsys.readouterr().err
    assert "field 'dp_epsilon'" in err and str(recipe) in err
    assert main(["dp-audit", "--kind", "gradients", "--recipe", str(recipe), "--data", str(dp_people),
                 "--out", str(tmp_path / "dp.json"), "--canaries", "1"]) == 2
    assert "field 'canaries'" in capsys.readouterr().err
    # more canaries than the model has parameters: refused when the run starts, before any step
    recipe.write_text(json.dumps(asdict(TrainConfig(**{**DP_RECIPE, "dp_epsilon": 8.0}))))
    assert main(["dp-audit", "--kind", "gradients", "--recipe", str(recipe), "--data", str(dp_people),
                 "--out", str(tmp_path / "dp.json"), "--canaries", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "field 'canaries'" in err and "trainable parameters" in err
    assert not (tmp_path / "dp.json").exists()


# --- bad input ---------------------------------------------------------------------------------------------------

def test_bad_input_exits_2_naming_the_field_or_file(people: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "config.json"
    recipe.write_text(json.dumps(asdict(TrainConfig(**RECIPE))))
    base = ["dp-audit", "--data", str(people), "--out", str(tmp_path / "dp.json")]
    assert main([*base, "--recipe", str(recipe), "--canaries", "0"]) == 2
    assert "field 'canaries'" in capsys.readouterr().err
    assert main([*base, "--recipe", str(recipe), "--confidence", "1.5"]) == 2
    assert "field 'confidence'" in capsys.readouterr().err
    missing = tmp_path / "nope" / "config.json"
    assert main([*base, "--recipe", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    recipe.write_text(json.dumps({**RECIPE, "epoch": 3}))
    assert main([*base, "--recipe", str(recipe)]) == 2
    assert "field 'epoch'" in capsys.readouterr().err
    assert not (tmp_path / "dp.json").exists()
    with pytest.raises(InputError, match="guesses"):
        CanaryConfig(guesses=((0.6, 0.6),))
