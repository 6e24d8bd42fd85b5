"""The executor's interface: what the grader asks for and what it gets back.

Implementations (a sandboxed subprocess, see grader/sandbox/; a warm forking pool later) change
how the student's process is started, never these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal, Protocol, Sequence

Op = Literal["get", "call", "map"]
Status = Literal[
    "ok", "missing", "error", "timeout", "crashed", "unencodable", "malformed", "skipped"
]
OPS: tuple[str, ...] = ("get", "call", "map")


class ExecutorError(Exception):
    """The grader itself could not run the submission (e.g. cannot start a process).

    Never raised for anything the submission does: that always ends up in a CallOutcome.
    """


@dataclass(frozen=True)
class Call:
    """One request on the student's module.

    - ``get``: the value of module attribute ``name`` (a function or class comes back as a
      ``QualifiedName``; another callable as the ``QualifiedName`` of its type).
    - ``call``: ``name(*args, **kwargs)``.
    - ``map``: ``name(*item, **kwargs)`` for each ``item`` in ``args`` (a tuple of arg-tuples);
      one process round trip for many cases. The call timeout covers the whole map.

    ``shared``: the caller runs this very object again for other submissions (a public case),
    so an executor may keep its encoded request. Keep such a Call unchanged.
    """

    id: str
    op: Op
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    shared: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class CallOutcome:
    """What became of one Call. Anything but ``ok`` scores 0 (fail closed).

    ``value`` is decoded plain data when ``ok``: None, bool, int, float, complex, str, list,
    tuple, set, dict, ``QualifiedName`` or an exact ``np.ndarray`` of a numeric dtype.
    For a ``map`` it is a ``MapOutcomes``: a sequence of per-item ``CallOutcome`` (ids
    ``"<call id>[<index>]"``), each with its own status (ok, missing, error, unencodable or
    malformed).
    """

    id: str
    status: Status
    value: object = None
    error: str = ""  # one line for a human
    traceback: str = ""  # the submission's frames only: "line N, in func: source" + error


class MapOutcomes(Sequence[CallOutcome]):
    """A map's per-item outcomes, kept as the items' values and the failed items' outcomes.

    A formula check maps the student's function over thousands of points: one CallOutcome
    per point cost more than the rest of its decoding. Items are made when read.
    """

    def __init__(self, call_id: str, values: list[object], failures: dict[int, CallOutcome]) -> None:
        self.call_id = call_id
        self.values = values  # None where the item failed
        self.failures = failures  # index -> that item's outcome (status other than ok)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> CallOutcome:  # type: ignore[override]
        if not -len(self.values) <= index < len(self.values):
            raise IndexError(index)
        index %= len(self.values)
        failure = self.failures.get(index)
        return failure or CallOutcome(f"{self.call_id}[{index}]", "ok", value=self.values[index])


@dataclass(frozen=True)
class Limits:
    call_timeout_s: float = 10.0  # wall clock per call (a whole map), then SIGKILL of the group
    import_timeout_s: float = 30.0  # importing a module that imports torch takes a few seconds
    total_timeout_s: float = 120.0  # the whole submission, restarts included
    cpu_s: int = 120  # RLIMIT_CPU (hard), per process
    memory_bytes: int = 2 * 1024**3  # RLIMIT_AS; importing torch needs at least 1 GiB
    file_size_bytes: int = 64 * 1024**2  # RLIMIT_FSIZE
    output_bytes: int = 64 * 1024  # how much of stdout/stderr the parent keeps (the tail)
    max_restarts: int = 5  # fresh processes after a timeout, crash or malformed reply
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 64  # RLIMIT_NPROC (tasks, threads included) of the sandbox's own uid
    tmp_bytes: int = 64 * 1024**2  # size of the sandbox's private /tmp (a tmpfs)


@dataclass
class RunResult:
    outcomes: dict[str, CallOutcome]  # one per call id, in call order, always complete
    import_error: str = ""  # non-empty: the module could not be imported; every call "error"
    import_traceback: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    restarts: int = 0


OutcomeHook = Callable[[Call, CallOutcome], None]
IdleHook = Callable[[], bool]  # a step of work done while waiting for the child; False: none left


class Executor(Protocol):
    def run(
        self, submission: Path, calls: Sequence[Call], limits: Limits = Limits()
    ) -> RunResult: ...


class StartedRun(Protocol):
    """A run begun before its calls are known (see start_run)."""

    def perform(self, calls: Iterable[Call], on_outcome: OutcomeHook | None = None,
                on_idle: IdleHook | None = None) -> RunResult: ...

    def cancel(self) -> None: ...


def start_run(executor: Executor, submission: Path, limits: Limits = Limits(),
              source: bytes | None = None) -> StartedRun:
    """Begin a run of `submission` now and give it its calls later.

    An executor with ``start`` (the sandboxed ones) starts the student's process at once, so it
    imports the module while the grader plans the calls; ``on_outcome`` then hears of each
    outcome while the process works on the next calls, and ``on_idle`` is called, a step at a
    time, whenever this process would otherwise wait for the student's. Any other executor (the
    trusted one, test doubles) runs everything at ``perform``, then reports each outcome in order
    (and has no use for ``on_idle``).
    """
    start = getattr(executor, "start", None)
    if callable(start):
        return start(submission, limits, source)
    return _RunAtPerform(executor, submission, limits)


class _RunAtPerform:
    def __init__(self, executor: Executor, submission: Path, limits: Limits) -> None:
        self.executor, self.submission, self.limits = executor, submission, limits

    def perform(self, calls: Iterable[Call], on_outcome: OutcomeHook | None = None,
                on_idle: IdleHook | None = None) -> RunResult:
        calls = list(calls)
        if not calls:
            return RunResult(outcomes={})
        result = self.executor.run(self.submission, calls, self.limits)
        if on_outcome is not None and not result.import_error:
            for call in calls:
                on_outcome(call, result.outcomes[call.id])
        return result

    def cancel(self) -> None:
        pass
