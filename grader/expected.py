"""Where expected and known-mistake (mutant) outputs come from.

`ExpectedSource` is the seam the grader depends on. Two sources implement it:

- `Reference` (here): the live reference module, computed in the trusted process. The
  reference is trusted code; student code never runs here (it runs in grader.executor).
- `grader.bundle.BundleExpected`: outputs precomputed into a student bundle, for the public
  checks only, so a student can self-check without the reference.

Every request names its `Target` (question, check, and the mutant when it is a known
mistake's output), so a precomputed source can look the answer up; the live reference
ignores it and computes.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from grader.cases import Case, NodeContext, evaluate


class ReferenceFailure(Exception):
    """The reference failed: a bug in the assignment, never the student's fault.

    A precomputed source raises it too when it has no output for a request (e.g. a mutant that
    is undefined on that input, or a bundle made by another grader version).
    """


@dataclass(frozen=True)
class Target:
    """Which output is asked for: a check's expected output, or one of its mutants' outputs."""

    question: str
    check: str
    mutant: str = ""  # "" for the expected output, else the known mistake's id

    def of_mutant(self, mutant: str) -> "Target":
        return Target(self.question, self.check, mutant)


class ExpectedSource(Protocol):
    """Where the grader gets expected (and mutant) outputs; it never sees how they are made."""

    def expected_value(self, target: Target, node: Any, default_name: str | None = None) -> Any:
        """A value check's expected value (or a value mutant's): its node, or the default name."""
        ...

    def case_output(self, target: Target, function: str, case: Case) -> Any:
        """`function` (the reference's, or a mutant's) on a function check's case."""
        ...

    def point_values(self, target: Target, function: str, points: Sequence[tuple[int, ...]]) -> list[Any]:
        """`function` at each point of a formula check (arguments in the domain's order)."""
        ...


def load_reference(path: Path, assignment_id: str) -> ModuleType:
    module_name = f"_grader_reference_{assignment_id.replace('-', '_').replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ReferenceFailure(f"{path}: cannot load the reference module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ReferenceFailure(f"{path}: importing the reference failed: {type(exc).__name__}: {exc}") from exc
    _single_threaded_torch()
    return module


def _single_threaded_torch() -> None:
    """One intra-op thread for the reference's torch calls.

    Reference inputs are tiny and a batch is already parallel across submissions. With its
    default thread pool, every op hands off to a second OpenMP thread that must be scheduled
    beside the sandboxed workers: measured on HW2, 97 ms of reference time per submission with
    the default pool, 6 ms with one thread.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def rebuilt(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """`value` with tuples, lists and dicts rebuilt (never mutated) and `leaf` applied to the rest."""
    if isinstance(value, tuple):
        return tuple(rebuilt(v, leaf) for v in value)
    if isinstance(value, list):
        return [rebuilt(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: rebuilt(v, leaf) for k, v in value.items()}
    return leaf(value)


def to_plain(value: Any) -> Any:
    """Reference results as plain data: arrays become float64 numpy arrays."""
    return rebuilt(value, _plain_leaf)


def _plain_leaf(value: Any) -> Any:
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy().astype(np.float64)
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind in "biuf" else value
    if isinstance(value, np.generic):
        return value.item()
    return value


class Reference:
    """Calls into the reference module, with errors that name the assignment's bug."""

    def __init__(self, module: ModuleType, constants: dict[str, Any]):
        self.module = module
        self.constants = constants

    def attribute(self, name: str) -> Any:
        if not hasattr(self.module, name):
            raise ReferenceFailure(f"the reference does not define {name!r}")
        return to_plain(getattr(self.module, name))

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        function = getattr(self.module, name, None)
        if not callable(function):
            raise ReferenceFailure(f"the reference does not define a function {name!r}")
        try:
            return to_plain(function(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
        except Exception as exc:
            raise ReferenceFailure(f"reference {name}{_signature(args, kwargs)} raised {type(exc).__name__}: {exc}") from exc

    def value(self, node: Any, default_name: str | None = None) -> Any:
        """A value check's expected value: its `expected` node, or the reference's same-named attribute."""
        if node is None:
            if default_name is None:
                raise ReferenceFailure("no expected value given")
            return self.attribute(default_name)
        ctx = NodeContext(self.constants, call_reference=self.call)
        return evaluate(node, ctx)

    def on_case(self, function: str, case: Case) -> Any:
        return self.call(function, case.args, case.kwargs)

    # ExpectedSource: computed live; the target does not matter.

    def expected_value(self, target: Target, node: Any, default_name: str | None = None) -> Any:
        return self.value(node, default_name)

    def case_output(self, target: Target, function: str, case: Case) -> Any:
        return self.on_case(function, case)

    def point_values(self, target: Target, function: str, points: Sequence[tuple[int, ...]]) -> list[Any]:
        return [self.call(function, tuple(point), {}) for point in points]


def _signature(args: tuple, kwargs: dict) -> str:
    parts = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return repr(value)
