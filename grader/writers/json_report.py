"""result.json: the whole result of one submission."""

from __future__ import annotations

import json
from pathlib import Path

from grader.results import SubmissionResult
from grader.writers.files import write_text_atomic


def render_json(result: SubmissionResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


def write_json(result: SubmissionResult, path: Path) -> None:
    write_text_atomic(path, render_json(result))
