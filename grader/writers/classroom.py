"""GitHub Classroom's autograding result.

Classroom's reporter action (`classroom-resources/autograding-grading-reporter`) reads, for each
runner id listed in its `runners` input, an environment variable `<ID>_RESULTS` holding a base64
encoded JSON object:

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": 9.5,
     "tests": [{"name": ..., "status": "pass" | "fail" | "error", "score": 1.5,
                "message": ..., "line_no": 12, "test_code": ..., "execution_time": ...}]}

and reports the sum of the tests' `score` out of the runners' `max_score` to Classroom. One
test per check here, scored with its points. `grader ci --classroom FILE` writes this JSON, and,
inside a workflow, the step output `result` (base64) to pass to the reporter.

The reporter prints `message` and `name` into the job log: both are one line here, with no
leading `::` and no `##[`, so they cannot become workflow commands. The score is the public
self-check's; hidden checks and withheld answers count only at grading.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Callable

from grader.results import SubmissionResult, student_view
from grader.writers.files import write_text_atomic
from grader.writers.github import neutralise

MAX_MESSAGE_CHARS = 500


def _one_line(text: str) -> str:
    flat = neutralise(" ".join(str(text).split()))
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


def classroom_result(result: SubmissionResult, line_of: Callable[[str], int | None] = lambda name: None) -> dict[str, Any]:
    view = student_view(result)
    tests = []
    for error in view.errors:
        tests.append({"name": "submission", "status": "error", "score": 0, "message": _one_line(error), "line_no": 0})
    for question in view.questions:
        for check in question.checks:
            failing = [c for c in check.cases if c.status != "passed"]
            message = ""
            if failing:
                first = failing[0]
                message = (check.message or first.message or first.status).splitlines()[0]
                hints = [f"known mistake ({m}): {h}" for m, h in check.mistakes]
                message = "; ".join([message, *hints] + ([f"replay: {first.replay}"] if first.replay else []))
            if check.status == "passed":
                status = "pass"
            elif failing and all(c.status in ("error", "timeout") for c in failing):
                status = "error"
            else:
                status = "fail"
            line = next((n for name in check.name.split(", ") if (n := line_of(name))), None)
            tests.append({
                "name": _one_line(f"{question.id} {check.id}: {check.description or check.name}"),
                "status": status,
                "score": round(check.score, 6),
                "max_score": round(check.max_score, 6),
                "message": _one_line(message),
                "line_no": line or 0,
                "test_code": _one_line(f"grader check BUNDLE SUBMISSION --only {question.id}/{check.id}"),
                "execution_time": "",
            })
    if not view.gradable or view.errors:
        status = "error"
    elif all(t["status"] == "pass" for t in tests):
        status = "pass"
    else:
        status = "fail"
    return {"version": 1, "status": status, "max_score": round(view.max_score, 6), "tests": tests}


def render_classroom(result: SubmissionResult, line_of: Callable[[str], int | None] = lambda name: None) -> str:
    return json.dumps(classroom_result(result, line_of), indent=2, ensure_ascii=False) + "\n"


def encoded(result: SubmissionResult, line_of: Callable[[str], int | None] = lambda name: None) -> str:
    """The base64 form the reporter reads from `<ID>_RESULTS` (no newlines: safe as a step output)."""
    return base64.b64encode(json.dumps(classroom_result(result, line_of), ensure_ascii=False).encode()).decode("ascii")


def write_classroom(result: SubmissionResult, path: Path, line_of: Callable[[str], int | None] = lambda name: None) -> None:
    write_text_atomic(Path(path), render_classroom(result, line_of))
