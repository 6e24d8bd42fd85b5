"""Checker for integer formulas: the student's values against the expected ones over a domain."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from grader.checkers.arrays import Verdict
from grader.formula_domain import simplest_index

Point = dict[str, int]
Exact = int | Fraction  # an expected value: whole numbers may be ints

# Types whose plain == against an exact value implies values_equal (bool and numpy scalars may
# compare equal yet are refused, and == on other objects need not even return a bool).
_PLAIN_TYPES = frozenset({int, float, Fraction})
_TOLERANCE = 10**9  # values_equal: equal within |expected| / _TOLERANCE (at least 1 / _TOLERANCE)


@dataclass(frozen=True)
class PointValue:
    """The student's value at one point, or why there is none."""

    value: Any = None
    error: str = ""


class PointValues(Sequence[PointValue]):
    """The student's value at every point, kept as a list of values and the errors by index.

    Reads as a sequence of ``PointValue`` but is built and compared without one object per point.
    """

    def __init__(self, values: list[Any], errors: Mapping[int, str] | None = None):
        self.values = values
        self.errors = dict(errors or {})  # point index -> why there is no value (value None)

    @classmethod
    def of(cls, actual: Sequence[PointValue]) -> PointValues:
        if isinstance(actual, PointValues):
            return actual
        return cls([a.value for a in actual], {i: a.error for i, a in enumerate(actual) if a.error})

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> PointValue:  # type: ignore[override]
        error = self.errors.get(index)
        return PointValue(error=error) if error else PointValue(self.values[index])

    @functools.cached_property
    def plain(self) -> bool:
        """No error, and every value of a type that plain == may compare (see _PLAIN_TYPES)."""
        return not self.errors and set(map(type, self.values)) <= _PLAIN_TYPES


def as_exact(value: Any) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(value)
    return None


def values_equal(actual: Any, expected: Exact) -> bool:
    if type(actual) is Fraction and actual.denominator == 1:
        actual = actual.numerator
    if expected.denominator == 1 and (type(actual) is int or type(actual) is float and actual.is_integer()):
        # The common case, in integers (the same test as below, without Fraction arithmetic).
        difference = abs(int(actual) - expected.numerator)
        return difference == 0 or difference * _TOLERANCE <= max(1, abs(expected.numerator))
    exact = as_exact(actual)
    if exact is None:
        return False
    # Floats of large quotients lose the last bits; an integer answer is still recognised.
    return abs(exact - expected) <= Fraction(1, _TOLERANCE) * max(1, abs(expected))


def wrong_points(points: Sequence[Point], actual: Sequence[PointValue], expected: Sequence[Exact]) -> list[int]:
    actual = PointValues.of(actual)
    if _plainly_equal(actual, expected):
        return []
    errors = actual.errors
    return [i for i, (value, e) in enumerate(zip(actual.values, expected)) if i in errors or not _equal(value, e)]


def _plainly_equal(actual: PointValues, expected: Sequence[Exact]) -> bool:
    """True when every value == its expected one: then values_equal holds everywhere.

    One list comparison (in C, and int == int when the expected whole numbers are ints); False
    says nothing, the caller looks point by point.
    """
    return actual.plain and actual.values == list(expected)


def _equal(value: Any, expected: Exact) -> bool:
    """values_equal(value, expected), quicker when both are ints."""
    if type(value) is int and type(expected) is int and -_TOLERANCE < expected < _TOLERANCE:
        return value == expected  # the tolerance is below 1 here: two different ints differ
    return (type(value) in _PLAIN_TYPES and value == expected) or values_equal(value, expected)


def compare_formula(points: Sequence[Point], actual: Sequence[PointValue], expected: Sequence[Exact]) -> Verdict:
    actual = PointValues.of(actual)
    wrong = wrong_points(points, actual, expected)
    if not wrong:
        return Verdict(True, "", {"points": len(points)})
    index = simplest_index(points, wrong)  # points are distinct: the one smallest_counterexample picks
    smallest = dict(points[index])
    at = ", ".join(f"{name}={value}" for name, value in smallest.items())
    got = actual[index]
    what = f"raised {got.error}" if got.error else f"gave {_format(got.value)}"
    message = (
        f"wrong at {len(wrong)} of {len(points)} points; smallest counterexample: {at}: "
        f"your formula {what}, the right value is {_format(expected[index])}"
    )
    details = {"points": len(points), "wrong_count": len(wrong), "counterexample": dict(smallest),
               "actual": _format(got.value) if not got.error else got.error, "expected": _format(expected[index])}
    return Verdict(False, message, details)


def matches_everywhere(actual: Sequence[PointValue], other: Sequence[Exact]) -> bool:
    """True when the student's values equal `other` at every point (used to recognise a mutant)."""
    actual = PointValues.of(actual)
    if _plainly_equal(actual, other):
        return True
    if any(i < len(other) for i in actual.errors):
        return False
    return all(_equal(value, o) for value, o in zip(actual.values, other))


def _format(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value} (= {float(value):g})"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return repr(value)
