"""Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/).

Top level: `score` (overrides the tests' sum; equal to it here), `execution_time` (seconds),
`output` (shown to the student), `visibility`, `stdout_visibility` (hidden: the autograder's
stdout carries the instructor's detail), `tests`. One test per check: `name`, `number`,
`score`, `max_score`, `status` ("passed" / "failed"), `output`, `visibility`. The assignment's
total is set on Gradescope; it equals the spec's total.

Hidden checks get `hidden_visibility` (default `after_published`: counted, shown once grades
are published; Gradescope's `hidden` is meant for tests worth no points). What they show is the
category-level message of `student_view(result)`, never inputs or expected values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.results import CheckResult, SubmissionResult, student_view
from grader.writers.files import write_text_atomic
from grader.writers.markdown import points

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
MAX_CASES_SHOWN = 5


def gradescope_results(result: SubmissionResult, title: str, *, hidden_visibility: str = "after_published") -> dict[str, Any]:
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    view = student_view(result)
    tests = []
    for question in view.questions:
        for index, check in enumerate(question.checks, 1):
            hidden = check.visibility != "public"
            tests.append({
                "name": f"{question.id} {question.title}: {check.description or check.name}" + (" (hidden cases)" if hidden else ""),
                "number": f"{question.id}.{index}",
                "score": round(check.score, 4),
                "max_score": round(check.max_score, 4),
                "status": "passed" if check.status == "passed" else "failed",
                "output": _check_output(check),
                "visibility": hidden_visibility if hidden else "visible",
            })
    return {
        "score": round(view.score, 4),
        "execution_time": max(0, round(view.duration_s)),
        "output": _overall(view, title),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _overall(view: SubmissionResult, title: str) -> str:
    lines = [f"{title}: {points(view.score)} / {points(view.max_score)}"]
    if not view.gradable:
        lines.append("This submission could not be graded (a problem on the grader's side, not your code); it costs you nothing. The instructor has been told.")
    lines += [f"- {error}" for error in view.errors]
    return "\n".join(lines)


def _check_output(check: CheckResult) -> str:
    passed = sum(case.status == "passed" for case in check.cases)
    lines = [f"{passed}/{len(check.cases)} cases passed ({check.status})"]
    if check.status == "passed":
        return lines[0]
    if check.message:
        lines.append(check.message)
    for mistake, hint in check.mistakes:
        lines.append(f"Known mistake ({mistake}): {hint}")
    failing = [case for case in check.cases if case.status != "passed"]
    for case in failing[:MAX_CASES_SHOWN]:
        lines += ["", f"[{case.status}] {case.id}: {case.message or case.status}"]
        if case.traceback:
            lines.append(case.traceback)
        if case.replay:
            lines.append(f"replay: {case.replay}")
    if len(failing) > MAX_CASES_SHOWN:
        lines.append(f"... and {len(failing) - MAX_CASES_SHOWN} more failing case(s)")
    if check.feedback:
        lines.append(f"Tip: {check.feedback}")
    return "\n".join(lines)


def render_gradescope(result: SubmissionResult, title: str, **options: Any) -> str:
    return json.dumps(gradescope_results(result, title, **options), indent=2, ensure_ascii=False) + "\n"


def write_gradescope(result: SubmissionResult, title: str, path: Path, **options: Any) -> None:
    write_text_atomic(Path(path), render_gradescope(result, title, **options))
