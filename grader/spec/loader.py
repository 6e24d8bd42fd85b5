"""Load and validate an assignment folder: assignment.yaml, one YAML per question, the reference.

Every problem is reported as file:line: field: message, with how to fix it, and all problems of
a spec are reported at once. Validation never imports the reference (no torch at start-up): the
names it must define are checked on its source.

A student bundle (grader.bundle) has no reference: `load_assignment(folder, bundle=True)` skips
the reference's file and names (the bundle's expected outputs were computed from it when the
bundle was made) and validates everything else as usual. Only the bundle loader asks for it;
`grade` and `validate` always load a real assignment, reference included.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from grader.ast_lock import parse_python
from grader.cases import CaseError, NodeContext, evaluate, parse_constraints, prepare_constants, reference_calls
from grader.expressions import ExpressionError, parse_expression
from grader.spec import model as m
from grader.spec.yaml_lines import LineMap, YamlError, load_yaml

ASSIGNMENT_FILE = "assignment.yaml"


@dataclass(frozen=True)
class SpecProblem:
    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SpecError(Exception):
    """The spec is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class QuestionSpec:
    entry: m.QuestionEntry
    question: m.Question
    file: Path
    lines: LineMap

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def points(self) -> float:
        return self.entry.points


@dataclass(frozen=True)
class AssignmentSpec:
    root: Path
    model: m.Assignment
    questions: tuple[QuestionSpec, ...]
    constants: dict[str, Any]

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def reference_path(self) -> Path:
        return self.root / self.model.reference

    @property
    def template_path(self) -> Path:
        return self.root / self.model.template

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    @cached_property
    def files(self) -> list[Path]:
        """Every file of the assignment's folder: the spec, the reference and whatever it may
        read (a helper module, a data file). What the cache key hashes and the Gradescope zip
        ships, so the two never disagree."""
        return content_files(self.root)

    @cached_property
    def content_hash(self) -> str:
        """A hash of the assignment's files (`files`), by path and content."""
        import hashlib

        digest = hashlib.sha256()
        for path in self.files:
            data = path.read_bytes()
            digest.update(f"{path.relative_to(self.root).as_posix()}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.hexdigest()


def content_files(root: Path) -> list[Path]:
    """The files under `root`, sorted; caches (`__pycache__`) and hidden files and folders
    (`.git`, `.DS_Store`...) left out."""

    def counted(path: Path) -> bool:
        parts = path.relative_to(root).parts
        return path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in parts)

    return sorted(path for path in root.rglob("*") if counted(path))


def load_assignment(folder: str | Path, *, bundle: bool = False) -> AssignmentSpec:
    """Load and validate; raises SpecError listing every problem.

    bundle=True: a student bundle, which has no reference module (see the module docstring).
    """
    root = Path(folder)
    if root.is_file() and root.name == ASSIGNMENT_FILE:
        root = root.parent
    assignment_file = root / ASSIGNMENT_FILE
    if not assignment_file.is_file():
        raise SpecError([SpecProblem(assignment_file, None, "", f"no {ASSIGNMENT_FILE} here: give the assignment's folder, e.g. problems/hw2")])
    assignment, lines = _load_model(assignment_file, m.Assignment)
    problems: list[SpecProblem] = []
    reference_names = None if bundle else _reference_names(root, assignment, lines, problems)
    _check_file_exists(root / assignment.template, assignment_file, lines, ("template",), problems)
    constants = prepare_constants(assignment.constants)
    questions = []
    for index, entry in enumerate(assignment.questions):
        question_file = root / entry.file
        if not question_file.is_file():
            problems.append(SpecProblem(assignment_file, lines.line_of(("questions", index, "file")), f"questions[{index}].file", f"{entry.file} does not exist in {root}"))
            continue
        try:
            question, question_lines = _load_model(question_file, m.Question)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        spec = QuestionSpec(entry, question, question_file, question_lines)
        problems.extend(_question_problems(spec, constants, reference_names))
        questions.append(spec)
    problems.extend(_duplicate_ids(assignment, assignment_file, lines))
    if problems:
        raise SpecError(_without_repeats(problems))
    return AssignmentSpec(root, assignment, tuple(questions), constants)


def _without_repeats(problems: list[SpecProblem]) -> list[SpecProblem]:
    """A YAML anchor reused in several places reports its problem once, at the anchor's line."""
    seen: set[tuple] = set()
    unique = []
    for problem in problems:
        key = (problem.file, problem.line, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


# ---- schema ------------------------------------------------------------------------------


def _load_model(file: Path, model: type[BaseModel]) -> tuple[Any, LineMap]:
    try:
        data, lines = load_yaml(file)
    except YamlError as exc:
        raise SpecError([SpecProblem(file, exc.line, "", exc.message)]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(file, 1, "", f"expected a mapping of fields at the top, got {type(data).__name__}")])
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise SpecError([_problem_from_pydantic(file, data, lines, error) for error in exc.errors()]) from None


def _problem_from_pydantic(file: Path, data: Any, lines: LineMap, error: dict) -> SpecProblem:
    path = _data_path(data, error["loc"])
    discriminator = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
    if error["type"] in ("union_tag_invalid", "union_tag_not_found") and discriminator:
        path = (*path, discriminator)
    field = _field_name(path)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = _unknown_field_message(str(path[-1]))
    elif error["type"] == "missing":
        message = "this field is required"
    elif error["type"] == "union_tag_invalid":
        message = f"{message}; e.g. `kind: function`"
    return SpecProblem(file, lines.line_of(path), field, message)


def _data_path(data: Any, loc: Iterable[Any]) -> tuple[str | int, ...]:
    """pydantic's loc includes union tags ("function", "array") that are not in the data: drop them."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and _is_union_tag(part):
            continue
        else:  # a missing or unknown field: name it and stop
            path.append(part)
            break
        path.append(part)
    return tuple(path)


_UNION_TAGS = {"value", "function", "formula", "array", "shape", "number", "names", "list[int]", "Choice"}


def _is_union_tag(part: str) -> bool:
    return part in _UNION_TAGS or part.startswith(("list[", "function-"))


def _field_name(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for obj in vars(m).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            names.update(obj.model_fields)
    return names


def _unknown_field_message(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(_all_field_names()), n=1)
    hint = f"; did you mean `{close[0]}`?" if close else "; see docs/spec-format.md for the fields"
    return f"unknown field `{name}`{hint}"


# ---- semantic checks ------------------------------------------------------------------


def _reference_names(root: Path, assignment: m.Assignment, lines: LineMap, problems: list[SpecProblem]) -> set[str] | None:
    path = root / assignment.reference
    if not _check_file_exists(path, root / ASSIGNMENT_FILE, lines, ("reference",), problems):
        return None
    try:
        tree = parse_python(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        problems.append(SpecProblem(path, exc.lineno, "", f"the reference has a syntax error: {exc.msg}"))
        return None
    return _top_level_names(tree)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _check_file_exists(path: Path, spec_file: Path, lines: LineMap, field: tuple, problems: list[SpecProblem]) -> bool:
    if path.is_file():
        return True
    problems.append(SpecProblem(spec_file, lines.line_of(field), _field_name(field), f"{path} does not exist"))
    return False


def _duplicate_ids(assignment: m.Assignment, file: Path, lines: LineMap) -> list[SpecProblem]:
    seen: set[str] = set()
    problems = []
    for index, entry in enumerate(assignment.questions):
        if entry.id in seen:
            problems.append(SpecProblem(file, lines.line_of(("questions", index, "id")), f"questions[{index}].id", f"question id {entry.id!r} is listed twice"))
        seen.add(entry.id)
    return problems


class _QuestionValidator:
    """Cross-field checks of one question; collects problems with their lines."""

    def __init__(self, spec: QuestionSpec, constants: dict[str, Any], reference_names: set[str] | None):
        self.spec, self.constants, self.reference_names = spec, constants, reference_names
        self.problems: list[SpecProblem] = []

    def add(self, path: tuple, message: str) -> None:
        self.problems.append(SpecProblem(self.spec.file, self.spec.lines.line_of(path), _field_name(path), message))

    def run(self) -> list[SpecProblem]:
        question = self.spec.question
        if question.id != self.spec.entry.id:
            self.add(("id",), f"the question file says id {question.id!r} but assignment.yaml lists it as {self.spec.entry.id!r}")
        self._unique([c.id for c in question.checks], ("checks",), "check id")
        for index, check in enumerate(question.checks):
            self._check(check, ("checks", index))
        return self.problems

    def _unique(self, ids: list[str], path: tuple, what: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(ids):
            if item in seen:
                self.add((*path, index, "id"), f"{what} {item!r} is used twice: ids must be unique")
            seen.add(item)

    def _reference_name(self, name: str | None, path: tuple) -> None:
        if name is None or self.reference_names is None or name in self.reference_names:
            return
        close = difflib.get_close_matches(name, sorted(self.reference_names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.add(path, f"the reference module does not define {name!r}{hint}: add it to the reference or fix the name")

    def _calls_in(self, node: Any, path: tuple) -> None:
        for name, sub in reference_calls(node):
            self._reference_name(name, (*path, *sub))

    def _check(self, check: Any, path: tuple) -> None:
        for index, mutant in enumerate(check.mutants):
            self._reference_name(mutant.function, (*path, "mutants", index, "function"))
            self._calls_in(mutant.value, (*path, "mutants", index, "value"))
        self._unique([mt.id for mt in check.mutants], (*path, "mutants"), "mutant id")
        if isinstance(check, m.ValueCheck):
            if check.expected is None:
                self._reference_name(check.name, (*path, "name"))
            self._calls_in(check.expected, (*path, "expected"))
        elif isinstance(check, m.FunctionCheck):
            self._function_check(check, path)
        else:
            self._formula_check(check, path)

    def _function_check(self, check: m.FunctionCheck, path: tuple) -> None:
        self._reference_name(check.reference or check.name, (*path, "reference" if check.reference else "name"))
        self._unique([c.id for c in check.cases], (*path, "cases"), "case id")
        ctx = NodeContext(self.constants)
        for index, case in enumerate(check.cases):
            try:
                evaluate(case.args, ctx)
                evaluate(case.kwargs, ctx)
            except CaseError as exc:
                self.add((*path, "cases", index, *exc.path), exc.message)
        if check.generate is not None:
            self._generate(check.generate, (*path, "generate"))

    def _generate(self, generate: m.Generate, path: tuple) -> None:
        try:
            parse_constraints(generate.where, list(generate.variables))
        except CaseError as exc:
            self.add((*path, *exc.path), exc.message)
            return
        from grader.cases import CaseIdentity, generated_cases

        probe = m.Generate.model_validate({**generate.model_dump(), "count": 1})
        try:
            generated_cases(probe, "public", CaseIdentity("validate", "", "", ""), self.constants)
        except CaseError as exc:
            self.add((*path, *exc.path), exc.message)

    def _formula_check(self, check: m.FormulaCheck, path: tuple) -> None:
        variables = list(check.domain.variables)
        for index, text in enumerate(check.domain.where):
            self._expression(text, variables, (*path, "domain", "where", index), comparisons=True)
        if check.expected.expression is not None:
            self._expression(check.expected.expression, variables, (*path, "expected", "expression"))
        self._reference_name(check.expected.function, (*path, "expected", "function"))
        for index, mutant in enumerate(check.mutants):
            if mutant.expression is not None:
                self._expression(mutant.expression, variables, (*path, "mutants", index, "expression"))
        for name, var in check.domain.variables.items():
            if var.max is not None and var.max < var.min:
                self.add((*path, "domain", "variables", name), f"max {var.max} is below min {var.min}")

    def _expression(self, text: str, variables: list[str], path: tuple, comparisons: bool = False) -> None:
        try:
            parse_expression(text, variables, allow_comparisons=comparisons)
        except ExpressionError as exc:
            self.add(path, str(exc))


def _question_problems(spec: QuestionSpec, constants: dict[str, Any], reference_names: set[str] | None) -> list[SpecProblem]:
    return _QuestionValidator(spec, constants, reference_names).run()
