"""Points: per check from its weight within the question, per question from the assignment."""

from __future__ import annotations

from grader.results import CaseResult, CheckResult, QuestionResult, Status, worst_status


def check_max_scores(points: float, weights: list[float]) -> list[float]:
    total = sum(weights)
    return [points * weight / total for weight in weights]


def check_score(cases: list[CaseResult], max_score: float, credit: str) -> float:
    if not cases:
        return 0.0
    passed = sum(case.status == "passed" for case in cases)
    if credit == "all_or_nothing":
        return max_score if passed == len(cases) else 0.0
    return round(max_score * passed / len(cases), 6)


def check_status(cases: list[CaseResult]) -> Status:
    if not cases:
        return "error"
    return worst_status([case.status for case in cases])


# Check scores carry 6 decimals; totals are rounded to 4 so that 7 × 3/7 points add up to 3.
TOTAL_DECIMALS = 4


def question_totals(checks: list[CheckResult]) -> tuple[float, float, Status]:
    score = round(sum(check.score for check in checks), TOTAL_DECIMALS)
    max_score = round(sum(check.max_score for check in checks), TOTAL_DECIMALS)
    return score, max_score, worst_status([check.status for check in checks])


def submission_totals(questions: list[QuestionResult]) -> tuple[float, float]:
    return round(sum(q.score for q in questions), TOTAL_DECIMALS), round(sum(q.max_score for q in questions), TOTAL_DECIMALS)
