"""An in-process executor for TRUSTED code only: the reference module and its mutants.

`grader validate` runs the reference (and each mutant) through the same grading pipeline as a
student's module. Never give it a student's module: student code runs in SubprocessExecutor.
Values still cross the data-only codec, so the reference is graded on exactly what a student's
answers would be graded on.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Sequence

from .base import Call, CallOutcome, Limits, RunResult
from .protocol import UnencodableValue, decode_value, encode_value

MISSING = object()  # an override that removes a name, as if the student left it out


class TrustedModuleExecutor:
    def __init__(self, module: ModuleType, overrides: Mapping[str, Any] | None = None):
        self.module = module
        self.overrides = dict(overrides or {})

    def run(self, submission: Path, calls: Sequence[Call], limits: Limits = Limits()) -> RunResult:
        return RunResult(outcomes={call.id: self._outcome(call) for call in calls})

    def _lookup(self, name: str) -> Any:
        value = self.overrides.get(name, getattr(self.module, name, MISSING))
        return value

    def _outcome(self, call: Call) -> CallOutcome:
        target = self._lookup(call.name)
        if target is MISSING:
            return CallOutcome(call.id, "missing", error=f"{call.name} is not defined")
        if call.op == "get":
            return _plain(call.id, target)
        if call.op == "call":
            return _invoke(call.id, target, call.args, call.kwargs)
        items = [_invoke(f"{call.id}[{i}]", target, args, call.kwargs) for i, args in enumerate(call.args)]
        return CallOutcome(call.id, "ok", items)


def _invoke(call_id: str, function: Any, args: tuple, kwargs: dict) -> CallOutcome:
    try:
        value = function(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except NotImplementedError:
        return CallOutcome(call_id, "missing", error="not implemented (raises NotImplementedError)")
    except Exception as exc:  # noqa: BLE001 - reported like a student's exception
        return CallOutcome(call_id, "error", error=f"{type(exc).__name__}: {exc}")
    return _plain(call_id, value)


def _plain(call_id: str, value: Any) -> CallOutcome:
    try:
        return CallOutcome(call_id, "ok", decode_value(encode_value(value)))
    except UnencodableValue as exc:
        return CallOutcome(call_id, "unencodable", error=str(exc))
