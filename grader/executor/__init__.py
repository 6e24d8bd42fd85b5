"""Runs student code out of the grader's process and brings back plain data only.

    from grader.executor import Call, Limits, SubprocessExecutor
    result = SubprocessExecutor(module_name="hw2").run(path, [Call("c1", "call", "conv2d", (a, k))])
    result.outcomes["c1"].status, result.outcomes["c1"].value

See base.py for the types, protocol.py for the wire format, worker.py for the child side.
"""

from .base import Call, CallOutcome, Executor, ExecutorError, Limits, MapOutcomes, RunResult, StartedRun, start_run
from .protocol import ProtocolError, QualifiedName, UnencodableValue
from .subprocess_executor import SubprocessExecutor

__all__ = [
    "Call",
    "CallOutcome",
    "Executor",
    "ExecutorError",
    "Limits",
    "MapOutcomes",
    "ProtocolError",
    "QualifiedName",
    "RunResult",
    "StartedRun",
    "SubprocessExecutor",
    "UnencodableValue",
    "start_run",
]
