"""Memory for the trusted side of batch grading: what is the same for every student is made once.

Public cases, the points of a public formula check, and their expected outputs (the reference's
and its known mistakes') do not depend on the student (grader.cases: public seeds leave the
student out). Recomputing them per student made the trusted side cost more than everything
else together (about 0.3 s of the 0.55 s a HW2 submission took, measured with cProfile): one
Grader grading a class now computes them once. Hidden cases derive from the student and the
salt, so they and their outputs are never cached.

Cached outputs are shared by every student's comparison, possibly in several threads at once:
arrays are made read-only, so a checker that ever tried to write into one would fail loudly
instead of changing another student's grade.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from grader.cases import Case
from grader.expected import ExpectedSource, ReferenceFailure, Target, rebuilt

MAX_POINT_SETS = 64  # point_values entries (public point sets repeat; others are evicted)


def frozen(value: Any) -> Any:
    """`value` with its arrays made read-only (containers are rebuilt, not mutated)."""
    return rebuilt(value, _read_only)


def _read_only(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    return value


class Memo:
    """A thread-safe memo; a failure (ReferenceFailure) is remembered and raised again."""

    def __init__(self, max_entries: int | None = None) -> None:
        self.entries: OrderedDict[Hashable, tuple[bool, Any]] = OrderedDict()
        self.max_entries = max_entries
        self.lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self.lock:
            found = self.entries.get(key)
            if found is not None and self.max_entries is not None:
                self.entries.move_to_end(key)
        if found is None:
            try:
                found = (True, frozen(make()))
            except ReferenceFailure as exc:
                found = (False, exc)
            with self.lock:  # two threads may both have computed it: the same value
                self.entries[key] = found
                if self.max_entries is not None and len(self.entries) > self.max_entries:
                    self.entries.popitem(last=False)
        ok, value = found
        if not ok:
            raise value
        return value


class CachedExpected:
    """An ExpectedSource that remembers outputs that are the same for every student."""

    def __init__(self, source: ExpectedSource) -> None:
        self.source = source
        self.values = Memo()
        self.outputs = Memo()
        self.points = Memo(MAX_POINT_SETS)

    @classmethod
    def wrap(cls, source: ExpectedSource) -> ExpectedSource:
        return source if isinstance(source, cls) else cls(source)

    def __getattr__(self, name: str) -> Any:  # anything else the source offers (e.g. a bundle's)
        return getattr(self.source, name)

    def expected_value(self, target: Target, node: Any, default_name: str | None = None) -> Any:
        # A value check's expected value depends on the spec alone; `node` lives as long as it.
        key = (target, default_name, id(node), type(node).__name__)
        return self.values.get(key, lambda: self.source.expected_value(target, node, default_name))

    def case_output(self, target: Target, function: str, case: Case) -> Any:
        if case.visibility != "public":
            return self.source.case_output(target, function, case)
        key = (target, function, case.id, case.seed)
        return self.outputs.get(key, lambda: self.source.case_output(target, function, case))

    def point_values(self, target: Target, function: str, points: Sequence[tuple[int, ...]]) -> list[Any]:
        key = (target, function, tuple(tuple(point) for point in points))
        return self.points.get(key, lambda: self.source.point_values(target, function, points))
