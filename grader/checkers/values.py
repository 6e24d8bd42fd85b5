"""Checkers for plain values: shapes, numbers and names, in the forms CONTRACT.md allows."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np

from grader.checkers.arrays import Verdict
from grader.spec.model import NamesCompare, NumberCompare

_SHAPE_SEPARATORS = re.compile(r"\s*(?:x|X|×|\*|,|by)\s*")
_INFINITY_WORDS = {"inf", "+inf", "infinity", "+infinity", "∞", "+∞", "math.inf", "np.inf", "numpy.inf", "float('inf')", 'float("inf")'}


def _passed() -> Verdict:
    return Verdict(True, "", {})


def _failed(message: str, **details: Any) -> Verdict:
    return Verdict(False, message, details)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- shapes --------------------------------------------------------------------------------


def parse_shape(value: Any) -> tuple[int, ...] | None:
    """(3, 3), [3, 3], "3x3", "3 × 3", "(3, 3)", "3 by 3" → (3, 3); None when not a shape."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip().strip("()[]").strip()
        parts = [p for p in _SHAPE_SEPARATORS.split(text) if p != ""]
        if not parts or not all(p.isdigit() for p in parts):
            return None
        return tuple(int(p) for p in parts)
    if isinstance(value, (list, tuple)) and value:
        if all(_is_integral(v) for v in value):
            return tuple(int(v) for v in value)
    return None


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def compare_shape(actual: Any, expected: Any) -> Verdict:
    wanted = parse_shape(expected)
    got = parse_shape(actual)
    if got is None:
        return _failed(
            f"expected a shape such as (3, 4) or \"3x4\"; got {type(actual).__name__} {_short(actual)}",
            received_type=type(actual).__name__,
        )
    if got == wanted:
        return _passed()
    if wanted is not None and len(got) != len(wanted):
        return _failed(f"{_format_shape(got)} has {len(got)} dimension(s); the answer has {len(wanted)}", actual_shape=list(got))
    return _failed(f"{_format_shape(got)} is not the right shape", actual_shape=list(got))


def _format_shape(shape: tuple[int, ...]) -> str:
    return " × ".join(str(n) for n in shape)


# ---- numbers -------------------------------------------------------------------------------


def parse_number(value: Any) -> float | Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Fraction)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        return value.item()
    if isinstance(value, str):
        return _parse_number_text(value)
    return None


def _parse_number_text(text: str) -> float | int | None:
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned in _INFINITY_WORDS:
        return math.inf
    if cleaned in {"-inf", "-infinity", "-∞"}:
        return -math.inf
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def compare_number(actual: Any, expected: Any, policy: NumberCompare) -> Verdict:
    got = parse_number(actual)
    wanted = parse_number(expected)
    if got is None:
        return _failed(f"expected a number (or \"inf\"); got {type(actual).__name__} {_short(actual)}", received_type=type(actual).__name__)
    if wanted is not None and _numbers_close(float(got), float(wanted), policy):
        return _passed()
    return _failed(f"{_short(actual)} is not the right value")


def _numbers_close(got: float, wanted: float, policy: NumberCompare) -> bool:
    if math.isinf(wanted) or math.isinf(got):
        return got == wanted
    return abs(got - wanted) <= policy.atol + policy.rtol * abs(wanted)


# ---- names ---------------------------------------------------------------------------------


def normalise_name(value: Any, policy: NamesCompare) -> str | None:
    """A name or a class (arrives as a qualified name): prefixes stripped, "()" dropped."""
    if not isinstance(value, str):
        return None
    name = value.strip().strip("`'\"")
    if name.endswith("()"):
        name = name[:-2]
    for prefix in sorted(policy.strip_prefixes, key=len, reverse=True):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name if policy.case_sensitive else name.lower()


def compare_name(actual: Any, expected: Any, policy: NamesCompare) -> Verdict:
    got = normalise_name(actual, policy)
    wanted = normalise_name(expected, policy)
    if got is None:
        return _failed(f"expected a name (a string) or the class itself; got {type(actual).__name__} {_short(actual)}")
    if got == wanted:
        return _passed()
    if wanted is not None and got.lower() == wanted.lower():
        return _failed(f"{_short(actual)}: check the capitalisation; Python names are case-sensitive")
    return _failed(f"{_short(actual)} is not the right module")
