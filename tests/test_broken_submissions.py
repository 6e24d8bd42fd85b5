"""A broken submission loses only its own points: each failure is contained and reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, FIXTURES, ROOT
from grader.executor import Limits
from grader.grading import Submission

BROKEN = FIXTURES / "broken"


@pytest.fixture(scope="module")
def grade(make_grader):
    grader = make_grader()
    grader.limits = Limits(call_timeout_s=3, import_timeout_s=8, total_timeout_s=60)

    def run(name: str, path: Path | None = None):
        return grader.grade(Submission(name, path or BROKEN / f"{name}.py"))

    return run


def statuses(result, question_id):
    return {check.id: check.status for check in result.question(question_id).checks}


def test_syntax_error_is_reported_with_its_line_and_nothing_runs(grade):
    result = grade("syntax_error")
    assert result.score == 0
    assert any("line 3" in error for error in result.errors)
    assert all(q.status == "error" for q in result.questions)
    assert result.stdout_tail == "" and result.stderr_tail == ""


def test_import_error_scores_zero_with_the_exception_named(grade):
    result = grade("import_error")
    assert result.score == 0
    assert any("numpy_typo_that_does_not_exist" in error for error in result.errors)
    assert all(q.status == "error" for q in result.questions)


def test_an_import_that_never_finishes_times_out(grade):
    result = grade("import_loops")
    assert result.score == 0
    assert result.errors and all(q.status == "error" for q in result.questions)


def test_exception_fails_that_function_only_with_the_students_traceback(grade):
    result = grade("raises")
    assert set(statuses(result, "1.1c").values()) == {"error", "missing"}
    case = next(c for c in result.question("1.1c").checks if c.id == "table1").cases[0]
    assert "IndexError" in case.message
    assert "in _helper" in case.traceback and "in conv2d" in case.traceback
    assert "worker.py" not in case.traceback
    assert result.question("1.1a").status == "passed"
    assert statuses(result, "1.2d")["p-for-max"] == "passed"


def test_infinite_loop_times_out_and_the_rest_is_graded(grade):
    result = grade("infinite_loop")
    conv = [c for c in result.question("1.1c").checks if c.name == "conv2d"]
    assert conv and all(c.status == "timeout" and c.score == 0 for c in conv)
    assert result.question("1.1a").status == "passed"
    assert statuses(result, "1.2d")["p-for-average"] == "passed"
    assert result.duration_s < 40


def test_exit_during_a_call_fails_closed_and_stdout_never_scores(grade):
    result = grade("exits")
    conv = [c for c in result.question("1.1c").checks if c.name == "conv2d"]
    assert all(c.status == "error" and c.score == 0 for c in conv)
    assert "exit" in conv[0].cases[0].message
    assert result.question("1.1a").status == "passed"


def test_answers_of_the_wrong_kind_fail_with_a_reason(grade):
    result = grade("garbage")
    value = next(c for c in result.question("1.1c").checks if c.id == "value")
    assert value.score == 0 and "AlwaysEqual" in value.cases[0].message
    assert result.question("1.1a").score == 0
    gradient = next(c for c in result.question("1.1d").checks if c.id == "value")
    assert "different lengths" in gradient.cases[0].message
    table = next(c for c in result.question("1.1c").checks if c.id == "table1")
    assert table.status == "failed" and "str" in table.cases[0].message


def test_a_batch_with_broken_submissions_still_grades_everyone(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("syntax_error", "exits", "raises"):
        shutil.copy(BROKEN / f"{name}.py", folder / f"{name}.py")
    (folder / "zoe").mkdir()
    shutil.copy(EXAMPLES / "correct_numpy.py", folder / "zoe" / "hw2.py")
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(ROOT / "problems" / "hw2"), str(folder), "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["submission", "(max)", "exits", "raises", "syntax_error", "zoe"]
    assert rows[-1].split(",")[-2] == "16"
    for name in ("exits", "raises", "syntax_error", "zoe"):
        assert (out / name / "result.json").is_file() and (out / name / "report.md").is_file()


def test_require_rule_fails_a_function_that_bypasses_the_required_call(grade, tmp_path):
    # correct_numpy with one change: right values, but not computed through lp_pool2d.
    source = (EXAMPLES / "correct_numpy.py").read_text()
    bypass = source.replace("return lp_pool2d(x, LP_P_FOR_AVERAGE, kernel_size, stride) / (kh * kw)",
                            "return avg_pool2d(x, kernel_size, stride)")
    assert bypass != source
    (tmp_path / "avg_without_lp.py").write_text(bypass)
    result = grade("avg_without_lp", tmp_path / "avg_without_lp.py")
    question = result.question("1.2d")
    check = next(c for c in question.checks if c.name == "avg_pool_from_lp")
    assert check.status == "forbidden" and check.score == 0
    assert any("never calls lp_pool2d" in m and "express average pooling" in m for m in question.messages)
    assert [c.status for c in question.checks if c.name != "avg_pool_from_lp"] == ["passed", "passed"]
