import pickle
from fractions import Fraction

import pytest

from grader.expressions import (MAX_DEPTH, MAX_LENGTH, Expression, ExpressionError,
                                parse_expression)

CONV = ("I", "K", "S", "P")
POINT = {"I": 5, "K": 2, "S": 2, "P": 0}


def value(text: str, env=POINT, **kwargs):
    return parse_expression(text, CONV, **kwargs).evaluate(env)


def refusal(text: str, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, CONV, **kwargs)
    return info.value


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("text, expected", [
    ("floor((5+0-3)/2)+1", 2),
    ("floor((I + 2*P - K)/S) + 1", 2),
    ("(I+2P-K)/S+1", Fraction(5, 2)),
    ("(I + 2*P - K)//S + 1", 2),
    ("ceil((I - K + 1)/S)", 2),
    ("I % S", 1),
    ("-I % S", 1),
    ("-I // S", -3),
    ("-2**2", -4),
    ("(-2)**2", 4),
    ("2**0", 1),
    ("0.5*I", Fraction(5, 2)),
    (".25 * 4", 1),
    ("+I - -K", 7),
    ("I - K - S", 1),
    ("I / K / S", Fraction(5, 4)),
    ("2*3+4", 10),
    ("2*(3+4)", 14),
])
def test_values(text, expected):
    result = value(text)
    assert result == expected
    assert isinstance(result, Fraction)


def test_floor_and_ceil_return_integral_fractions():
    assert value("floor(I/S)") == Fraction(2) and value("ceil(I/S)") == Fraction(3)
    assert value("floor(-I/S)") == -3 and value("ceil(-I/S)") == -2


def test_exact_arithmetic():
    assert value("I/3 + I/3 + I/3", {"I": 1}) == 1  # no float rounding


def test_variables_and_fraction_inputs():
    expression = parse_expression("floor((I + 2*P - K)/S) + 1", CONV)
    assert expression.variables == frozenset(CONV)
    assert parse_expression("I + 1", CONV).variables == frozenset({"I"})
    assert expression.evaluate({"I": Fraction(11, 2), "K": 2, "S": 2, "P": 0}) == 2
    assert expression.evaluate_int(POINT) == 2
    with pytest.raises(ExpressionError):
        parse_expression("I/S", CONV).evaluate_int(POINT)


def test_division_by_zero_raises():
    for text in ("I/S", "I//S", "I%S", "floor(I/S)"):
        with pytest.raises(ZeroDivisionError):
            parse_expression(text, CONV).evaluate({"I": 1, "S": 0})


def test_missing_variable_value():
    with pytest.raises(ExpressionError, match="no value given for S"):
        parse_expression("I/S", CONV).evaluate({"I": 1})


def test_comparisons_and_logic():
    env = {"I": 5, "K": 3, "P": 1, "S": 2}
    assert value("K <= I + 2*P", env, allow_comparisons=True) is True
    assert value("1 <= K <= I", env, allow_comparisons=True) is True
    assert value("1 <= I <= K", env, allow_comparisons=True) is False
    assert value("K < I and not S == 1", env, allow_comparisons=True) is True
    assert value("K > I or S != 2", env, allow_comparisons=True) is False
    assert value("K ≤ I + 2P", env, allow_comparisons=True) is True
    assert parse_expression("K <= I", CONV, allow_comparisons=True).is_condition
    assert not parse_expression("K + I", CONV, allow_comparisons=True).is_condition


def test_comparison_links():
    expression = parse_expression("1 <= K <= I + 2*P and S >= 1", CONV, allow_comparisons=True)
    links = [(left.text, op, right.text) for left, op, right in expression.comparisons()]
    assert links == [("1", "<=", "K"), ("K", "<=", "I + 2*P"), ("S", ">=", "1")]
    left, _, right = expression.comparisons()[1]
    assert right.variables == frozenset({"I", "P"})
    assert right.evaluate({"I": 3, "P": 2}) == 7


def test_expressions_compare_by_text():
    assert parse_expression("I+1", CONV) == parse_expression("I+1", CONV)
    assert isinstance(parse_expression("I+1", CONV), Expression)


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize("text", [
    "floor((I + 2*P - K)/S) + 1",
    "floor((I + 2P - K)/S) + 1",
    "⌊(I + 2P − K)/S⌋ + 1",
    "⌊(I + 2P – K) ÷ S⌋ + 1",
    "floor((I + 2×P - K)/S) + 1",
    "floor((I + 2·P - K)/S) + 1",
    "floor((I + 2⋅P - K)/S) + 1",
    "O = floor((I + 2*P - K)/S) + 1",
    "O=floor((I + 2*P - K)/S) + 1",
    "  O =  ⌊(I+2P−K)/S⌋+1  ",
    "floor((I + 2 P - K)/S) + 1",
])
def test_normalisations_give_the_same_formula(text):
    for env in (POINT, {"I": 7, "K": 3, "S": 3, "P": 1}, {"I": 28, "K": 5, "S": 4, "P": 2}):
        assert value(text, env) == value("floor((I + 2*P - K)/S) + 1", env)


def test_implicit_multiplication():
    env = {"I": 3, "K": 2, "S": 2, "P": 4}
    assert value("2(P+1)", env) == 10
    assert value("(I+1)(P+1)", env) == 20
    assert value("(I+1)P", env) == 16
    assert value("2⌈I/S⌉", env) == 4
    assert value("3floor(I/S)", env) == 3
    assert value("⌈I/S⌉K", env) == 4


def test_ceil_brackets():
    assert value("⌈(I - K + 1)/S⌉") == 2


def test_equation_prefix_is_only_O_equals():
    assert refusal("Q = I").message.startswith("unknown name 'Q'")
    assert refusal("K = I").message == "'=' (assignment) is not allowed"
    assert refusal("O == I").column == 0  # not the prefix: O is an unknown name
    assert refusal("I + O = I").column == 4
    assert refusal("O =").message == "nothing after 'O ='"


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("text, fragment, column", [
    ("I.__class__", "attribute access is not allowed", 1),
    ("(I).real", "attribute access is not allowed", 3),
    ("__import__('os')", "calling '__import__' is not allowed", 0),
    ("abs(I)", "calling 'abs' is not allowed: only ceil(), floor() may be called", 0),
    ("floor(I, 2)", "floor() takes exactly one argument", 7),
    ("floor()", "floor() takes exactly one argument (none given)", 6),
    ("floor(x=I)", "keyword arguments are not allowed", 6),
    ("X + 1", "unknown name 'X': use only I, K, S, P", 0),
    ("I + 2*Q", "unknown name 'Q': use only I, K, S, P", 6),
    ("i + k", "names are case-sensitive", 0),
    ("IK", "write I*K to multiply", 0),
    ("I + 'a'", "strings are not allowed", 4),
    ('"I"', "strings are not allowed", 0),
    ("I[0]", "subscripts ('[') are not allowed", 1),
    ("[I, K]", "lists ('[') are not allowed", 0),
    ("lambda: 1", "lambda is not allowed", 0),
    ("(lambda x: x)(I)", "lambda is not allowed", 1),
    ("I = 3", "'=' (assignment) is not allowed", 2),
    ("(P := 3)", "':' is not allowed", 3),
    ("I ** 100", "exponent too large", 5),
    ("I ** 65", "exponent too large", 5),
    ("(I ** 8) ** 9", "exponent too large", 12),
    ("I ** K", "non-negative integer literal", 5),
    ("I ** -1", "non-negative integer literal", 5),
    ("I ** 0.5", "non-negative integer literal", 5),
    ("2 ** 3 ** 2", "chained powers", 7),
    ("I ^ 2", "write powers as **", 2),
    ("I K", "unexpected 'K' after a complete expression", 2),
    ("floor(I) 2", "unexpected '2' after a complete expression", 9),
    ("(I + K", "'(' at column 0 is never closed", 0),
    ("floor((I + K)/S", "'(' at column 5 is never closed", 5),
    ("I + K)", "unmatched ')'", 5),
    ("⌊I/S", "'⌊' at column 0 is never closed", 0),
    ("(I/S⌋", "unexpected '⌋': expected ')' to close '('", 4),
    ("I +", "ends too early", 3),
    ("()", "unexpected ')'", 1),
    ("P(I + 1)", "'P' is not a function: write P*(...) to multiply", 0),
    ("floor", "'floor' is a function", 0),
    ("I < K", "'<' is not allowed here", 2),
    ("I and K", "'and' is not allowed here", 2),
    ("not I", "'not' is not allowed here", 0),
    ("import os", "'import' is not allowed", 0),
    ("I; K", "';' is not allowed", 1),
    ("I & K", "unexpected character '&'", 2),
    ("I + α", "unexpected character 'α'", 4),
    ("{I}", "'{' is not allowed", 0),
])
def test_refusals_name_what_and_where(text, fragment, column):
    error = refusal(text)
    assert fragment in error.message
    assert error.column == column
    assert error.text == text


def test_error_string_shows_caret_under_column():
    error = refusal("floor((I + 2*P - K)/S) + X")
    assert str(error).splitlines() == [
        "unknown name 'X': use only I, K, S, P (column 25)",
        "    floor((I + 2*P - K)/S) + X",
        "                             ^",
    ]


def test_error_is_a_value_error_and_pickles():
    error = refusal("I.__class__")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.text, copy.column) == (error.message, error.text, error.column)


def test_empty_and_over_long_input():
    assert refusal("").message == "the expression is empty"
    assert refusal("   \n ").column is None
    long = "+".join(["I"] * (MAX_LENGTH // 2 + 1))
    error = refusal(long)
    assert "too long" in error.message and error.column is None
    assert str(error) == error.message


def test_nesting_limit_is_an_error_not_recursion_error():
    ok = "(" * MAX_DEPTH + "I" + ")" * MAX_DEPTH
    assert parse_expression(ok, CONV).evaluate({"I": 3}) == 3
    deep = "(" * (MAX_DEPTH + 1) + "I" + ")" * (MAX_DEPTH + 1)
    error = refusal(deep)
    assert "nested too deeply" in error.message and error.column == MAX_DEPTH
    assert "nested too deeply" in refusal("-" * 200 + "I").message
    assert "nested too deeply" in refusal("floor(" * 60 + "I" + ")" * 60).message
    assert "nested too deeply" in refusal("(" * 400).message


def test_long_flat_sums_are_fine():
    text = "+".join(["I"] * 200)
    assert parse_expression(text, CONV).evaluate({"I": 1}) == 200


def test_comparison_mode_refusals():
    def refused(text):
        with pytest.raises(ExpressionError) as info:
            parse_expression(text, ("KH", "H", "P"), allow_comparisons=True)
        return info.value

    assert refused("KH = H").message == "'=' (assignment) is not allowed; use '==' to compare"
    assert refused("KH and H").column == 3
    assert "needs a comparison" in refused("not KH").message
    assert "needs a number, not a comparison" in refused("(KH < H) + 1").message
    assert refused("KH <= H + 2*P <").message.startswith("the expression ends too early")


def test_functions_are_configurable():
    assert parse_expression("abs(I - K)", CONV, functions=("abs",)).evaluate(POINT) == 3
    assert "no function calls here" in pytest.raises(
        ExpressionError, parse_expression, "floor(I)", CONV, functions=()).value.message
    error = pytest.raises(ExpressionError, parse_expression, "⌊I⌋", CONV, functions=()).value
    assert "'⌊' (floor) is not allowed" in error.message
    with pytest.raises(ValueError):
        parse_expression("I", CONV, functions=("eval",))


def test_bad_variable_names_are_a_programming_error():
    for names in (["floor"], ["import"], ["a.b"]):
        with pytest.raises(ValueError):
            parse_expression("1", names)


# ------------------------------------------------------------------ every point at once


def _one_by_one(expression: Expression, points: list[dict]) -> list:
    """`evaluate` at each point, as evaluate_all reports it (None where it divides by zero)."""
    values = []
    for point in points:
        try:
            values.append(expression.evaluate(point))
        except ZeroDivisionError:
            values.append(None)
    return values


def _agrees(expression: Expression, points: list[dict]) -> list:
    together = expression.evaluate_all(points)
    for point, got, want in zip(points, together, _one_by_one(expression, points), strict=True):
        assert (got is None) == (want is None), point
        if want is not None:
            assert got == want, point
            # whole numbers come back as ints, the others as (reduced) Fractions
            assert type(got) is (int if want.denominator == 1 else Fraction), point
    return together


_MIXED_POINTS = [
    {"I": i, "K": k, "S": s, "P": p}
    for i in (-7, -1, 0, 1, 2, 5, 10**12 + 7) for k in (-3, 0, 1, 2) for s in (-2, -1, 0, 1, 3)
    for p in (-1, 0, 1, 2)
]


@pytest.mark.parametrize("text", [
    "floor((I + 2*P - K)/S) + 1",
    "ceil((I + 2*P - K)/S) + 1",
    "(I + 2*P - K)/S + 1",
    "(I + 2*P - K)//S + 1",
    "(I - K) % S",
    "floor(-I/(S - 1)) + ceil(-K/(P - 1))",       # floor and ceil of negative rationals
    "floor((I/3 - K/2) / (S/5 - P/7))",
    "(I/K - S/(P - 1)) % (K/(S - 2))",             # Fraction % Fraction, signs mixed
    "(I/(K - 1))**3 // (S/(P - 1) - 2)",
    "(I/(K - 1))**0 + (P/(S - 1))**0",             # x**0 is still undefined where x is
    "0*(1/K) + I",                                 # undefined even when multiplied by 0
    "abs(I - K*P/S) - ceil(-I/S/2)",
    "0.5*I % 1.5 - 2.25",
    "I**8*K**7 - S**5 // (P**3 + 2) + (I/3)**5",   # huge ints with a large I
    "1/(K - 1)/(S - 2)",
    "-(I - K) + +S - -P",
    "7",
])
def test_evaluate_all_agrees_with_evaluate_at_every_point(text):
    expression = parse_expression(text, CONV, functions=("floor", "ceil", "abs"))
    _agrees(expression, _MIXED_POINTS)


def test_evaluate_all_reports_division_by_zero_per_point():
    points = [{"I": 4, "K": 1, "S": s, "P": 0} for s in (0, 1, 2, 0)]
    assert value_all("(I - K)/S", points) == [None, 3, Fraction(3, 2), None]
    assert value_all("(I - K)//S", points) == [None, 3, 1, None]
    assert value_all("(I - K) % S", points) == [None, 0, 1, None]
    assert value_all("floor(I/S)**0", points) == [None, 1, 1, None]


def value_all(text: str, points: list[dict]) -> list:
    return _agrees(parse_expression(text, CONV), points)


def test_evaluate_all_on_huge_ints_stays_exact():
    big = 10**40 + 1
    points = [{"I": big, "K": 3, "S": 7, "P": -big}, {"I": -big, "K": 1, "S": -3, "P": big}]
    assert value_all("(I + 2*P - K)/S", points) == [Fraction(-big - 3, 7), Fraction(big - 1, -3)]
    assert value_all("floor((I + 2*P - K)/S)", points) == [(-big - 3) // 7, (big - 1) // -3]
    assert value_all("I**3 - P**3", points) == [2 * big**3, -2 * big**3]


def test_evaluate_all_falls_back_for_values_other_than_ints():
    expression = parse_expression("floor(I/S) + K", CONV)
    points = [{"I": Fraction(7, 2), "K": 1, "S": 1, "P": 0}, {"I": 3, "K": 1, "S": 0, "P": 0}]
    assert _agrees(expression, points) == [4, None]
    with pytest.raises(TypeError):
        expression.evaluate_all([{"I": 1.5, "K": 1, "S": 1, "P": 0}])
    with pytest.raises(TypeError):
        expression.evaluate_all([{"I": True, "K": 1, "S": 1, "P": 0}])
    with pytest.raises(ExpressionError, match="no value given for S"):
        expression.evaluate_all([{"I": 1, "K": 1, "P": 0}])
    assert expression.evaluate_all([]) == []


def test_evaluate_all_of_a_condition():
    condition = parse_expression("K <= I + 2*P and 1/S > 0", CONV, allow_comparisons=True)
    points = [{"I": 1, "K": 1, "S": 1, "P": 0}, {"I": 1, "K": 5, "S": 0, "P": 0},
              {"I": 1, "K": 1, "S": 0, "P": 0}]
    assert condition.evaluate_all(points) == [True, False, None]
