"""Shared fixtures: the HW2 assignment, its reference, and graders over the real executor;
and what two gradings of one submission are compared by."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.executor import SubprocessExecutor
from grader.expected import Reference, load_reference
from grader.grading import Grader, GradingOptions, Submission
from grader.spec import load_assignment

ROOT = Path(__file__).resolve().parent.parent
HW2 = ROOT / "problems" / "hw2"
EXAMPLES = ROOT / "submissions" / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def hw2_spec():
    return load_assignment(HW2)


@pytest.fixture(scope="session")
def hw2_reference(hw2_spec):
    return Reference(load_reference(hw2_spec.reference_path, hw2_spec.id), hw2_spec.constants)


@pytest.fixture(scope="session")
def make_grader(hw2_spec, hw2_reference):
    def make(**options) -> Grader:
        return Grader(hw2_spec, hw2_reference, SubprocessExecutor(module_name="hw2"), GradingOptions(**options))

    return make


def example(name: str) -> Submission:
    path = EXAMPLES / name / "hw2.py" if (EXAMPLES / name).is_dir() else EXAMPLES / f"{name}.py"
    return Submission(name, path)


def case_verdicts(result) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(question, check, case) -> (status, known mistake), in the result's order."""
    return {(q.id, c.id, k.id): (k.status, k.mistake) for q in result.questions for c in q.checks for k in c.cases}
