"""Shapes, numbers and names in every form CONTRACT.md allows, and nothing else."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from grader.checkers.formula import (PointValue, PointValues, compare_formula,
                                     matches_everywhere, values_equal, wrong_points)
from grader.checkers.values import compare_name, compare_number, compare_shape, parse_shape
from grader.executor import QualifiedName
from grader.spec.model import NamesCompare, NumberCompare

NAMES = NamesCompare(type="names", strip_prefixes=["torch.nn.modules.pooling.", "torch.nn.", "nn."])
NUMBER = NumberCompare(type="number")


@pytest.mark.parametrize("answer", [(3, 3), [3, 3], "3x3", "3 x 3", "3 × 3", "(3, 3)", "[3,3]", "3 by 3", "3X3", np.array([3, 3]), (3.0, 3.0)])
def test_every_allowed_shape_form_passes(answer):
    assert compare_shape(answer, (3, 3)).passed


@pytest.mark.parametrize("answer", [(2, 2), "2x2", (3,), (3, 3, 1), "three by three", None, 9, (True, True), "3x"])
def test_wrong_or_malformed_shapes_fail(answer):
    verdict = compare_shape(answer, (3, 3))
    assert not verdict.passed and verdict.message


def test_shape_message_does_not_reveal_the_answer():
    assert "3" not in compare_shape((2, 2), (3, 3)).message.replace("2", "")


@pytest.mark.parametrize("answer", [math.inf, "inf", "Infinity", "∞", "math.inf", float("inf")])
def test_infinity_forms(answer):
    assert compare_number(answer, math.inf, NUMBER).passed


@pytest.mark.parametrize("answer, expected", [(1, 1), (1.0, 1), ("1", 1), (np.array(1.0), 1)])
def test_numbers(answer, expected):
    assert compare_number(answer, expected, NUMBER).passed


@pytest.mark.parametrize("answer", [True, 2, -math.inf, "one", None, [1], math.nan])
def test_wrong_numbers_fail(answer):
    assert not compare_number(answer, 1, NUMBER).passed


@pytest.mark.parametrize("answer", ["MaxPool2d", "nn.MaxPool2d", "torch.nn.MaxPool2d", " MaxPool2d ", "nn.MaxPool2d()", QualifiedName("torch.nn.modules.pooling.MaxPool2d")])
def test_module_name_forms(answer):
    assert compare_name(answer, "MaxPool2d", NAMES).passed


def test_capitalisation_gets_a_specific_message():
    verdict = compare_name("maxpool2d", "MaxPool2d", NAMES)
    assert not verdict.passed and "capitalisation" in verdict.message


@pytest.mark.parametrize("answer", ["SpatialMaxPooling", QualifiedName("submission.MaxPool2d"), QualifiedName("torch.nn.functional.max_pool2d"), 3, None])
def test_wrong_names_fail(answer):
    assert not compare_name(answer, "MaxPool2d", NAMES).passed


def test_parse_shape_refuses_non_shapes():
    assert parse_shape("hello") is None and parse_shape([]) is None and parse_shape([1.5, 2]) is None


# ------------------------------------------------------------------ formula values


def _formula_cases():
    """(points, student's values, expected values) where the quick paths could go wrong."""
    points = [{"I": i, "S": s} for i in range(1, 9) for s in (1, 2, 3)]
    right = [(i - 1) // s + 1 for i in range(1, 9) for s in (1, 2, 3)]
    big = 10**12
    variants = {
        "ints": list(right),
        "floats": [float(v) for v in right],
        "fractions": [Fraction(v) for v in right],
        "one wrong": right[:5] + [right[5] + 1] + right[6:],
        "bools": [bool(v) for v in right],
        "numpy ints": [np.int64(v) for v in right],
        "complex": [complex(v) for v in right],
        "arrays": [np.array([v]) for v in right],
        "none": [None] * len(right),
        "near floats": [v + 1e-12 for v in right],
        "halves": [Fraction(2 * v + 1, 2) for v in right],
    }
    for name, values in variants.items():
        actual = [PointValue(v) for v in values]
        yield name, points, actual, right
    errors = [PointValue(error="ZeroDivisionError: division by zero") if i % 4 == 0
              else PointValue(v) for i, v in enumerate(right)]
    yield "errors", points, errors, right
    huge = [big * v for v in right]
    yield "huge, within the tolerance", points, [PointValue(v + 1) for v in huge], huge
    yield "huge, beyond it", points, [PointValue(v + 10**4) for v in huge], huge
    yield "expected fractions", points, [PointValue(Fraction(v, 2)) for v in right], \
        [Fraction(v, 2) for v in right]


@pytest.mark.parametrize("case", list(_formula_cases()), ids=lambda case: case[0])
def test_formula_quick_paths_agree_with_values_equal_point_by_point(case):
    _, points, actual, expected = case
    exact = [i for i, (a, e) in enumerate(zip(actual, expected))
             if a.error or not values_equal(a.value, Fraction(e))]
    columns = PointValues.of(actual)
    assert [columns[i] for i in range(len(columns))] == actual
    for given in (actual, columns):
        for wanted in (expected, [Fraction(e) for e in expected]):  # ints or Fractions: the same
            assert wrong_points(points, given, wanted) == exact
            assert matches_everywhere(given, wanted) == (not exact)
            verdict = compare_formula(points, given, wanted)
            assert verdict == compare_formula(points, actual, [Fraction(e) for e in expected])
            assert verdict.passed == (not exact)
