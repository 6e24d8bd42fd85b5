"""`grader validate`: the reference passes every check and every mutant fails its check."""

from __future__ import annotations

import pytest

from grader.validate import validate_assignment


@pytest.fixture(scope="module")
def report(hw2_spec, hw2_reference):
    return validate_assignment(hw2_spec, hw2_reference)


def test_reference_gets_full_marks_on_every_check(report):
    assert report.reference.errors == []
    assert report.reference.score == report.reference.max_score == 16


def test_every_mutant_fails_the_check_that_declares_it(report, hw2_spec):
    declared = sum(len(c.mutants) for q in hw2_spec.questions for c in q.question.checks)
    assert len(report.mutants) == declared > 40
    assert [m for m in report.mutants if not m.caught] == []


def test_every_mutant_is_recognised_and_its_hint_shown(report):
    assert [m for m in report.mutants if not m.recognised] == []


def test_every_question_with_a_known_mistake_catches_it(report):
    assert {m.question for m in report.mutants} == {"1.1a", "1.1b", "1.1c", "1.1d", "1.2a", "1.2b", "1.2c", "1.2d"}


def test_a_mutant_the_cases_cannot_see_makes_validation_fail(hw2_spec, hw2_reference, tmp_path):
    # Table 1 has stride 1 and no padding: a mutant that ignores the stride is invisible there.
    import shutil

    from grader.spec import load_assignment

    shutil.copytree(hw2_spec.root, tmp_path / "hw2")
    question = tmp_path / "hw2" / "questions" / "1.1c.yaml"
    text = question.read_text()
    text = text.replace("      - {id: table1-stride2-pad1, args: [{const: A}, {const: B}, 2, 1]}\n", "")
    question.write_text(text)
    spec = load_assignment(tmp_path / "hw2")
    weak = validate_assignment(spec, hw2_reference)
    missed = {(m.check, m.mutant) for m in weak.mutants if not m.caught}
    assert ("table1", "ignores-stride") in missed and not weak.ok
