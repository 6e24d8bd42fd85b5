"""One comparison entry point: every question kind compares through `compare`."""

from __future__ import annotations

from typing import Any

from grader.checkers.arrays import Tolerance, Verdict, compare_arrays
from grader.checkers.values import compare_name, compare_number, compare_shape
from grader.spec.model import ArrayCompare, NamesCompare, NumberCompare, ShapeCompare


def compare(policy: Any, actual: Any, expected: Any, *, show_values: bool, label: str = "output") -> Verdict:
    """Compare a student's plain-data answer with the expected one under the spec's policy."""
    if isinstance(policy, ArrayCompare):
        tolerance = Tolerance(policy.rtol, policy.atol, policy.float32_rtol, policy.float32_atol)
        return compare_arrays(actual, expected, tolerance, show_values=show_values, label=label)
    if isinstance(policy, ShapeCompare):
        return compare_shape(actual, expected)
    if isinstance(policy, NumberCompare):
        return compare_number(actual, expected, policy)
    if isinstance(policy, NamesCompare):
        return compare_name(actual, expected, policy)
    raise TypeError(f"no checker for comparison policy {type(policy).__name__}")


def matches(policy: Any, actual: Any, other: Any) -> bool:
    """True when the answer equals `other` under the policy (recognises a known mistake)."""
    try:
        return compare(policy, actual, other, show_values=False).passed
    except Exception:
        return False
