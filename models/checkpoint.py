"""Checkpoints: a safetensors file of weights plus a JSON config; nothing is ever unpickled.

A checkpoint is a folder holding `model.safetensors` and `model.json` (which model, its configuration, the
classes, the input size, the sha256 of the weights, and free-form metadata such as metrics or the DP budget).
Training state for resuming (optimizer, scheduler, epoch) is stored the same way in `state.safetensors` +
`state.json`: tensors go to safetensors, the rest of the structure to JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from segaudit.core.errors import InputError
from segaudit.core.reading import load_json
from segaudit.models.registry import build

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
STATE_WEIGHTS = "state.safetensors"
STATE_CONFIG = "state.json"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(directory: str | Path, model: nn.Module | Mapping[str, torch.Tensor], *, model_name: str,
                    num_classes: int, classes: dict[int, str], image_size: int,
                    model_cfg: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> Path:
    """Write the weights of `model` (a module or its state dict) and config into `directory` (each file
    replaced atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = model if isinstance(model, Mapping) else model.state_dict()
    weights = {name: tensor.detach().contiguous().cpu() for name, tensor in state.items()}
    _atomic(directory / WEIGHTS_FILE, lambda tmp: save_file(weights, str(tmp)))
    config = {
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "num_classes": num_classes,
        "model_cfg": model_cfg or {},
        "classes": {str(k): v for k, v in classes.items()},
        "image_size": image_size,
        "weights_sha256": sha256_file(directory / WEIGHTS_FILE),
        "metadata": metadata or {},
    }
    _atomic(directory / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(config, indent=2) + "\n"))
    return directory


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The validated JSON config of a checkpoint folder (or of the folder holding the given file)."""
    directory = _checkpoint_dir(path)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise InputError(f"not a checkpoint: {CONFIG_FILE} is missing", path=directory)
    config = load_json(config_path, what="checkpoint config (JSON)")
    for key, kind in (("format_version", int), ("model", str), ("num_classes", int), ("model_cfg", dict),
                      ("classes", dict), ("image_size", int), ("weights_sha256", str)):
        if not isinstance(config, dict) or not isinstance(config.get(key), kind):
            raise InputError(f"missing or not a {kind.__name__}", path=config_path, field=key)
    if config["format_version"] > FORMAT_VERSION:
        raise InputError(f"format version {config['format_version']} is newer than this segaudit reads "
                         f"({FORMAT_VERSION})", path=config_path, field="format_version")
    from segaudit.models.model_config import check_model_config

    check_model_config(config, config_path)
    return config


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model named in the config and load its weights; corrupt or mismatched files are InputErrors."""
    directory = _checkpoint_dir(path)
    config = read_checkpoint_config(directory)
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise InputError("weights file is missing", path=weights_path)
    if sha256_file(weights_path) != config["weights_sha256"]:
        raise InputError("weights do not match the sha256 recorded in model.json (modified or truncated)",
                         path=weights_path)
    state = _load_tensors(weights_path)
    model = build(config["model"], num_classes=config["num_classes"], **config["model_cfg"])
    if (config.get("metadata", {}).get("dp") or {}).get("replace_batchnorm"):
        from segaudit.models.dp import replace_batchnorm

        model = replace_batchnorm(model)  # DP-SGD runs train with GroupNorm in place of BatchNorm
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = str(exc).split("\n", 1)[-1].strip()[:600]
        raise InputError(f"weights do not fit model {config['model']!r} with its config: {detail}",
                         path=weights_path) from None
    return model.eval(), config


def save_training_state(directory: str | Path, state: dict[str, Any]) -> None:
    """Save a nested dict of tensors and JSON values (optimizer/scheduler state dicts, epoch, ...)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    structure = _flatten(state, tensors, "s")
    _atomic(directory / STATE_WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    _atomic(directory / STATE_CONFIG, lambda tmp: tmp.write_text(json.dumps(structure)))


def load_training_state(directory: str | Path) -> dict[str, Any]:
    """The inverse of `save_training_state`."""
    directory = Path(directory)
    try:
        structure = json.loads((directory / STATE_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot resume: training state unreadable ({exc})", path=directory) from None
    tensors = _load_tensors(directory / STATE_WEIGHTS)
    return _unflatten(structure, tensors)


def _flatten(value: Any, tensors: dict[str, torch.Tensor], key: str) -> Any:
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().contiguous().cpu()
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {"__dict__": [[_flatten(k, tensors, f"{key}.k{i}"), _flatten(v, tensors, f"{key}.{i}")]
                             for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, list | tuple):
        items = [_flatten(v, tensors, f"{key}.{i}") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    return value


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__dict__" in value:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in value["__dict__"]}
        if "__tuple__" in value:
            return tuple(_unflatten(v, tensors) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    return value


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError("file is missing", path=path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"not a readable safetensors file (corrupt or truncated?): {exc}", path=path) from None


def _checkpoint_dir(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file() and path.name in (WEIGHTS_FILE, CONFIG_FILE):
        return path.parent
    if not path.is_dir():
        raise InputError("not found: a checkpoint is a folder with model.safetensors and model.json", path=path)
    return path


def _atomic(destination: Path, write: Any) -> None:
    from segaudit.core.atomic import atomic_file

    with atomic_file(destination) as tmp:
        write(tmp)
