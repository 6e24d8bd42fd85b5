"""A bad spec fails with the file, the line and the field named, and how to fix it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HW2, ROOT
from grader.spec import SpecError, load_assignment


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "hw2"
    shutil.copytree(HW2, target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` once; return the 1-based line where the edit is."""
    text = path.read_text()
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


def problems_of(folder: Path) -> list:
    with pytest.raises(SpecError) as caught:
        load_assignment(folder)
    return caught.value.problems


def test_the_shipped_spec_is_valid():
    spec = load_assignment(HW2)
    assert [q.id for q in spec.questions] == ["1.1a", "1.1b", "1.1c", "1.1d", "1.2a", "1.2b", "1.2c", "1.2d"]
    assert spec.max_score == 16


def test_unknown_field_names_file_line_field_and_suggests_the_right_one(spec_copy):
    file = spec_copy / "questions" / "1.1c.yaml"
    line = edit(file, "    weight: 2\n", "    wieght: 2\n")
    (problem,) = problems_of(spec_copy)
    assert problem.file == file and problem.line == line
    assert problem.field == "checks[2].wieght"
    assert "did you mean `weight`" in problem.message


def test_wrong_type_is_reported_at_its_line(spec_copy):
    file = spec_copy / "questions" / "1.1c.yaml"
    line = edit(file, "      count: 6\n", "      count: six\n")
    (problem,) = problems_of(spec_copy)
    assert (problem.line, problem.field) == (line, "checks[2].generate.count")
    assert "integer" in problem.message


def test_missing_required_field(spec_copy):
    file = spec_copy / "questions" / "1.2c.yaml"
    edit(file, "title: Max pooling of C\n", "")
    (problem,) = problems_of(spec_copy)
    assert problem.field == "title" and "required" in problem.message


def test_unknown_check_kind_names_the_choices(spec_copy):
    file = spec_copy / "questions" / "1.2c.yaml"
    line = edit(file, "    kind: value\n", "    kind: matrix\n")
    (problem,) = problems_of(spec_copy)
    assert problem.line == line and "value" in problem.message and "function" in problem.message


def test_missing_reference_function_suggests_the_close_name(spec_copy):
    file = spec_copy / "questions" / "1.2b.yaml"
    line = edit(file, "function: mutant_avg_pool2d_wrong_count\n", "function: mutant_avg_pool2d_wrong_cnt\n")
    problems = problems_of(spec_copy)
    assert problems[0].line == line and problems[0].field.endswith("mutants[0].function")
    assert "does not define 'mutant_avg_pool2d_wrong_cnt'" in problems[0].message
    assert "did you mean 'mutant_avg_pool2d_wrong_count'" in problems[0].message


def test_bad_domain_expression_points_at_the_column(spec_copy):
    file = spec_copy / "questions" / "1.1b.yaml"
    line = edit(file, 'where: ["K <= I + 2*P"]', 'where: ["K <= I + 2*Q"]')
    (problem,) = problems_of(spec_copy)
    assert problem.line == line and problem.field == "checks[0].domain.where[0]"
    assert "unknown name 'Q'" in problem.message and "^" in problem.message


def test_empty_domain_is_refused(spec_copy):
    file = spec_copy / "questions" / "1.2d.yaml"
    edit(file, 'where: ["K <= H", "K <= W"]', 'where: ["K > H + W"]')
    (problem,) = problems_of(spec_copy)
    assert "domain is (nearly) empty" in problem.message and problem.field.startswith("checks[2].generate")


def test_range_with_low_above_high(spec_copy):
    file = spec_copy / "questions" / "1.2d.yaml"
    edit(file, "C: [1, 2]", "C: [3, 2]")
    (problem,) = problems_of(spec_copy)
    assert "low 3 is above high 2" in problem.message


def test_unknown_constant_in_a_case(spec_copy):
    file = spec_copy / "questions" / "1.1c.yaml"
    line = edit(file, "- {id: table1, args: [{const: A}, {const: B}]}", "- {id: table1, args: [{const: A}, {const: Z}]}")
    (problem,) = problems_of(spec_copy)
    assert problem.line == line and "unknown constant 'Z'" in problem.message


def test_yaml_syntax_error_names_the_line(spec_copy):
    file = spec_copy / "questions" / "1.1a.yaml"
    file.write_text(file.read_text() + "  - id: broken\n    kind: [value\n")
    (problem,) = problems_of(spec_copy)
    assert problem.file == file and problem.line is not None and "invalid YAML" in problem.message


def test_duplicate_key_is_refused(spec_copy):
    file = spec_copy / "questions" / "1.1a.yaml"
    line = edit(file, "title: Output dimensionality\n", "title: Output dimensionality\ntitle: again\n")
    (problem,) = problems_of(spec_copy)
    assert problem.line == line + 1 and "duplicate key 'title'" in problem.message


def test_question_id_must_match_the_assignment(spec_copy):
    edit(spec_copy / "questions" / "1.2c.yaml", 'id: "1.2c"', 'id: "1.2x"')
    (problem,) = problems_of(spec_copy)
    assert "1.2x" in problem.message and "1.2c" in problem.message


def test_missing_question_file_and_every_problem_reported_at_once(spec_copy):
    (spec_copy / "questions" / "1.2c.yaml").unlink()
    edit(spec_copy / "questions" / "1.1c.yaml", "    weight: 2\n", "    wieght: 2\n")
    problems = problems_of(spec_copy)
    assert len(problems) == 2
    assert any("1.2c.yaml does not exist" in p.message for p in problems)


def test_not_an_assignment_folder(tmp_path):
    (problem,) = problems_of(tmp_path)
    assert "no assignment.yaml" in problem.message


def test_cli_exits_2_and_prints_every_problem(spec_copy):
    edit(spec_copy / "questions" / "1.1c.yaml", "    weight: 2\n", "    wieght: 2\n")
    completed = subprocess.run([sys.executable, "-m", "grader", "validate", str(spec_copy)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert completed.returncode == 2
    assert "1.1c.yaml:" in completed.stderr and "checks[2].wieght" in completed.stderr
