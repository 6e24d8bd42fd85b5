"""The typed model of an assignment spec. docs/spec-format.md documents every field.

Values inside `args`, `expected` and mutant `value` are *value nodes*, interpreted by
grader.cases: literals, `{const: NAME}`, `{var: NAME}`, `{expr: "..."}`, `{tuple: [...]}`,
`{array: [dims], values: {...}}`, `{call: NAME, args: [...]}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Visibility = Literal["public", "hidden"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- comparison policies -------------------------------------------------------------------


class ArrayCompare(Strict):
    type: Literal["array"] = "array"
    rtol: float = Field(1e-7, ge=0)
    atol: float = Field(1e-9, ge=0)
    float32_rtol: float = Field(1e-4, ge=0)
    float32_atol: float = Field(1e-5, ge=0)


class ShapeCompare(Strict):
    """A shape given as a tuple/list of ints or a string such as "3x3", "3 × 3", "(3, 3)"."""

    type: Literal["shape"]


class NumberCompare(Strict):
    """A number; strings such as "1", "inf", "infinity", "∞" are read as numbers."""

    type: Literal["number"]
    rtol: float = Field(0.0, ge=0)
    atol: float = Field(1e-9, ge=0)


class NamesCompare(Strict):
    """A mapping of keys to names (or classes); each key is its own case."""

    type: Literal["names"]
    strip_prefixes: list[str] = []
    case_sensitive: bool = True


CompareSpec = Annotated[
    Union[ArrayCompare, ShapeCompare, NumberCompare, NamesCompare], Field(discriminator="type")
]


# ---- cases ---------------------------------------------------------------------------------


class FixedCase(Strict):
    id: Slug
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    visibility: Visibility | None = None
    description: str = ""


class Choice(Strict):
    choice: list[int | float] = Field(min_length=1)


IntRange = Annotated[list[int], Field(min_length=2, max_length=2)]


class Generate(Strict):
    count: int = Field(ge=1, le=1000)
    variables: dict[Identifier, Union[IntRange, Choice]] = {}
    where: list[str] = []
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    visibility: Visibility | None = None
    description: str = ""
    # name -> condition over the variables, e.g. {"stride > 1": "S > 1"}: how a hidden case is
    # described to students instead of its inputs.
    categories: dict[str, str] = {}

    @model_validator(mode="after")
    def _ranges_ordered(self) -> "Generate":
        for name, domain in self.variables.items():
            if isinstance(domain, list) and domain[0] > domain[1]:
                raise ValueError(f"variable {name}: low {domain[0]} is above high {domain[1]}")
        return self


class FormulaVariable(Strict):
    min: int
    max: int | None = None


class FormulaDomain(Strict):
    variables: dict[Identifier, FormulaVariable] = Field(min_length=1)
    where: list[str] = []
    grid_max: int = Field(6, ge=1, le=20)
    random_count: int = Field(200, ge=0, le=5000)
    large_max: int = Field(10**6, ge=1)


# ---- mutants -------------------------------------------------------------------------------


class Mutant(Strict):
    """A classic mistake: a wrong answer (value, reference function or expression) and its hint."""

    id: Slug
    hint: str = Field(min_length=1)
    value: Any = None
    function: Identifier | None = None
    expression: str | None = None


# ---- checks --------------------------------------------------------------------------------


class CheckBase(Strict):
    id: Slug
    weight: float = Field(1.0, gt=0)
    visibility: Visibility = "public"
    description: str = ""
    credit: Literal["proportional", "all_or_nothing"] = "proportional"
    feedback: str = ""
    mutants: list[Mutant] = []
    # False: failures never print the expected output (e.g. when it is another question's answer).
    show_expected: bool = True


class ValueCheck(CheckBase):
    """A module-level constant compared with an expected value."""

    kind: Literal["value"]
    name: Identifier
    expected: Any = None
    compare: CompareSpec

    @model_validator(mode="after")
    def _mutants_are_values(self) -> "ValueCheck":
        for mutant in self.mutants:
            if mutant.value is None or mutant.function or mutant.expression:
                raise ValueError(f"mutant {mutant.id}: a value check's mutant gives `value` only")
        return self


class FunctionCheck(CheckBase):
    """A student function called on fixed and generated cases, compared with the reference."""

    kind: Literal["function"]
    name: Identifier
    reference: Identifier | None = None
    cases: list[FixedCase] = []
    generate: Generate | None = None
    compare: ArrayCompare = ArrayCompare()

    @model_validator(mode="after")
    def _has_cases_and_function_mutants(self) -> "FunctionCheck":
        if not self.cases and self.generate is None:
            raise ValueError("give `cases`, `generate`, or both")
        for mutant in self.mutants:
            if not mutant.function or mutant.value is not None or mutant.expression:
                raise ValueError(f"mutant {mutant.id}: a function check's mutant gives `function` only")
        return self


class FormulaAnswer(Strict):
    """One accepted form of the answer: a student function, or a constant holding an expression."""

    function: Identifier | None = None
    expression: Identifier | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "FormulaAnswer":
        if (self.function is None) == (self.expression is None):
            raise ValueError("give exactly one of `function` or `expression`")
        return self


class FormulaExpected(Strict):
    expression: str | None = None
    function: Identifier | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "FormulaExpected":
        if (self.function is None) == (self.expression is None):
            raise ValueError("give exactly one of `function` (in the reference) or `expression`")
        return self


class FormulaCheck(CheckBase):
    """An integer formula, checked over a constrained integer domain."""

    kind: Literal["formula"]
    answers: list[FormulaAnswer] = Field(min_length=1)
    expected: FormulaExpected
    domain: FormulaDomain

    @model_validator(mode="after")
    def _mutants_are_formulas(self) -> "FormulaCheck":
        for mutant in self.mutants:
            if (mutant.expression is None) == (mutant.function is None) or mutant.value is not None:
                raise ValueError(f"mutant {mutant.id}: a formula mutant gives `expression` or `function`")
        return self


Check = Annotated[Union[ValueCheck, FunctionCheck, FormulaCheck], Field(discriminator="kind")]


# ---- rules, questions, assignment ---------------------------------------------------------


class ForbidRule(Strict):
    functions: list[Identifier] = Field(min_length=1)
    names: list[str] = Field(min_length=1)
    reason: str = ""


class RequireRule(Strict):
    functions: list[Identifier] = Field(min_length=1)
    calls: list[Identifier] = Field(min_length=1)
    reason: str = ""


class Question(Strict):
    id: Slug
    title: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    checks: list[Check] = Field(min_length=1)
    forbid: list[ForbidRule] = []
    require: list[RequireRule] = []


class QuestionEntry(Strict):
    id: Slug
    file: str
    points: float = Field(gt=0)


class LimitsSpec(Strict):
    call_timeout_s: float = Field(10.0, gt=0, le=600)
    import_timeout_s: float = Field(30.0, gt=0, le=600)
    total_timeout_s: float = Field(120.0, gt=0, le=3600)
    memory_mb: int = Field(2048, ge=256)
    # These may only tighten the sandbox's defaults (grader/executor/base.py, Limits).
    cpu_s: int = Field(120, ge=1, le=120)  # RLIMIT_CPU, per process
    file_size_mb: int = Field(64, ge=1, le=64)  # RLIMIT_FSIZE (files and captured output)
    open_files: int = Field(256, ge=64, le=256)  # RLIMIT_NOFILE
    processes: int = Field(64, ge=16, le=64)  # RLIMIT_NPROC: tasks (threads too) of the worker's uid


class Assignment(Strict):
    id: Slug
    title: str = Field(min_length=1)
    reference: str = "reference.py"
    template: str = "template.py"
    submission_file: str = "hw2.py"
    constants: dict[Identifier, Any] = {}
    questions: list[QuestionEntry] = Field(min_length=1)
    limits: LimitsSpec = LimitsSpec()
