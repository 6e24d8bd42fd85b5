"""gradebook.csv: one row per submission, points per question, total; a row with the maxima."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.results import SubmissionResult
from grader.spec import AssignmentSpec
from grader.writers.files import write_text_atomic


def render_gradebook(spec: AssignmentSpec, results: list[SubmissionResult]) -> str:
    question_ids = [q.id for q in spec.questions]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", *question_ids, "total", "status"])
    writer.writerow(["(max)", *(_points(q.points) for q in spec.questions), _points(spec.max_score), ""])
    for result in sorted(results, key=lambda r: r.submission):
        scores = {q.id: q.score for q in result.questions}
        status = "graded" if result.gradable else "ungradable"
        writer.writerow([result.submission, *(_points(scores.get(q, 0.0)) for q in question_ids), _points(result.score), status])
    return buffer.getvalue()


def write_gradebook(spec: AssignmentSpec, results: list[SubmissionResult], path: Path) -> None:
    write_text_atomic(path, render_gradebook(spec, results))


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
