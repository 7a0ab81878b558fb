"""Reading the YAML, JSON and TOML files users hand to segaudit, with limits: one place, every command.

A configuration file is small and plain. These readers refuse, as an `InputError` naming the file (exit 2):
files over `MAX_BYTES`, text that is not UTF-8, NUL bytes or over-long names in the path, duplicate keys
(the second value silently winning is how a typo weakens a policy), YAML anchors and aliases (a
"billion laughs" document expands to gigabytes from a few lines; no segaudit file needs them), and nesting
deeper than `MAX_DEPTH` (a RecursionError is not an error message).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from segaudit.core.errors import InputError

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 64


def read_text(path: str | Path, *, what: str = "file", max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a user's file, checked: it exists, is a regular file, is not too large."""
    path = Path(path)
    text_path = str(path)
    if "\x00" in text_path:
        raise InputError("the path holds a NUL byte", path=text_path.replace("\x00", "\\0"))
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in path.parts):
        raise InputError("a name in the path is longer than 255 bytes", path=path)
    try:
        if not path.is_file():
            raise InputError(f"not found: expected a {what}" if not path.exists() else f"not a regular file: "
                             f"expected a {what}", path=path)
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{size:,} bytes is too large for a {what} (limit {max_bytes:,})", path=path)
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:  # symlink loops, permissions, a name too long for the file system
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if len(data) > max_bytes:
        raise InputError(f"too large for a {what} (limit {max_bytes:,} bytes)", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc}", path=path) from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases, duplicate keys or deep nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.constructor.ConstructorError(None, None, "anchors and aliases are not allowed",
                                                    event.start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                        event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: list[Any] = []  # a list: keys may be unhashable, and SafeLoader reports those itself
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.append(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, path: str | Path | None = None) -> Any:
    """YAML text -> Python objects, strictly (see the module docstring)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=path) from None
    except RecursionError:
        raise InputError(f"not valid YAML: nested deeper than {MAX_DEPTH} levels", path=path) from None


def load_yaml(path: str | Path, *, what: str = "YAML file") -> Any:
    return parse_yaml(read_text(path, what=what), path)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json(text: str, path: str | Path | None = None) -> Any:
    """JSON text -> Python objects, refusing duplicate keys and deep nesting."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise InputError(f"not valid JSON: nested deeper than the reader allows (limit {MAX_DEPTH})",
                         path=path) from None
    except ValueError as exc:  # JSONDecodeError is a ValueError, and so is a duplicate key
        raise InputError(f"not valid JSON: {exc}", path=path) from None
    _check_depth(data, path)
    return data


def load_json(path: str | Path, *, what: str = "JSON file") -> Any:
    return parse_json(read_text(path, what=what), path)


def parse_toml(text: str, path: str | Path | None = None) -> dict[str, Any]:
    """TOML text -> dict (tomllib already refuses duplicate keys)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    except RecursionError:
        raise InputError(f"not valid TOML: nested deeper than {MAX_DEPTH} levels", path=path) from None
    _check_depth(data, path)
    return data


def load_toml(path: str | Path, *, what: str = "TOML file") -> dict[str, Any]:
    return parse_toml(read_text(path, what=what), path)


def _check_depth(data: Any, path: str | Path | None) -> None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"nested deeper than {MAX_DEPTH} levels", path=path)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "load_json", "load_toml", "load_yaml", "parse_json", "parse_toml", "parse_yaml",
           "read_text"]
