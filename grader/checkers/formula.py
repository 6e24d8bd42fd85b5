"""Checker for integer formulas: the student's values against the expected ones over a domain."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

from grader.checkers.arrays import Verdict
from grader.formula_domain import smallest_counterexample

Point = dict[str, int]


@dataclass(frozen=True)
class PointValue:
    """The student's value at one point, or why there is none."""

    value: Any = None
    error: str = ""


def as_exact(value: Any) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(value)
    return None


def values_equal(actual: Any, expected: Fraction) -> bool:
    if type(actual) is Fraction and actual.denominator == 1:
        actual = actual.numerator
    if expected.denominator == 1 and (type(actual) is int or type(actual) is float and actual.is_integer()):
        # The common case, in integers (the same test as below, without Fraction arithmetic).
        difference = abs(int(actual) - expected.numerator)
        return difference == 0 or difference * 10**9 <= max(1, abs(expected.numerator))
    exact = as_exact(actual)
    if exact is None:
        return False
    # Floats of large quotients lose the last bits; an integer answer is still recognised.
    return abs(exact - expected) <= Fraction(1, 10**9) * max(1, abs(expected))


def wrong_points(points: Sequence[Point], actual: Sequence[PointValue], expected: Sequence[Fraction]) -> list[int]:
    return [i for i, (a, e) in enumerate(zip(actual, expected)) if a.error or not values_equal(a.value, e)]


def compare_formula(points: Sequence[Point], actual: Sequence[PointValue], expected: Sequence[Fraction]) -> Verdict:
    wrong = wrong_points(points, actual, expected)
    if not wrong:
        return Verdict(True, "", {"points": len(points)})
    by_point = {_key(points[i]): i for i in wrong}
    smallest = smallest_counterexample(points[i] for i in wrong)
    index = by_point[_key(smallest)]
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


def matches_everywhere(actual: Sequence[PointValue], other: Sequence[Fraction]) -> bool:
    """True when the student's values equal `other` at every point (used to recognise a mutant)."""
    return all(not a.error and values_equal(a.value, o) for a, o in zip(actual, other))


def _key(point: Point) -> tuple:
    return tuple(sorted(point.items()))


def _format(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value} (= {float(value):g})"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return repr(value)
