"""The one result model. Every writer (JSON, Markdown, CSV, terminal, JUnit, GitHub, Classroom,
Gradescope) reads these objects; none re-grades.

Two audiences read it. The instructor's copy (result.json) holds everything, including
`CaseResult.instructor`: the full message, inputs and expected output of a hidden case. What a
student reads is `student_view(result)`: hidden cases keep only their category-level message
(computed at grading time), never their inputs, expected values, seeds or details.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "timeout", "missing", "forbidden"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "timeout", "missing", "forbidden")


@dataclass
class CaseResult:
    id: str
    status: Status
    visibility: str
    message: str = ""
    mistake: str = ""  # id of the known mistake (mutant) the output matches
    hint: str = ""  # that mistake's explanation
    traceback: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    description: str = ""
    replay: str = ""  # a command that reruns exactly this case
    categories: list[str] = field(default_factory=list)  # what kind of input, e.g. "stride > 1"
    # Instructor-only: for hidden cases, the full message, traceback, inputs and expected value.
    # Student-facing writers go through student_view(), which drops it.
    instructor: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    id: str
    kind: str
    name: str  # the student's name(s) this check exercises
    description: str
    visibility: str
    status: Status
    score: float
    max_score: float
    message: str = ""  # check-level message (forbidden call, missing name, import error)
    feedback: str = ""
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def mistakes(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for case in self.cases:
            if case.mistake:
                seen.setdefault(case.mistake, case.hint)
        return list(seen.items())


@dataclass
class QuestionResult:
    id: str
    title: str
    status: Status
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # rule violations and other question-level notes


@dataclass
class SubmissionResult:
    submission: str  # the student's id
    path: str
    assignment: str
    score: float
    max_score: float
    questions: list[QuestionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # syntax error, import error, grader trouble
    stdout_tail: str = ""
    stderr_tail: str = ""
    duration_s: float = 0.0
    gradable: bool = True
    cache_key: str = ""  # what the result was graded from (grader.batch): reused while unchanged
    # Public checks not run because a student bundle does not carry their answers ("1.1a/shape");
    # they run at grading. Empty when grading with the reference.
    withheld: list[str] = field(default_factory=list)

    def question(self, question_id: str) -> QuestionResult:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@functools.lru_cache(maxsize=None)
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def json_fields(value: Any) -> dict[str, Any]:
    """One result object's fields, for json.dumps(default=...): nested results stay objects
    for the encoder to come back with, so the C encoder does the walking (asdict deep-copied
    every leaf: ~15 ms per HW2 submission)."""
    data = {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, SubmissionResult):
        data["score"], data["max_score"] = round(value.score, 4), round(value.max_score, 4)
    return data


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(item) for name, item in json_fields(value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def student_view(result: SubmissionResult) -> SubmissionResult:
    """A copy safe to show the student: no instructor-only detail, nothing about hidden inputs.

    Hidden cases keep their status, points, category-level message, known-mistake hint and
    categories; their seed (which would regenerate the inputs), details (expected shape),
    traceback and instructor field are dropped. The submission's stdout/stderr tails are dropped
    too: code can print the hidden inputs it was called with.
    """
    view = copy.deepcopy(result)
    view.stdout_tail = view.stderr_tail = ""
    for question in view.questions:
        for check in question.checks:
            for case in check.cases:
                case.instructor = {}
                if case.visibility != "public" or check.visibility != "public":
                    case.seed, case.details, case.traceback, case.replay = None, {}, "", ""
    return view


def worst_status(statuses: list[Status]) -> Status:
    """The status that best explains a loss: rule breaks and crashes before plain wrong answers."""
    order: list[Status] = ["forbidden", "error", "timeout", "missing", "failed"]
    for status in order:
        if status in statuses:
            return status
    return "passed"
