"""Cases: the inputs a check runs on, fixed from the spec or generated from a seeded domain.

Value nodes (in `args`, `kwargs`, `expected`, mutant `value`, `constants`):

    3, 2.5, "text", [1, 2]        literals (lists stay lists)
    {const: A}                    an assignment constant (numeric nested lists become float64 arrays)
    {var: S}                      a variable drawn for this generated case
    {expr: "floor((H - K)/S)+1"}  an integer expression over the case's variables
    {tuple: [2, {var: S}]}        a tuple
    {array: [H, 3], values: {uniform: [-5, 5]}}   a float64 array; dims are ints, variable names
                                  or expressions; values uniform | integers | normal | fill
    {call: conv2d, args: [...], kwargs: {...}}    the reference's function (expected values only)
    {plain: {...}}                a literal mapping that would otherwise look like a node
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from grader.expressions import Expression, ExpressionError, parse_expression
from grader.spec.model import Choice, FixedCase, Generate

NODE_KEYS = frozenset({"const", "var", "expr", "tuple", "array", "call", "plain"})
ARRAY_VALUE_KINDS = frozenset({"uniform", "integers", "normal", "fill"})
MAX_ARRAY_ELEMENTS = 1_000_000
MAX_DRAWS_PER_CASE = 10_000


class CaseError(ValueError):
    """A value node or domain that cannot be evaluated; `path` locates it inside the node."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()):
        super().__init__(message)
        self.message, self.path = message, path


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    visibility: str
    seed: int | None = None
    variables: dict[str, int | float] = field(default_factory=dict)
    description: str = ""
    categories: tuple[str, ...] = ()


@dataclass
class NodeContext:
    constants: Mapping[str, Any]
    variables: Mapping[str, int | float] = field(default_factory=dict)
    rng: np.random.Generator | None = None
    call_reference: Callable[[str, tuple, dict], Any] | None = None


def derive_seed(*parts: str) -> int:
    """A 63-bit seed from the case's identity: the same parts always give the same cases."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def is_node(value: Any) -> bool:
    return isinstance(value, dict) and len(value.keys() & NODE_KEYS) == 1


def prepare_constants(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Numeric rectangular nested lists become float64 arrays (inputs arrive as float64 arrays)."""
    return {name: _maybe_array(value) for name, value in raw.items()}


def _maybe_array(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return value
    return array if array.ndim >= 1 else value


# ---- evaluation ----------------------------------------------------------------------------


def evaluate(node: Any, ctx: NodeContext, path: tuple[str | int, ...] = ()) -> Any:
    if isinstance(node, list):
        return [evaluate(item, ctx, (*path, i)) for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if not is_node(node):
        return {key: evaluate(value, ctx, (*path, key)) for key, value in node.items()}
    (key,) = node.keys() & NODE_KEYS
    return _EVALUATORS[key](node, ctx, (*path, key))


def _eval_const(node: dict, ctx: NodeContext, path: tuple) -> Any:
    name = node["const"]
    if name not in ctx.constants:
        raise CaseError(f"unknown constant {name!r}; defined: {', '.join(sorted(ctx.constants))}", path)
    value = ctx.constants[name]
    return value.copy() if isinstance(value, np.ndarray) else value


def _eval_var(node: dict, ctx: NodeContext, path: tuple) -> Any:
    name = node["var"]
    if name not in ctx.variables:
        raise CaseError(f"unknown variable {name!r}: declare it under generate.variables", path)
    return ctx.variables[name]


def _eval_expr(node: dict, ctx: NodeContext, path: tuple) -> int | float:
    return _expression_value(node["expr"], ctx, path)


def _expression_value(text: Any, ctx: NodeContext, path: tuple) -> int | float:
    if isinstance(text, int):
        return text
    if isinstance(text, str) and type(ctx.variables.get(text)) is int:
        return ctx.variables[text]  # a bare variable (dimensions mostly are): no parse, no Fractions
    try:
        expression = parse_expression(str(text), list(ctx.variables))
        value = expression.evaluate(_exact(ctx.variables))
    except (ExpressionError, ZeroDivisionError) as exc:
        raise CaseError(str(exc), path) from None
    return int(value) if isinstance(value, bool) or value.denominator == 1 else float(value)


def _exact(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Values an Expression evaluates exactly: ints as they are (no Fraction to build), the
    rest (floats, bools from a choice) as Fractions."""
    return {name: value if type(value) is int else Fraction(value) for name, value in variables.items()}


def _eval_tuple(node: dict, ctx: NodeContext, path: tuple) -> tuple:
    items = node["tuple"]
    if not isinstance(items, list):
        raise CaseError("`tuple` takes a list", path)
    return tuple(evaluate(item, ctx, (*path, i)) for i, item in enumerate(items))


def _eval_plain(node: dict, ctx: NodeContext, path: tuple) -> Any:
    return node["plain"]


def _eval_array(node: dict, ctx: NodeContext, path: tuple) -> np.ndarray:
    unknown = set(node) - {"array", "values"}
    if unknown:
        raise CaseError(f"unknown field(s) {sorted(unknown)} in an array node: use `array` and `values`", path)
    dims = node["array"]
    if not isinstance(dims, list) or not dims:
        raise CaseError("`array` takes a list of dimensions, e.g. [H, W]", path)
    shape = tuple(_dimension(d, ctx, (*path, i)) for i, d in enumerate(dims))
    if math.prod(shape) > MAX_ARRAY_ELEMENTS:
        raise CaseError(f"array of shape {shape} is too large (max {MAX_ARRAY_ELEMENTS} elements)", path)
    return _fill(shape, node.get("values", {"uniform": [-1, 1]}), ctx, path)


def _dimension(dim: Any, ctx: NodeContext, path: tuple) -> int:
    value = _expression_value(dim, ctx, path)
    if not isinstance(value, int) or value < 0:
        raise CaseError(f"dimension {dim!r} evaluates to {value!r}: dimensions are integers >= 0", path)
    return value


def _fill(shape: tuple[int, ...], values: Any, ctx: NodeContext, path: tuple) -> np.ndarray:
    path = (*path[:-1], "values")
    if not isinstance(values, dict) or len(values) != 1 or not values.keys() <= ARRAY_VALUE_KINDS:
        raise CaseError(f"`values` takes one of {sorted(ARRAY_VALUE_KINDS)}, e.g. {{uniform: [-5, 5]}}", path)
    ((kind, params),) = values.items()
    if kind == "fill":
        return np.full(shape, float(params), dtype=np.float64)
    if ctx.rng is None:
        raise CaseError(f"random values ({kind}) are only allowed in generated cases", path)
    if not (isinstance(params, list) and len(params) == 2):
        raise CaseError(f"`{kind}` takes two numbers, e.g. {kind}: [-5, 5]", path)
    low, high = params
    if kind == "uniform":
        return ctx.rng.uniform(low, high, size=shape)
    if kind == "normal":
        return ctx.rng.normal(low, high, size=shape)
    return ctx.rng.integers(int(low), int(high), size=shape, endpoint=True).astype(np.float64)


def _eval_call(node: dict, ctx: NodeContext, path: tuple) -> Any:
    if ctx.call_reference is None:
        raise CaseError("`call` runs a reference function: only allowed in expected values", path)
    unknown = set(node) - {"call", "args", "kwargs"}
    if unknown:
        raise CaseError(f"unknown field(s) {sorted(unknown)} in a call node: use `call`, `args`, `kwargs`", path)
    args = tuple(evaluate(node.get("args", []), ctx, (*path[:-1], "args")))
    kwargs = evaluate(node.get("kwargs", {}), ctx, (*path[:-1], "kwargs"))
    return ctx.call_reference(node["call"], args, kwargs)


_EVALUATORS: dict[str, Callable[[dict, NodeContext, tuple], Any]] = {
    "const": _eval_const,
    "var": _eval_var,
    "expr": _eval_expr,
    "tuple": _eval_tuple,
    "array": _eval_array,
    "call": _eval_call,
    "plain": _eval_plain,
}


def reference_calls(node: Any) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Every `{call: NAME}` inside a node, with its path (for validation)."""
    yield from _walk_calls(node, ())


def _walk_calls(node: Any, path: tuple) -> Iterator[tuple[str, tuple]]:
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk_calls(item, (*path, i))
    elif isinstance(node, dict):
        if is_node(node) and "call" in node:
            yield str(node["call"]), (*path, "call")
        if not (is_node(node) and "plain" in node):
            for key, value in node.items():
                yield from _walk_calls(value, (*path, key))


# ---- cases of a check ---------------------------------------------------------------------


@dataclass(frozen=True)
class CaseIdentity:
    """What a generated case's seed derives from.

    Public cases are the same for every student (a student bundle ships their expected outputs,
    and self-check must agree with grading); hidden cases also derive from the student's id and
    a secret salt, so they can neither be shared nor precomputed.
    """

    assignment: str
    question: str
    check: str
    student: str
    salt: str = ""

    def seed(self, case_id: str, visibility: str) -> int:
        if visibility == "hidden":
            return derive_seed(self.assignment, self.question, self.check, case_id, self.student, self.salt)
        return derive_seed(self.assignment, self.question, self.check, case_id)


def fixed_cases(cases: list[FixedCase], default_visibility: str, ctx: NodeContext) -> list[Case]:
    result = []
    for index, spec in enumerate(cases):
        args = tuple(evaluate(spec.args, ctx, ("cases", index, "args")))
        kwargs = evaluate(spec.kwargs, ctx, ("cases", index, "kwargs"))
        visibility = spec.visibility or default_visibility
        result.append(Case(spec.id, args, kwargs, visibility, description=spec.description))
    return result


def generated_cases(
    generate: Generate, default_visibility: str, identity: CaseIdentity, constants: Mapping[str, Any]
) -> list[Case]:
    visibility = generate.visibility or default_visibility
    constraints = parse_constraints(generate.where, list(generate.variables))
    categories = parse_categories(generate.categories, list(generate.variables))
    cases = []
    for index in range(generate.count):
        case_id = f"random-{index + 1}"
        seed = identity.seed(case_id, visibility)
        case = generate_case(generate, constraints, case_id, seed, visibility, constants)
        exact = _exact(case.variables)
        matching = tuple(name for name, condition in categories.items() if condition.evaluate(exact))
        cases.append(replace(case, categories=matching))
    return cases


def parse_categories(categories: Mapping[str, str], variables: list[str]) -> dict[str, Expression]:
    parsed = {}
    for name, text in categories.items():
        try:
            parsed[name] = parse_expression(text, variables, allow_comparisons=True)
        except ExpressionError as exc:
            raise CaseError(str(exc), ("categories", name)) from None
    return parsed


def generate_case(
    generate: Generate,
    constraints: list[Expression],
    case_id: str,
    seed: int,
    visibility: str,
    constants: Mapping[str, Any],
) -> Case:
    rng = np.random.default_rng(seed)
    variables = draw_variables(generate, constraints, rng)
    ctx = NodeContext(constants, variables, rng)
    args = tuple(evaluate(generate.args, ctx, ("generate", "args")))
    kwargs = evaluate(generate.kwargs, ctx, ("generate", "kwargs"))
    return Case(case_id, args, kwargs, visibility, seed, variables, generate.description)


def parse_constraints(where: list[str], variables: list[str]) -> list[Expression]:
    constraints = []
    for index, text in enumerate(where):
        try:
            constraints.append(parse_expression(text, variables, allow_comparisons=True))
        except ExpressionError as exc:
            raise CaseError(str(exc), ("where", index)) from None
    return constraints


def draw_variables(generate: Generate, constraints: list[Expression], rng: np.random.Generator) -> dict:
    for _ in range(MAX_DRAWS_PER_CASE):
        variables = {name: _draw(domain, rng) for name, domain in generate.variables.items()}
        exact = _exact(variables)
        if all(constraint.evaluate(exact) for constraint in constraints):
            return variables
    raise CaseError(
        f"no variables satisfying `where` found in {MAX_DRAWS_PER_CASE} draws: the domain is (nearly) empty",
        ("where",),
    )


def _draw(domain: list[int] | Choice, rng: np.random.Generator) -> int | float:
    if isinstance(domain, Choice):
        value = domain.choice[int(rng.integers(len(domain.choice)))]
        return value
    low, high = domain
    return int(rng.integers(low, high, endpoint=True))
