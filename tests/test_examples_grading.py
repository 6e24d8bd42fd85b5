"""The shipped examples graded end to end through the real out-of-process executor.

Correct submissions in several styles (numpy, pure-Python loops with nested lists and the
formula as a string, torch float32 tensors with classes as module names) get full marks; each
realistic mistake loses exactly its question's points and the report names the mistake.
"""

from __future__ import annotations

import pytest

from conftest import case_verdicts, example
from grader.grading import Submission

FULL = {"1.1a": 1, "1.1b": 2, "1.1c": 3, "1.1d": 3, "1.2a": 1, "1.2b": 3, "1.2c": 1, "1.2d": 2}

# example -> (questions that lose points, {question: known mistake the report must name})
MISTAKES = {
    "flipped_kernel": ({"1.1c"}, {"1.1c": "flipped-kernel"}),
    "stride_one_formula": ({"1.1b"}, {"1.1b": "stride-one-only"}),
    "lua_torch_names": ({"1.2a"}, {"1.2a": "lua-torch"}),
    "lp_factor_outside_root": ({"1.2b"}, {"1.2b": "factor-outside-root"}),
    "sum_not_average": ({"1.2d"}, {"1.2d": "sum-not-average"}),
    "gradient_3x3": ({"1.1d"}, {"1.1d": "kernel-gradient"}),
    "wrong_arithmetic": ({"1.1a"}, {"1.1a": "forgot-plus-one"}),
    "forbidden_conv": ({"1.1c"}, {}),
}
CORRECT = ["correct_numpy", "correct_loops", "correct_torch"]
REPLAY = "grader check problems/hw2"


@pytest.fixture(scope="module")
def graded(make_grader):
    grader = make_grader(replay_prefix=REPLAY)
    names = CORRECT + list(MISTAKES) + ["unfinished"]
    return {name: grader.grade(example(name)) for name in names}


@pytest.mark.parametrize("name", CORRECT)
def test_correct_submission_in_every_style_gets_full_marks(graded, name):
    result = graded[name]
    assert result.errors == []
    assert {q.id: q.score for q in result.questions} == pytest.approx(FULL)
    assert all(q.status == "passed" for q in result.questions)


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_loses_exactly_its_question(graded, name):
    losing, _ = MISTAKES[name]
    result = graded[name]
    for question in result.questions:
        if question.id in losing:
            assert question.score < question.max_score, question.id
        else:
            assert question.score == pytest.approx(question.max_score), (question.id, question.checks)


@pytest.mark.parametrize("name", sorted(n for n, (_, hints) in MISTAKES.items() if hints))
def test_each_mistake_is_named_in_the_report(graded, name):
    _, hints = MISTAKES[name]
    result = graded[name]
    for question_id, mistake in hints.items():
        named = {m for check in result.question(question_id).checks for m, _ in check.mistakes}
        assert mistake in named


def test_forbidden_call_scores_zero_for_that_function_with_the_call_and_line(graded):
    question = graded["forbidden_conv"].question("1.1c")
    conv_checks = [c for c in question.checks if c.name == "conv2d"]
    assert conv_checks and all(c.status == "forbidden" and c.score == 0 for c in conv_checks)
    assert any("torch.nn.functional.conv2d" in m and "line" in m for m in question.messages)
    value = next(c for c in question.checks if c.name == "CONV_OUTPUT")
    assert value.status == "passed" and value.score == value.max_score


def test_unfinished_parts_are_missing_and_the_rest_is_graded(graded):
    result = graded["unfinished"]
    scores = {q.id: (q.score, q.status) for q in result.questions}
    for done in ("1.1a", "1.1c", "1.2a"):
        assert scores[done] == (FULL[done], "passed")
    for left in ("1.1b", "1.1d", "1.2b", "1.2c", "1.2d"):
        assert scores[left] == (0, "missing")


def test_a_formula_failure_reports_the_smallest_counterexample(graded):
    case = graded["stride_one_formula"].question("1.1b").checks[0].cases[0]
    assert "smallest counterexample" in case.message
    point = case.details["counterexample"]
    right = (point["I"] + 2 * point["P"] - point["K"]) // point["S"] + 1
    wrong = point["I"] - point["S"] * (point["K"] - 1) + 2 * point["P"]
    assert right != wrong
    assert max(point.values()) == 2  # stride 1 always agrees, so 2 is the smallest possible


def test_hidden_case_feedback_shows_no_values(graded):
    hidden = next(c for c in graded["flipped_kernel"].question("1.1c").checks if c.visibility == "hidden")
    for case in hidden.cases:
        assert "hidden case" in case.message
        assert "expected" not in case.message and "got" not in case.message
        assert case.replay == ""


def test_public_case_feedback_has_diff_and_replay_command(graded):
    check = next(c for c in graded["flipped_kernel"].question("1.1c").checks if c.id == "random")
    case = check.cases[0]
    assert "entries differ" in case.message and "expected" in case.message
    assert case.replay.endswith(f"--only 1.1c/random/{case.id}")


def test_value_check_feedback_never_reveals_the_answer(graded):
    value = next(c for c in graded["flipped_kernel"].question("1.1c").checks if c.id == "value")
    assert "109" not in value.cases[0].message


def test_same_submission_always_gets_the_same_score(make_grader, graded):
    again = make_grader(replay_prefix=REPLAY).grade(example("flipped_kernel"))
    assert again.to_dict()["questions"] == graded["flipped_kernel"].to_dict()["questions"]


def test_checks_judged_while_the_run_goes_on_are_those_judged_after_it(make_grader, graded):
    # The grader judges a check as soon as its last call is answered (grading._EarlyChecks); an
    # executor with run() only has every check judged at the end: the results must not differ.
    class RunOnly:
        def __init__(self, executor):
            self.executor = executor

        def run(self, path, calls, limits):
            return self.executor.run(path, calls, limits)

    grader = make_grader(replay_prefix=REPLAY)
    grader.executor = RunOnly(grader.executor)
    for name in ("correct_numpy", "flipped_kernel", "unfinished", "stride_one_formula", "lua_torch_names"):
        assert grader.grade(example(name)).to_dict()["questions"] == graded[name].to_dict()["questions"], name


def test_hidden_cases_expected_outputs_are_made_while_the_student_process_works(make_grader, graded, tmp_path, monkeypatch):
    # While the student's process imports the module (here: slowly), the grader plans every call
    # and then computes the reference's outputs for the cases (grading._EarlyChecks.prepare_one),
    # so none is left for after the answers come. The result is the one judged without that.
    from grader import grading

    slow = tmp_path / "hw2.py"
    slow.write_text("import time\ntime.sleep(1.0)\n" + example("flipped_kernel").path.read_text())
    grader = make_grader(replay_prefix=REPLAY)
    events: list[str] = []
    output = grader.expected.case_output
    monkeypatch.setattr(grader.expected, "case_output", lambda *a: events.append("expected") or output(*a), raising=False)
    take = grading._EarlyChecks.take
    monkeypatch.setattr(grading._EarlyChecks, "take", lambda self, c, o: events.append("outcome") or take(self, c, o))
    result = grader.grade(grading.Submission("flipped_kernel", slow))
    function_cases = sum(len(c.cases) for q in result.questions for c in q.checks if c.kind == "function")
    assert function_cases >= 50 and events.index("outcome") >= function_cases  # all of them, first
    usual = graded["flipped_kernel"]  # compared by verdicts: its path and lines differ
    assert list(case_verdicts(result).items()) == list(case_verdicts(usual).items())
    assert [(q.id, q.score) for q in result.questions] == [(q.id, q.score) for q in usual.questions]


def test_public_calls_are_the_same_shared_objects_for_every_student(hw2_spec, hw2_reference):
    # An executor may keep a shared Call's encoded request for the next student: only a call
    # whose inputs really are the same for all may say so.
    class Recorder:
        def __init__(self):
            self.runs = []

        def run(self, path, calls, limits):
            from grader.executor import RunResult

            self.runs.append(list(calls))
            return RunResult(outcomes={})

    from grader.grading import Grader, GradingOptions

    recorder = Recorder()
    grader = Grader(hw2_spec, hw2_reference, recorder, GradingOptions(salt="s"))
    for student in ("ada", "bob"):
        try:
            grader.grade(Submission(student, example("correct_numpy").path))
        except KeyError:  # no outcomes came back: only the calls matter here
            pass
    first, second = recorder.runs
    assert [c.id for c in first] == [c.id for c in second]
    shared = [(a, b) for a, b in zip(first, second) if a.shared]
    assert all(a is b for a, b in shared) and len(shared) >= 10
    unshared = [(a, b) for a, b in zip(first, second) if not a.shared]
    assert unshared and all(a is not b and not b.shared and "random" in a.id for a, b in unshared)
    assert any(repr(a.args) != repr(b.args) for a, b in unshared)  # hidden inputs differ by student
