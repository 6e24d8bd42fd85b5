"""JUnit XML: one <testsuite> per question, one <testcase> per check case.

CI systems (GitHub test reporters, GitLab, Jenkins) read this format. Status mapping:
`failed`, `missing`, `forbidden` → <failure type=STATUS>; `error`, `timeout` → <error type=STATUS>;
checks a bundle does not carry (withheld answers) → <skipped>. The body of a failure is the
message a student reads, the traceback of a public case, and its replay command.

Reads `student_view(result)`: a hidden case appears with its category-level message only.
Characters XML 1.0 cannot hold (control characters a student's string may contain) are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.results import CaseResult, SubmissionResult, student_view
from grader.writers.files import write_text_atomic

_FAILURE = {"failed", "missing", "forbidden"}
_ERROR = {"error", "timeout"}
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def render_junit(result: SubmissionResult, title: str) -> str:
    view = student_view(result)
    root = ET.Element("testsuites", name=xml_text(f"{view.assignment}: {title}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if view.errors:
        suite = _suite(root, f"{view.assignment} submission", 0, 0)
        case = ET.SubElement(suite, "testcase", classname=xml_text(view.assignment), name="import", time="0")
        _outcome(case, "error", "error", "\n".join(view.errors))
        _count(suite, totals, tests=1, errors=1)
    for question in view.questions:
        suite = _suite(root, f"{view.assignment} {question.id} {question.title}", question.score, question.max_score)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for check in question.checks:
            for case in check.cases:
                element = ET.SubElement(suite, "testcase", classname=xml_text(f"{question.id}/{check.id}"), name=xml_text(case.id), time="0")
                counts["tests"] += 1
                if case.status == "passed":
                    continue
                kind = "error" if case.status in _ERROR else "failure"
                counts["errors" if kind == "error" else "failures"] += 1
                _outcome(element, kind, case.status, _body(check.name, check.message, case, check.mistakes))
        _count(suite, totals, **counts)
    if view.withheld:
        suite = _suite(root, f"{view.assignment} not in this bundle", 0, 0)
        for item in view.withheld:
            element = ET.SubElement(suite, "testcase", classname=xml_text(item), name="answer-withheld", time="0")
            ET.SubElement(element, "skipped", message="its answer is not handed out: graded at submission")
        _count(suite, totals, tests=len(view.withheld), skipped=len(view.withheld))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{view.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, score: float, max_score: float) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=xml_text(name), time="0")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="score", value=f"{score:g}")
    ET.SubElement(properties, "property", name="max_score", value=f"{max_score:g}")
    return suite


def _count(suite: ET.Element, totals: dict[str, int], tests: int = 0, failures: int = 0, errors: int = 0, skipped: int = 0) -> None:
    for key, value in (("tests", tests), ("failures", failures), ("errors", errors), ("skipped", skipped)):
        suite.set(key, str(value))
        totals[key] += value


def _outcome(element: ET.Element, kind: str, status: str, body: str) -> None:
    head = body.splitlines()[0] if body else status
    child = ET.SubElement(element, kind, type=status, message=xml_text(head))
    child.text = xml_text(body)


def _body(name: str, check_message: str, case: CaseResult, mistakes: list[tuple[str, str]]) -> str:
    lines = [case.message or check_message or case.status]
    lines += [f"known mistake ({mistake}): {hint}" for mistake, hint in mistakes if mistake == case.mistake]
    if case.traceback:
        lines += ["", case.traceback]
    if case.replay:
        lines += ["", f"replay: {case.replay}"]
    return "\n".join(lines)


def write_junit(result: SubmissionResult, title: str, path: Path) -> None:
    write_text_atomic(Path(path), render_junit(result, title))
