"""Where training and inference run: "cpu" (the default, and what the tests use) or a CUDA device.

One place that validates the name and checks that the device exists, so a recipe asking for "cuda" on a
machine without a GPU is exit 2 naming the field, not a traceback from deep inside torch. The device is how a
run is computed, not what it computes: checkpoints are always saved from CPU copies, and the privacy audit's
shadow cache key leaves it out (a shadow trained on a GPU differs from its CPU twin in the last bits only).
"""

from __future__ import annotations

import re

import torch

from segaudit.core.errors import InputError

PATTERN = re.compile(r"^(cpu|cuda(:\d+)?)$")


def check_device(name: str, field: str = "device") -> str:
    """`name` if it is "cpu", "cuda" or "cuda:N" (InputError naming `field` otherwise)."""
    if not isinstance(name, str) or not PATTERN.match(name):
        raise InputError(f"must be 'cpu', 'cuda' or 'cuda:N', got {name!r}", field=field)
    return name


def resolve_device(name: str, field: str = "device") -> torch.device:
    """The torch.device for `name`, after checking that it exists on this machine."""
    check_device(name, field)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"{name!r} asked for, but CUDA is not available on this machine (torch "
                             f"{torch.__version__}); use 'cpu'", field=field)
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise InputError(f"{name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA "
                             "device(s)", field=field)
    return torch.device(name)
