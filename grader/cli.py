"""The `grader` command: grade a class, self-check one module, validate an assignment."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

EXIT_OK, EXIT_FAILED_CHECKS, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Autograder for numerical homework.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = commands.add_parser("grade", help="grade submissions; write reports and a gradebook")
    grade.add_argument("assignment", type=Path, help="the assignment folder, e.g. problems/hw2")
    grade.add_argument("submissions", type=Path, nargs="+", help="a submission file, a student's folder (holding hw2.py), or a folder of NAME/hw2.py or NAME.py")
    grade.add_argument("--out", type=Path, required=True, help="folder for the reports and gradebook.csv")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    grade.add_argument("--jobs", "-j", type=int, default=None, help="submissions graded in parallel (default: all cores)")
    grade.add_argument("--force", action="store_true", help="regrade every submission, even unchanged ones")
    grade.add_argument("--unsafe", action="store_true", help="grade even where no sandbox works (`grader doctor`): student code could then read the reference, hidden cases and your files")

    check = commands.add_parser("check", help="self-check one module on the public checks")
    check.add_argument("assignment", type=Path)
    check.add_argument("submission", type=Path, help="your module, e.g. hw2.py")
    check.add_argument("--student", help="the student id the cases are seeded with (default: from the file name)")
    check.add_argument("--only", default="", help="run one question, check or case: 1.1c, 1.1c/random or 1.1c/random/random-2")

    validate = commands.add_parser("validate", help="validate a spec: schema, reference passes, every mutant fails")
    validate.add_argument("assignment", type=Path)
    commands.add_parser("doctor", help="show what protects a run of student code on this machine, and what is missing")
    validate.add_argument("--schema-only", action="store_true", help="only the spec files: no reference run, no torch import")

    from grader import ci  # bundle, ci, gradescope (student bundle and CI formats)

    ci.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from grader.spec import SpecError

    try:
        return _COMMANDS[args.command](args)
    except SpecError as exc:
        print(f"grader: the assignment spec is invalid ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except _CannotRun as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN


class _CannotRun(Exception):
    pass


def _load(assignment: Path):
    from grader.expected import ReferenceFailure

    spec = _load_spec(assignment)
    try:
        return spec, _reference(spec)
    except ReferenceFailure as exc:
        raise _CannotRun(str(exc)) from None


def _load_spec(assignment: Path):
    from grader.bundle import is_bundle
    from grader.spec import load_assignment

    if is_bundle(assignment):
        raise _CannotRun(f"{assignment} is a student bundle (public checks only, no reference): give the assignment folder")
    return load_assignment(assignment)


def _reference(spec):
    from grader.expected import Reference, load_reference

    return Reference(load_reference(spec.reference_path, spec.id), spec.constants)


def _executor(spec, eager: bool = False):
    """The executor `grade` and `check` use: warm sandboxed workers (grader/executor/zygote.py).
    `eager`: the first run goes to a zygote too (worth it when each process grades several),
    which starts now, importing torch while this process imports the reference."""
    from grader.executor.zygote import ZygoteExecutor
    from grader.grading import run_limits

    executor = ZygoteExecutor(module_name=_module_name(spec), eager=eager)
    if eager:
        executor.warm_up(run_limits(spec))
    return executor


def _fresh_executor(spec):
    """A fresh sandboxed interpreter per submission (the baseline of bench/grade_class.py)."""
    from grader.executor import SubprocessExecutor

    return SubprocessExecutor(module_name=_module_name(spec))


def _module_name(spec) -> str:
    return Path(spec.model.submission_file).stem


def _cmd_grade(args: argparse.Namespace) -> int:
    from grader.batch import BatchInterrupted, BatchOptions, GradingProcessFailure, Progress, default_jobs, grade_batch
    from grader.discovery import DiscoveryError, find_submissions
    from grader.expected import ReferenceFailure
    from grader.grading import Grader, GradingOptions
    from grader.writers.terminal import render_summary

    _require_sandbox(args.unsafe)
    spec = _load_spec(args.assignment)  # the reference (and torch) load in the grading processes
    try:
        submissions, warnings = find_submissions(args.submissions, spec.model.submission_file)
    except DiscoveryError as exc:
        raise _CannotRun(str(exc)) from None
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    options = GradingOptions(salt=os.environ.get("GRADER_HIDDEN_SALT", ""), replay_prefix=f"grader check {args.assignment}")

    batch = BatchOptions(jobs=args.jobs or default_jobs(), force=args.force)

    def grader() -> Grader:
        executor = _executor(spec, eager=len(submissions) > batch.jobs)  # first: its zygote starts now
        return Grader(spec, _reference(spec), executor, options)

    progress = Progress(len(submissions), stream=None if args.quiet else sys.stderr)
    try:
        with _sigterm_as_interrupt():
            outcome = grade_batch(spec, grader, submissions, args.out, batch, progress, salt=options.salt)
    except (ReferenceFailure, GradingProcessFailure) as exc:
        raise _CannotRun(str(exc)) from None
    except BatchInterrupted as stopped:
        print(f"grader: {stopped}. Every finished report is written; run the same command again to grade "
              f"the {stopped.left} left.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print()
    print(render_summary(spec, outcome.results, args.out))
    return EXIT_OK


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a container stopped) stops a batch as Ctrl-C does."""
    def interrupt(_signal: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_check(args: argparse.Namespace) -> int:
    from grader.ci import all_public_passed, render_check, self_check

    # ASSIGNMENT is the assignment folder (reference) or a student bundle (precomputed outputs).
    _, result = self_check(args.assignment, args.submission, student=args.student or "", only=args.only)
    print(render_check(result))
    return EXIT_OK if all_public_passed(result) else EXIT_FAILED_CHECKS


def _cmd_validate(args: argparse.Namespace) -> int:
    if args.schema_only:
        from grader.spec import load_assignment

        spec = load_assignment(args.assignment)
        print(f"{spec.title}: spec valid ({len(spec.questions)} questions, {spec.max_score:g} points); reference not run.")
        return EXIT_OK
    from grader.validate import render_validation, validate_assignment

    spec, reference = _load(args.assignment)
    report = validate_assignment(spec, reference)
    print(render_validation(spec, report))
    return EXIT_OK if report.ok else EXIT_FAILED_CHECKS


_COMMANDS = {"grade": _cmd_grade, "check": _cmd_check, "validate": _cmd_validate}


def _require_sandbox(unsafe: bool) -> None:
    """Instructor grading refuses to run student code unprotected, unless told --unsafe."""
    from grader.sandbox import probe
    from grader.sandbox.probe import FIX

    report = probe()
    if report.protected:
        return
    if not unsafe:
        raise _CannotRun(f"refusing to grade: no sandbox works on this machine ({report.summary.split('. ')[0].removeprefix('NOT protected: ')}), "
                         f"so student code could read the reference, the hidden cases and your files. To fix: {FIX}. "
                         "Or pass --unsafe to grade anyway.")
    print("grader: --unsafe: grading WITHOUT a sandbox; student code can read what this user can read", file=sys.stderr)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from grader.sandbox import probe

    report = probe()
    print(report.render())
    return EXIT_OK if report.protected else EXIT_FAILED_CHECKS


_COMMANDS["doctor"] = _cmd_doctor


def _student_ci_commands() -> dict:
    from grader.ci import COMMANDS

    return COMMANDS


_COMMANDS.update(_student_ci_commands())
