"""One inference interface over every artifact: the audits see exactly what a phone would produce.

`Segmenter(path)` opens a float checkpoint folder (model.safetensors + model.json) or an on-device ExecuTorch
program (`.pte`, run by executorch's Python runtime, `executorch.runtime.Runtime`). `predict(images)` takes RGB
uint8 images of any size, applies the deterministic preprocessing (resize to the model's square input,
ImageNet normalisation), runs in batches of `batch_size`, and returns per-pixel class probabilities resized
back to each image's own size; `predict_mask` returns their argmax.

A program is read together with its JSON sidecar (`model.pte` -> `model.json`, written by `segaudit quantize`):
classes, input size and the program's static batch size, plus the program's sha256. A missing program, a file
that is not an ExecuTorch program, or one that does not match its recorded sha256 (truncated, modified) is an
InputError, which the CLI turns into exit code 2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from segaudit.core.errors import InputError
from segaudit.core.reading import load_json
from segaudit.models.data.torch_dataset import to_model_input

log = logging.getLogger(__name__)

# An ExecuTorch program is a flatbuffer whose file identifier "ET" + 2-digit schema version sits at bytes 4-8.
PTE_MAGIC_OFFSET = 4
PTE_MAGIC = b"ET"
PTE_SIDECAR_KEYS = {"image_size": int, "classes": dict, "num_classes": int, "batch_size": int}


def resolve_model_path(path: Path) -> Path:
    """A run folder (with best/) means its best checkpoint; anything else is taken as given."""
    if path.is_dir() and (path / "best").is_dir():
        return path / "best"
    return path


class Segmenter:
    """Batched inference through a float checkpoint or an ExecuTorch .pte program.

    Attributes: `format` ("checkpoint" or "pte"), `artifact` (the file that is the model), `classes`
    ({id: name}), `num_classes`, `image_size` (the square model input side), `batch_size` (images per
    preprocessing batch; a .pte runs its static program batch as many times as needed), `config`.
    """

    def __init__(self, path: str | Path, batch_size: int = 16, device: str = "cpu") -> None:
        """path: a .pte program, a checkpoint folder, or a training run folder (its best/ checkpoint). device:
        where a checkpoint runs ("cpu", "cuda", "cuda:N"); a .pte program always runs on the CPU, as on a phone."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = resolve_model_path(Path(path))
        self.batch_size = batch_size
        self._model: torch.nn.Module | None = None
        self._program: PteProgram | None = None
        if self.path.suffix == ".pte":
            from segaudit.models.device import check_device

            self.format = "pte"
            self.device = torch.device("cpu") if check_device(device) else None
            self._program = PteProgram(self.path)
            self.config = self._program.config
        else:
            from segaudit.models.checkpoint import load_checkpoint

            self.format = "checkpoint"
            self._model, self.config = load_checkpoint(self.path)
            from segaudit.models.device import resolve_device

            self.device = resolve_device(device)
            self._model = self._model.to(self.device)
        self.image_size: int = int(self.config["image_size"])
        self.classes: dict[int, str] = {int(k): v for k, v in self.config["classes"].items()}
        self.num_classes: int = int(self.config["num_classes"])

    @property
    def artifact(self) -> Path:
        """The file that is the model: the .pte, or the checkpoint's safetensors weights."""
        if self.format == "pte":
            return self.path
        from segaudit.models.checkpoint import WEIGHTS_FILE

        return self.path / WEIGHTS_FILE if self.path.is_dir() else self.path.parent / WEIGHTS_FILE

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Class probabilities [C, H_i, W_i] (float32) for each RGB uint8 image [H_i, W_i, 3]."""
        out: list[np.ndarray] = []
        for batch in _chunks(list(images), self.batch_size):
            inputs = torch.stack([to_model_input(_check_image(image), self.image_size) for image in batch])
            probabilities = torch.softmax(self.logits(inputs), dim=1)
            for image, probs in zip(batch, probabilities, strict=True):
                size = tuple(image.shape[:2])
                if tuple(probs.shape[-2:]) != size:
                    probs = F.interpolate(probs[None], size=size, mode="bilinear", align_corners=False)[0]
                out.append(probs.numpy().astype(np.float32))
        return out

    def predict_mask(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Predicted class ids [H_i, W_i] (uint8) for each image."""
        return [probs.argmax(0).astype(np.uint8) for probs in self.predict(images)]

    @torch.inference_mode()
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Raw model output [B, C, S, S] for preprocessed inputs [B, 3, S, S] (S = `image_size`)."""
        expected = (3, self.image_size, self.image_size)
        if inputs.ndim != 4 or tuple(inputs.shape[1:]) != expected:
            raise ValueError(f"expected preprocessed inputs [B, {', '.join(map(str, expected))}], "
                             f"got {list(inputs.shape)}")
        if self._model is not None:
            return self._model(inputs.to(self.device)).cpu()
        assert self._program is not None
        return self._program(inputs)


class PteProgram:
    """A loaded ExecuTorch program (its `forward` method) and its sidecar config, called like a module.

    The program has a static batch size (`config["batch_size"]`): inputs are run in chunks of it, the last
    chunk padded with zeros and the padding dropped from the output.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config = read_pte_sidecar(path)
        self.batch_size = int(self.config["batch_size"])  # 1..4096, checked by read_pte_sidecar
        _check_program_file(path, self.config)
        try:
            from executorch.runtime import Runtime

            program = Runtime.get().load_program(path)
            self._method = program.load_method("forward")
        except (RuntimeError, ValueError, KeyError) as exc:  # the runtime's errors for programs it cannot load
            raise InputError(f"the ExecuTorch runtime cannot load this program: {exc}", path=path) from None
        self._program = program  # keeps the program alive as long as its method
        _check_sidecar_matches_program(self._method.metadata, self.config, sidecar_path(path))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs = []
        for start in range(0, inputs.shape[0], self.batch_size):
            chunk = inputs[start:start + self.batch_size]
            real = chunk.shape[0]
            if real < self.batch_size:
                chunk = torch.cat([chunk, chunk.new_zeros(self.batch_size - real, *chunk.shape[1:])])
            result = self._method.execute([chunk.contiguous().float()])
            outputs.append(result[0][:real].clone())
        return torch.cat(outputs)


def sidecar_path(pte: Path) -> Path:
    """The JSON sidecar of a program: `model.pte` -> `model.json`."""
    return pte.with_suffix(".json")


def read_pte_sidecar(pte: str | Path) -> dict[str, Any]:
    """The validated sidecar of a .pte (InputError naming the file and field when it is missing or wrong)."""
    pte = Path(pte)
    if not pte.is_file():
        raise InputError("not found: expected an ExecuTorch program (.pte)", path=pte)
    sidecar = sidecar_path(pte)
    if not sidecar.is_file():
        raise InputError(f"the program's sidecar {sidecar.name} (classes, input size, batch size) is missing; "
                         "`segaudit quantize` writes it next to the .pte", path=sidecar)
    config = load_json(sidecar, what="program sidecar (JSON)")
    if not isinstance(config, dict):
        raise InputError("expected a JSON object", path=sidecar)
    for key, kind in PTE_SIDECAR_KEYS.items():
        if not isinstance(config.get(key), kind) or isinstance(config.get(key), bool):
            raise InputError(f"missing or not a {kind.__name__}", path=sidecar, field=key)
    from segaudit.models.model_config import check_model_config

    check_model_config(config, sidecar)
    return config


def _check_sidecar_matches_program(meta: Any, config: dict[str, Any], sidecar: Path) -> None:
    """The sidecar describes the program it sits beside: one input [batch_size, 3, image_size, image_size] and
    logits [batch_size, num_classes, image_size, image_size]. A sidecar copied from another program would
    otherwise feed the program wrong shapes (a runtime abort) or read its classes wrongly."""
    size, batch, classes = config["image_size"], config["batch_size"], config["num_classes"]
    if meta.num_inputs() != 1:
        raise InputError(f"the program takes {meta.num_inputs()} inputs; a segmentation program takes one image "
                         "batch", path=sidecar)
    expected = {"input": (batch, 3, size, size), "output": (batch, classes, size, size)}
    real = {"input": tuple(meta.input_tensor_meta(0).sizes()), "output": tuple(meta.output_tensor_meta(0).sizes())}
    for what, shape in expected.items():
        if real[what] != shape:
            fields = "batch_size" if real[what][0] != shape[0] else ("num_classes" if what == "output"
                                                                      and real[what][1] != shape[1] else "image_size")
            raise InputError(f"does not describe its program: the program's {what} is {list(real[what])}, the "
                             f"sidecar says {list(shape)} (batch_size, channels, image_size, image_size)",
                             path=sidecar, field=fields)


def _check_program_file(path: Path, config: dict[str, Any]) -> None:
    """Foreign files and truncated or modified programs fail here, before the runtime parses anything."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if len(head) < 8 or head[PTE_MAGIC_OFFSET:PTE_MAGIC_OFFSET + 2] != PTE_MAGIC:
        raise InputError("not an ExecuTorch program (no 'ET' file identifier at byte 4)", path=path)
    recorded = config.get("pte_sha256")
    if recorded is not None:
        from segaudit.models.checkpoint import sha256_file

        if sha256_file(path) != recorded:
            size = path.stat().st_size
            expected = config.get("pte_bytes")
            detail = f" ({size} bytes, {expected} recorded)" if expected is not None and expected != size else ""
            raise InputError(f"the program does not match the sha256 recorded in {sidecar_path(path).name}: "
                             f"truncated or modified{detail}", path=path)
    else:
        log.warning("%s records no pte_sha256; the program's integrity is not checked", sidecar_path(path))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {getattr(image, 'dtype', type(image))} "
                         f"{shape}")
    return image
