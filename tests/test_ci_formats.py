"""`grader ci` and its formats: exit code policy, JUnit (parsed back), the GitHub job summary and
annotations, the GitHub Classroom result, and a hostile submission that tries to issue workflow
commands through its exception messages.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import EXAMPLES
from grader.bundle import make_bundle
from grader.ci import self_check
from grader.cli import main
from grader.writers.classroom import classroom_result
from grader.writers.github import Annotation, annotations, escape_data, escape_property, neutralise, render_summary
from grader.writers.junit import render_junit

HOSTILE_TEXT = (
    "boom\n::error file=hw2.py,line=1::injected-lf\r::warning::injected-cr\u2028::notice::injected-ls\n"
    "##[error]injected-legacy\n  ::add-mask::injected-indented\n::stop-commands::abc\n%0A::set-output name=x::y"
    "<script>alert(1)</script>\x01\x1b[31m|pipe|"
)
HOSTILE = f'''

def max_pool2d(x, kernel_size, stride=None):
    raise ValueError({HOSTILE_TEXT!r})
'''
# What the Actions runner registers (actions/runner, ActionCommandManager + extensions).
RUNNER_COMMANDS = {
    "error", "warning", "notice", "debug", "add-mask", "set-output", "save-state", "set-env", "add-path",
    "group", "endgroup", "echo", "stop-commands", "add-matcher", "remove-matcher",
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, hw2_spec, hw2_reference):
    return make_bundle(hw2_spec, hw2_reference, tmp_path_factory.mktemp("ci") / "hw2-bundle").folder


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repo")
    (folder / "hw2.py").write_text((EXAMPLES / "correct_numpy.py").read_text() + HOSTILE)
    return folder


@pytest.fixture(scope="module")
def results(bundle, repo):
    _, hostile = self_check(bundle, repo / "hw2.py", replay_prefix="grader check hw2-bundle")
    _, flipped = self_check(bundle, EXAMPLES / "flipped_kernel.py", replay_prefix="grader check hw2-bundle")
    return {"hostile": hostile, "flipped": flipped}


def _def_line(path: Path, name: str) -> int:
    return max(n.lineno for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == name)


# ---- a model of the runner's command parsing -------------------------------------------------


def _parse(line: str, registered: set[str]) -> tuple[str, str, str] | None:
    trimmed = line.lstrip()
    if trimmed.startswith("::"):  # TryParseV2: at the start, after leading whitespace
        end = trimmed.find("::", 2)
        if end >= 0:
            name, _, props = trimmed[2:end].partition(" ")
            if name in registered:
                return name, props, trimmed[end + 2:]
    start = line.find("##[")  # TryParse (legacy): anywhere in the line
    if start >= 0:
        close = line.find("]", start)
        if close >= 0:
            name, _, props = line[start + 3:close].partition(" ")
            if name in registered:
                return name, props, line[close + 1:]
    return None


def runner_commands(output: str) -> list[tuple[str, str, str]]:
    """The commands a runner would execute for this log (lines split at CR and LF)."""
    executed, token = [], None
    for line in re.split(r"\r\n|\r|\n", output):
        registered = RUNNER_COMMANDS | ({token} if token else set())
        command = _parse(line, registered)
        if command is None:
            continue
        if token:
            if command[0] == token:
                executed.append(("resume", "", ""))
                token = None
            continue
        if command[0] == "stop-commands":
            token = command[2]
        executed.append(command)
    return executed


def _unescape(data: str) -> str:
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_the_runner_model_would_be_fooled_by_raw_text():
    raw = f"ValueError: {HOSTILE_TEXT}"
    names = {c[0] for c in runner_commands(raw)}
    assert {"error", "warning", "add-mask", "stop-commands"} <= names  # what an unescaped grader would let through
    assert runner_commands(neutralise(raw)) == []


def test_hostile_output_cannot_inject_workflow_commands(bundle, repo, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output.txt"))
    code = main(["ci", str(bundle), str(repo / "hw2.py"), "--junit", str(tmp_path / "junit.xml"), "--classroom", str(tmp_path / "classroom.json")])
    assert code == 1
    out = capsys.readouterr().out
    assert "injected" in out  # the student's text is shown, as text
    executed = runner_commands(out)
    names = [c[0] for c in executed]
    assert names[0] == "stop-commands" and names[1] == "resume"
    assert set(names[2:]) == {"error"} and len(names) == 4  # one annotation per failing max_pool2d check
    line = _def_line(repo / "hw2.py", "max_pool2d")
    for name, props, data in executed[2:]:
        assert f"file=hw2.py,line={line}," in props
        text = _unescape(data)
        assert "injected-lf" in text and "\n::" not in text.replace("\n", "\n ")  # data, one annotation
    token = executed[0][2]
    assert re.fullmatch(r"[0-9a-f]{32}", token) and token not in (repo / "hw2.py").read_text()
    output = (tmp_path / "output.txt").read_text()
    assert output.startswith("result=") and output.count("\n") == 1
    classroom = json.loads(base64.b64decode(output.split("=", 1)[1]))
    assert classroom == json.loads((tmp_path / "classroom.json").read_text())
    for test in classroom["tests"]:  # the reporter prints these into the log
        for field in ("name", "message"):
            assert "\n" not in test[field] and "\r" not in test[field] and "##[" not in test[field]
            assert runner_commands(test[field]) == [] and runner_commands(f"Error: {test[field]}") == []
    summary = (tmp_path / "summary.md").read_text()
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    ET.fromstring((tmp_path / "junit.xml").read_text(encoding="utf-8"))  # control characters did not break the XML


def test_escaping_follows_githubs_rules():
    assert escape_data("50%\r\nnext: a,b") == "50%25%0D%0Anext: a,b"
    assert escape_property("a: b, c%") == "a%3A b%2C c%25"
    command = Annotation("error", "two\nlines ##[warning]x", "t: 1,2", "dir/hw2.py", 7).command()
    assert command == "::error file=dir/hw2.py,line=7,title=t%3A 1%2C2::two%0Alines ## [warning]x"
    assert runner_commands(command) == [("error", "file=dir/hw2.py,line=7,title=t%3A 1%2C2", "two%0Alines ## [warning]x")]


# ---- the formats ----------------------------------------------------------------------------


def test_junit_parses_back_one_testcase_per_check_case(results, hw2_spec):
    result = results["flipped"]
    root = ET.fromstring(render_junit(result, hw2_spec.title))
    cases = root.findall("./testsuite/testcase")
    expected = [(q.id, c.id, k.id, k.status) for q in result.questions for c in q.checks for k in c.cases]
    graded = [c for c in cases if c.get("name") != "answer-withheld"]
    assert [(c.get("classname"), c.get("name")) for c in graded] == [(f"{q}/{c}", k) for q, c, k, _ in expected]
    failures = [c for c in graded if c.find("failure") is not None]
    assert len(failures) == sum(s == "failed" for *_, s in expected) == int(root.get("failures")) == 6
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("classname") for c in skipped] == result.withheld and int(root.get("skipped")) == len(result.withheld)
    assert int(root.get("tests")) == len(cases)
    first = failures[0].find("failure")
    assert first.get("type") == "failed" and "entries differ" in first.get("message")
    assert "known mistake (flipped-kernel)" in first.text and "replay: grader check hw2-bundle" in first.text
    suite = root.find("./testsuite[@name='hw2 1.1c Convolution output']")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props == {"score": "0", "max_score": "1"}


def test_junit_of_a_hostile_message_is_valid_xml(results, hw2_spec):
    root = ET.fromstring(render_junit(results["hostile"], hw2_spec.title))
    errors = [c.find("error") for c in root.iter("testcase") if c.find("error") is not None]
    assert len(errors) == 10 and int(root.get("errors")) == 10
    assert "injected-lf" in errors[0].text and "\x01" not in errors[0].text and "\ufffd" in errors[0].text


def test_summary_is_a_markdown_table_with_the_failing_checks(results, hw2_spec):
    result = results["flipped"]
    text = render_summary(result, hw2_spec.title)
    lines = text.splitlines()
    assert lines[0] == "## Self-check: HW2 Part 1: Fundamentals (convolution and pooling)"
    assert "**45 of 51 public checks passed** (7 / 8 public points). Hidden checks run at grading." in text
    header = lines.index("| question | title | checks passed | points | status |")
    rows = lines[header + 2: header + 2 + len(result.questions)]
    assert [r.split(" | ")[0].strip("| ") for r in rows] == [q.id for q in result.questions]
    assert "| 1.1c | Convolution output | 0/6 | 0 / 1 | ❌ failed |" in rows
    assert "Not in this bundle" in text and "1.2a/names" in text
    assert "<details><summary>1.1c random: <code>conv2d</code> (failed)</summary>" in text
    assert "replay: grader check hw2-bundle" in text and "known mistake (flipped-kernel)" in text


def test_annotations_point_at_the_failing_functions_def_line(results):
    from grader.ci import _line_finder

    path = EXAMPLES / "flipped_kernel.py"
    found = annotations(results["flipped"], "hw2.py", _line_finder(path))
    assert len(found) == 1
    (annotation,) = found
    assert annotation.line == _def_line(path, "conv2d") and annotation.file == "hw2.py"
    assert annotation.command().startswith(f"::error file=hw2.py,line={annotation.line},title=1.1c random%3A failed::")
    assert "known mistake (flipped-kernel)" in annotation.message and "\n" not in annotation.command()


def test_classroom_result_has_the_reporters_fields(results):
    result = results["flipped"]
    data = classroom_result(result)
    assert data["version"] == 1 and data["status"] == "fail" and data["max_score"] == pytest.approx(8)
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(result.score) == pytest.approx(7)
    for test in data["tests"]:
        assert set(test) >= {"name", "status", "score", "message", "line_no"}
        assert test["status"] in ("pass", "fail", "error")
    failing = [t for t in data["tests"] if t["status"] != "pass"]
    assert [t["name"].split(":")[0] for t in failing] == ["1.1c random"]
    assert "flipped-kernel" in failing[0]["message"]


@pytest.mark.parametrize("args, code", [
    (["correct_numpy.py"], 0),
    (["flipped_kernel.py"], 1),
    (["flipped_kernel.py", "--min-points", "7"], 0),
    (["flipped_kernel.py", "--min-points", "7.5"], 1),
    (["no_such_file.py"], 2),
])
def test_exit_code_policy(bundle, args, code, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert main(["ci", str(bundle), str(EXAMPLES / args[0]), *args[1:]]) == code
    out = capsys.readouterr().out
    assert "::" not in out.split("\n")[0]  # no workflow commands outside GitHub Actions
    if code != 2:
        assert ("CI policy" in out) and ("NOT met" in out) == (code == 1)
