"""GitHub Actions: the job summary (Markdown, appended to $GITHUB_STEP_SUMMARY) and annotations
(`::error file=…,line=…::` workflow commands at the failing function's `def` line).

Student text must never become a workflow command. The runner reads `::command::` at the start of
a line (after leading whitespace) and the legacy `##[command]` anywhere in a line. So:

- annotation data is escaped per GitHub's rules (`%` → %25, CR → %0D, LF → %0A; in properties
  also `:` → %3A and `,` → %2C), so a message is always one line, read as data;
- every free-text line the grader prints passes through `neutralise`: a leading `::` becomes
  `: :` and `##[` becomes `## [`, whatever the text says;
- `grader ci` also wraps everything it prints before the annotations between
  `::stop-commands::TOKEN` and `::TOKEN::` (TOKEN random, made after the student's code ran),
  so not even the student's own process can issue a command while the grader is talking.

Everything here reads `student_view(result)`: nothing of a hidden case but its category.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from grader.results import CheckResult, SubmissionResult, student_view
from grader.writers.markdown import points

MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step
MAX_SUMMARY_CASES = 3


# ---- escaping --------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


_LEADING_COMMAND = re.compile(r"^(\s*):(?=:)")
# Every character some reader may take for the end of a line (the runner splits on CR and LF).
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def neutralise(text: str) -> str:
    """Text safe to print in a workflow log: no line can be read as a workflow command."""
    lines = [_LEADING_COMMAND.sub(r"\1: ", line.replace("##[", "## [")) for line in _LINE_BREAKS.split(text)]
    return "\n".join(lines)


# ---- annotations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str
    file: str = ""
    line: int | None = None

    def command(self) -> str:
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
        if self.line:
            props.append(f"line={int(self.line)}")
        props.append(f"title={escape_property(_no_legacy(self.title))}")
        return f"::{self.level} {','.join(props)}::{escape_data(_no_legacy(self.message))}"


def _no_legacy(text: str) -> str:
    return text.replace("##[", "## [")


def annotations(result: SubmissionResult, file: str, line_of: Callable[[str], int | None]) -> list[Annotation]:
    """One error annotation per failing check, at the def line of the function it exercises."""
    view = student_view(result)
    found: list[Annotation] = []
    for error in view.errors:
        found.append(Annotation("error", error, f"{view.assignment}: cannot grade", file, _line_in(error)))
    for question in view.questions:
        for check in question.checks:
            if check.status == "passed":
                continue
            line = next((n for name in check.name.split(", ") if (n := line_of(name))), None)
            found.append(Annotation("error", _check_text(check), f"{question.id} {check.id}: {check.status}", file, line))
    if len(found) > MAX_ANNOTATIONS:
        rest = len(found) - MAX_ANNOTATIONS + 1
        found = found[: MAX_ANNOTATIONS - 1] + [Annotation("error", f"{rest} more failing checks: see the job summary", "more failures", file)]
    return found


def _check_text(check: CheckResult) -> str:
    parts = []
    if check.message:
        parts.append(check.message)
    for mistake, hint in check.mistakes:
        parts.append(f"known mistake ({mistake}): {hint}")
    failing = [case for case in check.cases if case.status != "passed"]
    if failing and not check.message:
        first = failing[0]
        parts.append((first.message or first.status).splitlines()[0])
        if first.replay:
            parts.append(f"replay: {first.replay}")
    passed = sum(case.status == "passed" for case in check.cases)
    parts.append(f"{passed}/{len(check.cases)} cases passed, {points(check.score)} / {points(check.max_score)} points")
    return "\n".join(parts)


def _line_in(error: str) -> int | None:
    match = re.search(r"\bline (\d+)", error)
    return int(match.group(1)) if match else None


# ---- job summary -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    """One Markdown table cell: HTML-escaped, single line, pipes escaped."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def render_summary(result: SubmissionResult, title: str, *, heading: str = "Self-check") -> str:
    """The job summary: a table per question, the failing checks with their first messages."""
    view = student_view(result)
    public_cases = [c for q in view.questions for k in q.checks for c in k.cases]
    passed = sum(c.status == "passed" for c in public_cases)
    lines = [
        f"## {_cell(heading)}: {_cell(title)}",
        "",
        f"**{passed} of {len(public_cases)} public checks passed** "
        f"({points(view.score)} / {points(view.max_score)} public points). Hidden checks run at grading.",
        "",
    ]
    if view.withheld:
        lines += [f"Not in this bundle (their answers are not handed out; graded at submission): {_cell(', '.join(view.withheld))}", ""]
    lines += [f"- ⚠️ {_cell(error)}" for error in view.errors]
    if view.errors:
        lines.append("")
    lines += ["| question | title | checks passed | points | status |", "|---|---|---|---|---|"]
    for question in view.questions:
        cases = [c for k in question.checks for c in k.cases]
        ok = sum(c.status == "passed" for c in cases)
        mark = "✅" if question.status == "passed" else "❌"
        lines.append(f"| {_cell(question.id)} | {_cell(question.title)} | {ok}/{len(cases)} | {points(question.score)} / {points(question.max_score)} | {mark} {question.status} |")
    failing = [(q, k) for q in view.questions for k in q.checks if k.status != "passed"]
    if failing:
        lines += ["", "### Failing checks", ""]
        for question, check in failing:
            lines += _failing_check(question.id, check)
    return "\n".join(lines).rstrip() + "\n"


def _failing_check(question_id: str, check: CheckResult) -> list[str]:
    label = f"{question_id} {check.id}: <code>{_cell(check.name)}</code> ({_cell(check.status)})"
    body: list[str] = []
    if check.message:
        body.append(check.message)
    for mistake, hint in check.mistakes:
        body.append(f"known mistake ({mistake}): {hint}")
    for case in [c for c in check.cases if c.status != "passed"][:MAX_SUMMARY_CASES]:
        body.append(f"[{case.status}] {case.id}: {case.message or case.status}")
        if case.replay:
            body.append(f"  replay: {case.replay}")
    return [
        f"<details><summary>{label}</summary>",
        "",
        "<pre>" + html.escape("\n".join(body), quote=False) + "</pre>",
        "",
        "</details>",
        "",
    ]


def write_summary(result: SubmissionResult, title: str, path: str, *, heading: str = "Self-check") -> None:
    """Append (never overwrite: other steps write there too) the summary to $GITHUB_STEP_SUMMARY."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(render_summary(result, title, heading=heading))


def commands(items: Iterable[Annotation]) -> str:
    return "\n".join(a.command() for a in items)
