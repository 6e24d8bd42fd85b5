"""The student bundle: what it holds (and never holds), its checksums, self-check from it, replay.

The secrets scan reads file contents, not names: every byte of every bundle file is searched for
the reference's source lines, the hidden cases' inputs and expected outputs (computed with the
live grader for several students and a salt), the hidden checks' descriptions and categories,
the salt, and (by default) the withheld answers.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shlex
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import EXAMPLES, HW2, case_verdicts, example
from grader.bundle import BundleError, fingerprint, is_bundle, load_bundle, make_bundle, plan_bundle, scan_texts, verify_bundle, write_archive
from grader.cli import main
from grader.executor import SubprocessExecutor
from grader.expected import Target
from grader.grading import Grader, GradingOptions, Submission
from grader.results import student_view
from grader.spec import SpecError, load_assignment
from grader.spec.model import FunctionCheck
from grader.writers.json_report import render_json
from grader.writers.markdown import render_markdown

SALT = "salt-Zq8vK2-never-in-a-bundle"
STUDENTS = ["alice", "bob", "flipped_kernel", "correct_numpy"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, hw2_spec, hw2_reference):
    root = tmp_path_factory.mktemp("bundles")
    previous = os.environ.get("GRADER_HIDDEN_SALT")
    os.environ["GRADER_HIDDEN_SALT"] = SALT  # the instructor's environment holds the salt
    try:
        default = make_bundle(hw2_spec, hw2_reference, root / "hw2-bundle")
        answers = make_bundle(hw2_spec, hw2_reference, root / "hw2-bundle-answers", include_answers=True)
    finally:
        if previous is None:
            os.environ.pop("GRADER_HIDDEN_SALT")
        else:
            os.environ["GRADER_HIDDEN_SALT"] = previous
    return {"default": default.folder, "answers": answers.folder, "summary": default}


def _blobs(folder: Path) -> dict[str, bytes]:
    return dict(scan_texts(folder))


def _all_bytes(folder: Path) -> bytes:
    return b"\0".join(_blobs(folder).values())


def _stored_float_bits(folder: Path) -> set[int]:
    """Every float64 stored in the bundle's .npy files, as bit patterns."""
    bits: set[int] = set()
    for path in folder.rglob("*.npy"):
        array = np.load(path, allow_pickle=False).astype(np.float64)
        bits.update(int(b) for b in array.reshape(-1).view(np.uint64))
    return bits


# ---- contents -------------------------------------------------------------------------------


def test_bundle_has_the_documented_layout(bundles):
    folder = bundles["default"]
    names = set(_blobs(folder))
    assert {"assignment.yaml", "bundle.json", "SHA256SUMS", "template.py"} <= names
    assert any(n.startswith("questions/") for n in names) and any(n.endswith(".npy") for n in names)
    assert [n for n in names if n.endswith(".py")] == ["template.py"]
    assert (folder / "template.py").read_bytes() == (HW2 / "template.py").read_bytes()
    assert is_bundle(folder) and verify_bundle(folder) == []
    for path in folder.rglob("*.npy"):  # plain arrays: loading refuses pickles
        np.load(path, allow_pickle=False)


def test_bundle_holds_no_reference_code(bundles, hw2_spec):
    source = hw2_spec.reference_path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    distinctive = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for statement in body:
                for line in (ast.get_source_segment(source, statement) or "").splitlines():
                    if len(line.strip()) >= 16:
                        distinctive.add(line.strip())
    docstring = (ast.get_docstring(tree) or "").splitlines()[0]
    assert len(distinctive) > 40 and docstring
    for folder in (bundles["default"], bundles["answers"]):
        for name, data in _blobs(folder).items():
            text = data.decode("utf-8", errors="ignore")
            leaked = [line for line in distinctive if line in text]
            assert not leaked, (name, leaked[:3])
            assert docstring not in text, name


def _hidden_cases(spec, reference, student):
    grader = Grader(spec, reference, SubprocessExecutor(module_name="hw2"), GradingOptions(salt=SALT))
    for question in spec.questions:
        for check in question.question.checks:
            if isinstance(check, FunctionCheck) and check.visibility == "hidden":
                for case in grader.cases(question, check, student):
                    expected = reference.case_output(Target(question.id, check.id), check.reference or check.name, case)
                    yield question, check, case, expected


def test_bundle_holds_no_hidden_input_or_expected_value(bundles, hw2_spec, hw2_reference):
    hidden = [item for student in STUDENTS for item in _hidden_cases(hw2_spec, hw2_reference, student)]
    assert len(hidden) == 2 * 10 * len(STUDENTS)
    for folder in (bundles["default"], bundles["answers"]):
        blob = _all_bytes(folder)
        text = blob.decode("utf-8", errors="ignore")
        stored = _stored_float_bits(folder)
        checked = 0
        for question, check, case, expected in hidden:
            arrays = [a for a in case.args if isinstance(a, np.ndarray)] + [np.asarray(expected, dtype=np.float64)]
            for array in arrays:
                if not np.all(np.mod(array, 1) == 0):  # all-zero or integer arrays occur anywhere
                    assert array.astype(np.float64).tobytes() not in blob, (question.id, check.id, case.id)
                for value in array.reshape(-1):
                    if float(value).is_integer():
                        continue  # small integers occur everywhere; random floats do not
                    checked += 1
                    assert int(np.float64(value).view(np.uint64)) not in stored, (question.id, check.id, case.id, value)
                    assert repr(float(value)) not in text
        assert checked > 1000
        # nothing of the hidden checks themselves either: ids as checks, descriptions, categories
        for question in hw2_spec.questions:
            for check in question.question.checks:
                if check.visibility == "hidden":
                    assert check.description not in text
                    for name, condition in check.generate.categories.items():
                        assert condition not in text and name not in text
                    assert not (folder / "expected" / question.id / f"{check.id}.json").exists()
        public_ids = {c["id"] for f in folder.glob("questions/*.yaml") for c in yaml.safe_load(f.read_text())["checks"]}
        assert "hidden" not in public_ids


def test_bundle_holds_no_salt(bundles):
    for folder in (bundles["default"], bundles["answers"]):
        assert SALT.encode() not in _all_bytes(folder)
        assert "salt" not in (folder / "bundle.json").read_text().lower()


def test_answers_of_value_questions_stay_out_unless_asked_for(bundles, hw2_spec, hw2_reference):
    module = hw2_reference.module
    answers = [module.CONV_OUTPUT, module.INPUT_GRADIENT, module.MAXPOOL_OUTPUT]
    default, with_answers = _all_bytes(bundles["default"]), _all_bytes(bundles["answers"])
    for answer in answers:
        data = np.asarray(answer, dtype=np.float64).tobytes()
        assert data not in default
        assert data in with_answers
    manifest = json.loads((bundles["default"] / "bundle.json").read_text())
    value_checks = {f"{q.id}/{c.id}" for q in hw2_spec.questions for c in q.question.checks if c.kind == "value" or not c.show_expected}
    assert set(manifest["withheld"]) == value_checks
    assert json.loads((bundles["answers"] / "bundle.json").read_text())["withheld"] == []
    for withheld in value_checks:
        question, check = withheld.split("/")
        assert not (bundles["default"] / "expected" / question / f"{check}.json").exists()


def test_bundle_points_are_the_public_checks_share(bundles, hw2_spec):
    spec = load_assignment(bundles["answers"], bundle=True)
    real = {q.id: q for q in hw2_spec.questions}
    for question in spec.questions:
        public = [c for c in real[question.id].question.checks if c.visibility == "public"]
        share = real[question.id].points * sum(c.weight for c in public) / sum(c.weight for c in real[question.id].question.checks)
        assert question.points == pytest.approx(share)
    assert plan_bundle(hw2_spec, include_answers=True).withheld == []


# ---- checksums, loading ----------------------------------------------------------------------


def test_an_altered_or_added_file_is_refused(bundles, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundles["default"], copy)
    npy = next(copy.rglob("*.npy"))
    data = bytearray(npy.read_bytes())
    data[-1] ^= 1
    npy.write_bytes(bytes(data))
    (copy / "reference.py").write_text("CONV_OUTPUT = 0\n")
    problems = verify_bundle(copy)
    assert any("altered" in p and npy.name in p for p in problems)
    assert any(p.startswith("reference.py: not part of the bundle") for p in problems)
    with pytest.raises(BundleError):
        load_bundle(copy)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["check", str(copy), str(EXAMPLES / "correct_numpy.py")]) == 2


def test_bundle_loads_only_in_bundle_mode_and_grading_refuses_it(bundles, capsys):
    with pytest.raises(SpecError) as error:
        load_assignment(bundles["default"])  # a real assignment needs its reference
    assert "reference.py" in str(error.value)
    assert load_assignment(bundles["default"], bundle=True).id == "hw2"
    assert main(["validate", str(bundles["default"])]) == 2
    assert main(["grade", str(bundles["default"]), str(EXAMPLES), "--out", "unused"]) == 2
    assert "student bundle" in capsys.readouterr().err


def test_a_real_assignment_still_validates_its_reference_names(tmp_path):
    copy = tmp_path / "hw2"
    shutil.copytree(HW2, copy)
    path = copy / "questions" / "1.1c.yaml"
    path.write_text(path.read_text().replace("mutant_conv2d_flipped", "mutant_conv2d_flipped_typo"))
    with pytest.raises(SpecError):
        load_assignment(copy)


def test_the_archive_is_reproducible(bundles, tmp_path):
    first = write_archive(bundles["default"], tmp_path / "a.tar.gz")
    second = write_archive(bundles["default"], tmp_path / "b.tar.gz")
    assert first == second and (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_a_case_from_another_grader_version_is_refused(bundles, hw2_spec):
    bundle = load_bundle(bundles["default"])
    question = next(q for q in bundle.spec.questions if q.id == "1.1c")
    check = next(c for c in question.question.checks if c.id == "random")
    grader = Grader(bundle.spec, bundle.expected, SubprocessExecutor(), GradingOptions(public_only=True))
    case = grader.cases(question, check, "anyone")[0]
    assert isinstance(bundle.expected.case_output(Target("1.1c", "random"), "conv2d", case), np.ndarray)
    shifted = type(case)(case.id, (case.args[0] + 1, *case.args[1:]), case.kwargs, case.visibility)
    assert fingerprint((shifted.args, shifted.kwargs)) != fingerprint((case.args, case.kwargs))
    from grader.expected import ReferenceFailure

    with pytest.raises(ReferenceFailure, match="another grader"):
        bundle.expected.case_output(Target("1.1c", "random"), "conv2d", shifted)


# ---- self-check from a bundle ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["wrong_arithmetic", "lua_torch_names", "gradient_3x3"])
def test_a_bundle_with_answers_gives_the_instructors_public_verdicts(bundles, make_grader, name):
    from grader.ci import self_check

    instructor = make_grader(public_only=True).grade(example(name))
    _, offline = self_check(bundles["answers"], example(name).path, student=name)
    assert case_verdicts(offline) == case_verdicts(instructor)
    assert offline.score == pytest.approx(instructor.score) and offline.withheld == []
    assert any(k.mistake for q in offline.questions for c in q.checks for k in c.cases)  # hints work offline


def test_replay_from_a_bundle_reruns_exactly_that_case_with_the_array_diff(bundles):
    bundle = str(bundles["default"])
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["check", bundle, str(EXAMPLES / "flipped_kernel.py")]) == 1
    text = out.getvalue()
    assert "public checks passed; hidden checks run at grading." in text and "All " not in text
    assert "Not in this bundle" in text and "1.1c/value" in text
    replays = [line.split("replay: ", 1)[1] for line in text.splitlines() if "replay: " in line]
    assert replays and all(r.startswith(f"grader check {bundle} ") for r in replays)
    command = shlex.split(replays[0])[2:]
    target = command[-1]
    again = io.StringIO()
    with redirect_stdout(again):
        assert main(["check", *command]) == 1
    rerun = again.getvalue()
    question, check, case = target.split("/")
    assert f"/ {case}:" in rerun and "0/1 public checks passed" in rerun
    assert "expected" in rerun and "* = wrong" in rerun  # the array diff, side by side
    assert rerun.count("[failed]") == 1


def test_a_correct_submission_gets_all_public_checks_never_all_passed(bundles):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["check", str(bundles["default"]), str(EXAMPLES / "correct_numpy.py")]) == 0
    text = out.getvalue()
    assert "All 51 public checks passed; hidden checks run at grading." in text
    assert "they are graded at submission" in text


# ---- instructor's copy, student's copy --------------------------------------------------------

LEAKY = '''

_conv2d_ok = conv2d


def conv2d(image, kernel, stride=1, padding=0):
    if image.shape[0] > 8:  # only hidden cases are this tall
        raise ValueError(f"LEAK-MARKER {image.shape} {image[0, 0]!r}")
    return _conv2d_ok(image, kernel, stride, padding)
'''


@pytest.fixture(scope="module")
def graded_with_hidden(tmp_path_factory, make_grader):
    folder = tmp_path_factory.mktemp("leaky")
    (folder / "hw2.py").write_text((EXAMPLES / "correct_numpy.py").read_text() + LEAKY)
    grader = make_grader(salt=SALT, replay_prefix="grader check problems/hw2")
    return {"leaky": grader.grade(Submission("leaky", folder / "hw2.py")), "flipped": grader.grade(example("flipped_kernel"))}


def test_hidden_failures_reach_students_by_category_only(graded_with_hidden):
    for result in graded_with_hidden.values():
        hidden = [k for q in result.questions for c in q.checks if c.visibility == "hidden" for k in c.cases if k.status != "passed"]
        assert hidden
        report = render_markdown(result, "HW2")
        student_json = render_json(student_view(result))
        for case in hidden:
            assert "hidden case (" in case.message and case.categories
            assert case.traceback == "" and case.replay == ""
            full = case.instructor
            assert full["message"] and full["args"] and "variables" in full and full["seed"] == case.seed
            values = [v for a in full["args"] if isinstance(a, list) for v in np.ravel(a)]
            values += list(np.ravel(full.get("expected", [])))
            for value in values:
                if not float(value).is_integer():
                    for shown in (repr(float(value)), f"{float(value):.6g}", f"{float(value):.5g}"):
                        assert shown not in report and shown not in student_json, shown
            assert str(case.seed) not in student_json
        assert "LEAK-MARKER" not in report and "LEAK-MARKER" not in student_json


def test_a_hidden_exception_shows_its_type_never_its_text(graded_with_hidden):
    result = graded_with_hidden["leaky"]
    hidden = next(c for c in result.question("1.1c").checks if c.id == "hidden")
    raised = [k for k in hidden.cases if k.status == "error"]
    assert raised
    for case in raised:
        assert case.message.endswith("raised ValueError")
        assert "LEAK-MARKER" in case.instructor["message"] and "LEAK-MARKER" in case.instructor["traceback"]
    instructor_copy = render_json(result)  # result.json: the instructor's copy has everything
    assert "LEAK-MARKER" in instructor_copy and '"expected"' in instructor_copy


def test_public_failures_keep_their_values_and_a_replay_command(graded_with_hidden):
    result = graded_with_hidden["flipped"]
    public = next(c for c in result.question("1.1c").checks if c.id == "random")
    assert all(k.replay.endswith(f"--only 1.1c/random/{k.id}") for k in public.cases if k.status != "passed")
    value = next(c for c in result.question("1.1c").checks if c.id == "value")
    assert value.cases[0].replay.endswith("--only 1.1c/value")
    assert "expected" in render_markdown(result, "HW2")


def test_hidden_value_formula_and_crash_messages_carry_no_detail():
    from grader.executor import CallOutcome
    from grader.grading import _hide_from_student
    from grader.results import CaseResult

    formula = CaseResult("domain", "failed", "hidden", "wrong at 3 of 400 points; smallest counterexample: I=2, K=1: your formula gave 9, the right value is 2",
                         details={"points": 400, "wrong_count": 3, "counterexample": {"I": 2}, "expected": "2"})
    _hide_from_student(formula, "conv_output_width")
    assert formula.message == "conv_output_width (hidden check): wrong at 3 of 400 points"
    assert "counterexample" in formula.instructor["message"]

    value = CaseResult("value", "failed", "hidden", "CONV_OUTPUT: expected shape (3, 3), got (2, 2)\nhint: a border of width 1", details={"failure": "shape"})
    _hide_from_student(value, "CONV_OUTPUT")
    assert value.message == "CONV_OUTPUT (hidden check): the output has the wrong shape\nhint: a border of width 1"

    crash = CaseResult("random-1", "error", "hidden", "killed: SECRET", traceback="line 3: SECRET", categories=["stride > 1"])
    _hide_from_student(crash, "conv2d", CallOutcome("c", "crashed", error="killed: SECRET"))
    assert crash.message == "conv2d on a hidden case (stride > 1): the process crashed or was killed (a memory or CPU limit?)"
    assert crash.traceback == "" and crash.instructor["traceback"] == "line 3: SECRET"

    custom = CaseResult("random-2", "error", "hidden", "E_42_17: SECRET", categories=["padding > 0"])
    _hide_from_student(custom, "conv2d", CallOutcome("c", "error", error="E_42_17: SECRET"))
    assert custom.message == "conv2d on a hidden case (padding > 0): raised an exception"  # a made-up class name could carry data
