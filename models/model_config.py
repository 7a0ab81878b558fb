"""The one check of what a model's config says about its input and output, shared by the checkpoint config
(model.json of a checkpoint folder) and the .pte sidecar: a wrong number here would make every prediction
silently wrong (a mask of another size, a class id with no name), so it is an InputError naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segaudit.core import checks
from segaudit.core.errors import InputError

MAX_IMAGE_SIZE = 8192


def check_model_config(config: dict[str, Any], path: str | Path) -> None:
    """image_size in 1..8192, num_classes >= 1, classes keyed by every id 0..num_classes-1 with non-empty names,
    batch_size >= 1 when present; booleans are not numbers."""
    for key, low, high in (("image_size", 1, MAX_IMAGE_SIZE), ("num_classes", 1, 255), ("batch_size", 1, 4096)):
        if key in config:
            checks.integer(config[key], key, minimum=low, maximum=high, path=path)
    classes = config.get("classes")
    if not isinstance(classes, dict):
        raise InputError("missing or not a mapping of class id -> name", path=path, field="classes")
    ids = []
    for key, name in classes.items():
        try:
            ids.append(int(str(key)))
        except ValueError:
            raise InputError(f"class ids are integers, got {key!r}", path=path, field="classes") from None
        if str(int(str(key))) != str(key).strip():
            raise InputError(f"class ids are plain integers, got {key!r}", path=path, field="classes")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"class {key} needs a non-empty name, got {name!r}", path=path, field=f"classes.{key}")
    expected = list(range(int(config.get("num_classes", len(ids)))))
    if sorted(ids) != expected:
        raise InputError(f"class ids {sorted(ids)} are not 0..{len(expected) - 1} (num_classes "
                         f"{config.get('num_classes')})", path=path, field="classes")
