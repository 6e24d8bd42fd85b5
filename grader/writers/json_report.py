"""result.json: the whole result of one submission."""

from __future__ import annotations

import json
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

from grader.results import SubmissionResult, json_fields
from grader.writers.files import write_text_atomic


def render_json(result: SubmissionResult) -> str:
    """Compact: with `indent`, json falls back to its pure-Python encoder (10x slower here).
    report.md is the file for people; `python -m json.tool result.json` pretty-prints this."""
    return json.dumps(result, ensure_ascii=False, default=_encode) + "\n"


def _encode(value: Any) -> Any:
    return json_fields(value) if is_dataclass(value) and not isinstance(value, type) else str(value)


def write_json(result: SubmissionResult, path: Path) -> None:
    write_text_atomic(path, render_json(result))
