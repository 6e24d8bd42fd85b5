"""Grade a class: in parallel, resumable, with deterministic output whatever the parallelism.

Each submission's reports are written whole (atomic renames) as soon as it is graded, with a
cache key in result.json: the content hash of the assignment's folder, of the submission, the
grader's version and the hidden-case salt. Started again after a crash (even `kill -9`), a batch
reuses every result whose key still matches and grades only the rest; `force` regrades all.
Interrupted (Ctrl-C, or SIGTERM under `grader grade`), a batch hands out no more submissions,
lets the ones being graded finish and be written, and raises BatchInterrupted; a second
interrupt stops the grading processes at once.

Given a recipe for a Grader rather than a Grader, a batch with `jobs` > 1 grades in that many
processes, each with its own Grader: the trusted side (static analysis, cases, comparisons) is
Python, and threads of one process would take turns on one interpreter lock. The processes are
forked before anything imports torch, so no OpenMP state is ever copied into them.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import signal
import sys
import time
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, TextIO, Union

from grader import __version__
from grader.grading import Grader, Submission
from grader.results import CaseResult, CheckResult, QuestionResult, SubmissionResult
from grader.spec import AssignmentSpec
from grader.writers.gradebook import write_gradebook
from grader.writers.json_report import write_json
from grader.writers.markdown import points, write_markdown

RESULT_FILE, REPORT_FILE = "result.json", "report.md"


GraderRecipe = Callable[[], Grader]  # builds a Grader: called once in every grading process


@dataclass(frozen=True)
class BatchOptions:
    jobs: int = 1
    force: bool = False


@dataclass
class BatchOutcome:
    results: list[SubmissionResult]  # sorted by submission id
    graded: int  # graded in this run
    reused: int  # taken from a previous run's cache


class BatchInterrupted(Exception):
    """The batch was interrupted: every result finished by then is written; a rerun grades the rest."""

    def __init__(self, graded: int, reused: int, total: int) -> None:
        super().__init__(f"interrupted: {graded} graded in this run and {reused} reused, of {total}")
        self.graded, self.reused, self.total = graded, reused, total

    @property
    def left(self) -> int:
        return self.total - self.graded - self.reused


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def cache_key(spec: AssignmentSpec, submission: Submission, salt: str) -> str:
    digest = hashlib.sha256()
    for part in (__version__, spec.content_hash, submission.id, salt):
        digest.update(part.encode())
        digest.update(b"\0")
    try:
        digest.update(submission.path.read_bytes())
    except OSError:
        digest.update(b"<unreadable>")
    return digest.hexdigest()


def grade_batch(
    spec: AssignmentSpec,
    grader: Union[Grader, GraderRecipe],
    submissions: list[Submission],
    out: Path,
    options: BatchOptions,
    progress: "Progress | None" = None,
    salt: str = "",
) -> BatchOutcome:
    """Grade `submissions` into `out`. `grader` is a Grader, or a recipe (see the module doc);
    with a recipe, `salt` must be the one its Graders use (it is part of the cache key)."""
    if isinstance(grader, Grader):
        salt = grader.options.salt
    keys = {s.id: cache_key(spec, s, salt) for s in submissions}
    done: dict[str, SubmissionResult] = {}
    if not options.force:
        done = {s.id: r for s in submissions if (r := _cached(out / s.id, keys[s.id])) is not None}
    todo = [s for s in submissions if s.id not in done]
    progress = progress or Progress(len(submissions), stream=None)
    progress.start(reused=len(done))
    recorded: set[Future] = set()

    def record(future: Future) -> None:
        recorded.add(future)
        result = _result_of(future)
        done[result.submission] = result
        progress.advance(result)

    if todo:
        pool, local = _pool(grader, options.jobs, len(todo))
        futures: list[Future] = []
        try:
            for submission in todo:
                futures.append(pool.submit(_grade_and_write, submission, out, keys[submission.id], local))
            for future in as_completed(futures):
                record(future)
        except KeyboardInterrupt:
            _finish_in_flight([f for f in futures if f not in recorded], record)
            progress.finish()
            raise BatchInterrupted(len(recorded), len(submissions) - len(todo), len(submissions)) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    progress.finish()
    results = [done[s.id] for s in sorted(submissions, key=lambda s: s.id)]
    write_gradebook(spec, results, out / "gradebook.csv")
    return BatchOutcome(results, graded=len(todo), reused=len(submissions) - len(todo))


# ---- where submissions are graded ------------------------------------------------------------

_GRADER: Grader | None = None  # this process's Grader (set in the batch's own processes)
_GRADER_FAILURE: BaseException | None = None


class GradingProcessFailure(RuntimeError):
    """A grading process could not build its Grader (the reference failed to import...) or died."""


def _pool(grader: Union[Grader, GraderRecipe], jobs: int, todo: int) -> tuple[Executor, Grader | None]:
    """Processes (each builds its Grader) for a recipe and jobs > 1; else threads sharing one Grader."""
    jobs = max(1, min(jobs, todo))
    if not isinstance(grader, Grader) and jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")  # the recipe is inherited, never pickled
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_grader, initargs=(grader,))
        return pool, None
    return ThreadPoolExecutor(max_workers=jobs), _frozen(grader if isinstance(grader, Grader) else grader())


def _finish_in_flight(unrecorded: list[Future], record: Callable[[Future], None]) -> None:
    """After an interrupt: no new submission starts; those being graded finish and are recorded.
    A second interrupt meanwhile stops the grading processes (their warm workers go with them)."""
    # Cancelled here, not left to shutdown(cancel_futures=True): a process pool cancels later, in
    # its own thread, and wait() would never hear of a future cancelled that way.
    in_flight = [f for f in unrecorded if not f.cancel()]  # cancel() fails only for a started one
    try:
        wait(in_flight)
    except KeyboardInterrupt:
        for process in multiprocessing.active_children():
            process.terminate()
    for future in in_flight:
        if future.done() and future.exception() is None:
            record(future)


def _ignore_interrupt(_signal: int, _frame: Any) -> None:
    """A grading process leaves Ctrl-C to the batch, which lets its submission finish. (A Python
    handler rather than SIG_IGN: exec resets it, so sandboxed interpreters start as usual.)"""


def _start_grader(recipe: GraderRecipe) -> None:
    global _GRADER, _GRADER_FAILURE
    signal.signal(signal.SIGINT, _ignore_interrupt)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the batch's parent may have its own
    try:
        _GRADER = _frozen(recipe())
    except BaseException as exc:  # reported with the first submission this process takes
        _GRADER_FAILURE = exc


# A submission allocates tens of thousands of short-lived objects (its AST above all), nearly
# none in cycles: at the default 700, young collections took ~7% of a grading process's CPU.
YOUNG_COLLECTION_THRESHOLD = 20_000


def _frozen(grader: Grader) -> Grader:
    """`grader`, once what lives as long as the batch (the spec, the reference, numpy and torch,
    all loaded by now) is out of the cyclic collector's sight: a full collection no longer costs
    ~20 ms per HW2 submission."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    return grader


def _result_of(future: Future) -> SubmissionResult:
    try:
        return future.result()
    except BrokenProcessPool as exc:  # a grading process died: a grader bug, never student code
        raise GradingProcessFailure(f"a grading process died: {exc}") from exc


def _grade_and_write(submission: Submission, out: Path, key: str, grader: Grader | None) -> SubmissionResult:
    grader = grader or _GRADER
    if grader is None:
        failure = _GRADER_FAILURE
        raise GradingProcessFailure(str(failure) or type(failure).__name__ if failure else "no grader in this process")
    spec = grader.spec
    result = grader.grade(submission)
    result.cache_key = key
    folder = out / submission.id
    write_markdown(result, spec.title, folder / REPORT_FILE)
    write_json(result, folder / RESULT_FILE)  # last: its presence marks the submission done
    return result


def _cached(folder: Path, key: str) -> SubmissionResult | None:
    try:
        data = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("cache_key") != key or not (folder / REPORT_FILE).is_file():
        return None
    try:
        return result_from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


# ---- reading result.json back --------------------------------------------------------------


def _build(cls: type, data: dict[str, Any], nested: dict[str, Callable[[Any], Any]] | None = None) -> Any:
    nested = nested or {}
    known = {f.name for f in fields(cls)}
    values = {k: (nested[k](v) if k in nested else v) for k, v in data.items() if k in known}
    return cls(**values)


def result_from_dict(data: dict[str, Any]) -> SubmissionResult:
    def case(d: dict) -> CaseResult:
        return _build(CaseResult, d)

    def check(d: dict) -> CheckResult:
        return _build(CheckResult, d, {"cases": lambda items: [case(i) for i in items]})

    def question(d: dict) -> QuestionResult:
        return _build(QuestionResult, d, {"checks": lambda items: [check(i) for i in items]})

    return _build(SubmissionResult, data, {"questions": lambda items: [question(i) for i in items]})


# ---- progress -------------------------------------------------------------------------------


class Progress:
    """A bar with an ETA on a terminal; one plain line per submission elsewhere (CI, pipes).

    The ETA is the pace since the first result, which leaves the batch's start-up (imports, the
    reference, the warm workers: seconds, paid once) out: counted in, it made the first ETA of a
    15 s batch read over 6 minutes. Until a second result gives a pace, the ETA reads "--"."""

    def __init__(self, total: int, stream: TextIO | None = sys.stderr, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.stream, self.count, self.reused = total, stream, 0, 0
        is_tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.interactive = is_tty and not os.environ.get("CI") if interactive is None else interactive
        self.clock = clock
        self.first_result_at: float | None = None

    def start(self, reused: int) -> None:
        """`reused` of the total are done already (unchanged): counted as done, not in the ETA."""
        self.count = self.reused = reused
        self.first_result_at = None
        if self.stream and reused:
            print(f"{reused} submission(s) unchanged since the last run: reusing their results", file=self.stream)

    def advance(self, result: SubmissionResult) -> None:
        self.count += 1
        if self.first_result_at is None:
            self.first_result_at = self.clock()
        if self.stream is None:
            return
        if self.interactive:
            self.stream.write("\r" + self._bar(result.submission))
        else:
            self.stream.write(f"[{self.count}/{self.total}] {result.submission}: {points(result.score)} / {points(result.max_score)}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None and self.interactive and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def eta(self) -> float | None:
        """Seconds left at the pace since the first result; None before there is a pace."""
        left, paced = self.total - self.count, self.count - self.reused - 1
        if left <= 0:
            return 0.0
        if paced < 1 or self.first_result_at is None:
            return None
        return (self.clock() - self.first_result_at) / paced * left

    def _bar(self, last: str, width: int = 30) -> str:
        filled = round(width * self.count / self.total) if self.total else width
        eta = self.eta()
        shown = "   -- " if eta is None else f"{eta:5.1f}s"
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total}  ETA {shown}  {last[:30]:<30}"
