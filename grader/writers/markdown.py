"""report.md: what a student reads about one submission."""

from __future__ import annotations

from pathlib import Path

from grader.results import CaseResult, CheckResult, QuestionResult, SubmissionResult
from grader.writers.files import write_text_atomic

STATUS_MARK = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱", "missing": "➖", "forbidden": "⛔"}
MAX_CASES_SHOWN = 3


def points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def render_markdown(result: SubmissionResult, title: str) -> str:
    lines = [f"# {title}: {result.submission}", "", f"**Score: {points(result.score)} / {points(result.max_score)}**", ""]
    if not result.gradable:
        lines += ["This submission could not be graded; it costs you nothing. The instructor has been told.", ""]
    lines += [f"- {error}" for error in result.errors]
    if result.errors:
        lines.append("")
    lines += ["| question | | score | status |", "|---|---|---|---|"]
    for question in result.questions:
        mark = STATUS_MARK[question.status]
        lines.append(f"| {question.id} | {question.title} | {points(question.score)} / {points(question.max_score)} | {mark} {question.status} |")
    for question in result.questions:
        if question.status != "passed":
            lines += ["", *_question_section(question)]
    return "\n".join(lines).rstrip() + "\n"


def _question_section(question: QuestionResult) -> list[str]:
    lines = [f"## {question.id} {question.title}: {points(question.score)} / {points(question.max_score)}", ""]
    lines += [f"- ⛔ {message}" for message in question.messages]
    for check in question.checks:
        lines += _check_lines(check)
    return lines


def _check_lines(check: CheckResult) -> list[str]:
    passed = sum(case.status == "passed" for case in check.cases)
    mark = STATUS_MARK[check.status]
    label = f"`{check.name}`" + (f", {check.description}" if check.description else "")
    hidden = " (hidden cases)" if check.visibility == "hidden" else ""
    lines = [f"- {mark} {label}{hidden}: {passed}/{len(check.cases)} passed, {points(check.score)} / {points(check.max_score)} points"]
    if check.status == "passed":
        return lines
    for mistake, hint in check.mistakes:
        lines.append(f"  - **Known mistake ({mistake}):** {hint}")
    if check.message and check.status == "forbidden":
        return lines
    failing = [case for case in check.cases if case.status != "passed"]
    for case in failing[:MAX_CASES_SHOWN]:
        lines += _case_lines(case)
    if len(failing) > MAX_CASES_SHOWN:
        lines.append(f"  - … and {len(failing) - MAX_CASES_SHOWN} more failing case(s)")
    if check.feedback:
        lines.append(f"  - Tip: {check.feedback}")
    return lines


def _case_lines(case: CaseResult) -> list[str]:
    head, *rest = (case.message or case.status).splitlines() or [case.status]
    lines = [f"  - `{case.id}` ({case.status}): {head}"]
    block = rest + ([] if not case.traceback else ["", *case.traceback.splitlines()])
    if block:
        lines += ["", "    ```", *[f"    {line}" for line in block], "    ```", ""]
    if case.replay:
        lines.append(f"    Replay: `{case.replay}`")
    return lines


def write_markdown(result: SubmissionResult, title: str, path: Path) -> None:
    write_text_atomic(path, render_markdown(result, title))
