"""A small, allow-listed arithmetic expression language. Never uses eval, exec, compile or ast.

Used for students' formula strings (``"floor((I + 2*P - K)/S) + 1"``), spec constraints
(``"KH <= H + 2*P"``) and shape expressions. The tokenizer and the recursive-descent parser are
hand-written so every error names what is wrong and the exact column (0-based, in the text as
given) where it is.

Grammar (lowest to highest precedence, as in Python)::

    expression := or_expr
    or_expr    := and_expr ("or" and_expr)*                     # only with allow_comparisons
    and_expr   := not_expr ("and" not_expr)*                    # only with allow_comparisons
    not_expr   := "not" not_expr | comparison                   # only with allow_comparisons
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*   # chains: 1 <= K <= I
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("+" | "-") unary | power
    power      := primary ("**" INTEGER_LITERAL)?               # exponent 0..64, a literal only
    primary    := NUMBER | VARIABLE | FUNCTION "(" expression ")" | "(" expression ")"

Arithmetic is exact (``fractions.Fraction``): ``/`` is true division, ``//`` floor division,
``%`` the matching modulo (Python's sign rules), ``floor``/``ceil`` return integral Fractions.
Decimal literals such as ``0.5`` are read exactly (``Fraction(1, 2)``).

Student-friendly normalisation, done on tokens so that columns still point into the original text:

- ``−`` (U+2212) and ``–`` (U+2013) read as ``-``; ``×``, ``·``, ``⋅`` as ``*``; ``÷`` as ``/``;
  ``≤``, ``≥``, ``≠`` as ``<=``, ``>=``, ``!=``;
- ``⌊x⌋`` reads as ``floor(x)`` and ``⌈x⌉`` as ``ceil(x)`` (when those functions are allowed);
- implicit multiplication: a number followed by a name or an opening bracket (``2P``, ``2(P+1)``,
  ``2⌊x⌋``), and a closing bracket followed by a name or an opening bracket (``(I+1)(P+1)``,
  ``(I+1)P``). A name followed by ``(`` stays a function call, so ``P(I+1)`` is refused;
- a leading ``O =`` (the student writing the whole equation) is dropped: only the exact name ``O``
  followed by a single ``=`` at the very start.

Everything else (unknown names, attribute access, calls to other functions, strings, subscripts,
lambda, assignment, keyword or extra arguments, empty or over-long input, nesting deeper than
50 levels, trailing garbage, unbalanced brackets) is refused with an ``ExpressionError``.
"""

from __future__ import annotations

import functools
import keyword
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

__all__ = ["Expression", "ExpressionError", "parse_expression", "MAX_LENGTH", "MAX_DEPTH",
           "MAX_EXPONENT"]

MAX_LENGTH = 500
MAX_DEPTH = 50
MAX_EXPONENT = 64

# Node values are Fraction or bool; the parser's type checks keep each where it belongs.
Value = Any

# Every function the language knows; a parse allows only the ones it is given.
# Values inside an evaluation are ints while they are whole numbers (the same values, much faster
# than Fraction arithmetic) and Fractions otherwise; `Expression.evaluate` returns a Fraction.
_FUNCTIONS: dict[str, Callable[[Fraction], Fraction]] = {
    "floor": lambda x: math.floor(x),
    "ceil": lambda x: math.ceil(x),
    "abs": abs,
}
_LOGIC_WORDS = ("and", "or", "not")
_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_OPENERS = {"(": ")", "⌊": "⌋", "⌈": "⌉"}
_CLOSERS = frozenset(_OPENERS.values())
_BRACKET_FUNCTIONS = {"⌊": "floor", "⌈": "ceil"}


class ExpressionError(ValueError):
    """An expression was refused: ``message``, the ``text`` as given, the 0-based ``column``."""

    def __init__(self, message: str, text: str, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.text = text
        self.column = column

    def __str__(self) -> str:
        if self.column is None:
            return self.message
        line_start = self.text.rfind("\n", 0, self.column) + 1
        line_end = self.text.find("\n", self.column)
        line = self.text[line_start:] if line_end < 0 else self.text[line_start:line_end]
        # Keep tabs in the caret line so the caret lines up under tabbed text.
        pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.column - line_start])
        return f"{self.message} (column {self.column})\n    {line}\n    {pad}^"

    def __reduce__(self):
        return (type(self), (self.message, self.text, self.column))


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "end", or "bad" (a refused character)
    value: str  # normalised spelling ("-" for "−", "*" for "×", ...); for "bad", the refusal
    column: int
    end: int
    implicit: bool = False  # an inserted "*" of implicit multiplication

    @property
    def shown(self) -> str:
        return "end of input" if self.kind == "end" else repr(self.value)


_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASCII_OPERATORS = ("**", "//", "<=", ">=", "==", "!=",
                    "+", "-", "*", "/", "%", "(", ")", "<", ">", "=", ",")
_UNICODE_OPERATORS = {"−": "-", "–": "-", "×": "*", "·": "*", "⋅": "*", "÷": "/",
                      "≤": "<=", "≥": ">=", "≠": "!=", "⌊": "⌊", "⌋": "⌋", "⌈": "⌈", "⌉": "⌉"}
_REFUSED_CHARACTERS = {
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "^": "'^' is not allowed: write powers as ** (e.g. P**2)",
    ":": "':' is not allowed (no lambda, slices or assignment)",
    ";": "';' is not allowed: write a single expression",
    "{": "'{' is not allowed: use ( ) for grouping",
    "}": "'}' is not allowed: use ( ) for grouping",
    "]": "']' is not allowed: subscripts and lists are not part of an expression",
}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        previous = tokens[-1] if tokens else None
        if ch == "." and previous is not None and (
            previous.kind == "name" or previous.value in _CLOSERS
        ):
            tokens.append(_Token("bad", "attribute access is not allowed", i, i + 1))
            i += 1
            continue
        if match := _NUMBER.match(text, i):
            tokens.append(_Token("num", match.group(), i, match.end()))
            i = match.end()
            continue
        if match := _NAME.match(text, i):
            tokens.append(_Token("name", match.group(), i, match.end()))
            i = match.end()
            continue
        if ch in _UNICODE_OPERATORS:
            tokens.append(_Token("op", _UNICODE_OPERATORS[ch], i, i + 1))
            i += 1
            continue
        operator = next((op for op in _ASCII_OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            tokens.append(_Token("op", operator, i, i + len(operator)))
            i += len(operator)
            continue
        # Refused characters become "bad" tokens, raised only when the parser reaches them, so an
        # earlier mistake (e.g. the call in __import__('os')) is the one reported.
        tokens.append(_Token("bad", _refusal_for_character(ch, previous), i, i + 1))
        i += 1
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


def _refusal_for_character(ch: str, previous: _Token | None) -> str:
    if ch == "[":
        if previous is not None and (
            previous.kind in ("name", "num") or previous.value in _CLOSERS
        ):
            return "subscripts ('[') are not allowed"
        return "lists ('[') are not allowed"
    if ch in _REFUSED_CHARACTERS:
        return _REFUSED_CHARACTERS[ch]
    return f"unexpected character {ch!r}"


def _is_word(token: _Token, *words: str) -> bool:
    return token.kind == "name" and token.value in words


def _insert_implicit_products(tokens: list[_Token]) -> list[_Token]:
    result: list[_Token] = []
    for token in tokens:
        if result and _implicit_product_between(result[-1], token):
            result.append(_Token("op", "*", token.column, token.column, implicit=True))
        result.append(token)
    return result


def _implicit_product_between(left: _Token, right: _Token) -> bool:
    left_ok = left.kind == "num" or (left.kind == "op" and left.value in _CLOSERS)
    right_ok = (right.kind == "name" and right.value not in _LOGIC_WORDS
                and not keyword.iskeyword(right.value)) or (
        right.kind == "op" and right.value in _OPENERS)
    return left_ok and right_ok


def _strip_equation_prefix(tokens: list[_Token], text: str) -> list[_Token]:
    if len(tokens) >= 2 and _is_word(tokens[0], "O") and tokens[1].value == "=":
        if tokens[2].kind == "end":
            raise ExpressionError("nothing after 'O ='", text, len(text))
        return tokens[2:]
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class _Node:
    start: int
    end: int

    is_bool = False

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        raise NotImplementedError

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        """The value at every point at once (numeric nodes only; see `_Column`)."""
        raise NotImplementedError

    def children(self) -> tuple[_Node, ...]:
        return ()


@dataclass(frozen=True)
class _Number(_Node):
    value: Fraction

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        value = self.value
        return value.numerator if value.denominator == 1 else value

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        value = self.value
        dens = None if value.denominator == 1 else [value.denominator] * size
        return _Column([value.numerator] * size, dens)


@dataclass(frozen=True)
class _Variable(_Node):
    name: str

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        return env[self.name]

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        return env[self.name]


@dataclass(frozen=True)
class _Negate(_Node):
    operand: _Node

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        return -self.operand.eval(env)

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        operand = self.operand.columns(env, size)
        return _Column([-a for a in operand.nums], operand.dens)

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)


_ARITHMETIC: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: Fraction(a, b) if type(a) is int and type(b) is int else a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}


@dataclass(frozen=True)
class _Chain(_Node):
    """A left-associative run ``first op1 x1 op2 x2 ...``, kept flat so long sums stay shallow."""

    first: _Node
    rest: tuple[tuple[str, _Node], ...]

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        value = self.first.eval(env)
        for op, operand in self.rest:
            value = _ARITHMETIC[op](value, operand.eval(env))
        return value

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        value = self.first.columns(env, size)
        for op, operand in self.rest:
            value = _COLUMN_ARITHMETIC[op](value, operand.columns(env, size))
        return value

    def children(self) -> tuple[_Node, ...]:
        return (self.first, *(operand for _, operand in self.rest))


@dataclass(frozen=True)
class _Power(_Node):
    base: _Node
    exponent: int

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        base = self.base.eval(env)
        return (Fraction(base) if self.exponent < 0 else base) ** self.exponent

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        base, exponent = self.base.columns(env, size), self.exponent
        nums = [a**exponent for a in base.nums]
        if base.dens is None:
            return _Column(nums)
        # `if b`: an undefined base stays undefined even as x**0 (b**0 would be 1)
        return _Column(nums, [b**exponent if b else 0 for b in base.dens])

    def children(self) -> tuple[_Node, ...]:
        return (self.base,)


@dataclass(frozen=True)
class _Call(_Node):
    function: str
    argument: _Node

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        return _FUNCTIONS[self.function](self.argument.eval(env))

    def columns(self, env: Mapping[str, _Column], size: int) -> _Column:
        return _COLUMN_FUNCTIONS[self.function](self.argument.columns(env, size))

    def children(self) -> tuple[_Node, ...]:
        return (self.argument,)


_COMPARE: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class _Comparison(_Node):
    operands: tuple[_Node, ...]
    operators: tuple[str, ...]

    is_bool = True

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        left = self.operands[0].eval(env)
        for op, operand in zip(self.operators, self.operands[1:], strict=True):
            right = operand.eval(env)
            if not _COMPARE[op](left, right):
                return False
            left = right
        return True

    def children(self) -> tuple[_Node, ...]:
        return self.operands


@dataclass(frozen=True)
class _Logic(_Node):
    operator: str  # "and" or "or"
    operands: tuple[_Node, ...]

    is_bool = True

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        if self.operator == "and":
            return all(operand.eval(env) for operand in self.operands)
        return any(operand.eval(env) for operand in self.operands)

    def children(self) -> tuple[_Node, ...]:
        return self.operands


@dataclass(frozen=True)
class _Not(_Node):
    operand: _Node

    is_bool = True

    def eval(self, env: Mapping[str, Fraction]) -> Value:
        return not self.operand.eval(env)

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)


def _walk(node: _Node) -> Iterator[_Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


# --------------------------------------------------------------------------- every point at once


@dataclass(frozen=True)
class _Column:
    """One value per point, the value at point i being ``nums[i] / dens[i]``.

    ``dens`` is None when every value is a whole number: then the arithmetic is plain int
    arithmetic, list by list, with no Fraction at all. Otherwise ``dens[i] > 0`` (fractions are
    not reduced: only the final values are) or ``dens[i] == 0``: the evaluation divided by zero
    at that point, and whatever is computed from it stays undefined.
    """

    nums: list[int]
    dens: list[int] | None = None


def _dens(column: _Column) -> list[int]:
    return column.dens if column.dens is not None else [1] * len(column.nums)


def _whole(nums: list[int], defined: list[int]) -> _Column:
    """Whole numbers ``nums``, undefined where ``defined[i]`` is 0 (ignored elsewhere)."""
    if 0 not in defined:
        return _Column(nums)
    return _Column(nums, [1 if d else 0 for d in defined])


def _add(x: _Column, y: _Column) -> _Column:
    if x.dens is None and y.dens is None:
        return _Column([a + c for a, c in zip(x.nums, y.nums)])
    b, d = _dens(x), _dens(y)
    return _Column([a * dd + c * bb for a, bb, c, dd in zip(x.nums, b, y.nums, d)],
                   [bb * dd for bb, dd in zip(b, d)])


def _subtract(x: _Column, y: _Column) -> _Column:
    if x.dens is None and y.dens is None:
        return _Column([a - c for a, c in zip(x.nums, y.nums)])
    return _add(x, _Column([-c for c in y.nums], y.dens))


def _multiply(x: _Column, y: _Column) -> _Column:
    nums = [a * c for a, c in zip(x.nums, y.nums)]
    if x.dens is None or y.dens is None:
        return _Column(nums, x.dens if y.dens is None else y.dens)
    return _Column(nums, [b * d for b, d in zip(x.dens, y.dens)])


def _divide(x: _Column, y: _Column) -> _Column:
    # (a/b) / (c/d) = (a*d) / (b*c), the sign moved to the numerator; undefined if b, c or d is 0
    if x.dens is None and y.dens is None:
        return _Column([a if c > 0 else -a for a, c in zip(x.nums, y.nums)],
                       [abs(c) for c in y.nums])
    b, d = _dens(x), _dens(y)
    return _Column([a * dd if c > 0 else -a * dd for a, c, dd in zip(x.nums, y.nums, d)],
                   [bb * abs(c) if dd else 0 for bb, c, dd in zip(b, y.nums, d)])


def _floor_divide(x: _Column, y: _Column) -> _Column:
    if x.dens is None and y.dens is None:
        return _whole([a // c if c else 0 for a, c in zip(x.nums, y.nums)], y.nums)
    b, d = _dens(x), _dens(y)
    defined = [bb * c * dd for bb, c, dd in zip(b, y.nums, d)]
    # floor((a/b) / (c/d)) = (a*d) // (b*c), as Fraction.__floordiv__ computes it
    return _whole([(a * dd) // (bb * c) if ok else 0
                   for a, bb, c, dd, ok in zip(x.nums, b, y.nums, d, defined)], defined)


def _modulo(x: _Column, y: _Column) -> _Column:
    if x.dens is None and y.dens is None:
        return _whole([a % c if c else 0 for a, c in zip(x.nums, y.nums)], y.nums)
    b, d = _dens(x), _dens(y)
    # (a/b) % (c/d) = ((a*d) % (c*b)) / (b*d), as Fraction.__mod__ computes it
    return _Column([(a * dd) % (c * bb) if bb and c and dd else 0
                    for a, bb, c, dd in zip(x.nums, b, y.nums, d)],
                   [bb * dd if c else 0 for bb, c, dd in zip(b, y.nums, d)])


def _floor(x: _Column) -> _Column:
    if x.dens is None:
        return x
    return _whole([a // b if b else 0 for a, b in zip(x.nums, x.dens)], x.dens)


def _ceil(x: _Column) -> _Column:
    if x.dens is None:
        return x
    return _whole([-(-a // b) if b else 0 for a, b in zip(x.nums, x.dens)], x.dens)


def _absolute(x: _Column) -> _Column:
    return _Column([abs(a) for a in x.nums], x.dens)


_COLUMN_ARITHMETIC: dict[str, Callable[[_Column, _Column], _Column]] = {
    "+": _add, "-": _subtract, "*": _multiply, "/": _divide, "//": _floor_divide, "%": _modulo,
}
_COLUMN_FUNCTIONS: dict[str, Callable[[_Column], _Column]] = {
    "floor": _floor, "ceil": _ceil, "abs": _absolute,
}


def _column_of(values: list[Any]) -> _Column | None:
    """The column of a variable's values, or None unless every value is an int."""
    if not set(map(type, values)) <= {int}:  # bool, numpy ints, Fractions: `evaluate` checks
        return None
    return _Column(values)


def _final_values(column: _Column) -> list[int | Fraction | None]:
    if column.dens is None:
        return column.nums
    return [_final_value(a, b) for a, b in zip(column.nums, column.dens)]


def _final_value(num: int, den: int) -> int | Fraction | None:
    if den == 1:
        return num
    if den == 0:
        return None
    quotient, remainder = divmod(num, den)
    return quotient if remainder == 0 else Fraction(num, den)


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, tokens: list[_Token], variables: list[str],
                 functions: frozenset[str], allow_comparisons: bool):
        self.text = text
        self.tokens = tokens
        self.variables = variables
        self.functions = functions
        self.allow_comparisons = allow_comparisons
        self.pos = 0
        self.depth = 0

    # -- helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def error(self, message: str, column: int | None) -> ExpressionError:
        return ExpressionError(message, self.text, column)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                             token.column)

    def leave(self) -> None:
        self.depth -= 1

    def refuse_logic(self, token: _Token) -> None:
        if not self.allow_comparisons:
            raise self.error(f"{token.value!r} is not allowed here: the expression must be a "
                             "formula, not a condition", token.column)

    def need_number(self, node: _Node, token: _Token, what: str) -> None:
        if node.is_bool:
            raise self.error(f"{what} needs a number, not a comparison", token.column)

    def need_condition(self, node: _Node, token: _Token) -> None:
        if not node.is_bool:
            where = "" if token.value == "not" else " on each side"
            raise self.error(f"{token.value!r} needs a comparison{where}", token.column)

    def unexpected(self, token: _Token, expected: str | None) -> ExpressionError:
        if token.kind == "bad":
            return self.error(token.value, token.column)
        if token.value == "=":
            hint = "; use '==' to compare" if self.allow_comparisons else ""
            return self.error(f"'=' (assignment) is not allowed{hint}", token.column)
        if token.value == ",":
            return self.error("',' is not allowed: write a single expression", token.column)
        if token.value in _COMPARISONS or _is_word(token, *_LOGIC_WORDS):
            self.refuse_logic(token)
        if token.kind == "end":
            wanted = f": expected {expected}" if expected else ""
            return self.error(f"the expression ends too early{wanted}", token.column)
        if expected is None:
            if token.value in _CLOSERS:
                return self.error(f"unmatched {token.value!r}", token.column)
            return self.error(f"unexpected {token.shown} after a complete expression",
                              token.column)
        return self.error(f"unexpected {token.shown}: expected {expected}", token.column)

    # -- grammar

    def parse(self) -> _Node:
        node = self.parse_or()
        if self.peek().kind != "end":
            raise self.unexpected(self.peek(), None)
        return node

    def parse_or(self) -> _Node:
        return self.parse_logic("or", self.parse_and)

    def parse_and(self) -> _Node:
        return self.parse_logic("and", self.parse_not)

    def parse_logic(self, word: str, parse_operand: Callable[[], _Node]) -> _Node:
        first = parse_operand()
        operands = [first]
        while _is_word(self.peek(), word):
            token = self.advance()
            self.refuse_logic(token)
            self.need_condition(operands[-1], token)
            operands.append(parse_operand())
            self.need_condition(operands[-1], token)
        if len(operands) == 1:
            return first
        return _Logic(first.start, operands[-1].end, word, tuple(operands))

    def parse_not(self) -> _Node:
        token = self.peek()
        if not _is_word(token, "not"):
            return self.parse_comparison()
        self.refuse_logic(token)
        self.advance()
        self.enter(token)
        operand = self.parse_not()
        self.leave()
        self.need_condition(operand, token)
        return _Not(token.column, operand.end, operand)

    def parse_comparison(self) -> _Node:
        first = self.parse_sum()
        operands, operators = [first], []
        while self.peek().value in _COMPARISONS and self.peek().kind == "op":
            token = self.advance()
            self.refuse_logic(token)
            self.need_number(operands[-1], token, f"{token.value!r}")
            operands.append(self.parse_sum())
            self.need_number(operands[-1], token, f"{token.value!r}")
            operators.append(token.value)
        if not operators:
            return first
        return _Comparison(first.start, operands[-1].end, tuple(operands), tuple(operators))

    def parse_sum(self) -> _Node:
        return self.parse_chain(("+", "-"), self.parse_term)

    def parse_term(self) -> _Node:
        return self.parse_chain(("*", "/", "//", "%"), self.parse_unary)

    def parse_chain(self, operators: tuple[str, ...], parse_operand: Callable[[], _Node]) -> _Node:
        first = parse_operand()
        rest: list[tuple[str, _Node]] = []
        while self.peek().kind == "op" and self.peek().value in operators:
            token = self.advance()
            what = "multiplication" if token.implicit else f"{token.value!r}"
            self.need_number(rest[-1][1] if rest else first, token, what)
            operand = parse_operand()
            self.need_number(operand, token, what)
            rest.append((token.value, operand))
        if not rest:
            return first
        return _Chain(first.start, rest[-1][1].end, first, tuple(rest))

    def parse_unary(self) -> _Node:
        token = self.peek()
        if token.kind != "op" or token.value not in ("+", "-"):
            return self.parse_power()
        self.advance()
        self.enter(token)
        operand = self.parse_unary()
        self.leave()
        self.need_number(operand, token, f"unary {token.value!r}")
        if token.value == "+":
            return operand
        return _Negate(token.column, operand.end, operand)

    def parse_power(self) -> _Node:
        base = self.parse_primary()
        if self.peek().value != "**" or self.peek().kind != "op":
            return base
        operator = self.advance()
        self.need_number(base, operator, "'**'")
        exponent_token = self.peek()
        if exponent_token.kind == "bad":
            raise self.unexpected(exponent_token, None)
        if exponent_token.kind != "num" or not exponent_token.value.isdigit():
            raise self.error("the exponent must be a non-negative integer literal "
                             f"(at most {MAX_EXPONENT})", exponent_token.column)
        self.advance()
        exponent = int(exponent_token.value)
        if exponent * _power_degree(base) > MAX_EXPONENT:
            raise self.error(f"exponent too large (powers are limited to {MAX_EXPONENT})",
                             exponent_token.column)
        if self.peek().value == "**" and self.peek().kind == "op":
            raise self.error("chained powers are not allowed: use parentheses",
                             self.peek().column)
        return _Power(base.start, exponent_token.end, base, exponent)

    def parse_primary(self) -> _Node:
        token = self.peek()
        if token.kind == "num":
            self.advance()
            return _Number(token.column, token.end, Fraction(token.value))
        if token.kind == "name":
            return self.parse_name(token)
        if token.kind == "op" and token.value in _OPENERS:
            return self.parse_brackets(token)
        raise self.unexpected(token, "a number, a name or '('")

    def parse_name(self, token: _Token) -> _Node:
        name = token.value
        if name in _LOGIC_WORDS:
            self.refuse_logic(token)
            raise self.unexpected(token, "a number, a name or '('")
        if name == "lambda":
            raise self.error("lambda is not allowed", token.column)
        if keyword.iskeyword(name):
            raise self.error(f"{name!r} is not allowed", token.column)
        following = self.peek(1)
        if following.kind == "op" and following.value == "(":
            return self.parse_call(token)
        if name in self.variables:
            self.advance()
            return _Variable(token.column, token.end, name)
        if name in self.functions:
            raise self.error(f"{name!r} is a function: write {name}(...)", token.column)
        raise self.error(self.unknown_name_message(name), token.column)

    def unknown_name_message(self, name: str) -> str:
        allowed = ", ".join(self.variables) if self.variables else "no names"
        message = f"unknown name {name!r}: use only {allowed}"
        same_but_case = [v for v in self.variables if v.lower() == name.lower()]
        if same_but_case:
            return f"{message} (names are case-sensitive: did you mean {same_but_case[0]!r}?)"
        split = _split_into_variables(name, self.variables)
        if split:
            return f"{message} (write {'*'.join(split)} to multiply)"
        return message

    def parse_call(self, name_token: _Token) -> _Node:
        name = name_token.value
        if name not in self.functions:
            if name in self.variables:
                raise self.error(f"{name!r} is not a function: write {name}*(...) to multiply",
                                 name_token.column)
            if self.functions:
                allowed = ", ".join(f"{f}()" for f in sorted(self.functions))
                raise self.error(f"calling {name!r} is not allowed: only {allowed} may be called",
                                 name_token.column)
            raise self.error(f"calling {name!r} is not allowed: no function calls here",
                             name_token.column)
        self.advance()
        opener = self.advance()
        self.enter(opener)
        if self.peek().value == ")" and self.peek().kind == "op":
            raise self.error(f"{name}() takes exactly one argument (none given)",
                             self.peek().column)
        if self.peek().kind == "name" and self.peek(1).value == "=":
            raise self.error("keyword arguments are not allowed", self.peek().column)
        argument = self.parse_or()
        self.need_number(argument, name_token, f"{name}()")
        if self.peek().value == ",":
            raise self.error(f"{name}() takes exactly one argument", self.peek().column)
        closer = self.expect_closer(opener, name_token)
        self.leave()
        return _Call(name_token.column, closer.end, name, argument)

    def parse_brackets(self, opener: _Token) -> _Node:
        function = _BRACKET_FUNCTIONS.get(opener.value)
        if function is not None and function not in self.functions:
            raise self.error(f"{opener.value!r} ({function}) is not allowed here", opener.column)
        self.advance()
        self.enter(opener)
        inner = self.parse_or()
        closer = self.expect_closer(opener, opener)
        self.leave()
        if function is None:
            # Spans of grouped nodes cover their parentheses so sub-expression texts stay valid.
            return _rebuild_span(inner, opener.column, closer.end)
        self.need_number(inner, opener, f"{opener.value}...{_OPENERS[opener.value]}")
        return _Call(opener.column, closer.end, function, inner)

    def expect_closer(self, opener: _Token, owner: _Token) -> _Token:
        wanted = _OPENERS[opener.value]
        token = self.peek()
        if token.kind == "op" and token.value == wanted:
            return self.advance()
        refused = ("=", ",", *_COMPARISONS)
        if token.value in refused or _is_word(token, *_LOGIC_WORDS):
            raise self.unexpected(token, None)
        if token.kind == "end":
            raise self.error(f"unbalanced brackets: {opener.value!r} at column {opener.column} "
                             f"is never closed with {wanted!r}", opener.column)
        raise self.unexpected(
            token, f"{wanted!r} to close {opener.value!r} at column {opener.column}")


def _rebuild_span(node: _Node, start: int, end: int) -> _Node:
    return replace(node, start=start, end=end)


def _power_degree(node: _Node) -> int:
    """The product of the exponents along the most deeply stacked powers in ``node``."""
    if isinstance(node, _Power):
        return max(node.exponent, 1) * _power_degree(node.base)
    return max((_power_degree(child) for child in node.children()), default=1)


def _split_into_variables(name: str, variables: list[str]) -> list[str] | None:
    """``"IK"`` -> ``["I", "K"]`` when ``name`` is a run of known variable names, else None."""
    if len(name) > 40:
        return None
    splits: dict[int, list[str]] = {0: []}
    for i in range(len(name)):
        if i not in splits:
            continue
        for variable in variables:
            if name.startswith(variable, i) and i + len(variable) not in splits:
                splits[i + len(variable)] = splits[i] + [variable]
    found = splits.get(len(name))
    return found if found and len(found) > 1 else None


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its ``text`` as given and the ``variables`` it uses."""

    text: str
    variables: frozenset[str]
    _root: _Node = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    @property
    def is_condition(self) -> bool:
        """True when the expression is a comparison (or ``and``/``or``/``not`` of them)."""
        return self._root.is_bool

    def evaluate(self, env: Mapping[str, int | Fraction]) -> Fraction | bool:
        """The exact value for ``env`` (name -> int or Fraction); ZeroDivisionError on x/0."""
        missing = sorted(self.variables - env.keys())
        if missing:
            raise ExpressionError(f"no value given for {', '.join(missing)}", self.text)
        values = {}
        for name in self.variables:
            value = env[name]
            if type(value) is not int:
                value = _as_fraction(value, name)
                value = value.numerator if value.denominator == 1 else value
            values[name] = value
        result = self._root.eval(values)
        return Fraction(result) if type(result) is int else result

    def evaluate_all(self, points: Sequence[Mapping[str, int | Fraction]]
                     ) -> list[int | Fraction | None]:
        """``evaluate`` at every point: whole numbers as ints, None where it divides by zero.

        The same values as ``evaluate``, point by point, but for a numeric expression over int
        points computed one operation at a time over every point (see `_Column`).
        """
        columns = self._columns(points)
        if columns is None:
            return [self._evaluate_or_none(point) for point in points]
        return _final_values(self._root.columns(columns, len(points)))

    def _columns(self, points: Sequence[Mapping[str, int | Fraction]]
                 ) -> dict[str, _Column] | None:
        """Each variable's column, or None when ``evaluate`` must check or convert the values."""
        if self._root.is_bool:
            return None
        columns = {}
        for name in self.variables:
            try:
                column = _column_of([point[name] for point in points])
            except KeyError:
                return None
            if column is None:
                return None
            columns[name] = column
        return columns

    def _evaluate_or_none(self, point: Mapping[str, int | Fraction]) -> Any:
        try:
            value = self.evaluate(point)
        except ZeroDivisionError:
            return None
        if isinstance(value, Fraction) and value.denominator == 1:
            return value.numerator
        return value

    def evaluate_int(self, env: Mapping[str, int | Fraction]) -> int:
        """Like ``evaluate`` but the value must be a whole number; ExpressionError otherwise."""
        value = self.evaluate(env)
        if isinstance(value, bool) or value.denominator != 1:
            raise ExpressionError(f"{self.text!r} is {value} here, not a whole number", self.text)
        return int(value)

    def comparisons(self) -> tuple[tuple[Expression, str, Expression], ...]:
        """Every comparison link ``(left, op, right)`` in the expression (``a<b<c`` gives two)."""
        links: list[tuple[Expression, str, Expression]] = []
        for node in _walk(self._root):
            if isinstance(node, _Comparison):
                sides = [self._sub_expression(operand) for operand in node.operands]
                links.extend(zip(sides, node.operators, sides[1:], strict=False))
        return tuple(links)

    def _sub_expression(self, node: _Node) -> Expression:
        used = frozenset(n.name for n in _walk(node) if isinstance(n, _Variable))
        return Expression(self.text[node.start:node.end], used, node)


def _as_fraction(value: int | Fraction, name: str) -> Fraction:
    # numbers.Rational also admits numpy integers; floats are refused (no silent rounding).
    if isinstance(value, numbers.Rational) and not isinstance(value, bool):
        return Fraction(value)
    raise TypeError(f"the value of {name} must be an int or a Fraction, not {type(value).__name__}")


def parse_expression(text: str, variables: Collection[str], *, allow_comparisons: bool = False,
                     functions: Collection[str] = ("floor", "ceil")) -> Expression:
    """Parse ``text`` over ``variables``; refuse anything outside the grammar (see module doc).

    ``functions`` may name any of floor, ceil and abs. With ``allow_comparisons`` the text may
    also compare (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``, chains) and use and/or/not.
    Expressions are immutable: the same text over the same names is parsed once (a spec's
    shapes and constraints are parsed again for every generated case of every student).
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a str, not {type(text).__name__}")
    return _parse_cached(text, tuple(_ordered_names(variables)), allow_comparisons,
                         frozenset(functions))


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str, names_tuple: tuple[str, ...], allow_comparisons: bool,
                  allowed_functions: frozenset[str]) -> Expression:
    names = list(names_tuple)
    _check_names(names, allowed_functions)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is too long ({len(text)} characters, at most {MAX_LENGTH})", text)
    if not text.strip():
        raise ExpressionError("the expression is empty", text)
    tokens = _insert_implicit_products(_strip_equation_prefix(_tokenize(text), text))
    root = _Parser(text, tokens, names, allowed_functions, allow_comparisons).parse()
    used = frozenset(node.name for node in _walk(root) if isinstance(node, _Variable))
    return Expression(text, used, root)


def _ordered_names(variables: Collection[str]) -> list[str]:
    if isinstance(variables, (set, frozenset)):
        return sorted(variables)
    return list(dict.fromkeys(variables))


def _check_names(names: list[str], functions: frozenset[str]) -> None:
    unknown = sorted(functions - _FUNCTIONS.keys())
    if unknown:
        raise ValueError(f"unknown functions {unknown}: the language knows {sorted(_FUNCTIONS)}")
    for name in names:
        if not _NAME.fullmatch(name) or keyword.iskeyword(name) or name in functions:
            raise ValueError(f"{name!r} cannot be a variable name")
