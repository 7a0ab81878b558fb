"""The audited artifact and the recipe it was trained with, found from the model path.

`--model` may be a run folder (RUN/best is the model, RUN/config.json the recipe), a checkpoint folder
(RUN/best: its parent holds config.json) or an ExecuTorch program (RUN/model.pte, whose sidecar model.json
names its source checkpoint). The recipe is what shadow models are trained with, so that they resemble the
target: same architecture, input size, epochs, optimizer, DP settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from segaudit.core import checks
from segaudit.core.errors import InputError
from segaudit.core.reading import load_json
from segaudit.models.checkpoint import sha256_file
from segaudit.models.train import TrainConfig

RECIPE_FILE = "config.json"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Target:
    """The model under audit: where it is, what it is, and the run that produced it."""

    model_path: Path  # what Segmenter opens: a checkpoint folder or a .pte
    artifact: Path  # the file that is the model (the .pte or model.safetensors)
    format: str  # "pte" or "checkpoint"
    sha256: str
    recipe: TrainConfig
    recipe_path: Path
    trained: dict[str, Any]  # the run's result.json (epochs run, DP epsilon spent), {} when absent

    def to_dict(self, given: str | Path | None = None) -> dict[str, Any]:
        return {"artifact": str(given if given is not None else self.artifact), "sha256": self.sha256,
                "format": self.format, "model": self.recipe.model, "image_size": self.recipe.size,
                "recipe": str(self.recipe_path), "dp_epsilon": self.recipe.dp_epsilon,
                "dp_epsilon_spent": self.trained.get("dp_epsilon_spent")}


def resolve_target(model: str | Path, recipe: str | Path | None = None,
                   device: str = "cpu") -> tuple[Target, Any]:
    """(Target, opened Segmenter) for a run folder, checkpoint folder or .pte; `recipe` overrides the search;
    a checkpoint is queried on `device` (a .pte on the CPU)."""
    from segaudit.models.runtime import Segmenter, resolve_model_path

    path = Path(model)
    if not path.exists():
        raise InputError("not found: give a run folder, a checkpoint folder or a .pte program", path=path)
    model_path = resolve_model_path(path)
    segmenter = Segmenter(model_path, device=device)
    recipe_path = Path(recipe) if recipe is not None else _find_recipe(path, model_path, segmenter)
    config = read_recipe(recipe_path)
    model_name = segmenter.config.get("model")
    if model_name is not None and model_name != config.model:
        raise InputError(f"the recipe trains {config.model!r} but the model is {model_name!r}", path=recipe_path,
                         field="model")
    if config.size != segmenter.image_size:
        raise InputError(f"the recipe's input size {config.size} differs from the model's {segmenter.image_size}",
                         path=recipe_path, field="size")
    trained = read_trained(recipe_path)
    target = Target(model_path=model_path, artifact=segmenter.artifact, format=segmenter.format,
                    sha256=sha256_file(segmenter.artifact), recipe=config, recipe_path=recipe_path, trained=trained)
    return target, segmenter


def read_recipe(path: Path) -> TrainConfig:
    """A run's config.json as a TrainConfig (InputError naming the file and field when it is not one)."""
    if not path.is_file():
        raise InputError("the training recipe (a run's config.json) is missing; pass --recipe RUN/config.json",
                         path=path)
    data = _json_object(path, "a run's config.json")
    checks.known_keys(data, tuple(f.name for f in fields(TrainConfig)), path=path)
    config = TrainConfig(**data)
    try:
        config.validate()
    except InputError as error:
        raise InputError(error.message, path=path, field=error.field) from None
    return config


def read_trained(recipe_path: Path) -> dict[str, Any]:
    """The run's result.json beside its recipe (epochs run, why it stopped, DP epsilon spent); {} without one."""
    result_path = recipe_path.parent / RESULT_FILE
    return _json_object(result_path, "a run's result.json") if result_path.is_file() else {}


def _json_object(path: Path, what: str) -> dict[str, Any]:
    data = load_json(path, what=what)
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object ({what})", path=path)
    return data


def _find_recipe(given: Path, model_path: Path, segmenter: Any) -> Path:
    candidates = []
    if given.is_dir():
        candidates += [given / RECIPE_FILE, given.parent / RECIPE_FILE]
    else:  # a .pte beside its run's config.json, or wherever its source checkpoint says
        candidates.append(given.parent / RECIPE_FILE)
        source = segmenter.config.get("source_checkpoint")
        if source:
            candidates += [Path(source).parent / RECIPE_FILE, given.parent / Path(source).parent.name / RECIPE_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InputError(f"cannot find the training recipe (looked for {', '.join(map(str, candidates))}); "
                     "pass --recipe RUN/config.json", path=model_path, field="recipe")
