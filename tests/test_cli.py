"""The `grader` command as the instructor and the student use it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from conftest import EXAMPLES, ROOT

HW2 = str(ROOT / "problems" / "hw2")


def grader(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def test_grade_writes_reports_gradebook_and_summary(tmp_path):
    out = tmp_path / "reports"
    done = grader("grade", HW2, str(EXAMPLES / "correct_torch.py"), str(EXAMPLES / "lua_torch_names.py"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Gradebook:" in done.stdout and str(out / "gradebook.csv") in done.stdout
    assert "Full marks per question" in done.stdout
    rows = list(csv.reader((out / "gradebook.csv").open()))
    assert rows[0] == ["submission", "1.1a", "1.1b", "1.1c", "1.1d", "1.2a", "1.2b", "1.2c", "1.2d", "total", "status"]
    assert rows[1][0] == "(max)" and rows[1][-2] == "16"
    assert [r[0] for r in rows[2:]] == ["correct_torch", "lua_torch_names"]
    assert rows[3][5] == "0" and rows[3][-2] == "15"
    result = json.loads((out / "lua_torch_names" / "result.json").read_text())
    assert {"submission", "score", "max_score", "questions"} <= result.keys()
    question = next(q for q in result["questions"] if q["id"] == "1.2a")
    assert {"id", "score", "max_score", "status", "checks"} <= question.keys()
    assert question["checks"][0]["cases"][0]["mistake"] == "lua-torch"
    report = (out / "lua_torch_names" / "report.md").read_text()
    assert "Known mistake (lua-torch)" in report and "15 / 16" in report


def test_grade_exits_2_on_a_missing_path(tmp_path):
    done = grader("grade", HW2, str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "no such file or folder" in done.stderr


def test_check_passes_a_correct_module_and_says_hidden_checks_remain():
    done = grader("check", HW2, str(EXAMPLES / "correct_loops" / "hw2.py"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "public checks passed; hidden checks run at grading." in done.stdout
    assert "All" in done.stdout


def test_check_fails_a_wrong_module_names_the_mistake_and_replays_one_case():
    done = grader("check", HW2, str(EXAMPLES / "flipped_kernel.py"))
    assert done.returncode == 1
    assert "known mistake (flipped-kernel)" in done.stdout
    replay = next(line.split("replay: ", 1)[1] for line in done.stdout.splitlines() if "replay: " in line)
    args = replay.split()[2:]  # drop "grader check"
    again = grader("check", *args)
    assert again.returncode == 1
    assert "1/1 public checks" not in again.stdout and "0 of 1 public checks passed" in again.stdout


def test_validate_passes_the_shipped_assignment():
    done = grader("validate", HW2)
    assert done.returncode == 0, done.stdout
    assert "passes every check" in done.stdout and "Valid." in done.stdout


def test_help_and_schema_only_validation_never_import_torch():
    for args in (["--help"], ["validate", "--schema-only", HW2]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
        assert "torch" not in imported
