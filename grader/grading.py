"""Grade one submission: static rules, cases, one executor run, comparisons, scores.

Student code runs only inside the executor (another process); everything here is trusted and
only ever sees the plain data the executor decoded. Expected outputs come from an
`ExpectedSource` (grader.expected): the live reference, or a student bundle's precomputed data.

The two processes work at the same time: the student's process is started first (it imports the
module while this one analyses the source and plans the calls, then computes the reference's
outputs for the cases), and each check is judged as soon as its last call is answered, while the
student's process goes on with the next calls. The result is the same as judging everything at
the end (tests/test_examples_grading.py).

Hidden cases: what the student reads (`message`) names the function and the kind of input
(the spec's `generate.categories`), never the inputs or expected values; the full message,
inputs and expected output go to the instructor-only `CaseResult.instructor`.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from grader.cases import Case, CaseIdentity, NodeContext, fixed_cases, generated_cases
from grader.checkers.engine import compare, matches
from grader.checkers.formula import PointValues, compare_formula, matches_everywhere
from grader.executor import Call, CallOutcome, Executor, Limits, MapOutcomes, RunResult, StartedRun, start_run
from grader.expected import ExpectedSource, ReferenceFailure, Target
from grader.expected_cache import CachedExpected, Memo
from grader.expressions import ExpressionError, parse_expression
from grader.formula_domain import IntegerDomain, formula_points
from grader.results import CaseResult, CheckResult, QuestionResult, Status, SubmissionResult
from grader.scoring import check_max_scores, check_score, check_status, question_totals, submission_totals
from grader.spec import AssignmentSpec, QuestionSpec
from grader.spec.model import FormulaCheck, FunctionCheck, NamesCompare, ValueCheck
from grader.static_rules import ModuleSource, SourceError

MAX_SOURCE_BYTES = 1_000_000


@dataclass(frozen=True)
class Submission:
    id: str
    path: Path


@dataclass(frozen=True)
class GradingOptions:
    public_only: bool = False  # the student's self-check
    salt: str = ""  # secret part of hidden cases' seeds
    only: str = ""  # "1.1c", "1.1c/random" or "1.1c/random/random-3": run just that
    replay_prefix: str = ""  # e.g. "grader check problems/hw2": makes replay commands
    enforce_rules: bool = True  # off only for the trusted reference (`grader validate`)


@dataclass
class _PlannedCheck:
    """A check's cases and the calls it needs, before anything runs."""

    question: QuestionSpec
    spec: Any
    max_score: float
    cases: list[Case] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    blocked: tuple[Status, str] | None = None  # e.g. ("forbidden", "conv2d calls ...")
    points: list[dict[str, int]] = field(default_factory=list)  # formula checks
    expected: Memo = field(default_factory=Memo)  # case id -> the reference's output (or failure)


def run_limits(spec: AssignmentSpec) -> Limits:
    """The limits every run of a submission of `spec` gets (the spec's `limits`)."""
    model_limits = spec.model.limits
    return Limits(
        call_timeout_s=model_limits.call_timeout_s,
        import_timeout_s=model_limits.import_timeout_s,
        total_timeout_s=model_limits.total_timeout_s,
        memory_bytes=model_limits.memory_mb * 1024**2,
        cpu_s=model_limits.cpu_s,
        file_size_bytes=model_limits.file_size_mb * 1024**2,
        open_files=model_limits.open_files,
        processes=model_limits.processes,
    )


class Grader:
    """Grades submissions against one assignment. Holds the expected outputs' source; never student code."""

    def __init__(self, spec: AssignmentSpec, expected: ExpectedSource, executor: Executor, options: GradingOptions = GradingOptions()):
        self.spec, self.expected, self.executor, self.options = spec, expected, executor, options
        # What is the same for every student (public cases, formula points, their expected
        # outputs) is made once per class, not once per student (grader/expected_cache.py).
        self.expected, self._memo = CachedExpected.wrap(expected), Memo()
        self.limits = run_limits(spec)

    # ---- one submission ------------------------------------------------------------------

    def grade(self, submission: Submission) -> SubmissionResult:
        started = time.monotonic()
        try:
            result = self._grade(submission)
        except ReferenceFailure as exc:
            result = self._ungradable(submission, f"grader error (the assignment's reference failed, not your code): {exc}")
        result.duration_s = round(time.monotonic() - started, 3)
        return result

    def _grade(self, submission: Submission) -> SubmissionResult:
        data, source, problem = _read_source(submission.path)
        # The student's process starts now and imports the module while this one analyses the
        # source and plans the calls; it then runs exactly the bytes analysed here.
        started = None if problem else start_run(self.executor, submission.path, self.limits, data)
        try:
            return self._grade_started(submission, source, problem, started)
        finally:
            if started is not None:
                started.cancel()

    def _grade_started(self, submission: Submission, source: str, problem: str, started: StartedRun | None) -> SubmissionResult:
        module = None
        if not problem:
            try:
                module = ModuleSource.parse(source, str(submission.path))
            except SourceError as exc:
                problem = f"{submission.path.name}, line {exc.line}: {exc.message}" if exc.line else exc.message
        if problem or started is None:
            plans = self._plan(submission, module)
            return self._assemble(submission, plans, RunResult(outcomes={}), [problem], blanket=("error", problem))
        early = _EarlyChecks(self, submission)
        # Planned as the run asks for calls: the student's process starts on the first
        # question's calls while the next questions' rules and cases are worked out.
        run = started.perform(early.calls_of(self._plans(submission, module)), on_outcome=early.take,
                              on_idle=early.prepare_one)
        errors = [f"importing your module failed: {run.import_error}"] if run.import_error else []
        return self._assemble(submission, early.plans, run, errors, done=early.results)

    def _ungradable(self, submission: Submission, message: str) -> SubmissionResult:
        return SubmissionResult(submission.id, str(submission.path), self.spec.id, 0.0, self.spec.max_score, errors=[message], gradable=False)

    # ---- planning ------------------------------------------------------------------------

    def _plan(self, submission: Submission, module: ModuleSource | None) -> list[_PlannedCheck]:
        return list(self._plans(submission, module))

    def _plans(self, submission: Submission, module: ModuleSource | None) -> Iterator[_PlannedCheck]:
        """The checks to run, in the spec's order, each planned when asked for."""
        for question in self.spec.questions:
            if not self._selected(question.id):
                continue
            blocked = _rule_violations(question, module) if module and self.options.enforce_rules else {}
            weights = [check.weight for check in question.question.checks]
            for check, max_score in zip(question.question.checks, check_max_scores(question.points, weights)):
                if self._selected(question.id, check.id):
                    plan = self._plan_check(submission, question, check, max_score, blocked)
                    if (plan.cases or plan.points or isinstance(check, (ValueCheck, FormulaCheck))) and self._visible(plan):
                        yield plan

    def _selected(self, question: str, check: str | None = None) -> bool:
        parts = self.options.only.split("/") if self.options.only else []
        if parts and parts[0] != question:
            return False
        return check is None or len(parts) < 2 or parts[1] == check

    def _visible(self, plan: _PlannedCheck) -> bool:
        return not self.options.public_only or plan.spec.visibility == "public" and (plan.cases or not isinstance(plan.spec, FunctionCheck))

    def _plan_check(self, submission: Submission, question: QuestionSpec, check: Any, max_score: float, blocked: dict) -> _PlannedCheck:
        plan = _PlannedCheck(question, check, max_score)
        names = _student_names(check)
        violation = next((blocked[name] for name in names if name in blocked), None)
        if violation:
            plan.blocked = violation
        prefix = f"{question.id}/{check.id}"
        if isinstance(check, ValueCheck):
            plan.calls = [self._once(("get", prefix), True, lambda: Call(prefix, "get", check.name, shared=True))]
        elif isinstance(check, FunctionCheck):
            plan.cases = self._function_cases(submission, question, check)
            plan.calls = [] if plan.blocked else self._function_calls(prefix, check, plan.cases)
        else:
            plan.points = self._formula_points(submission, question, check)
            shared = check.visibility != "hidden"  # the same points, so the same calls, for all
            calls = [] if plan.blocked else self._once(("calls", prefix), shared, lambda: self._formula_calls(prefix, check, plan.points, shared))
            plan.calls = list(calls)
        return plan

    def _once(self, key: tuple, shared: bool, make: Callable[[], Any]) -> Any:
        """`make()`, made once per class (and kept) when `shared`: the same for every student."""
        return self._memo.get(key, make) if shared else make()

    def _function_calls(self, prefix: str, check: FunctionCheck, cases: list[Case]) -> list[Call]:
        """One call per case; the very same Call objects for every student when the cases are
        (shared: the executor may keep their encoded requests)."""
        def call(case: Case, shared: bool) -> Call:
            return Call(f"{prefix}/{case.id}", "call", check.name, case.args, case.kwargs, shared=shared)

        shared = _same_cases_for_all(check)
        return [self._once(("call", prefix, case.id), shared, lambda case=case: call(case, shared)) for case in cases]

    def cases(self, question: QuestionSpec, check: FunctionCheck, student: str) -> list[Case]:
        """Every case of a function check for this student (public ones are the same for all)."""
        return list(self._once(("cases", question.id, check.id), _same_cases_for_all(check), lambda: self._cases(question, check, student)))

    def _cases(self, question: QuestionSpec, check: FunctionCheck, student: str) -> list[Case]:
        ctx = NodeContext(self.spec.constants)
        cases = fixed_cases(check.cases, check.visibility, ctx)
        if check.generate is not None:
            identity = CaseIdentity(self.spec.id, question.id, check.id, student, self.options.salt)
            cases += generated_cases(check.generate, check.visibility, identity, self.spec.constants)
        return cases

    def formula_points(self, question: QuestionSpec, check: FormulaCheck, student: str) -> list[dict[str, int]]:
        """The integer points a formula check is evaluated at (student-independent when public)."""
        return self._once(("points", question.id, check.id), check.visibility != "hidden", lambda: self._points(question, check, student))

    def _points(self, question: QuestionSpec, check: FormulaCheck, student: str) -> list[dict[str, int]]:
        variables = list(check.domain.variables)
        constraints = tuple(parse_expression(w, variables, allow_comparisons=True) for w in check.domain.where)
        domain = IntegerDomain({n: (v.min, v.max) for n, v in check.domain.variables.items()}, constraints)
        identity = CaseIdentity(self.spec.id, question.id, check.id, student, self.options.salt)
        seed = identity.seed("points", check.visibility)
        return formula_points(domain, grid_max=check.domain.grid_max, random_count=check.domain.random_count, large_max=check.domain.large_max, seed=seed)

    def _function_cases(self, submission: Submission, question: QuestionSpec, check: FunctionCheck) -> list[Case]:
        cases = self.cases(question, check, submission.id)
        parts = self.options.only.split("/")
        if len(parts) == 3:
            cases = [case for case in cases if case.id == parts[2]]
        if self.options.public_only:
            cases = [case for case in cases if case.visibility == "public"]
        return cases

    def _formula_points(self, submission: Submission, question: QuestionSpec, check: FormulaCheck) -> list[dict[str, int]]:
        return self.formula_points(question, check, submission.id)

    @staticmethod
    def _formula_calls(prefix: str, check: FormulaCheck, points: list[dict[str, int]], shared: bool = False) -> list[Call]:
        variables = list(check.domain.variables)
        arg_tuples = tuple(tuple(point[v] for v in variables) for point in points)
        calls = []
        for answer in check.answers:
            if answer.function:
                calls.append(Call(f"{prefix}/function:{answer.function}", "map", answer.function, arg_tuples, shared=shared))
            else:
                calls.append(Call(f"{prefix}/expression:{answer.expression}", "get", answer.expression, shared=shared))
        return calls

    # ---- assembling results --------------------------------------------------------------

    def _assemble(self, submission: Submission, plans: list[_PlannedCheck], run: RunResult, errors: list[str],
                  blanket: tuple[Status, str] | None = None, done: dict[int, CheckResult] | None = None) -> SubmissionResult:
        """The submission's result; `done`: the checks already judged while the run went on."""
        blanket = blanket or (("error", f"your module could not be imported: {run.import_error}") if run.import_error else None)
        by_question: dict[str, list[CheckResult]] = {}
        for index, plan in enumerate(plans):
            check = (done or {}).get(index) or self._check_result(submission, plan, run.outcomes, blanket)
            by_question.setdefault(plan.question.id, []).append(check)
        questions = []
        for question in self.spec.questions:
            if question.id in by_question:
                questions.append(self._question_result(question, by_question[question.id], plans))
        score, max_score = submission_totals(questions)
        result = SubmissionResult(submission.id, str(submission.path), self.spec.id, score, max_score, questions, errors)
        result.stdout_tail, result.stderr_tail = run.stdout_tail, run.stderr_tail
        return result

    def _question_result(self, question: QuestionSpec, checks: list[CheckResult], plans: list[_PlannedCheck]) -> QuestionResult:
        score, max_score, status = question_totals(checks)
        messages = sorted({p.blocked[1] for p in plans if p.question.id == question.id and p.blocked})
        return QuestionResult(question.id, question.question.title, status, score, max_score, checks, messages)

    def _check_result(self, submission: Submission, plan: _PlannedCheck, outcomes: Mapping[str, CallOutcome], blanket: tuple[Status, str] | None) -> CheckResult:
        check = plan.spec
        blocked = plan.blocked or blanket
        if blocked:
            cases = [CaseResult(case.id, blocked[0], case.visibility, blocked[1], seed=case.seed) for case in plan.cases] or [CaseResult("answer", blocked[0], check.visibility, blocked[1])]
        elif isinstance(check, ValueCheck):
            cases = self._value_cases(plan, outcomes[plan.calls[0].id])
        elif isinstance(check, FunctionCheck):
            cases = [self._function_case(submission, plan, case, outcomes[call.id]) for case, call in zip(plan.cases, plan.calls)]
        else:
            cases = [self._formula_case(plan, outcomes)]
        if not blocked and not isinstance(check, FunctionCheck):
            for case in cases:
                if case.visibility != "public" and case.status != "passed":
                    _hide_from_student(case, ", ".join(_student_names(check)))
                elif case.status in ("failed", "error", "timeout"):
                    case.replay = self._replay(submission, plan, "")
        score = check_score(cases, plan.max_score, check.credit)
        return CheckResult(
            check.id, check.kind, ", ".join(_student_names(check)), check.description, check.visibility,
            check_status(cases), score, round(plan.max_score, 6), blocked[1] if blocked else "", check.feedback, cases,
        )

    # value checks

    def _value_cases(self, plan: _PlannedCheck, outcome: CallOutcome) -> list[CaseResult]:
        check: ValueCheck = plan.spec
        target = Target(plan.question.id, check.id)
        expected = self.expected.expected_value(target, check.expected, check.name)
        problem = _outcome_problem(outcome, check.name)
        if problem is None and outcome.value is None:
            problem = ("missing", f"{check.name} is still None (the starter file's placeholder): give your answer")
        if isinstance(check.compare, NamesCompare):
            return self._names_cases(target, check, outcome, expected, problem)
        if problem:
            return [CaseResult("value", problem[0], check.visibility, problem[1], traceback=outcome.traceback)]
        verdict = compare(check.compare, outcome.value, expected, show_values=False, label=check.name)
        case = CaseResult("value", "passed" if verdict.passed else "failed", check.visibility, _prefixed(check.name, verdict.message), details=verdict.details)
        if not verdict.passed:
            self._recognise(case, check, lambda mutant: self.expected.expected_value(target.of_mutant(mutant.id), mutant.value), outcome.value)
        return [case]

    def _names_cases(self, target: Target, check: ValueCheck, outcome: CallOutcome, expected: dict, problem: tuple[Status, str] | None) -> list[CaseResult]:
        if problem:
            return [CaseResult(key, problem[0], check.visibility, problem[1]) for key in expected]
        actual = outcome.value
        if not isinstance(actual, dict):
            message = f"{check.name} should be a dict with keys {', '.join(repr(k) for k in expected)}; got {type(actual).__name__}"
            return [CaseResult(key, "failed", check.visibility, message) for key in expected]
        cases = []
        for key, wanted in expected.items():
            if key not in actual:
                cases.append(CaseResult(key, "failed", check.visibility, f"{check.name} has no key {key!r}"))
                continue
            verdict = compare(check.compare, actual[key], wanted, show_values=False)
            case = CaseResult(key, "passed" if verdict.passed else "failed", check.visibility, _prefixed(f"{check.name}[{key!r}]", verdict.message))
            if not verdict.passed:
                self._recognise(case, check, lambda mutant, k=key: self.expected.expected_value(target.of_mutant(mutant.id), mutant.value).get(k), actual[key])
            cases.append(case)
        return cases

    # function checks

    def _function_case(self, submission: Submission, plan: _PlannedCheck, case: Case, outcome: CallOutcome) -> CaseResult:
        check: FunctionCheck = plan.spec
        target = Target(plan.question.id, check.id)
        result = CaseResult(case.id, "passed", case.visibility, seed=case.seed, description=case.description, categories=list(case.categories))
        public = case.visibility == "public"
        problem = _outcome_problem(outcome, check.name)
        expected: Any = None
        if problem:
            result.status, result.message, result.traceback = problem[0], problem[1], outcome.traceback
        else:
            expected = self._case_expected(plan, case)
            verdict = compare(check.compare, outcome.value, expected, show_values=public and check.show_expected, label=check.name)
            result.details = verdict.details
            if not verdict.passed:
                result.status = "failed"
                result.message = f"{_call_text(check.name, case)}: {verdict.message}"
                self._recognise(result, check, lambda mutant: self.expected.case_output(target.of_mutant(mutant.id), mutant.function, case), outcome.value)
                if not public:  # the instructor's copy: the same comparison with every value shown
                    full = compare(check.compare, outcome.value, expected, show_values=True, label=check.name)
                    result.instructor["message"] = f"{_call_text(check.name, case, full=True)}: {full.message}"
        if not public and result.status != "passed":
            if expected is None:  # the instructor's copy shows what was expected even when the code raised
                try:
                    expected = self._case_expected(plan, case)
                except ReferenceFailure:
                    pass
            result.instructor.update(_case_record(case, expected))
            _hide_from_student(result, check.name, outcome)
        if result.status in ("failed", "error", "timeout") and public:
            result.replay = self._replay(submission, plan, case.id)
        return result

    def _case_expected(self, plan: _PlannedCheck, case: Case) -> Any:
        """The reference's output for a function check's case: prepared while the student's
        process worked (_EarlyChecks.prepare_one), else computed now. Raises ReferenceFailure."""
        check: FunctionCheck = plan.spec
        target = Target(plan.question.id, check.id)
        return plan.expected.get(case.id, lambda: self.expected.case_output(target, check.reference or check.name, case))

    def _replay(self, submission: Submission, plan: _PlannedCheck, case_id: str) -> str:
        if not self.options.replay_prefix:
            return ""
        target = f"{plan.question.id}/{plan.spec.id}" + (f"/{case_id}" if case_id else "")
        return f"{self.options.replay_prefix} {_quote(str(submission.path))} --only {target}"

    def _recognise(self, case: CaseResult, check: Any, mutant_output: Callable[[Any], Any], actual: Any) -> None:
        """Name the known mistake the student's output matches, if any."""
        for mutant in check.mutants:
            try:
                output = mutant_output(mutant)
            except ReferenceFailure:  # a mutant undefined on this input (e.g. a shape it cannot handle)
                continue
            if matches(check.compare, actual, output):
                case.mistake, case.hint = mutant.id, mutant.hint.strip()
                case.message = _without_generic_hints(case.message)
                return

    # formula checks

    def _formula_case(self, plan: _PlannedCheck, outcomes: Mapping[str, CallOutcome]) -> CaseResult:
        check: FormulaCheck = plan.spec
        chosen = self._chosen_answer(plan, outcomes)
        if isinstance(chosen, CaseResult):
            return chosen
        actual = chosen
        target = Target(plan.question.id, check.id)
        expected = self._formula_values(target, check, check.expected.expression, check.expected.function, plan.points)
        verdict = compare_formula(plan.points, actual, expected)
        case = CaseResult("domain", "passed" if verdict.passed else "failed", check.visibility, verdict.message, details=verdict.details, description=check.description)
        if not verdict.passed:
            for mutant in check.mutants:
                if matches_everywhere(actual, self._formula_values(target.of_mutant(mutant.id), check, mutant.expression, mutant.function, plan.points)):
                    case.mistake, case.hint = mutant.id, mutant.hint.strip()
                    break
        return case

    def _chosen_answer(self, plan: _PlannedCheck, outcomes: Mapping[str, CallOutcome]) -> PointValues | CaseResult:
        """The first answer form the student gave (function, then expression), as values per point."""
        check: FormulaCheck = plan.spec
        for answer, call in zip(check.answers, plan.calls):
            outcome = outcomes[call.id]
            problem = _outcome_problem(outcome, call.name)
            if problem and problem[0] == "missing" or outcome.status == "ok" and outcome.value is None:
                continue
            if problem:
                return CaseResult("domain", problem[0], check.visibility, problem[1], traceback=outcome.traceback)
            if answer.function:
                return _point_values(outcome.value)
            return self._expression_values(check, call.name, outcome.value, plan.points)
        forms = " or ".join(a.function and f"a function {a.function}(...)" or f"a string {a.expression}" for a in check.answers)
        return CaseResult("domain", "missing", check.visibility, f"define {forms}")

    def _expression_values(self, check: FormulaCheck, name: str, text: Any, points: list[dict[str, int]]) -> PointValues | CaseResult:
        if not isinstance(text, str):
            return CaseResult("domain", "failed", check.visibility, f"{name} should be a string such as \"(I - K) // S\"; got {type(text).__name__}")
        try:
            expression = parse_expression(text, list(check.domain.variables))
        except ExpressionError as exc:
            return CaseResult("domain", "failed", check.visibility, f"{name} cannot be read: {exc}")
        return _evaluated_values(expression, points)

    def _formula_values(self, target: Target, check: FormulaCheck, expression: str | None, function: str | None, points: list[dict[str, int]]) -> list[int | Fraction]:
        # Public points are the same for all: so are these.
        return self._once(("values", target, expression, function), check.visibility != "hidden", lambda: self._values_at(target, check, expression, function, points))

    def _values_at(self, target: Target, check: FormulaCheck, expression: str | None, function: str | None, points: list[dict[str, int]]) -> list[int | Fraction]:
        if expression is not None:
            parsed = parse_expression(expression, list(check.domain.variables))
            values = parsed.evaluate_all(points)
            if None in values:
                raise ZeroDivisionError(f"{expression!r} divides by zero at a point of the domain")
            return values
        arguments = [tuple(p[v] for v in check.domain.variables) for p in points]
        return [_exact(value) for value in self.expected.point_values(target, function, arguments)]


class _EarlyChecks:
    """The plans as the run takes their calls, and each check judged as soon as the last of
    its calls is answered, while the student's process works on the next ones (StartedRun.
    perform's on_outcome). The result is the one Grader._assemble would give at the end: an
    outcome is only heard of when the module imported, so no blanket failure applies."""

    def __init__(self, grader: Grader, submission: Submission) -> None:
        self.grader, self.submission = grader, submission
        self.plans: list[_PlannedCheck] = []  # complete once the run took every call
        self.plan_of: dict[str, int] = {}
        self.waiting: list[int] = []
        self.outcomes: dict[str, CallOutcome] = {}
        self.results: dict[int, CheckResult] = {}
        self.preparing = self._prepare()

    def calls_of(self, plans: Iterator[_PlannedCheck]) -> Iterator[Call]:
        for plan in plans:
            index = len(self.plans)
            self.plans.append(plan)
            self.waiting.append(len(plan.calls))
            for call in plan.calls:
                self.plan_of[call.id] = index
                yield call

    def prepare_one(self) -> bool:
        """While the student's process works: the reference's output for the next function case
        not judged yet (hidden cases are the student's own, so computed per submission). False
        once there is none left. Called once every call is planned (StartedRun.perform)."""
        return next(self.preparing, False)

    def _prepare(self) -> Iterator[bool]:
        for index, plan in enumerate(self.plans):
            if plan.blocked or not isinstance(plan.spec, FunctionCheck):
                continue
            for case in plan.cases:
                if index in self.results:
                    break
                try:
                    self.grader._case_expected(plan, case)
                except ReferenceFailure:
                    pass  # remembered: raised when the case is judged, as it would be then
                yield True

    def take(self, call: Call, outcome: CallOutcome) -> None:
        self.outcomes[call.id] = outcome
        index = self.plan_of[call.id]
        self.waiting[index] -= 1
        if self.waiting[index] == 0:
            self.results[index] = self.grader._check_result(self.submission, self.plans[index], self.outcomes, None)


# ---- helpers ---------------------------------------------------------------------------------


def _same_cases_for_all(check: FunctionCheck) -> bool:
    """Whether a function check's cases are the same for every student (none is generated
    per student: fixed cases, or generated ones that are not hidden)."""
    return check.generate is None or (check.generate.visibility or check.visibility) != "hidden"


def _read_source(path: Path) -> tuple[bytes, str, str]:
    """(bytes, text, problem): the file as read once, for the analysis and for the run."""
    import os
    import stat

    # Never through a symlink (it could name the reference module or /dev/zero), never from a
    # FIFO or a device (a read that never ends), never more than the limit (+1 to notice).
    if path.is_symlink():
        return b"", "", f"{path.name} is a symbolic link; submit the file itself"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                return b"", "", f"{path.name} is not a regular file"
            data = file.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        return b"", "", f"cannot read {path}: {exc.strerror}"
    if len(data) > MAX_SOURCE_BYTES:
        return b"", "", f"{path.name} is {max(info.st_size, len(data))} bytes; the limit is {MAX_SOURCE_BYTES}"
    try:
        return data, data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return b"", "", f"{path.name} is not UTF-8 text (byte {exc.start}): save it as UTF-8"


def _student_names(check: Any) -> list[str]:
    if isinstance(check, FormulaCheck):
        return [a.function or a.expression for a in check.answers]
    return [check.name]


def _rule_violations(question: QuestionSpec, module: ModuleSource) -> dict[str, tuple[Status, str]]:
    """Student function name → ("forbidden", message) for every rule it breaks."""
    violations = []
    for rule in question.question.forbid:
        violations += module.forbid(rule.functions, rule.names, rule.reason)
    for rule in question.question.require:
        violations += module.require(rule.functions, rule.calls, rule.reason)
    blocked: dict[str, tuple[Status, str]] = {}
    for violation in violations:
        blocked.setdefault(violation.function, ("forbidden", violation.message))
    return blocked


_PROBLEM_STATUS: dict[str, Status] = {
    "missing": "missing",
    "timeout": "timeout",
    "error": "error",
    "crashed": "error",
    "unencodable": "error",
    "malformed": "error",
    "skipped": "error",
}


def _outcome_problem(outcome: CallOutcome, name: str) -> tuple[Status, str] | None:
    if outcome.status == "ok":
        return None
    status = _PROBLEM_STATUS.get(outcome.status, "error")
    if outcome.status == "skipped" and "timed out" in outcome.error:
        status = "timeout"
    if outcome.status == "missing":
        return status, outcome.error or f"{name} is not defined in your module"
    return status, outcome.error or f"{name}: {outcome.status}"


def _point_values(items: Sequence[Any]) -> PointValues:
    if isinstance(items, MapOutcomes):  # values and failures as they are (no object per point)
        return PointValues(list(items.values), {i: o.error or o.status for i, o in items.failures.items()})
    values = [item.value if isinstance(item, CallOutcome) else item for item in items]
    errors = {i: item.error or item.status for i, item in enumerate(items) if isinstance(item, CallOutcome) and item.status != "ok"}
    for i in errors:
        values[i] = None
    return PointValues(values, errors)


def _evaluated_values(expression: Any, points: list[dict[str, int]]) -> PointValues:
    values = expression.evaluate_all(points)  # whole numbers as ints, None where x/0
    if None not in values:
        return PointValues(values)
    return PointValues(values, {i: "ZeroDivisionError: division by zero" for i, value in enumerate(values) if value is None})


def _exact(value: Any) -> int | Fraction:
    """Exact, with whole numbers as ints (compared with the student's ints in one list ==)."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else value


def _without_generic_hints(message: str) -> str:
    """A recognised mistake explains the failure better than the array checker's generic guess."""
    return "\n".join(line for line in message.splitlines() if not line.lstrip().startswith("hint:"))


def _prefixed(name: str, message: str) -> str:
    return f"{name}: {message}" if message else ""


def _call_text(name: str, case: Case, full: bool = False) -> str:
    if case.visibility != "public" and not full:
        kinds = f" ({', '.join(case.categories)})" if case.categories else ""
        return f"{name} on a hidden case{kinds}"
    args = [_arg_text(a) for a in case.args] + [f"{k}={_arg_text(v)}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(args)})"


# ---- hidden cases: what the student reads, what the instructor keeps ----------------------------

_BUILTIN_EXCEPTIONS = frozenset(n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException))
_HIDDEN_OUTCOME_TEXT = {  # the executor's outcome, in words that carry nothing the code chose
    "timeout": "timed out",
    "crashed": "the process crashed or was killed (a memory or CPU limit?)",
    "skipped": "not run: an earlier call ended the process",
    "unencodable": "returned something that is not plain data (numbers, arrays, lists)",
    "malformed": "returned something that is not plain data (numbers, arrays, lists)",
}
_HIDDEN_FAILURE_TEXT = {
    "values": "wrong values",
    "shape": "the output has the wrong shape",
    "type": "the output is not an array of numbers of the right kind",
}


def _hide_from_student(result: CaseResult, name: str, outcome: CallOutcome | None = None) -> None:
    """Keep the full text for the instructor; leave the student a category-level message.

    Nothing the submission controls is echoed (an exception's text or a traceback could carry
    the hidden inputs), and nothing derived from the expected output beyond counts.
    """
    result.instructor.setdefault("message", result.message)
    if result.traceback:
        result.instructor["traceback"] = result.traceback
    kinds = f" ({', '.join(result.categories)})" if result.categories else ""
    where = f"{name} on a hidden case{kinds}" if result.categories or outcome is not None else f"{name} (hidden check)"
    details = result.details or {}
    if result.status == "failed":
        failure = details.get("failure")
        text = _HIDDEN_FAILURE_TEXT.get(str(failure), "wrong")
        if failure == "values" and details.get("wrong_count") is not None:
            text += f" ({details['wrong_count']} of {details.get('total')} entries differ)"
        elif "wrong_count" in details and "points" in details:  # a formula
            text = f"wrong at {details['wrong_count']} of {details['points']} points"
        hints = [line.strip() for line in result.message.splitlines()[1:] if line.strip().startswith("hint:")]
        result.message = "\n".join([f"{where}: {text}", *hints])
    elif result.status in ("error", "timeout") and outcome is not None:
        result.message = f"{where}: {_HIDDEN_OUTCOME_TEXT.get(outcome.status, 'the call failed')}"
        if outcome.status == "error":
            kind = (outcome.error or "").split(":", 1)[0].strip()
            result.message = f"{where}: raised {kind if kind in _BUILTIN_EXCEPTIONS else 'an exception'}"
    elif result.status in ("error", "timeout"):
        result.message = f"{where}: {result.status}"
    result.traceback = ""


def _case_record(case: Case, expected: Any) -> dict[str, Any]:
    """A hidden case in full, as JSON-ready data, for the instructor's copy of the result."""
    record: dict[str, Any] = {"seed": case.seed, "variables": dict(case.variables), "args": _jsonable(list(case.args))}
    if case.kwargs:
        record["kwargs"] = _jsonable(case.kwargs)
    if expected is not None:
        record["expected"] = _jsonable(expected)
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _arg_text(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{' × '.join(map(str, shape))} array>"
    return repr(value)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
