"""The student bundle: what an instructor hands out so students can self-check offline.

`grader bundle problems/hw2 --out DIR` writes

    DIR/assignment.yaml        the public part of the spec: id, title, constants the public checks
                               use, questions (points: the public checks' share), limits; no reference
    DIR/questions/ID.yaml      each question with its public checks only (hidden checks, hidden
                               cases and their categories removed)
    DIR/template.py            the starter module
    DIR/expected/Q/CHECK.json  precomputed expected and known-mistake (mutant) outputs of the public
    DIR/expected/Q/CHECK/*.npy   cases, formula values at the public points; arrays as .npy files
                               (never pickled), everything else as tagged JSON
    DIR/bundle.json            the manifest (format, assignment, grader version, withheld checks)
    DIR/SHA256SUMS             SHA-256 of every other file, in `sha256sum -c` format

No reference source, no hidden check, no hidden case, no salt. `grader check DIR hw2.py` grades
against `BundleExpected`, the precomputed `ExpectedSource`, through the same Grader as grading.

Withheld answers. A value check's expected value *is* the answer (CONV_OUTPUT, the module names,
the shape), and so is a function check marked `show_expected: false` (its expected output is
another question's answer). A bundle is data on the student's disk: anything it can verify
offline, a student can read or search for. So by default these checks are not in the bundle;
self-check lists them as "not in this bundle, graded at submission" (SubmissionResult.withheld).
`--include-answers` puts them in, for instructors who accept handing out those answers.

Public cases are regenerated from the spec by the student's grader (their seeds do not depend on
the student); each stored case carries a fingerprint of its inputs, so a bundle made by another
grader or numpy version fails loudly ("make a new bundle") instead of comparing the wrong inputs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import tarfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import yaml

from grader import __version__
from grader.cases import Case, is_node
from grader.executor.protocol import npy_array, npy_bytes
from grader.expected import Reference, ReferenceFailure, Target
from grader.spec import AssignmentSpec, QuestionSpec, load_assignment
from grader.spec.model import FormulaCheck, FunctionCheck, ValueCheck

BUNDLE_FORMAT = 1
MANIFEST = "bundle.json"
CHECKSUMS = "SHA256SUMS"
EXPECTED_DIR = "expected"
TEMPLATE = "template.py"


class BundleError(Exception):
    """The bundle is missing, altered, or was made for another grader: it cannot be used."""


def is_bundle(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


# ---- which checks go in ----------------------------------------------------------------------


def answer_revealing(check: Any) -> bool:
    """A check whose expected output is itself an answer the student must find."""
    return isinstance(check, ValueCheck) or not check.show_expected


@dataclass
class BundlePlan:
    """What a bundle of one assignment contains, decided from the spec alone."""

    included: dict[str, list[Any]] = field(default_factory=dict)  # question id -> public checks kept
    withheld: list[str] = field(default_factory=list)  # "Q/CHECK": public, but the answer stays out
    points: dict[str, float] = field(default_factory=dict)  # question id -> the kept checks' share


def plan_bundle(spec: AssignmentSpec, include_answers: bool = False) -> BundlePlan:
    plan = BundlePlan()
    for question in spec.questions:
        checks = question.question.checks
        kept = []
        for check in checks:
            if check.visibility != "public" or not _has_public_cases(check):
                continue
            if answer_revealing(check) and not include_answers:
                plan.withheld.append(f"{question.id}/{check.id}")
                continue
            kept.append(check)
        if kept:
            plan.included[question.id] = kept
            total = sum(c.weight for c in checks)
            plan.points[question.id] = question.points * sum(c.weight for c in kept) / total
    return plan


def _has_public_cases(check: Any) -> bool:
    if not isinstance(check, FunctionCheck):
        return True
    fixed = any((case.visibility or check.visibility) == "public" for case in check.cases)
    generated = check.generate is not None and (check.generate.visibility or check.visibility) == "public"
    return fixed or generated


# ---- writing ---------------------------------------------------------------------------------


@dataclass
class BundleSummary:
    folder: Path
    files: list[str]
    digest: str  # SHA-256 of SHA256SUMS: pin this in a workflow
    withheld: list[str]
    public_checks: int
    public_max_score: float


def make_bundle(spec: AssignmentSpec, reference: Reference, out: Path, *, include_answers: bool = False) -> BundleSummary:
    """Write the bundle into `out` (which must be empty or absent) and prove it grades the reference."""
    from grader.grading import Grader, GradingOptions

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty: give a new folder for the bundle")
    plan = plan_bundle(spec, include_answers)
    grader = Grader(spec, reference, _NoExecutor(), GradingOptions(public_only=True))
    writer = _Writer(out)
    index_checks = 0
    for question in spec.questions:
        for check in plan.included.get(question.id, []):
            writer.write_check(question, check, _check_data(grader, reference, question, check, writer))
            index_checks += 1
    writer.write_text("assignment.yaml", _dump_yaml(_public_assignment(spec, plan)))
    for question in spec.questions:
        if question.id in plan.included:
            writer.write_text(_question_file(question), _dump_yaml(_public_question(question, plan.included[question.id])))
    writer.write_bytes(TEMPLATE, spec.template_path.read_bytes())
    public_max = round(sum(plan.points.values()), 6)
    manifest = {
        "format": BUNDLE_FORMAT,
        "kind": "student-bundle",
        "assignment": spec.id,
        "title": spec.title,
        "grader_version": __version__,
        "max_score": spec.max_score,
        "public_max_score": public_max,
        "answers_included": include_answers,
        "withheld": plan.withheld,
        "note": "Public checks only. Hidden checks, and the checks listed under withheld, run at grading.",
    }
    writer.write_text(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    digest = write_checksums(out)
    _prove_bundle(out, reference)
    return BundleSummary(out, sorted(writer.files), digest, plan.withheld, index_checks, public_max)


class _NoExecutor:
    def run(self, submission, calls, limits):  # pragma: no cover - never called: planning only
        raise AssertionError("the bundle writer never runs code")


def _check_data(grader: Any, reference: Reference, question: QuestionSpec, check: Any, writer: "_Writer") -> dict[str, Any]:
    target = Target(question.id, check.id)
    folder = f"{EXPECTED_DIR}/{question.id}/{check.id}"
    if isinstance(check, ValueCheck):
        data: dict[str, Any] = {"kind": "value", "expected": writer.encode(reference.expected_value(target, check.expected, check.name), f"{folder}/expected")}
        data["mutants"] = {m.id: _maybe(lambda m=m: writer.encode(reference.expected_value(target.of_mutant(m.id), m.value), f"{folder}/mutant-{m.id}")) for m in check.mutants}
        return data
    if isinstance(check, FunctionCheck):
        function = check.reference or check.name
        cases = {}
        for case in grader.cases(question, check, ""):
            if case.visibility != "public":
                continue
            stem = f"{folder}/{case.id}"
            entry = {
                "inputs": fingerprint((case.args, case.kwargs)),
                "function": function,
                "expected": writer.encode(reference.case_output(target, function, case), f"{stem}.expected"),
                "mutants": {},
            }
            for mutant in check.mutants:
                entry["mutants"][mutant.id] = _maybe(lambda m=mutant: {
                    "function": m.function,
                    "output": writer.encode(reference.case_output(target.of_mutant(m.id), m.function, case), f"{stem}.mutant-{m.id}"),
                })
            cases[case.id] = entry
        return {"kind": "function", "cases": cases}
    assert isinstance(check, FormulaCheck)
    variables = list(check.domain.variables)
    points = [tuple(p[v] for v in variables) for p in grader.formula_points(question, check, "")]
    outputs: dict[str, Any] = {}
    if check.expected.function:
        outputs[""] = _formula_output(reference, target, check.expected.function, points)
    for mutant in check.mutants:
        if mutant.function:
            outputs[mutant.id] = _maybe(lambda m=mutant: _formula_output(reference, target.of_mutant(m.id), m.function, points))
    return {"kind": "formula", "variables": variables, "points": [list(p) for p in points], "outputs": outputs}


def _formula_output(reference: Reference, target: Target, function: str, points: list[tuple[int, ...]]) -> dict[str, Any]:
    values = reference.point_values(target, function, points)
    return {"function": function, "values": [_exact_text(v) for v in values]}


def _maybe(make: Any) -> Any:
    """A mutant undefined on an input (the reference raised) is stored as null: never matched."""
    try:
        return make()
    except ReferenceFailure:
        return None


def _exact_text(value: Any) -> str:
    exact = Fraction(value)
    return str(exact.numerator) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"


def _question_file(question: QuestionSpec) -> str:
    return f"questions/{question.id}.yaml"


def _public_assignment(spec: AssignmentSpec, plan: BundlePlan) -> dict[str, Any]:
    model = spec.model
    used = set()
    for checks in plan.included.values():
        for check in checks:
            used |= set(_constants_in(check.model_dump(mode="python")))
    questions = [
        {"id": q.id, "file": _question_file(q), "points": _round(plan.points[q.id])}
        for q in spec.questions
        if q.id in plan.included
    ]
    return {
        "id": model.id,
        "title": model.title,
        "template": TEMPLATE,
        "submission_file": model.submission_file,
        "constants": {name: value for name, value in model.constants.items() if name in used},
        "questions": questions,
        "limits": model.limits.model_dump(mode="python"),
    }


def _round(value: float) -> float | int:
    rounded = round(value, 12)
    return int(rounded) if float(rounded).is_integer() else rounded


def _constants_in(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _constants_in(item)
    elif isinstance(node, dict):
        if is_node(node) and "const" in node:
            yield str(node["const"])
        for value in node.values():
            yield from _constants_in(value)


def _public_question(question: QuestionSpec, checks: list[Any]) -> dict[str, Any]:
    model = question.question
    data = model.model_dump(mode="python", exclude_defaults=True, exclude={"checks"})
    data["checks"] = [_public_check(check) for check in checks]
    return data


def _public_check(check: Any) -> dict[str, Any]:
    data = check.model_dump(mode="python", exclude_defaults=True)
    data["kind"] = check.kind
    if isinstance(check, FunctionCheck):
        data["cases"] = [c.model_dump(mode="python", exclude_defaults=True) for c in check.cases if (c.visibility or check.visibility) == "public"]
        if not data["cases"]:
            del data["cases"]
        if check.generate is not None and (check.generate.visibility or check.visibility) != "public":
            data.pop("generate", None)
        if "generate" in data:
            data["generate"].pop("categories", None)  # how hidden cases are described; unused here
    if "compare" in data or hasattr(check, "compare"):
        data["compare"] = check.compare.model_dump(mode="python")
    return data


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None  # prompts and hints stay readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump_yaml(data: Any) -> str:
    header = "# Student bundle: generated by `grader bundle`; public checks only. Do not edit (SHA256SUMS).\n"
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Writer:
    """Writes bundle files; encodes values as tagged JSON with arrays in .npy files."""

    def __init__(self, root: Path):
        self.root = root
        self.files: set[str] = set()

    def write_bytes(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files.add(relative)

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def write_check(self, question: QuestionSpec, check: Any, data: dict[str, Any]) -> None:
        self.write_text(f"{EXPECTED_DIR}/{question.id}/{check.id}.json", json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n")

    def encode(self, value: Any, stem: str) -> Any:
        return encode_value(value, lambda array, suffix: self._array(array, f"{stem}{suffix}"))

    def _array(self, array: np.ndarray, stem: str) -> str:
        relative = f"{stem}.npy"
        self.write_bytes(relative, npy_bytes(np.ascontiguousarray(array)))
        return relative


# ---- value encoding (tagged JSON; arrays in .npy files) ----------------------------------------


def encode_value(value: Any, save_array: Any, path: str = "") -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ReferenceFailure(f"cannot store an array of dtype {value.dtype} in a bundle")
        return {"$npy": save_array(value, path)}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, Fraction):
        return {"$fraction": _exact_text(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v, save_array, f"{path}-{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode_value(v, save_array, f"{path}-{i}") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$dict": [[k, encode_value(v, save_array, f"{path}-{k}")] for k, v in value.items()]}
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    raise ReferenceFailure(f"cannot store a {type(value).__name__} in a bundle")


def decode_value(data: Any, root: Path) -> Any:
    if isinstance(data, list):
        return [decode_value(v, root) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1:
        raise BundleError(f"malformed value in the bundle: {sorted(data)}")
    ((tag, body),) = data.items()
    if tag == "$npy":
        return _load_array(root, body)
    if tag == "$float":
        if body not in ("inf", "-inf", "nan"):
            raise BundleError(f"malformed float in the bundle: {body!r}")
        return float(body)
    if tag == "$fraction":
        return Fraction(body)
    if tag == "$tuple":
        return tuple(decode_value(v, root) for v in body)
    if tag == "$dict":
        return {str(k): decode_value(v, root) for k, v in body}
    raise BundleError(f"unknown tag {tag!r} in the bundle")


def _load_array(root: Path, relative: Any) -> np.ndarray:
    path = _inside(root, relative)
    try:
        array = npy_array(path.read_bytes())
    except OSError as exc:
        raise BundleError(f"{relative}: not a plain .npy array ({exc})") from None
    if array is None:
        raise BundleError(f"{relative}: not a plain .npy array (not what np.save writes for a numeric array)")
    if array.dtype.kind not in "biuf":
        raise BundleError(f"{relative}: not a numeric array")
    return array.astype(np.float64)


def _inside(root: Path, relative: Any) -> Path:
    pure = PurePosixPath(str(relative))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise BundleError(f"{relative!r}: a bundle only refers to its own files")
    return root / pure


def fingerprint(value: Any) -> str:
    """SHA-256 of a case's inputs in a canonical form (arrays by dtype, shape and bytes)."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype=np.float64) if value.dtype.kind in "biuf" else value
        digest.update(f"A{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, dict):
        digest.update(f"dict[{len(value)}".encode())
        for key in sorted(value, key=str):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
        digest.update(b"]")
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


# ---- checksums and archive -------------------------------------------------------------------


def _bundle_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != CHECKSUMS)


def write_checksums(root: Path) -> str:
    lines = [f"{hashlib.sha256((root / name).read_bytes()).hexdigest()}  {name}\n" for name in _bundle_files(root)]
    data = "".join(lines).encode()
    (root / CHECKSUMS).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def bundle_digest(root: Path) -> str:
    return hashlib.sha256((Path(root) / CHECKSUMS).read_bytes()).hexdigest()


def verify_bundle(root: Path) -> list[str]:
    """Every problem with the bundle's files: missing, altered, or not listed in SHA256SUMS."""
    root = Path(root)
    sums = root / CHECKSUMS
    if not sums.is_file():
        return [f"{sums}: missing; this is not a complete bundle"]
    listed: dict[str, str] = {}
    problems = []
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            problems.append(f"{CHECKSUMS}:{number}: malformed line")
            continue
        listed[name] = digest
    for name, digest in listed.items():
        try:
            path = _inside(root, name)
        except BundleError as exc:
            problems.append(str(exc))
            continue
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: altered (its SHA-256 does not match {CHECKSUMS})")
    for name in _bundle_files(root):
        if name not in listed and "__pycache__" not in name:
            problems.append(f"{name}: not part of the bundle (not in {CHECKSUMS})")
    return problems


def write_archive(root: Path, archive: Path) -> str:
    """A reproducible .tar.gz of the bundle (sorted, no owners, mtime 0); returns its SHA-256."""
    root, archive = Path(root), Path(archive)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in [*_bundle_files(root), CHECKSUMS]:
            data = (root / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(compressed.getvalue())
    return hashlib.sha256(compressed.getvalue()).hexdigest()


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict[str, Any]
    spec: AssignmentSpec
    expected: "BundleExpected"

    @property
    def withheld(self) -> list[str]:
        return list(self.manifest.get("withheld", []))


def load_bundle(folder: Path) -> Bundle:
    """Verify every file against SHA256SUMS, then load the public spec and the expected outputs."""
    root = Path(folder)
    problems = verify_bundle(root)
    if problems:
        raise BundleError("the bundle does not match its SHA256SUMS (get a fresh copy from your instructor):\n  " + "\n  ".join(problems))
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BundleError(f"{MANIFEST}: not JSON ({exc})") from None
    if manifest.get("kind") != "student-bundle" or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{MANIFEST}: a bundle of format {manifest.get('format')!r}; this grader reads format {BUNDLE_FORMAT}")
    spec = load_assignment(root, bundle=True)
    return Bundle(root, manifest, spec, BundleExpected(root))


class BundleExpected:
    """ExpectedSource over a bundle's precomputed outputs; a request it cannot answer raises
    ReferenceFailure (the grader reports the submission as ungradable, or skips a mutant)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._checks: dict[tuple[str, str], dict[str, Any]] = {}

    def _check(self, target: Target, kind: str) -> dict[str, Any]:
        key = (target.question, target.check)
        if key not in self._checks:
            path = self.root / EXPECTED_DIR / target.question / f"{target.check}.json"
            try:
                self._checks[key] = json.loads(path.read_text(encoding="utf-8"))
            except OSError:
                raise ReferenceFailure(f"the bundle has no expected outputs for {target.question}/{target.check}") from None
        data = self._checks[key]
        if data.get("kind") != kind:
            raise ReferenceFailure(f"the bundle's {target.question}/{target.check} is not a {kind} check")
        return data

    def expected_value(self, target: Target, node: Any, default_name: str | None = None) -> Any:
        data = self._check(target, "value")
        stored = data["mutants"].get(target.mutant) if target.mutant else data["expected"]
        if target.mutant and stored is None:
            raise ReferenceFailure(f"no output of mutant {target.mutant}")
        return decode_value(stored, self.root)

    def case_output(self, target: Target, function: str, case: Case) -> Any:
        data = self._check(target, "function")
        entry = data["cases"].get(case.id)
        if entry is None:
            raise ReferenceFailure(f"the bundle has no case {target.question}/{target.check}/{case.id}")
        if entry["inputs"] != fingerprint((case.args, case.kwargs)):
            raise ReferenceFailure(
                f"case {target.question}/{target.check}/{case.id} differs from the bundle's (made by another grader or numpy "
                f"version?): ask for a bundle made with grader {__version__}"
            )
        if not target.mutant:
            if entry["function"] != function:
                raise ReferenceFailure(f"the bundle's {case.id} was computed with {entry['function']}, not {function}")
            return decode_value(entry["expected"], self.root)
        stored = entry["mutants"].get(target.mutant)
        if stored is None or stored["function"] != function:
            raise ReferenceFailure(f"no output of mutant {target.mutant} on {case.id}")
        return decode_value(stored["output"], self.root)

    def point_values(self, target: Target, function: str, points: Sequence[tuple[int, ...]]) -> list[Any]:
        data = self._check(target, "formula")
        stored = data["outputs"].get(target.mutant)
        if stored is None or stored["function"] != function:
            raise ReferenceFailure(f"the bundle has no values of {function} for {target.question}/{target.check}")
        table = {tuple(point): value for point, value in zip(data["points"], stored["values"])}
        try:
            return [Fraction(table[tuple(point)]) for point in points]
        except KeyError as exc:
            raise ReferenceFailure(f"point {exc.args[0]} of {target.question}/{target.check} is not in the bundle: make a new bundle") from None


def scan_texts(root: Path) -> Iterable[tuple[str, bytes]]:
    """(name, bytes) of every file of a bundle, for audits."""
    root = Path(root)
    for name in [*_bundle_files(root), CHECKSUMS]:
        yield name, (root / name).read_bytes()


def _prove_bundle(root: Path, reference: Reference) -> None:
    """The bundle must give the reference full public marks, offline, or it is not written."""
    from grader.executor.trusted import TrustedModuleExecutor
    from grader.grading import Grader, GradingOptions, Submission

    bundle = load_bundle(root)
    options = GradingOptions(public_only=True, enforce_rules=False)
    result = Grader(bundle.spec, bundle.expected, TrustedModuleExecutor(reference.module), options).grade(Submission("reference", bundle.spec.root / TEMPLATE))
    wrong = [
        f"{q.id}/{c.id}/{k.id}: {k.status} {k.message}"
        for q in result.questions for c in q.checks for k in c.cases if k.status != "passed"
    ]
    if not result.gradable or wrong or result.errors:
        raise BundleError("the bundle does not give the reference full marks:\n  " + "\n  ".join(result.errors + wrong))
