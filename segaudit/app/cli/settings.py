"""One source of truth for settings: the config dataclasses (FairnessConfig, PrivacyConfig, AuditConfig) hold
every default. A command-line option is None unless the user gives it, and then it only overrides; help texts
read the default from the config, so a default is written down once."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import MISSING, fields
from typing import Any


def default(config_class: type, name: str) -> Any:
    """The default of field `name` of the dataclass `config_class`."""
    field = {f.name: f for f in fields(config_class)}[name]
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    raise KeyError(f"{config_class.__name__}.{name} has no default")


def given(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """{field: value} of the options among `names` (argparse dests named as the config's fields) that the user
    gave: the overrides to pass to the config."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}
