"""segaudit.core.checks: each check returns good values as their type and refuses bad ones with an InputError that
names the field (and the file), what was expected and what was received."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from segaudit.core import checks
from segaudit.core.errors import InputError


def test_integer_accepts_whole_numbers_in_range_including_numpy() -> None:
    assert checks.integer(3, "n", minimum=1) == 3
    assert type(checks.integer(np.int64(7), "n", minimum=0, maximum=7)) is int
    assert checks.integer(-5, "offset") == -5
    assert checks.integer(96, "size", minimum=64, multiple_of=32) == 96


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (True, {"minimum": 0}, "must be an integer >= 0, got True"),
    (2.0, {}, "must be an integer, got 2.0"),
    ("3", {}, "must be an integer, got '3'"),
    (0, {"minimum": 1}, "must be an integer >= 1, got 0"),
    (9, {"maximum": 8}, "must be an integer <= 8, got 9"),
    (256, {"minimum": 0, "maximum": 255}, "must be an integer in [0, 255], got 256"),
    (100, {"minimum": 64, "multiple_of": 32}, "must be an integer >= 64 and a multiple of 32, got 100"),
])
def test_integer_refuses_bools_floats_text_and_out_of_range(value, kwargs: dict, expected: str) -> None:
    with pytest.raises(InputError) as info:
        checks.integer(value, "epochs", **kwargs)
    assert info.value.field == "epochs" and info.value.message == expected


def test_an_error_names_the_file_and_the_field() -> None:
    with pytest.raises(InputError) as info:
        checks.integer(0, "batch_size", minimum=1, path=Path("run/model.json"))
    assert str(info.value) == "run/model.json: field 'batch_size': must be an integer >= 1, got 0"


def test_number_accepts_ints_and_floats_within_its_bounds() -> None:
    assert checks.number(0, "margin", 0.0, 1.0, open_high=True) == 0.0
    assert type(checks.number(1, "rmia_a", 0.0, 1.0)) is float
    assert checks.number(np.float32(2.5), "epsilon", 0.0, open_low=True) == 2.5


@pytest.mark.parametrize(("value", "bounds", "expected"), [
    (True, {"low": 0.0, "high": 1.0}, "must be a number in [0, 1], got True"),
    (math.nan, {}, "must be a finite number, got nan"),
    (math.inf, {"low": 0.0}, "must be a number >= 0, got inf"),
    (-math.inf, {"high": 0.0}, "must be a number <= 0, got -inf"),
    ("0.5", {"low": 0.0, "high": 1.0}, "got '0.5'"),
    (1.0, {"low": 0.0, "high": 1.0, "open_high": True}, "must be a number in [0, 1), got 1.0"),
    (0, {"low": 0.0, "open_low": True}, "must be a number > 0, got 0"),
    (0, {"low": 0.0, "high": 1.0, "open_low": True}, "must be a number in (0, 1], got 0"),
])
def test_number_refuses_bools_nan_infinity_text_and_out_of_range(value, bounds: dict, expected: str) -> None:
    with pytest.raises(InputError) as info:
        checks.number(value, "margin", **bounds)
    assert info.value.field == "margin" and expected in info.value.message


def test_number_adds_its_note_to_the_message() -> None:
    with pytest.raises(InputError, match=r"in \[0, 1\) \(a fraction: 0.01 = 1 point\), got 2"):
        checks.number(2, "fairness.margin", 0.0, 1.0, open_high=True, note="a fraction: 0.01 = 1 point")


@pytest.mark.parametrize("value", [0, 1, 0.0, 1.0, -0.1, 1.5, True, math.nan, "0.05", None])
def test_probability_is_strictly_between_0_and_1(value) -> None:
    with pytest.raises(InputError, match="strictly between 0 and 1") as info:
        checks.probability(value, "alpha")
    assert info.value.field == "alpha"
    assert checks.probability(0.05, "alpha") == 0.05


def test_choice_returns_the_value_or_lists_the_choices() -> None:
    assert checks.choice("bh", ("holm", "bh"), "correction") == "bh"
    with pytest.raises(InputError) as info:
        checks.choice("bonferroni", ("holm", "bh"), "correction")
    assert info.value.field == "correction"
    assert info.value.message == "must be holm or bh, got 'bonferroni'"
    with pytest.raises(InputError, match="must be equal, empirical or proportional, got None"):
        checks.choice(None, ("equal", "empirical", "proportional"), "class_weights")
    with pytest.raises(InputError, match="got True"):
        checks.choice(True, (1, 2), "level")  # True == 1, but a bool is not the choice 1


def test_boolean_refuses_anything_but_true_or_false() -> None:
    assert checks.boolean(False, "card.require_complete") is False
    for value in ("yes", 1, 0, None):
        with pytest.raises(InputError, match=f"must be true or false, got {value!r}") as info:
            checks.boolean(value, "card.require_complete")
        assert info.value.field == "card.require_complete"


def test_table_accepts_mappings_and_names_what_it_expected() -> None:
    assert checks.table({"a": 1}, "fairness") == {"a": 1}
    with pytest.raises(InputError, match="must be a table of keys and values, got int") as info:
        checks.table(3, "fairness")
    assert info.value.field == "fairness"
    with pytest.raises(InputError, match="must be a mapping of attribute name -> declaration, got list"):
        checks.table([1], "attributes", what="a mapping of attribute name -> declaration")


def test_known_keys_names_the_unknown_ones_and_lists_the_allowed() -> None:
    checks.known_keys({"margin": 0.1}, ("margin", "alpha"), "fairness")
    with pytest.raises(InputError) as info:
        checks.known_keys({"margni": 0.1, "alpah": 0.1, "margin": 0.1}, ("margin", "alpha"), "fairness",
                          path="gate.toml")
    error = info.value
    assert error.field == "fairness.margni" and error.path == Path("gate.toml")
    assert error.message == "unknown keys ['margni', 'alpah'] in 'fairness'; allowed: ['margin', 'alpha']"
    with pytest.raises(InputError) as info:
        checks.known_keys({"colour": "blue"}, {"name", "classes"})
    assert info.value.field == "colour"
    assert info.value.message == "unknown keys ['colour'] at the top level; allowed: ['classes', 'name']"


def test_optional_passes_none_through_and_checks_anything_else() -> None:
    assert checks.optional(checks.integer, None, "workers", minimum=1) is None
    assert checks.optional(checks.number, 0.5, "rmia_a", 0.0, 1.0) == 0.5
    with pytest.raises(InputError, match=">= 1, got 0") as info:
        checks.optional(checks.integer, 0, "workers", minimum=1)
    assert info.value.field == "workers"
