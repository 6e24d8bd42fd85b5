"""The student-facing verbs beyond `check`: `bundle`, `ci`, `gradescope` (registered by grader.cli).

- `grader bundle problems/hw2 --out DIR [--archive FILE.tar.gz] [--include-answers]`: the
  student bundle (grader.bundle).
- `grader ci BUNDLE_OR_ASSIGNMENT hw2.py [...]`: the self-check for a student repository's
  workflow: an exit code policy, JUnit XML, the GitHub job summary and annotations, the GitHub
  Classroom result. Every format is a writer over the one result; nothing is graded twice.
- `grader gradescope problems/hw2 --out autograder.zip`: the Gradescope autograder (grader.gradescope).

`grader check DIR` works on a bundle too: `load_for_check` picks the expected outputs' source.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import Any, Callable

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2


def _cannot_run(message: str) -> Exception:
    from grader.cli import _CannotRun

    return _CannotRun(message)


def add_commands(commands: Any) -> None:
    bundle = commands.add_parser("bundle", help="write the student bundle: template, public specs, precomputed public outputs")
    bundle.add_argument("assignment", type=Path)
    bundle.add_argument("--out", type=Path, required=True, help="a new folder for the bundle")
    bundle.add_argument("--archive", type=Path, help="also write a reproducible .tar.gz of it (for a workflow to download)")
    bundle.add_argument("--include-answers", action="store_true",
                        help="also ship value checks and show_expected: false checks (this hands their answers to students)")

    ci = commands.add_parser("ci", help="self-check in a student repository's CI: exit code, JUnit, GitHub summary/annotations, Classroom")
    ci.add_argument("assignment", type=Path, help="the student bundle (or the assignment folder)")
    ci.add_argument("submission", type=Path)
    ci.add_argument("--student", help="the student id (public cases do not depend on it)")
    ci.add_argument("--min-points", type=float, default=None,
                    help="pass when the public points reach this; default: pass only when every public check passes")
    ci.add_argument("--junit", type=Path, help="write JUnit XML here")
    ci.add_argument("--summary", type=Path, default=None, help="append the Markdown summary here (default: $GITHUB_STEP_SUMMARY when set)")
    ci.add_argument("--annotations", action=argparse.BooleanOptionalAction, default=None,
                    help="print ::error annotations (default: inside GitHub Actions)")
    ci.add_argument("--annotate-as", default=None, help="the submission's path in the repository (default: relative to $GITHUB_WORKSPACE)")
    ci.add_argument("--classroom", type=Path, help="write the GitHub Classroom autograding result here (and the step output `result`)")
    ci.add_argument("--json", type=Path, help="write the result (the student's view) as JSON here")
    ci.add_argument("--replay-prefix", default=None, help="how replay commands start (default: grader check ASSIGNMENT)")

    gradescope = commands.add_parser("gradescope", help="write the Gradescope autograder zip (setup.sh, run_autograder)")
    gradescope.add_argument("assignment", type=Path)
    gradescope.add_argument("--out", type=Path, required=True, help="the zip to write, e.g. autograder.zip")
    gradescope.add_argument("--hidden-visibility", default="after_published",
                            choices=["hidden", "after_due_date", "after_published", "visible"],
                            help="when students see the hidden checks' results (default: after grades are published)")


def load_for_check(path: Path) -> tuple[Any, Any, list[str]]:
    """(spec, expected-output source, withheld checks) for `check` and `ci`: a bundle or an assignment."""
    from grader.bundle import BundleError, is_bundle, load_bundle

    if is_bundle(path):
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            raise _cannot_run(str(exc)) from None
        return bundle.spec, bundle.expected, bundle.withheld
    from grader.cli import _load

    spec, reference = _load(path)
    return spec, reference, []


def default_student(submission: Path, spec: Any) -> str:
    """As `check`: the folder's name for NAME/hw2.py, else the file's stem."""
    return submission.parent.resolve().name if submission.name == spec.model.submission_file else submission.stem


def render_check(result: Any) -> str:
    """The self-check text, plus the checks a bundle does not carry (never "all passed")."""
    from grader.writers.terminal import render_self_check

    text = render_self_check(result)
    if result.withheld:
        text += (f"\nNot in this bundle (their answers are not handed out): {', '.join(result.withheld)}; "
                 "they are graded at submission.")
    return text


def self_check(path: Path, submission: Path, *, student: str = "", only: str = "", replay_prefix: str = "") -> tuple[Any, Any]:
    """Grade the public checks of one module from a bundle or an assignment: (spec, result)."""
    from grader.cli import _executor
    from grader.grading import Grader, GradingOptions, Submission

    spec, expected, withheld = load_for_check(path)
    if not submission.is_file():
        raise _cannot_run(f"{submission}: no such file")
    options = GradingOptions(public_only=True, only=only, replay_prefix=replay_prefix or f"grader check {path}")
    executor = _executor(spec)  # as `grade`
    student = student or default_student(submission, spec)
    result = Grader(spec, expected, executor, options).grade(Submission(student, submission))
    parts = only.split("/")[:2] if only else []
    result.withheld = [w for w in withheld if w.split("/")[: len(parts)] == parts]
    return spec, result


def rewrite_replays(result: Any, path: Path | str, shown: str) -> None:
    """Replay commands name the file as the student knows it, not the runner's path to it."""
    import shlex

    full, short = shlex.quote(str(path)), shlex.quote(shown)
    for question in result.questions:
        for check in question.checks:
            for case in check.cases:
                if case.replay:
                    case.replay = case.replay.replace(full, short)


def all_public_passed(result: Any) -> bool:
    return bool(result.gradable and not result.errors and result.questions and all(q.status == "passed" for q in result.questions))


# ---- grader bundle ---------------------------------------------------------------------------


def cmd_bundle(args: argparse.Namespace) -> int:
    from grader.bundle import BundleError, make_bundle, write_archive
    from grader.cli import _load

    spec, reference = _load(args.assignment)
    try:
        summary = make_bundle(spec, reference, args.out, include_answers=args.include_answers)
    except BundleError as exc:
        raise _cannot_run(str(exc)) from None
    print(f"Bundle for {spec.title}: {args.out}")
    print(f"  {summary.public_checks} public checks with precomputed outputs ({summary.public_max_score:g} of {spec.max_score:g} points); "
          f"{len(summary.files)} files; no reference, no hidden checks, no salt.")
    if summary.withheld:
        print(f"  Not included (the expected output is the answer): {', '.join(summary.withheld)}.")
        print("  Students see them listed as graded at submission; --include-answers would ship them.")
    elif args.include_answers:
        print("  --include-answers: value checks and show_expected: false checks ARE included; their answers are readable in the bundle.")
    print(f"  SHA-256 of {args.out}/SHA256SUMS (identifies the bundle's contents): {summary.digest}")
    if args.archive:
        digest = write_archive(args.out, args.archive)
        print(f"  Archive: {args.archive}, SHA-256 {digest}: pin it as BUNDLE_SHA256 in the student workflow")
    return EXIT_OK


# ---- grader ci -------------------------------------------------------------------------------


def cmd_ci(args: argparse.Namespace) -> int:
    from grader.writers.github import neutralise

    github = os.environ.get("GITHUB_ACTIONS") == "true"
    annotate = github if args.annotations is None else args.annotations
    token = secrets.token_hex(16) if annotate else ""
    if token:  # from here on, nothing printed (by us or by the student's code) is a command
        print(f"::stop-commands::{token}", flush=True)
    try:
        status, annotations_text = _ci(args, neutralise)
    finally:
        if token:
            print(f"::{token}::", flush=True)
    if annotate and annotations_text:
        print(annotations_text, flush=True)
    return status


def _ci(args: argparse.Namespace, neutralise: Callable[[str], str]) -> tuple[int, str]:
    from grader.results import student_view
    from grader.writers.classroom import encoded, write_classroom
    from grader.writers.files import write_text_atomic
    from grader.writers.github import annotations, commands, write_summary
    from grader.writers.json_report import render_json
    from grader.writers.junit import write_junit
    from grader.writers.markdown import points

    from grader.cli import _CannotRun
    from grader.spec import SpecError

    try:
        spec, result = self_check(args.assignment, args.submission, student=args.student or "", replay_prefix=args.replay_prefix or "")
    except (_CannotRun, SpecError) as exc:
        print(neutralise(f"grader: {exc}"), flush=True)
        return EXIT_CANNOT_RUN, ""
    line_of = _line_finder(args.submission)
    file = args.annotate_as or _repository_path(args.submission)
    rewrite_replays(result, args.submission, file)
    print(neutralise(render_check(result)), flush=True)

    if args.min_points is None:
        ok = all_public_passed(result)
        policy = "every public check must pass"
    else:
        ok = bool(result.gradable and result.score >= args.min_points - 1e-9)
        policy = f"at least {points(args.min_points)} public points"
    print(neutralise(f"CI policy ({policy}): {'met' if ok else 'NOT met'}; {points(result.score)} / {points(result.max_score)} public points."), flush=True)

    if args.junit:
        write_junit(result, spec.title, args.junit)
    summary = args.summary or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None)
    if summary:
        write_summary(result, spec.title, str(summary))
    if args.classroom:
        write_classroom(result, args.classroom, line_of)
        if os.environ.get("GITHUB_OUTPUT"):
            with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
                handle.write(f"result={encoded(result, line_of)}\n")
    if args.json:
        write_text_atomic(args.json, render_json(student_view(result)))
    return (EXIT_OK if ok else EXIT_FAILED), commands(annotations(result, file, line_of))


def _line_finder(submission: Path) -> Callable[[str], int | None]:
    from grader.static_rules import ModuleSource, SourceError

    try:
        module = ModuleSource.parse(submission.read_bytes(), str(submission))
    except (OSError, SourceError):
        return lambda name: None
    return lambda name: module.function_line(name)


def _repository_path(submission: Path) -> str:
    workspace = os.environ.get("GITHUB_WORKSPACE")
    resolved = submission.resolve()
    if workspace:
        try:
            return resolved.relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass
    return submission.as_posix()


# ---- grader gradescope ---------------------------------------------------------------------


def cmd_gradescope(args: argparse.Namespace) -> int:
    from grader.bundle import is_bundle
    from grader.expected import ReferenceFailure
    from grader.gradescope import build_autograder_zip

    if is_bundle(args.assignment):
        raise _cannot_run(f"{args.assignment} is a student bundle: give the assignment folder")
    try:
        summary = build_autograder_zip(args.assignment, args.out, salt=os.environ.get("GRADER_HIDDEN_SALT", ""), hidden_visibility=args.hidden_visibility)
    except ReferenceFailure as exc:
        raise _cannot_run(str(exc)) from None
    print(f"Gradescope autograder: {summary.path} ({len(summary.files)} files: setup.sh, run_autograder, config.json, assignment/, grader-src/)")
    if summary.salt_generated:
        print("  GRADER_HIDDEN_SALT was not set: a random salt was generated and stored in the zip's config.json.")
    print("  The zip holds the reference and the salt: upload it to Gradescope, never give it to students.")
    return EXIT_OK


COMMANDS = {"bundle": cmd_bundle, "ci": cmd_ci, "gradescope": cmd_gradescope}
