"""What the terminal shows: a batch summary for the instructor, a self-check for the student."""

from __future__ import annotations

import statistics
from pathlib import Path

from grader.results import SubmissionResult
from grader.spec import AssignmentSpec
from grader.writers.markdown import points

HISTOGRAM_BINS = 5
BAR_WIDTH = 30


def render_summary(spec: AssignmentSpec, results: list[SubmissionResult], out_dir: Path) -> str:
    lines = [f"Graded {len(results)} submission(s) for {spec.title}."]
    if results:
        lines += ["", *_distribution(spec, results), "", *_question_pass_rates(spec, results)]
    ungradable = [r.submission for r in results if not r.gradable]
    if ungradable:
        lines += ["", f"Could not grade (grader or assignment error): {', '.join(ungradable)}"]
    lines += [
        "",
        f"Reports:   {out_dir}/<submission>/report.md and result.json",
        f"Gradebook: {out_dir / 'gradebook.csv'}",
    ]
    return "\n".join(lines)


def _distribution(spec: AssignmentSpec, results: list[SubmissionResult]) -> list[str]:
    scores = [r.score for r in results]
    top = spec.max_score
    lines = [
        f"Scores out of {points(top)}: mean {statistics.fmean(scores):.2f}, median {statistics.median(scores):.2f}, "
        f"min {points(min(scores))}, max {points(max(scores))}"
    ]
    counts = [0] * HISTOGRAM_BINS
    for score in scores:
        counts[min(HISTOGRAM_BINS - 1, int(HISTOGRAM_BINS * score / top))] += 1
    width = max(counts)
    for index, count in enumerate(counts):
        low, high = top * index / HISTOGRAM_BINS, top * (index + 1) / HISTOGRAM_BINS
        bracket = "]" if index == HISTOGRAM_BINS - 1 else ")"
        bar = "#" * round(BAR_WIDTH * count / width) if width else ""
        lines.append(f"  [{low:5.1f}, {high:5.1f}{bracket} {count:4d} {bar}")
    return lines


def _question_pass_rates(spec: AssignmentSpec, results: list[SubmissionResult]) -> list[str]:
    lines = ["Full marks per question:"]
    for question in spec.questions:
        full = sum(1 for r in results for q in r.questions if q.id == question.id and q.status == "passed")
        mean = statistics.fmean([q.score for r in results for q in r.questions if q.id == question.id] or [0.0])
        lines.append(f"  {question.id:<6} {full:4d}/{len(results)} ({100 * full / len(results):3.0f}%)  mean {mean:.2f} / {points(question.points)}  {question.question.title}")
    return lines


def render_self_check(result: SubmissionResult) -> str:
    lines = []
    lines += [f"error: {error}" for error in result.errors]
    total = passed = 0
    for question in result.questions:
        q_cases = [c for check in question.checks for c in check.cases]
        q_passed = sum(c.status == "passed" for c in q_cases)
        total, passed = total + len(q_cases), passed + q_passed
        lines.append(f"{'PASS' if question.status == 'passed' else 'FAIL'}  {question.id:<6} {question.title}: {q_passed}/{len(q_cases)} public checks passed")
        lines += [f"      ! {m}" for m in question.messages]
        for check in question.checks:
            lines += _check_detail(check)
    lines.append("")
    if total and passed == total:
        lines.append(f"All {total} public checks passed; hidden checks run at grading.")
    else:
        lines.append(f"{passed} of {total} public checks passed; hidden checks run at grading.")
    return "\n".join(lines)


def _check_detail(check) -> list[str]:
    if check.status == "passed":
        return []
    lines = []
    for mistake, hint in check.mistakes:
        lines.append(f"      known mistake ({mistake}): {hint}")
    shown = [case for case in check.cases if case.status != "passed"][:2]
    for case in shown:
        head, *rest = (case.message or case.status).splitlines() or [case.status]
        lines.append(f"      [{case.status}] {check.name} / {case.id}: {head}")
        lines += [f"        {line}" for line in rest + case.traceback.splitlines()]
        if case.replay:
            lines.append(f"        replay: {case.replay}")
    return lines
