"""The checks every settings object, policy, sidecar and declaration runs on its values, written once.

Each function takes the value and the field it came from, returns the value as the type it was checked to be,
and otherwise raises an `InputError` that names the field (and the file, when `path` is given), says what was
expected and shows what was received. A boolean is never a number here (in Python `True == 1`; in a config
file `true` where a count belongs is a mistake), and NaN or infinity is never a valid setting.

    size = checks.integer(config["size"], "size", minimum=32, multiple_of=32)
    alpha = checks.probability(table["alpha"], "fairness.alpha", path=policy_file)
    checks.known_keys(section, ("margin", "alpha"), "fairness", path=policy_file)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from segaudit.core.errors import InputError

T = TypeVar("T")
Where = str | Path | None


def integer(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None,
            multiple_of: int | None = None, path: Where = None) -> int:
    """`value` as an int: a whole number (numpy's too, never a bool or a float) in [minimum, maximum] and, when
    `multiple_of` is given, a multiple of it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (multiple_of is not None and value % multiple_of):
        if minimum is not None and maximum is not None:
            expected = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            expected = f"an integer >= {minimum}"
        elif maximum is not None:
            expected = f"an integer <= {maximum}"
        else:
            expected = "an integer"
        if multiple_of is not None:
            expected += f" and a multiple of {multiple_of}"
        raise InputError(f"must be {expected}, got {value!r}", field=field, path=path)
    return int(value)


def number(value: Any, field: str, low: float = -math.inf, high: float = math.inf, *, open_low: bool = False,
           open_high: bool = False, note: str | None = None, path: Where = None) -> float:
    """`value` as a float: a finite real number (an int is fine, a bool or a numeric string is not) between `low`
    and `high`, each bound included unless `open_low` / `open_high`. `note` is added to the message in
    parentheses, e.g. "0.01 = 1 point" where users tend to write percents."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(float(value))
    if ok:
        x = float(value)
        ok = (x > low if open_low else x >= low) and (x < high if open_high else x <= high)
    if not ok:
        extra = f" ({note})" if note else ""
        raise InputError(f"must be {_range(low, high, open_low, open_high)}{extra}, got {value!r}",
                         field=field, path=path)
    return float(value)


def probability(value: Any, field: str, *, path: Where = None) -> float:
    """`value` as a float strictly between 0 and 1: an error rate, a confidence level, a power."""
    return number(value, field, 0.0, 1.0, open_low=True, open_high=True, path=path)


def choice(value: Any, choices: Iterable[T], field: str, *, path: Where = None) -> T:
    """`value`, which must be one of `choices` (the message lists them in the order given)."""
    options = list(choices)
    if isinstance(value, bool) or value not in options:  # True == 1 would pass for a choice of 1
        raise InputError(f"must be {_alternatives(options)}, got {value!r}", field=field, path=path)
    return value  # type: ignore[no-any-return]


def boolean(value: Any, field: str, *, path: Where = None) -> bool:
    """`value`, which must be a real bool: "yes", 1 or "false" are refused, not guessed."""
    if not isinstance(value, bool):
        raise InputError(f"must be true or false, got {value!r}", field=field, path=path)
    return value


def table(value: Any, field: str, *, what: str = "a table of keys and values", path: Where = None
          ) -> Mapping[str, Any]:
    """`value`, which must be a mapping (a TOML table, a YAML or JSON object); `what` says which one."""
    if not isinstance(value, Mapping):
        raise InputError(f"must be {what}, got {type(value).__name__}", field=field, path=path)
    return value


def known_keys(mapping: Mapping[Any, Any], allowed: Collection[str], where: str | None = None, *,
               path: Where = None) -> None:
    """Every key of `mapping` (the table at field `where`; None or '' for the top level) is in `allowed`.

    A key nobody reads is a typo that would otherwise silently drop a setting, so it is an error naming the
    first unknown key as the field and listing every unknown key and every allowed one.
    """
    unknown = [key for key in mapping if key not in allowed]
    if unknown:
        names = sorted(allowed) if isinstance(allowed, set | frozenset) else list(allowed)
        place = f"in '{where}'" if where else "at the top level"
        raise InputError(f"unknown keys {[str(k) for k in unknown]} {place}; allowed: {names}",
                         field=f"{where}.{unknown[0]}" if where else str(unknown[0]), path=path)


def optional(check: Callable[..., T], value: Any, field: str, *args: Any, **kwargs: Any) -> T | None:
    """None when `value` is None (a setting left unset), else `check(value, field, *args, **kwargs)`: for the
    checks that take the field second (integer, number, probability, boolean, table)."""
    return None if value is None else check(value, field, *args, **kwargs)


def _range(low: float, high: float, open_low: bool, open_high: bool) -> str:
    if math.isinf(low) and math.isinf(high):
        return "a finite number"
    if math.isinf(high):
        return f"a number {'>' if open_low else '>='} {low:g}"
    if math.isinf(low):
        return f"a number {'<' if open_high else '<='} {high:g}"
    if open_low and open_high:
        return f"a number strictly between {low:g} and {high:g}"
    return f"a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"


def _alternatives(options: list[Any]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    texts = [str(o) for o in options]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"
