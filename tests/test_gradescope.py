"""Gradescope: results.json against Gradescope's documented fields, and the autograder zip
(setup.sh + run_autograder at its root) run end to end in a temporary /autograder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from conftest import EXAMPLES, HW2, example
from grader.gradescope import build_autograder_zip, find_submission, student_id
from grader.writers.gradescope import VISIBILITIES, gradescope_results

SALT = "gradescope-salt-4f1c"
TOP_LEVEL = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
# https://gradescope-autograders.readthedocs.io/en/latest/specs/ : a test's documented fields
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}


def _check_documented(data: dict) -> None:
    assert set(data) <= TOP_LEVEL | {"extra_data", "leaderboard", "output_format", "test_output_format", "test_name_format"}
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    assert data["visibility"] in VISIBILITIES and data["stdout_visibility"] in VISIBILITIES
    for test in data["tests"]:
        assert set(test) <= TEST_FIELDS
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITIES
        assert isinstance(test["name"], str) and isinstance(test["number"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"]


@pytest.fixture(scope="module")
def flipped(make_grader):
    return make_grader(salt=SALT, replay_prefix="grader check hw2-bundle").grade(example("flipped_kernel"))


def test_results_json_has_gradescopes_documented_fields(flipped):
    data = gradescope_results(flipped, "HW2")
    _check_documented(data)
    assert data["score"] == pytest.approx(flipped.score)
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(flipped.score, abs=1e-3)
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(16, abs=1e-3)
    numbers = [t["number"] for t in data["tests"]]
    assert len(set(numbers)) == len(numbers) and numbers[0] == "1.1a.1"
    hidden = [t for t in data["tests"] if "(hidden cases)" in t["name"]]
    assert len(hidden) == 2 and {t["visibility"] for t in hidden} == {"after_published"}
    assert {t["visibility"] for t in data["tests"] if t not in hidden} == {"visible"}
    conv = next(t for t in hidden if t["name"].startswith("1.1c"))
    assert conv["status"] == "failed" and "hidden case (" in conv["output"] and "expected" not in conv["output"]
    random = next(t for t in data["tests"] if t["number"] == "1.1c.3")
    assert "Known mistake (flipped-kernel)" in random["output"] and "replay: grader check hw2-bundle" in random["output"]
    assert gradescope_results(flipped, "HW2", hidden_visibility="after_due_date")["tests"][-1]["visibility"] in VISIBILITIES


def test_results_json_never_carries_hidden_detail(flipped):
    text = json.dumps(gradescope_results(flipped, "HW2"))
    for question in flipped.questions:
        for check in question.checks:
            for case in check.cases:
                if case.visibility == "hidden" and case.status != "passed":
                    assert case.instructor  # the instructor's copy has it ...
                    assert case.instructor["message"] not in text and str(case.seed) not in text  # ... results.json not


def test_submission_metadata_and_discovery(tmp_path):
    (tmp_path / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "b@x.edu", "id": 2}, {"email": "a@x.edu", "id": 1}]}))
    assert student_id(tmp_path / "submission_metadata.json") == "a@x.edu+b@x.edu"
    assert student_id(tmp_path / "missing.json") == "student"
    nested = tmp_path / "submission" / "repo"
    nested.mkdir(parents=True)
    (nested / "hw2.py").write_text("")
    assert find_submission(tmp_path / "submission", "hw2.py") == nested / "hw2.py"


def test_the_autograder_zip_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_HIDDEN_SALT", SALT)
    summary = build_autograder_zip(HW2, tmp_path / "autograder.zip", salt=SALT)
    assert not summary.salt_generated
    with zipfile.ZipFile(summary.path) as archive:
        names = archive.namelist()
        for name in ("setup.sh", "run_autograder"):  # at the root, executable
            assert name in names and stat.S_IMODE(archive.getinfo(name).external_attr >> 16) & 0o111
        assert {"config.json", "assignment/assignment.yaml", "assignment/reference.py", "grader-src/pyproject.toml", "grader-src/grader/cli.py"} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "submissions/"))]
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        config = json.loads(archive.read("config.json"))
        root = tmp_path / "autograder"
        archive.extractall(root / "source")
    assert setup.startswith("#!/usr/bin/env bash") and "torch==2.13.0" in setup and "grader-src" in setup
    assert "${AUTOGRADER_ROOT:-/autograder}" in run and "grader.gradescope run" in run
    assert config["hidden_salt"] == SALT and config["hidden_visibility"] == "after_published"

    (root / "submission").mkdir()
    (root / "submission" / "hw2.py").write_text((EXAMPLES / "flipped_kernel.py").read_text())
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "alice@example.edu", "id": 7}]}))
    env = {k: v for k, v in os.environ.items() if k != "GRADER_HIDDEN_SALT"}
    env.update(AUTOGRADER_ROOT=str(root), GRADER_PYTHON=sys.executable, PYTHONPATH=str(root / "source" / "grader-src"))
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    _check_documented(results)
    # flipped kernel: 1.1c's value, table1 and random checks are lost, and the hidden cases a flip changes
    assert 13 <= results["score"] < 14
    assert [t["status"] for t in results["tests"]].count("failed") == 4
    assert "replay: grader check hw2-bundle hw2.py --only 1.1c/random/random-1" in json.dumps(results)
    assert str(root) not in json.dumps(results)
    instructor = json.loads(done.stdout)  # the instructor's copy, on Gradescope's instructor-only stdout
    assert instructor["submission"] == "alice@example.edu"
    hidden = [k for q in instructor["questions"] for c in q["checks"] if c["visibility"] == "hidden" for k in c["cases"]]
    assert hidden and all(k["instructor"].get("expected") for k in hidden if k["status"] != "passed")


def test_the_zip_ships_the_files_the_cache_key_hashes_and_no_hidden_ones(tmp_path):
    import shutil

    from grader.spec import load_assignment

    assignment = tmp_path / "hw2"
    shutil.copytree(HW2, assignment)
    (assignment / "helpers.py").write_text("SCALE = 2\n")  # what a reference may import
    (assignment / ".git").mkdir()
    (assignment / ".git" / "config").write_text("[core]\n")
    (assignment / ".DS_Store").write_bytes(b"\0")
    summary = build_autograder_zip(assignment, tmp_path / "autograder.zip", salt=SALT)
    shipped = sorted(n.removeprefix("assignment/") for n in summary.files if n.startswith("assignment/"))
    hashed = sorted(p.relative_to(assignment).as_posix() for p in load_assignment(assignment).files)
    assert shipped == hashed
    assert "helpers.py" in shipped and "reference.py" in shipped
    assert not [name for name in summary.files if "/." in name or name.startswith(".")]
