"""Array checker: compare a student's array answer with the expected array.

The student's value has already crossed the process boundary as plain data (an ndarray of a
numeric dtype, nested lists of numbers, a scalar, or something wrong such as a str, None or a
dict). The comparison runs here, in the trusted process, and never raises.

Order of checks, each failing early with feedback that says what exactly is wrong:

1. the value is numeric and rectangular (``as_float_array``);
2. the shape matches exactly, with a hint when a squeeze, a transpose, a reshape or a border
   of width k explains the difference;
3. the values match within the tolerance (float32 answers get the float32 tolerance): the
   count of wrong entries, the largest error, the first differing indices and, for public
   cases with small arrays, a side-by-side of the output and the expected array.

With ``show_values=False`` (hidden cases) no value or index of the expected array appears in
the message or the details, and nothing the student returned is echoed back verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Tolerance", "Verdict", "as_float_array", "compare_arrays"]

# A complex answer counts as real when max|imag| <= IMAG_RTOL * max(1, max|real|).
IMAG_RTOL = 1e-9
IMAG_RTOL_LOW_PRECISION = 1e-5  # complex64: the imaginary noise of a float32 FFT
MAX_SHOWN_DIFFERENCES = 5
SIDE_BY_SIDE_MAX = 8  # rows and columns
MAX_ECHO_CHARS = 40
_SCAN_CHUNK = 1 << 20

_NUMBER_TYPES = (bool, int, float, complex, np.number, np.bool_)


@dataclass(frozen=True)
class Tolerance:
    rtol: float = 1e-7
    atol: float = 1e-9
    float32_rtol: float = 1e-4  # used instead when the student's array was float32/float16
    float32_atol: float = 1e-5

    def for_precision(self, low_precision: bool) -> tuple[float, float]:
        """(rtol, atol) to use; the float32 pair never makes the comparison stricter."""
        if low_precision:
            return max(self.rtol, self.float32_rtol), max(self.atol, self.float32_atol)
        return self.rtol, self.atol


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str  # one or a few lines for a human: what is wrong; "" when passed
    details: dict[str, object]  # machine-readable, JSON-serialisable


# --------------------------------------------------------------------------------------------
# Conversion of plain data to a float64 array
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Converted:
    array: np.ndarray | None
    low_precision: bool = False
    reason: str = ""  # standalone sentence (as_float_array)
    got: str = ""  # completes "expected a 3 × 3 array, got ..."


def _refuse(reason: str, got: str) -> _Converted:
    return _Converted(None, reason=reason, got=got)


def _shorten(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not break grading
        text = f"<{type(value).__name__}>"
    if len(text) <= MAX_ECHO_CHARS:
        return text
    return text[: MAX_ECHO_CHARS - 4] + "...'" if text[:1] in "'\"" else _shorten(text)


def _describe(value: object, echo: bool = True) -> str:
    """A short description of a non-numeric value, e.g. "str 'hello'" or "None".

    With echo=False (hidden cases) the student's content is not repeated, only its type.
    """
    if value is None:
        return "None"
    if isinstance(value, (str, bytes)):
        shown = _short_repr(value) if echo else f"of length {len(value)}"
        return f"{type(value).__name__} {shown}"
    if isinstance(value, dict) and not echo:
        return "dict"
    if isinstance(value, dict):
        keys = ", ".join(_short_repr(k) for k in list(value)[:5])
        more = ", ..." if len(value) > 5 else ""
        return f"dict with keys {keys}{more}" if value else "an empty dict"
    return type(value).__name__


def as_float_array(value: object) -> tuple[np.ndarray | None, str]:
    """Convert plain data to a float64 array.

    Returns ``(array, "")``, or ``(None, reason)`` when the value is not numeric and
    rectangular. Bools count as 0/1; a complex value is accepted when its imaginary part is
    negligible (max|imag| <= 1e-9 * max(1, max|real|)).
    """
    converted = _convert(value)
    return converted.array, converted.reason


def _convert(value: object, echo: bool = True) -> _Converted:
    try:
        return _convert_unchecked(value, echo)
    except Exception as exc:  # RecursionError, MemoryError, hostile objects: never raise
        cause = f"could not be read as numbers ({type(exc).__name__})"
        return _refuse(f"the value {cause}", f"{type(value).__name__} that {cause}")


def _convert_unchecked(value: object, echo: bool) -> _Converted:
    if value is None:
        return _refuse("returned None: did you forget `return`?",
                       "None: did you forget `return`?")
    if isinstance(value, (str, bytes, dict)):
        described = _describe(value, echo)
        return _refuse(f"got {described}", described)
    if isinstance(value, np.ndarray):
        return _from_ndarray(value, echo)
    if isinstance(value, _NUMBER_TYPES):
        return _from_ndarray(np.asarray(value), echo)
    if isinstance(value, (list, tuple)):
        return _from_sequence(value, echo)
    return _refuse_other(value)


def _refuse_other(value: object) -> _Converted:
    name = type(value).__name__
    if callable(value):
        tail = f"{name}: did you return the function instead of calling it?"
        return _refuse(f"got {tail}", tail)
    return _refuse(f"got {name}, not an array of numbers", name)


def _from_ndarray(array: np.ndarray, echo: bool = True) -> _Converted:
    kind = array.dtype.kind
    if kind == "b" or kind in "iu":
        return _Converted(array.astype(np.float64))
    if kind == "f":
        return _Converted(array.astype(np.float64), low_precision=array.dtype.itemsize < 8)
    if kind == "c":
        return _from_complex(array, echo)
    if kind == "O":
        if array.ndim:
            return _from_sequence(array.tolist(), echo)
        return _convert(array.item(), echo)
    reason = f"got an array of dtype {array.dtype}, not numbers"
    return _refuse(reason, f"an array of dtype {array.dtype}")


def _from_complex(array: np.ndarray, echo: bool) -> _Converted:
    low = array.dtype.itemsize < 16
    real = array.real.astype(np.float64)
    imag = np.abs(array.imag.astype(np.float64))
    if imag.size == 0:
        return _Converted(real, low_precision=low)
    finite_real = np.abs(real[np.isfinite(real)])
    scale = max(1.0, float(finite_real.max())) if finite_real.size else 1.0
    largest = float(imag.max())  # nan when an imaginary part is nan
    limit = (IMAG_RTOL_LOW_PRECISION if low else IMAG_RTOL) * scale
    if largest <= limit:
        return _Converted(real, low_precision=low)
    detail = "a non-zero imaginary part"
    if echo:
        detail += f" (largest |imag| {_fmt(largest, 3)})"
    return _refuse(f"complex values with {detail}", f"complex values with {detail}")


def _from_sequence(value: list | tuple, echo: bool = True) -> _Converted:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        array = None
    if array is not None and array.dtype.kind in "biufc":
        return _from_ndarray(array, echo)
    shape, problem, ragged = _walk(value, (), echo)
    if shape is None:
        kind = "not rectangular" if ragged else "not all numbers"
        return _refuse(problem, f"a list that is {kind} ({problem})")
    try:  # rectangular numbers that numpy kept as objects, e.g. ints beyond int64
        return _from_ndarray(np.array(value, dtype=np.float64), echo)
    except (TypeError, ValueError, OverflowError) as exc:
        cause = f"could not be converted to floats ({_shorten(str(exc))})"
        return _refuse(f"the entries {cause}", f"a list whose entries {cause}")


def _where(path: tuple[int, ...]) -> str:
    return "entry [" + ", ".join(str(i) for i in path) + "]"


def _walk(value: object, path: tuple[int, ...],
          echo: bool) -> tuple[tuple[int, ...] | None, str, bool]:
    """Shape of nested lists of numbers, or (None, reason, is_ragged)."""
    if isinstance(value, _NUMBER_TYPES):
        return (), "", False
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc":
            return value.shape, "", False
        if value.dtype.kind != "O":
            return None, f"{_where(path)} is an array of dtype {value.dtype}", False
        value = value.tolist()
        if not isinstance(value, list):
            return _walk(value, path, echo)
    if not isinstance(value, (list, tuple)):
        return None, f"{_where(path)} is {_describe(value, echo)}, not a number", False
    shapes = []
    for index, item in enumerate(value):
        shape, problem, ragged = _walk(item, path + (index,), echo)
        if shape is None:
            return None, problem, ragged
        shapes.append(shape)
    return _common_shape(shapes, path)


def _common_shape(shapes: list[tuple[int, ...]],
                  path: tuple[int, ...]) -> tuple[tuple[int, ...] | None, str, bool]:
    first = shapes[0] if shapes else ()
    odd = next((i for i, shape in enumerate(shapes) if shape != first), None)
    if odd is None:
        return (len(shapes),) + first, "", False
    prefix = f"in {_where(path)}: " if path else ""
    other = shapes[odd]
    if not first or not other:
        kinds = ["a number" if not s else "a list" for s in (first, other)]
        problem = f"row 0 is {kinds[0]} but row {odd} is {kinds[1]}"
    elif len(first) == 1 and len(other) == 1:
        problem = (f"rows of different lengths: row 0 has {first[0]} entries, "
                   f"row {odd} has {other[0]}")
    else:
        problem = (f"rows of different shapes: row 0 is {_dims(first)}, "
                   f"row {odd} is {_dims(other)}")
    return None, prefix + problem, True


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _fmt(x: float, digits: int = 6) -> str:
    """Compact number: integers without ".0", otherwise up to `digits` significant digits."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}g}"


def _fmt_pair(actual: float, expected: float) -> tuple[str, str]:
    """Format two numbers with just enough digits to tell them apart."""
    for digits in (6, 9, 12, 17):
        pair = _fmt(actual, digits), _fmt(expected, digits)
        if pair[0] != pair[1]:
            break
    return pair


def _dims(shape: tuple[int, ...]) -> str:
    return " × ".join(str(d) for d in shape)


def _expected_kind(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"an array of length {shape[0]}"
    return f"a {_dims(shape)} array"


def _json_number(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else _fmt(x)


def _index_text(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _plural(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def close_mask(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """np.isclose(actual, expected, rtol, atol, equal_nan=True), without its Python overhead
    (it is most of a comparison's cost on small arrays; ~80 comparisons per HW2 submission)."""
    with np.errstate(all="ignore"):
        within = np.abs(actual - expected) <= atol + rtol * np.abs(expected)
        within &= np.isfinite(actual) & np.isfinite(expected)
        within |= actual == expected  # infinities of the same sign
        within |= np.isnan(actual) & np.isnan(expected)
    return within


@dataclass(frozen=True)
class _Case:
    actual: np.ndarray
    expected: np.ndarray
    rtol: float
    atol: float
    low_precision: bool
    show_values: bool
    label: str

    def close(self, actual: np.ndarray) -> np.ndarray:
        return close_mask(actual, self.expected, self.rtol, self.atol)

    def all_close(self, actual: np.ndarray) -> bool:
        return actual.shape == self.expected.shape and bool(np.all(self.close(actual)))


def compare_arrays(actual: object, expected: np.ndarray, tolerance: Tolerance = Tolerance(), *,
                   show_values: bool = True, label: str = "output") -> Verdict:
    """Compare the student's `actual` with `expected` (float64, any shape); never raises."""
    try:
        return _compare(actual, expected, tolerance, show_values, label)
    except Exception as exc:  # the engine must fail closed, not crash the run
        details: dict[str, object] = {"failure": "internal", "label": label,
                                      "error": type(exc).__name__}
        return Verdict(False, f"could not compare the {label} ({type(exc).__name__})", details)


def _compare(actual: object, expected: np.ndarray, tolerance: Tolerance, show_values: bool,
             label: str) -> Verdict:
    expected = np.asarray(expected, dtype=np.float64)
    converted = _convert(actual, echo=show_values)
    if converted.array is None:
        return _type_failure(converted, expected, label)
    rtol, atol = tolerance.for_precision(converted.low_precision)
    case = _Case(converted.array, expected, rtol, atol, converted.low_precision, show_values,
                 label)
    if case.actual.shape != expected.shape:
        return _shape_failure(case)
    return _value_verdict(case)


def _details(expected: np.ndarray, label: str, failure: str | None) -> dict[str, object]:
    return {
        "failure": failure,  # None, "type", "shape" or "values"
        "label": label,
        "expected_shape": list(expected.shape),
        "actual_shape": None,
        "total": int(expected.size),
        "wrong_count": None,
        "max_abs_error": None,
        "first_wrong": [],
        "hint": None,
        "hint_code": None,
    }


def _case_details(case: _Case, failure: str | None) -> dict[str, object]:
    details = _details(case.expected, case.label, failure)
    details.update(actual_shape=list(case.actual.shape), rtol=case.rtol, atol=case.atol,
                   low_precision=case.low_precision)
    return details


def _type_failure(converted: _Converted, expected: np.ndarray, label: str) -> Verdict:
    details = _details(expected, label, "type")
    details["reason"] = converted.reason
    message = f"expected {_expected_kind(expected.shape)}, got {converted.got}"
    return Verdict(False, message, details)


# --- shape ----------------------------------------------------------------------------------

_Hint = tuple[str, str]  # (text, code)


def _shape_failure(case: _Case) -> Verdict:
    lines = [f"expected shape {case.expected.shape}, got {case.actual.shape}"]
    details = _case_details(case, "shape")
    hint = _shape_hint(case)
    if hint is not None:
        lines.append(f"hint: {hint[0]}")
        details.update(hint=hint[0], hint_code=hint[1])
    block = _side_by_side(case, marks=None) if case.show_values else None
    if block:
        lines.append(block)
    return Verdict(False, "\n".join(lines), details)


def _shape_hint(case: _Case) -> _Hint | None:
    checks: tuple[Callable[[_Case], _Hint | None], ...] = (
        _hint_unit_axes, _hint_transposed, _hint_reshape, _hint_border)
    for check in checks:
        hint = check(case)
        if hint is not None:
            return hint
    return None


def _hint_unit_axes(case: _Case) -> _Hint | None:
    actual, expected = case.actual, case.expected
    if [d for d in actual.shape if d != 1] != [d for d in expected.shape if d != 1]:
        return None
    right = case.all_close(actual.reshape(expected.shape))
    suffix = " (the values are then right)" if right else ""
    if actual.ndim > expected.ndim:
        fix = "squeeze it" if np.squeeze(actual).shape == expected.shape else "reshape it"
        return f"your array has extra axes of length 1: {fix}{suffix}", "squeeze"
    if actual.ndim < expected.ndim:
        return (f"your array is missing axes of length 1: reshape it to {expected.shape}{suffix}",
                "missing_axes")
    return (f"your axes of length 1 are in the wrong place: reshape it to "
            f"{expected.shape}{suffix}", "unit_axes")


def _axis_orders(ndim: int) -> list[tuple[int, ...]]:
    """Transposes worth trying: all axes reversed, and the last two swapped."""
    if ndim < 2:
        return []
    reverse = tuple(range(ndim - 1, -1, -1))
    swap_last = tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
    return [reverse] if reverse == swap_last else [reverse, swap_last]


def _hint_transposed(case: _Case) -> _Hint | None:
    if case.actual.ndim != case.expected.ndim:
        return None
    for order in _axis_orders(case.actual.ndim):
        candidate = case.actual.transpose(order)
        if candidate.shape == case.expected.shape and case.all_close(candidate):
            return "your output is transposed", "transposed"
    return None


def _hint_reshape(case: _Case) -> _Hint | None:
    if case.actual.size != case.expected.size or case.actual.size == 0:
        return None
    if case.all_close(case.actual.reshape(case.expected.shape)):
        return f"right values, wrong shape: reshape it to {case.expected.shape}", "reshape"
    return None


def _hint_border(case: _Case) -> _Hint | None:
    """Every dimension (or the last two) smaller or larger by the same even 2k."""
    actual, expected = case.actual.shape, case.expected.shape
    if len(actual) != len(expected) or not actual:
        return None
    diffs = [e - a for a, e in zip(actual, expected)]
    changed = [i for i, d in enumerate(diffs) if d != 0]
    trailing = list(range(max(0, len(diffs) - 2), len(diffs)))
    if changed not in (trailing, list(range(len(diffs)))):
        return None
    step = diffs[changed[0]]
    if any(diffs[i] != step for i in changed) or step % 2:
        return None
    unit = "rows/cols" if len(actual) >= 2 else "entries"
    size = f"by {abs(step)} {unit} ({abs(step) // 2} on each side)"
    if step > 0:
        return f"smaller than expected {size}: padding not applied?", "border_missing"
    return f"larger than expected {size}: padding applied where none is due?", "border_extra"


# --- values ---------------------------------------------------------------------------------


def _value_verdict(case: _Case) -> Verdict:
    with np.errstate(all="ignore"):
        errors = np.abs(case.actual - case.expected)
        # Most answers are right: then one comparison decides, without the masks of close_mask.
        all_close = _all_close_and_finite(case, errors)
    details = _case_details(case, None)
    wrong = None if all_close else ~case.close(case.actual)
    wrong_count = 0 if wrong is None else int(np.count_nonzero(wrong))
    if wrong_count == 0:
        details.update(wrong_count=0, max_abs_error=_max_finite(errors), first_wrong=[])
        return Verdict(True, "", details)
    largest = _max_finite(errors[wrong])
    details.update(failure="values", wrong_count=wrong_count, max_abs_error=largest)
    lines = [_value_summary(case, wrong, wrong_count, largest)]
    first = _first_indices(wrong, MAX_SHOWN_DIFFERENCES)
    if case.show_values:
        lines[0] += _differences_text(case, first, wrong_count)
        details["first_wrong"] = [list(index) for index in first]
        details["differences"] = [_difference_record(case, index) for index in first]
    else:
        details["first_wrong"] = None  # withheld for hidden cases
    _add_value_hints(case, lines, details)
    block = _side_by_side(case, marks=wrong) if case.show_values else None
    if block:
        lines.append(block)
    return Verdict(False, "\n".join(lines), details)


def _all_close_and_finite(case: _Case, errors: np.ndarray) -> bool:
    """Every entry within tolerance of a finite expected value: then every actual entry is
    finite too (an infinite or NaN error is within no finite bound), and close_mask agrees.
    Called under the caller's np.errstate (an infinite expected value times rtol 0 is NaN)."""
    within = errors <= case.atol + case.rtol * np.abs(case.expected)
    return bool(within.all()) and bool(np.isfinite(case.expected).all())


def _max_finite(errors: np.ndarray) -> float | None:
    finite = errors[np.isfinite(errors)]
    return float(finite.max()) if finite.size else None


def _value_summary(case: _Case, wrong: np.ndarray, wrong_count: int,
                   largest: float | None) -> str:
    scalar = case.expected.ndim == 0
    error_word = "error" if scalar else "largest error"
    notes = [] if largest is None else [f"{error_word} {_fmt(largest)}"]
    notes += _special_value_notes(case, wrong)
    paren = f" ({'; '.join(notes)})" if notes else ""
    if scalar:
        return f"the value is wrong{paren}"
    verb = _plural(wrong_count, "differs", "differ")
    return f"{wrong_count} of {case.expected.size} entries {verb}{paren}"


def _special_value_notes(case: _Case, wrong: np.ndarray) -> list[str]:
    actual, expected = case.actual, case.expected
    nan_actual, nan_expected = np.isnan(actual), np.isnan(expected)
    counts = [
        (int(np.count_nonzero(wrong & nan_actual & ~nan_expected)),
         "NaN where a number is expected"),
        (int(np.count_nonzero(wrong & ~nan_actual & nan_expected)),
         "a number where NaN is expected"),
        (int(np.count_nonzero(wrong & ~nan_actual & ~nan_expected
                              & (np.isinf(actual) | np.isinf(expected)))),
         "infinity mismatch"),
    ]
    return [f"{count} {text}" for count, text in counts if count]


def _first_indices(mask: np.ndarray, limit: int) -> list[tuple[int, ...]]:
    """The first `limit` True indices in C order, scanning in chunks (huge arrays)."""
    flat = mask.reshape(-1)
    found: list[int] = []
    for start in range(0, flat.size, _SCAN_CHUNK):
        hits = np.flatnonzero(flat[start:start + _SCAN_CHUNK])[: limit - len(found)]
        found.extend(int(h) + start for h in hits)
        if len(found) >= limit:
            break
    if mask.ndim == 0:
        return [()] if found else []
    return [tuple(int(i) for i in np.unravel_index(f, mask.shape)) for f in found]


def _differences_text(case: _Case, first: list[tuple[int, ...]], wrong_count: int) -> str:
    parts = []
    for index in first:
        got, want = _fmt_pair(case.actual[index], case.expected[index])
        where = f"{_index_text(index)}: " if index else ""
        parts.append(f"{where}got {got}, expected {want}")
    more = "; ..." if wrong_count > len(first) else ""
    lead = ": " if case.expected.ndim == 0 else "; first differences: "
    return lead + "; ".join(parts) + more


def _difference_record(case: _Case, index: tuple[int, ...]) -> dict[str, object]:
    return {"index": list(index), "actual": _json_number(case.actual[index]),
            "expected": _json_number(case.expected[index])}


def _add_value_hints(case: _Case, lines: list[str], details: dict[str, object]) -> None:
    hint = _hint_transposed(case)
    if hint is not None:
        lines.append(f"hint: {hint[0]}")
        details.update(hint=hint[0], hint_code=hint[1])
    if case.low_precision:
        lines.append(f"note: your array is float32/float16, compared with "
                     f"rtol={case.rtol:g}, atol={case.atol:g}")


# --- side-by-side ---------------------------------------------------------------------------


def _as_small_matrix(array: np.ndarray) -> np.ndarray | None:
    """A ≤ 8 × 8 matrix view of `array` (1-D becomes one row), or None when not small."""
    matrix = array if array.ndim <= 2 else np.squeeze(array)
    if matrix.ndim == 0 or matrix.ndim > 2 or matrix.size == 0:
        return None
    matrix = matrix.reshape(1, -1) if matrix.ndim == 1 else matrix
    if matrix.shape[0] > SIDE_BY_SIDE_MAX or matrix.shape[1] > SIDE_BY_SIDE_MAX:
        return None
    return matrix


def _render_matrix(matrix: np.ndarray, marks: np.ndarray | None) -> list[str]:
    cells = [[_fmt(x) for x in row] for row in matrix.tolist()]
    widths = [max(len(row[c]) for row in cells) for c in range(matrix.shape[1])]
    lines = []
    for r, row in enumerate(cells):
        parts = []
        for c, cell in enumerate(row):
            mark = "" if marks is None else ("*" if marks[r, c] else " ")
            parts.append(cell.rjust(widths[c]) + mark)
        lines.append(" ".join(parts).rstrip())
    return lines


def _side_by_side(case: _Case, marks: np.ndarray | None) -> str | None:
    """Output and expected matrices next to each other; wrong entries end in '*'."""
    left, right = _as_small_matrix(case.actual), _as_small_matrix(case.expected)
    if left is None or right is None:
        return None
    left_marks = None if marks is None else _as_small_matrix(marks)
    left_lines = _render_matrix(left, left_marks)
    right_lines = _render_matrix(right, None)
    left_title = case.label + (" (* = wrong)" if marks is not None else "")
    width = max(len(line) for line in left_lines + [left_title])
    out = [f"  {left_title.ljust(width)}  |  expected"]
    for i in range(max(len(left_lines), len(right_lines))):
        left_line = left_lines[i] if i < len(left_lines) else ""
        right_line = right_lines[i] if i < len(right_lines) else ""
        out.append(f"  {left_line.ljust(width)}  |  {right_line}".rstrip())
    return "\n".join(out)
