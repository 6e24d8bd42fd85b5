"""Tests for grader.checkers.arrays: the array comparison engine and its feedback."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from grader.checkers.arrays import Tolerance, Verdict, as_float_array, compare_arrays

C = np.array([[109.0, 92.0, 1.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
RECT = np.arange(6.0).reshape(2, 3) + 10.0  # non-square, distinct values


def assert_json(verdict: Verdict) -> None:
    json.dumps(verdict.details, allow_nan=False)


# ---------------------------------------------------------------------------- passing


@pytest.mark.parametrize(
    "actual",
    [
        C.copy(),
        C.astype(np.int64),
        C.astype(np.int32),
        C.astype(np.uint16),
        C.tolist(),
        [tuple(row) for row in C.astype(int).tolist()],
        C + 1e-12,
    ],
    ids=["exact", "int64", "int32", "uint16", "nested-lists", "tuples-of-ints", "tiny-noise"],
)
def test_passes(actual: object) -> None:
    verdict = compare_arrays(actual, C)
    assert verdict.passed, verdict.message
    assert verdict.message == ""
    assert verdict.details["wrong_count"] == 0
    assert verdict.details["total"] == 9
    assert_json(verdict)


def test_bool_array_counts_as_zero_one() -> None:
    assert compare_arrays(np.array([True, False, True]), np.array([1.0, 0.0, 1.0])).passed
    assert compare_arrays([True, False], np.array([1.0, 0.0])).passed


def test_float32_within_float32_tolerance_passes() -> None:
    expected = np.array([[1.0, 2.0], [3.0, 1000.0]])
    noisy = expected * (1 + 3e-6)  # beyond rtol 1e-7, within 1e-4
    assert not compare_arrays(noisy, expected).passed  # float64 answer: too far
    verdict = compare_arrays(noisy.astype(np.float32), expected)
    assert verdict.passed, verdict.message
    assert verdict.details["low_precision"] is True
    assert verdict.details["rtol"] == pytest.approx(1e-4)


def test_float16_uses_low_precision_tolerance() -> None:
    expected = np.array([0.1, 0.2, 0.3])
    assert compare_arrays(expected.astype(np.float16), expected,
                          Tolerance(float32_rtol=1e-3)).passed


def test_wrong_float32_fails_and_says_so() -> None:
    expected = np.array([1.0, 2.0, 3.0])
    verdict = compare_arrays(np.array([1.0, 2.1, 3.0], dtype=np.float32), expected)
    assert not verdict.passed
    assert "1 of 3 entries differs" in verdict.message
    assert "float32" in verdict.message


def test_float32_tolerance_never_stricter_than_base() -> None:
    tol = Tolerance(rtol=1e-2, atol=0.0, float32_rtol=1e-4, float32_atol=0.0)
    assert tol.for_precision(True) == (1e-2, 0.0)
    actual = np.array([1.005], dtype=np.float32)
    assert compare_arrays(actual, np.array([1.0]), tol).passed


def test_custom_tolerance_is_used() -> None:
    assert compare_arrays([1.05], np.array([1.0]), Tolerance(rtol=0.1)).passed
    assert not compare_arrays([1.05], np.array([1.0])).passed


def test_complex_with_negligible_imaginary_part_passes() -> None:
    expected = C.copy()
    fft_like = expected + 1e-14j * np.array([[1, -1, 2], [0, 3, -2], [1, 1, 1]])
    assert compare_arrays(fft_like, expected).passed
    array, reason = as_float_array(fft_like)
    assert array is not None and array.dtype == np.float64 and reason == ""


def test_complex_with_real_imaginary_part_fails() -> None:
    actual = C + 0.5j
    verdict = compare_arrays(actual, C)
    assert not verdict.passed
    assert "imaginary" in verdict.message
    assert verdict.details["failure"] == "type"
    array, reason = as_float_array(actual)
    assert array is None and "imaginary" in reason


def test_complex_imag_threshold_scales_with_real_part() -> None:
    big = np.array([1e6, 2e6]) + 1e-4j  # 1e-4 <= 1e-9 * 2e6
    assert compare_arrays(big, np.array([1e6, 2e6])).passed
    small = np.array([1.0, 2.0]) + 1e-4j
    assert not compare_arrays(small, np.array([1.0, 2.0])).passed


# ---------------------------------------------------------------------------- 0-d


def test_zero_d_expected_with_scalars() -> None:
    expected = np.array(4.0)
    for actual in (4, 4.0, np.float64(4.0), np.int64(4), np.array(4)):
        assert compare_arrays(actual, expected).passed, actual
    verdict = compare_arrays(3, expected)
    assert not verdict.passed
    assert "got 3, expected 4" in verdict.message
    assert verdict.details["first_wrong"] == [[]]
    assert_json(verdict)


def test_zero_d_hidden_hides_expected() -> None:
    verdict = compare_arrays(3, np.array(4.0), show_values=False)
    assert not verdict.passed
    assert "4" not in verdict.message.replace("error 1", "")
    assert verdict.details["first_wrong"] is None


def test_scalar_expected_but_one_element_list() -> None:
    verdict = compare_arrays([4.0], np.array(4.0))
    assert not verdict.passed
    assert "expected shape (), got (1,)" in verdict.message
    assert verdict.details["hint_code"] == "squeeze"


# ---------------------------------------------------------------------------- shapes


def test_shape_mismatch_states_both_shapes() -> None:
    verdict = compare_arrays(np.zeros((2, 4)), np.zeros((3, 3)))
    assert not verdict.passed
    assert "expected shape (3, 3), got (2, 4)" in verdict.message
    assert verdict.details["failure"] == "shape"
    assert verdict.details["expected_shape"] == [3, 3]
    assert verdict.details["actual_shape"] == [2, 4]
    assert verdict.details["hint"] is None  # no hint whose condition does not hold
    assert "hint" not in verdict.message
    assert_json(verdict)


def test_extra_leading_axis_fails_with_squeeze_hint() -> None:
    verdict = compare_arrays(C[None], C)
    assert not verdict.passed
    assert "expected shape (3, 3), got (1, 3, 3)" in verdict.message
    assert "extra axes of length 1: squeeze it" in verdict.message
    assert "values are then right" in verdict.message
    assert verdict.details["hint_code"] == "squeeze"


def test_squeeze_hint_without_claiming_right_values() -> None:
    verdict = compare_arrays((C + 1)[:, :, None], C)
    assert "squeeze it" in verdict.message
    assert "values are then right" not in verdict.message


def test_missing_unit_axis_hint() -> None:
    verdict = compare_arrays(C, C[None])
    assert verdict.details["hint_code"] == "missing_axes"
    assert "missing axes of length 1" in verdict.message


def test_transpose_hint_only_when_values_then_match() -> None:
    verdict = compare_arrays(RECT.T, RECT)
    assert "expected shape (2, 3), got (3, 2)" in verdict.message
    assert "your output is transposed" in verdict.message
    assert verdict.details["hint_code"] == "transposed"
    other = compare_arrays(RECT.T + 1, RECT)
    assert "transposed" not in other.message
    assert other.details["hint"] is None


def test_transpose_hint_for_square_output_in_value_path() -> None:
    verdict = compare_arrays(C.T, C)
    assert not verdict.passed
    assert verdict.details["failure"] == "values"
    assert verdict.details["hint_code"] == "transposed"
    assert "your output is transposed" in verdict.message


def test_reshape_hint_when_values_match_after_reshape() -> None:
    verdict = compare_arrays(C.ravel(), C)
    assert "expected shape (3, 3), got (9,)" in verdict.message
    assert "right values, wrong shape: reshape" in verdict.message
    assert verdict.details["hint_code"] == "reshape"
    wrong = compare_arrays(C.ravel() + 1, C)
    assert wrong.details["hint"] is None


def test_border_hint_smaller_by_2k() -> None:
    verdict = compare_arrays(np.zeros((3, 3)), np.zeros((5, 5)))
    assert "expected shape (5, 5), got (3, 3)" in verdict.message
    assert "smaller than expected by 2 rows/cols" in verdict.message
    assert "padding not applied?" in verdict.message
    assert verdict.details["hint_code"] == "border_missing"
    wide = compare_arrays(np.zeros((2, 1)), np.zeros((6, 5)))  # a border of 2 on each side
    assert "smaller than expected by 4 rows/cols (2 on each side)" in wide.message


def test_border_hint_larger() -> None:
    verdict = compare_arrays(np.zeros((7, 7)), np.zeros((5, 5)))
    assert "larger than expected by 2 rows/cols" in verdict.message
    assert "padding applied where none is due?" in verdict.message
    assert verdict.details["hint_code"] == "border_extra"


def test_border_hint_on_trailing_axes_of_stacked_channels() -> None:
    verdict = compare_arrays(np.zeros((2, 3, 3)), np.zeros((2, 5, 5)))
    assert verdict.details["hint_code"] == "border_missing"


@pytest.mark.parametrize(
    ("actual_shape", "expected_shape"),
    [((4, 4), (5, 5)), ((3, 5), (5, 5)), ((3, 4), (5, 5)), ((3, 3), (6, 4))],
)
def test_no_border_hint_when_difference_is_not_a_uniform_even_border(
    actual_shape: tuple[int, ...], expected_shape: tuple[int, ...]
) -> None:
    verdict = compare_arrays(np.zeros(actual_shape), np.zeros(expected_shape))
    assert verdict.details["hint_code"] is None
    assert "padding" not in verdict.message


def test_shape_hints_are_allowed_for_hidden_but_no_values() -> None:
    verdict = compare_arrays(C.ravel(), C, show_values=False)
    assert verdict.details["hint_code"] == "reshape"
    assert "109" not in verdict.message and "92" not in verdict.message
    assert "|" not in verdict.message


# ---------------------------------------------------------------------------- values


def test_counts_largest_error_and_first_indices() -> None:
    actual = C.copy()
    actual[0, 0] = 113
    actual[0, 1] = 87
    actual[1, 2] = 18  # error 12
    actual[2, 0] = 6
    verdict = compare_arrays(actual, C)
    assert not verdict.passed
    first_line = verdict.message.splitlines()[0]
    assert first_line.startswith("4 of 9 entries differ (largest error 12)")
    assert "[0, 0]: got 113, expected 109; [0, 1]: got 87, expected 92" in first_line
    assert "[2, 0]: got 6, expected 7" in first_line
    assert verdict.details["wrong_count"] == 4
    assert verdict.details["total"] == 9
    assert verdict.details["max_abs_error"] == 12.0
    assert verdict.details["first_wrong"] == [[0, 0], [0, 1], [1, 2], [2, 0]]
    assert verdict.details["differences"][0] == {"index": [0, 0], "actual": 113.0,
                                                 "expected": 109.0}
    assert_json(verdict)


def test_only_first_five_differences_are_listed() -> None:
    expected = np.zeros((4, 4))
    verdict = compare_arrays(np.ones((4, 4)), expected)
    assert verdict.details["wrong_count"] == 16
    assert verdict.details["first_wrong"] == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0]]
    assert verdict.message.splitlines()[0].endswith("; ...")


def test_close_values_are_printed_with_enough_digits_to_differ() -> None:
    verdict = compare_arrays([0.1 + 1e-6], np.array([0.1]))
    assert "got 0.100001, expected 0.1" in verdict.message
    verdict = compare_arrays([1.0 + 1e-7], np.array([1.0]), Tolerance(rtol=1e-9, atol=0))
    line = verdict.message.splitlines()[0]
    assert "got 1.0000001, expected 1" in line


def test_nan_where_finite_expected_is_wrong() -> None:
    verdict = compare_arrays([1.0, np.nan], np.array([1.0, 2.0]))
    assert not verdict.passed
    assert "1 NaN where a number is expected" in verdict.message
    assert "[1]: got nan, expected 2" in verdict.message
    assert verdict.details["max_abs_error"] is None  # no finite error among wrong entries
    assert verdict.details["differences"][0]["actual"] == "nan"
    assert_json(verdict)


def test_nan_where_nan_expected_is_right() -> None:
    assert compare_arrays([np.nan, 1.0], np.array([np.nan, 1.0])).passed
    verdict = compare_arrays([3.0, 1.0], np.array([np.nan, 1.0]))
    assert not verdict.passed
    assert "a number where NaN is expected" in verdict.message


def test_infinities_must_match_with_sign() -> None:
    expected = np.array([np.inf, -np.inf, 1.0])
    assert compare_arrays([np.inf, -np.inf, 1.0], expected).passed
    verdict = compare_arrays([-np.inf, -np.inf, 1.0], expected)
    assert not verdict.passed
    assert "infinity mismatch" in verdict.message
    assert not compare_arrays([1e308, -np.inf, 1.0], expected).passed
    assert not compare_arrays([np.inf, 1.0], np.array([5.0, 1.0])).passed
    assert_json(verdict)


# ---------------------------------------------------------------------------- side-by-side


def test_side_by_side_for_public_case() -> None:
    actual = C.copy()
    actual[0, 0] = 113
    actual[2, 2] = 9.5
    verdict = compare_arrays(actual, C, label="conv2d")
    lines = verdict.message.splitlines()
    header = next(line for line in lines if "expected" in line and "|" in line)
    assert "conv2d" in header
    body = lines[lines.index(header) + 1:]
    assert len(body) == 3
    assert "113*" in body[0] and "109" in body[0]
    assert "9.5*" in body[2]
    assert "5*" not in body[1]
    assert ".0" not in "\n".join(body)  # integers printed without ".0"
    bars = {line.index("|") for line in body + [header]}
    assert len(bars) == 1  # the two matrices are aligned


def test_side_by_side_compact_numbers() -> None:
    verdict = compare_arrays([[1 / 3, 2.0]], np.array([[0.25, 2.0]]))
    assert "0.333333*" in verdict.message
    assert "0.25" in verdict.message


def test_no_side_by_side_for_large_arrays() -> None:
    expected = np.zeros((9, 9))
    verdict = compare_arrays(np.ones((9, 9)), expected)
    assert "|" not in verdict.message
    verdict = compare_arrays(np.ones((1, 8, 8)), np.zeros((1, 8, 8)))
    assert "|" in verdict.message  # ≤ 8 × 8 after squeezing


def test_hidden_case_reveals_no_expected_values_or_indices() -> None:
    expected = np.array([[101.0, 202.0], [303.0, 404.0]])
    actual = np.array([[101.0, 0.5], [303.0, 404.0]])
    verdict = compare_arrays(actual, expected, show_values=False)
    assert not verdict.passed
    assert verdict.message == "1 of 4 entries differs (largest error 201.5)"
    assert "|" not in verdict.message
    for value in ("101", "202", "303", "404"):
        assert value not in verdict.message
        assert value not in json.dumps(verdict.details)
    assert verdict.details["first_wrong"] is None
    assert "differences" not in verdict.details
    assert verdict.details["wrong_count"] == 1
    assert_json(verdict)


def test_hidden_shape_failure_has_no_side_by_side() -> None:
    verdict = compare_arrays(np.zeros((3, 3)), np.full((5, 5), 77.0), show_values=False)
    assert "77" not in verdict.message
    assert "padding not applied?" in verdict.message
    public = compare_arrays(np.zeros((3, 3)), np.full((5, 5), 77.0))
    assert "77" in public.message  # the public case shows both matrices


# ---------------------------------------------------------------------------- garbage


def test_ragged_lists() -> None:
    array, reason = as_float_array([[1, 2, 3], [4, 5, 6], [7, 8]])
    assert array is None
    assert reason == "rows of different lengths: row 0 has 3 entries, row 2 has 2"
    verdict = compare_arrays([[1, 2, 3], [4, 5, 6], [7, 8]], C)
    assert not verdict.passed
    assert verdict.message.startswith("expected a 3 × 3 array, got a list")
    assert "row 0 has 3 entries, row 2 has 2" in verdict.message
    assert verdict.details["failure"] == "type"
    assert_json(verdict)


def test_ragged_deeper_and_mixed() -> None:
    _, reason = as_float_array([[[1, 2]], [[1, 2, 3]]])
    assert "row 0 is 1 × 2, row 1 is 1 × 3" in reason
    _, reason = as_float_array([[1, 2], 3])
    assert "row 1 is a number" in reason
    _, reason = as_float_array([[1, 2], [3, None]])
    assert reason == "entry [1, 1] is None, not a number"


def test_none_says_forgot_return() -> None:
    array, reason = as_float_array(None)
    assert array is None and reason == "returned None: did you forget `return`?"
    verdict = compare_arrays(None, C)
    assert verdict.message == "expected a 3 × 3 array, got None: did you forget `return`?"


def test_string_is_named_and_truncated() -> None:
    verdict = compare_arrays("hello", C)
    assert verdict.message == "expected a 3 × 3 array, got str 'hello'"
    long = compare_arrays("x" * 500, C)
    assert "str 'xxx" in long.message and len(long.message) < 100
    hidden = compare_arrays("secret", C, show_values=False)
    assert "secret" not in hidden.message and "str" in hidden.message


def test_strings_of_numbers_in_a_list_are_refused() -> None:
    array, reason = as_float_array(["1.5", "2"])
    assert array is None and "str '1.5'" in reason


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"a": 1}, "dict"),
        ({1, 2}, "set"),
        (object(), "object"),
        (len, "did you return the function"),
        (b"abc", "bytes"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
    ],
)
def test_other_garbage_names_the_type(value: object, fragment: str) -> None:
    verdict = compare_arrays(value, np.zeros(2))
    assert not verdict.passed
    assert verdict.message.startswith("expected an array of length 2, got ")
    assert fragment in verdict.message
    assert_json(verdict)


def test_hostile_object_never_raises() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

        def __len__(self) -> int:
            raise RuntimeError("boom")

    for value in (Hostile(), [Hostile()], [[1, 2], [Hostile(), 3]]):
        verdict = compare_arrays(value, np.zeros((2, 2)))
        assert not verdict.passed


def test_deeply_nested_list_never_raises() -> None:
    value: object = 1.0
    for _ in range(5000):
        value = [value]
    verdict = compare_arrays(value, np.zeros(3))
    assert not verdict.passed


def test_object_array_of_numbers_is_accepted() -> None:
    assert compare_arrays(np.array([1, 2.0], dtype=object), np.array([1.0, 2.0])).passed
    assert compare_arrays([10**30], np.array([1e30])).passed


def test_empty_arrays() -> None:
    assert compare_arrays([], np.zeros(0)).passed
    assert compare_arrays(np.zeros((0, 3)), np.zeros((0, 3))).passed
    assert not compare_arrays([], np.zeros(1)).passed


def test_huge_arrays_are_vectorised() -> None:
    expected = np.zeros((2000, 2000))
    actual = expected.copy()
    actual[1500, 7] = 1.0
    start = time.perf_counter()
    verdict = compare_arrays(actual, expected)
    assert time.perf_counter() - start < 5.0
    assert verdict.details["wrong_count"] == 1
    assert verdict.details["first_wrong"] == [[1500, 7]]
    assert "|" not in verdict.message
    everything_wrong = compare_arrays(np.ones((2000, 2000)), expected)
    assert everything_wrong.details["wrong_count"] == 4_000_000
    assert len(everything_wrong.details["first_wrong"]) == 5


def test_expected_given_as_list_is_coerced() -> None:
    assert compare_arrays([1, 2], [1.0, 2.0]).passed  # type: ignore[arg-type]


def test_close_mask_agrees_with_numpy_isclose_on_special_and_random_values():
    from grader.checkers.arrays import close_mask

    special = np.array([0.0, -0.0, 1.0, -1.0, 1e-9, np.inf, -np.inf, np.nan, 1e300, -1e300, 5e-324, 1 + 1e-8])
    actual, expected = np.meshgrid(special, special)
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=(50, 8)) * 10.0 ** rng.integers(-5, 5, size=(50, 1))
    near = noisy + rng.normal(size=(50, 8)) * 10.0 ** rng.integers(-12, 0, size=(50, 1))
    for rtol, atol in [(1e-7, 1e-9), (0.0, 0.0), (0.0, 1e-6), (1e-3, 0.0)]:
        for a, e in [(actual, expected), (noisy, near)]:
            with np.errstate(all="ignore"):
                reference = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
            assert np.array_equal(close_mask(a, e, rtol, atol), reference)


def test_a_verdict_passes_exactly_where_every_entry_is_close_and_reports_the_largest_error():
    # The passing fast path (one pass, no masks) and the full path must agree entry for entry.
    special = np.array([0.0, -0.0, 1.0, 1e-9, np.inf, -np.inf, np.nan, 1e300, 1 + 1e-8])
    rng = np.random.default_rng(1)
    tolerance = Tolerance(rtol=1e-7, atol=1e-9)
    for _ in range(300):
        expected = rng.choice(special, size=3) if rng.random() < 0.5 else rng.normal(size=3)
        actual = expected + rng.choice([0.0, 1e-12, 1e-3], size=3)
        actual[rng.random(3) < 0.1] = rng.choice(special)
        with np.errstate(all="ignore"):
            close = np.isclose(actual, expected, rtol=1e-7, atol=1e-9, equal_nan=True)
            errors = np.abs(actual - expected)
        verdict = compare_arrays(actual, expected, tolerance)
        assert verdict.passed == bool(close.all()), (actual, expected)
        assert verdict.details["wrong_count"] == int((~close).sum())
        counted = errors if verdict.passed else errors[~close]  # a failure reports its wrong entries
        finite = counted[np.isfinite(counted)]
        assert verdict.details["max_abs_error"] == (float(finite.max()) if finite.size else None)
