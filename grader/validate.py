"""`grader validate`: the spec is valid, the reference passes every check, every mutant fails.

Mutants test the tests: each declared mistake, substituted for the reference's answer, must
lose points on the check that declares it, and should be recognised (its hint shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.executor.trusted import MISSING, TrustedModuleExecutor
from grader.expected import Reference
from grader.grading import Grader, GradingOptions, Submission
from grader.results import CheckResult, SubmissionResult
from grader.spec import AssignmentSpec
from grader.spec.model import FormulaCheck, FunctionCheck, ValueCheck
from grader.writers.markdown import points


@dataclass(frozen=True)
class MutantOutcome:
    question: str
    check: str
    mutant: str
    caught: bool  # the check lost points
    recognised: bool  # the report names this mistake
    score: float
    max_score: float


@dataclass
class ValidationReport:
    reference: SubmissionResult
    mutants: list[MutantOutcome] = field(default_factory=list)

    @property
    def reference_passes(self) -> bool:
        return self.reference.gradable and self.reference.score == self.reference.max_score

    @property
    def ok(self) -> bool:
        return self.reference_passes and all(m.caught for m in self.mutants)


def validate_assignment(spec: AssignmentSpec, reference: Reference) -> ValidationReport:
    submission = Submission("reference", spec.reference_path)
    base = GradingOptions(enforce_rules=False)
    reference_result = Grader(spec, reference, TrustedModuleExecutor(reference.module), base).grade(submission)
    report = ValidationReport(reference_result)
    for question in spec.questions:
        for check in question.question.checks:
            for mutant in check.mutants:
                overrides = _mutant_overrides(check, mutant, reference)
                options = GradingOptions(enforce_rules=False, only=f"{question.id}/{check.id}")
                grader = Grader(spec, reference, TrustedModuleExecutor(reference.module, overrides), options)
                result = grader.grade(submission)
                report.mutants.append(_outcome(question.id, check.id, mutant.id, result))
    return report


def _mutant_overrides(check: Any, mutant: Any, reference: Reference) -> dict[str, Any]:
    if isinstance(check, ValueCheck):
        return {check.name: reference.value(mutant.value)}
    if isinstance(check, FunctionCheck):
        return {check.name: getattr(reference.module, mutant.function)}
    assert isinstance(check, FormulaCheck)
    overrides: dict[str, Any] = {a.function: MISSING for a in check.answers if a.function}
    overrides.update({a.expression: MISSING for a in check.answers if a.expression})
    if mutant.expression is not None:
        expression_answer = next((a.expression for a in check.answers if a.expression), None)
        if expression_answer is None:
            raise ValueError(f"mutant {mutant.id} is an expression but {check.id} accepts no expression answer")
        overrides[expression_answer] = mutant.expression
    else:
        function_answer = next(a.function for a in check.answers if a.function)
        overrides[function_answer] = getattr(reference.module, mutant.function)
    return overrides


def _outcome(question_id: str, check_id: str, mutant_id: str, result: SubmissionResult) -> MutantOutcome:
    check = _find_check(result, question_id, check_id)
    if check is None:
        return MutantOutcome(question_id, check_id, mutant_id, False, False, 0.0, 0.0)
    recognised = any(case.mistake == mutant_id for case in check.cases)
    return MutantOutcome(question_id, check_id, mutant_id, check.score < check.max_score, recognised, check.score, check.max_score)


def _find_check(result: SubmissionResult, question_id: str, check_id: str) -> CheckResult | None:
    for question in result.questions:
        for check in question.checks:
            if question.id == question_id and check.id == check_id:
                return check
    return None


def render_validation(spec: AssignmentSpec, report: ValidationReport) -> str:
    lines = [f"{spec.title}: spec valid ({len(spec.questions)} questions, {points(spec.max_score)} points)."]
    ref = report.reference
    verdict = "passes every check" if report.reference_passes else "FAILS"
    lines.append(f"Reference: {points(ref.score)} / {points(ref.max_score)}: {verdict}.")
    for error in ref.errors:
        lines.append(f"  {error}")
    for question in ref.questions:
        for check in question.checks:
            for case in check.cases:
                if case.status != "passed":
                    lines.append(f"  {question.id}/{check.id}/{case.id}: {case.status}: {case.message}")
    caught = sum(m.caught for m in report.mutants)
    lines.append(f"Mutants: {caught} of {len(report.mutants)} caught.")
    for m in report.mutants:
        mark = "caught" if m.caught else "NOT CAUGHT"
        named = "named in the report" if m.recognised else "not recognised (no hint shown)"
        lines.append(f"  {m.question}/{m.check} {m.mutant}: {mark} ({points(m.score)} / {points(m.max_score)}), {named}")
    lines.append("Valid." if report.ok else "INVALID: fix the reference or add cases that catch the mutants above.")
    return "\n".join(lines)
