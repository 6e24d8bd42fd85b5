"""The attack corpus (tests/attack_corpus/) graded by the real grader in the real sandbox.

One batch grades every hostile submission (question 1.1c only, short limits) on two threads,
like ``grader grade -j 2``, with an honest student (a copy of submissions/examples/
correct_numpy.py) graded first, in the middle and last. Then, for every attack: 0 points for
what it attacked, and not because a static rule stopped it; for the batch: bounded time, the
honest student's full marks every time, the grader's files and the class folder unchanged, no
process of any run left (checked per run while its slot is still held, and by marker after),
no file with the batch's marker left anywhere on the host, and nobody at the loopback listener.

A second, smaller batch runs the read-only attacks WITHOUT the sandbox (a plain subprocess)
and checks that they do score there: the corpus can tell a missing defence.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from grader.executor import Limits, SubprocessExecutor
from grader.grading import Grader, GradingOptions, Submission
from grader.results import SubmissionResult
from grader.sandbox import probe
from grader.sandbox.launch import UID_BASE, SLOTS, Isolation, processes_of

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "attack_corpus"
HONEST = ROOT / "submissions" / "examples" / "correct_numpy.py"
LIMITS = Limits(call_timeout_s=3.0, import_timeout_s=30.0, total_timeout_s=45.0)
BATCH_BOUND_S = 240.0  # generous for 2 slow cores: the batch takes ~1 min here
ONE_SUBMISSION_BOUND_S = 60.0
WATCHED_TREES = ("grader", "problems", "submissions", "tests/attack_corpus", "pyproject.toml")

REPORT = probe()
needs_sandbox = pytest.mark.skipif(not REPORT.protected, reason=f"no sandbox here: {REPORT.summary}")


# The question each attack is graded on: 1.1c (conv2d, CONV_OUTPUT) unless its docstring says
# otherwise. Attacks whose stolen answer would flow through code that 1.1c's static rules already
# refuse (dynamic imports, frame access) are graded where no static rule applies, so that only the
# sandbox stands between them and the points.
QUESTION = {"read_reference": "1.1b", "read_other_submissions": "1.1b", "raise_privileges": "1.1b",
            "scan_frames_and_gc": "1.2c"}


def question_of(student: str) -> str:
    if student.startswith("honest"):
        return ""  # every question
    return QUESTION.get(student.removesuffix("_next"), "1.1c")


def corpus_entries() -> list[str]:
    names = sorted(p.stem for p in CORPUS.glob("*.py") if not p.name.startswith("_"))
    names += sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and (p / "hw2.py").is_file())
    return names


ANSWER_LINE = "# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted"


def with_answer(source: str) -> str:
    """An attack's source with the correct answer they all share (_answer.py, its code) in place."""
    answer = (CORPUS / "_answer.py").read_text().split('"""', 2)[2].strip("\n")
    return source.replace(ANSWER_LINE, f"{ANSWER_LINE}\n{answer}")


# --------------------------------------------------------------------------- the corpus itself


def test_corpus_is_large_and_documented() -> None:
    entries = corpus_entries()
    assert len(entries) >= 20, entries
    for name in entries:
        path = CORPUS / f"{name}.py" if (CORPUS / f"{name}.py").exists() else CORPUS / name / "hw2.py"
        doc = path.read_text().split('"""')[1]
        assert doc.startswith("Attack:"), name
        assert "Defence tested:" in doc and "Expected:" in doc, name


def test_pytest_never_collects_the_corpus(pytestconfig: pytest.Config) -> None:
    assert "attack_corpus" in pytestconfig.getini("norecursedirs")
    loaded = [getattr(p, "__file__", "") or "" for p in pytestconfig.pluginmanager.get_plugins()]
    assert not [f for f in loaded if "attack_corpus" in f]


def test_sandbox_is_there_where_it_must_be() -> None:
    """CI runs as root on Linux with bubblewrap installed: never skip the corpus silently there."""
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("bwrap"):
        assert REPORT.protected and REPORT.mode == "bwrap+uid", REPORT.render()


# --------------------------------------------------------------------------- helpers


class RecordingIsolation(Isolation):
    """The real isolation; when a run ends (its slot still held) records what of it still runs."""

    def __init__(self, inner: Isolation) -> None:
        self.inner = inner
        self.mode, self.protected = inner.mode, inner.protected
        self.leftovers: list[tuple[int, list[int]]] = []
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def session(self) -> Iterator:
        with self.inner.session() as session:
            yield session
            uid = getattr(session, "uid", None)
            if uid is not None:
                running = [pid for pid, zombie in processes_of(uid) if not zombie]
                with self.lock:
                    self.leftovers.append((uid, running))


class Listener:
    """TCP on 127.0.0.1 and an abstract unix socket: answers "ok" and remembers who came."""

    def __init__(self, marker: str) -> None:
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(f"\0grader-attack-{marker}")
        self.unix.listen(8)
        self.connections: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import selectors

        with selectors.DefaultSelector() as selector:
            for server in (self.tcp, self.unix):
                selector.register(server, selectors.EVENT_READ)
            while not self.stopped.is_set():
                for key, _ in selector.select(0.1):
                    with contextlib.suppress(OSError):
                        connection, _ = key.fileobj.accept()
                        with connection:
                            self.connections.append(repr(key.fileobj.family))
                            connection.sendall(b"ok")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.tcp.close()
        self.unix.close()


def tree_digest(paths: list[Path]) -> dict[str, str]:
    digest = {}
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() or p.is_symlink())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            if path.is_symlink():
                digest[str(path)] = "-> " + os.readlink(path)
            else:
                digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def paths_with(marker: str, tops: list[str], limit: int = 300_000) -> list[str]:
    found, seen = [], 0
    for top in tops:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git", "__pycache__")]
            for name in dirs + files:
                seen += 1
                if marker in name:
                    found.append(os.path.join(folder, name))
            if seen > limit:
                return found
    return found


def running_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                line = cmdline.read()
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in line and state not in ("Z", "X"):
            found.append(f"{pid}: {line[:200]!r}")
    return found


def plant(entry: str, folder: Path, student: str, marker: str, port: int) -> Submission:
    """Copy one corpus entry into the class folder as student `student`'s hw2.py."""
    target = folder / student
    target.mkdir()
    source = CORPUS / entry
    if source.is_dir():
        for item in source.iterdir():
            shutil.copy(item, target / item.name)
    else:
        text = (CORPUS / f"{entry}.py").read_text()
        if "LINK_TARGET" in text:
            link = text.split('LINK_TARGET = "')[1].split('"')[0]
            (target / "hw2.py").symlink_to(link if link.startswith("/") else ROOT / link)
            return Submission(student, target / "hw2.py")
        (target / "hw2.py").write_text(text)
    for path in target.glob("*.py"):
        if not path.is_symlink():
            text = with_answer(path.read_text())
            path.write_text(text.replace("__MARKER__", marker).replace("__PORT__", str(port)))
    return Submission(student, target / "hw2.py")


@dataclass
class Batch:
    marker: str
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    repo_before: dict[str, str] = field(default_factory=dict)
    repo_after: dict[str, str] = field(default_factory=dict)
    class_before: dict[str, str] = field(default_factory=dict)
    class_after: dict[str, str] = field(default_factory=dict)
    leftovers: list[tuple[int, list[int]]] = field(default_factory=list)
    still_running: list[str] = field(default_factory=list)
    files_left: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)


def grade_class(make_grader_for, entries: list[str], folder: Path, marker: str,
                listener: Listener, jobs: int, planted=lambda: None) -> tuple[dict, dict, float]:
    """Plant every entry (and the honest student three times), grade them all on `jobs` threads.

    A copy graded "next" (it looks for what its predecessor left) is graded once the others are
    done: run beside its predecessor it would look too early and prove nothing.
    """
    students: list[tuple[str, Submission]] = []
    sequels: list[tuple[str, Submission]] = []
    honest_copies = 0

    def honest() -> None:
        nonlocal honest_copies
        honest_copies += 1
        target = folder / f"honest{honest_copies}"
        target.mkdir()
        shutil.copy(HONEST, target / "hw2.py")
        students.append((target.name, Submission(target.name, target / "hw2.py")))

    honest()
    for index, entry in enumerate(entries):
        students.append((entry, plant(entry, folder, entry, marker, listener.port)))
        if entry == "tmp_leftover":  # graded twice: the second looks for the first's files
            sequels.append(("tmp_leftover_next", plant(entry, folder, "tmp_leftover_next", marker, listener.port)))
        if index == len(entries) // 2:
            honest()
    honest()
    planted()

    results, seconds = {}, {}

    def grade(item: tuple[str, Submission]) -> None:
        name, submission = item
        grader = make_grader_for(name)
        started = time.monotonic()
        results[name] = grader.grade(submission)
        seconds[name] = time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(grade, students))
        list(pool.map(grade, sequels))
    return results, seconds, time.monotonic() - started


@pytest.fixture(scope="module")
def batch(hw2_spec, hw2_reference, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    marker = f"atk{secrets.token_hex(6)}"
    folder = tmp_path_factory.mktemp("class")
    isolation = RecordingIsolation(probe().isolation)
    executor = SubprocessExecutor(module_name="hw2", sandbox=isolation)
    listener = Listener(marker)
    record = Batch(marker)
    watched = [ROOT / p for p in WATCHED_TREES]
    record.repo_before = tree_digest(watched)
    try:
        def make_grader_for(name: str) -> Grader:
            options = GradingOptions(only=question_of(name), salt="attack-test-salt")
            grader = Grader(hw2_spec, hw2_reference, executor, options)
            grader.limits = LIMITS
            return grader

        record.results, record.seconds, record.total_s = grade_class(
            make_grader_for, corpus_entries(), folder, marker, listener, jobs=2,
            planted=lambda: setattr(record, "class_before", tree_digest([folder])))
    finally:
        listener.close()
    record.class_after = tree_digest([folder])
    record.repo_after = tree_digest(watched)
    record.leftovers = isolation.leftovers
    time.sleep(0.5)  # a process that outlived its run would still be here
    record.still_running = running_with(marker)
    record.files_left = paths_with(marker, ["/tmp", "/var/tmp", "/dev/shm", str(ROOT)])
    record.files_left = [p for p in record.files_left if not p.startswith(str(folder))]
    record.connections = listener.connections
    yield record
    for pid_line in record.still_running:  # never leave a stray process on the machine
        with contextlib.suppress(OSError):
            os.kill(int(pid_line.split(":")[0]), 9)


# --------------------------------------------------------------------------- per attack

EXPECTED_STATUS = {  # the status that shows which defence acted, where one is specific
    "always_equal": "error",  # unencodable
    "exit_before_results": "error",  # crashed
    "ignores_signals": "timeout",
    "symlink_to_reference": "error",
    "symlink_to_dev_zero": "error",
}


@needs_sandbox
@pytest.mark.parametrize("entry", corpus_entries())
def test_attack_scores_nothing(batch: Batch, entry: str) -> None:
    result = batch.results[entry]
    statuses = {case.status for question in result.questions for check in question.checks for case in check.cases}
    detail = f"{entry}: {result.score}/{result.max_score}, statuses {statuses}, errors {result.errors}"
    assert result.score == 0, detail
    assert "passed" not in statuses, detail
    assert "forbidden" not in statuses, f"a static rule, not the sandbox, stopped it: {detail}"
    if entry in EXPECTED_STATUS:
        assert EXPECTED_STATUS[entry] in statuses, detail
    if entry.startswith("symlink"):
        assert any("symbolic link" in error for error in result.errors), detail
    assert batch.seconds[entry] < ONE_SUBMISSION_BOUND_S, detail


@needs_sandbox
def test_second_student_finds_nothing_left_by_the_first(batch: Batch) -> None:
    assert batch.results["tmp_leftover_next"].score == 0


@needs_sandbox
def test_output_flood_is_capped(batch: Batch) -> None:
    assert len(batch.results["stdout_flood"].stdout_tail) <= LIMITS.output_bytes


# --------------------------------------------------------------------------- the batch


@needs_sandbox
def test_batch_finishes_in_bounded_time(batch: Batch) -> None:
    assert batch.total_s < BATCH_BOUND_S, sorted(batch.seconds.items(), key=lambda kv: -kv[1])[:5]


@needs_sandbox
def test_honest_students_keep_full_marks(batch: Batch) -> None:
    honest = {name: r for name, r in batch.results.items() if name.startswith("honest")}
    assert len(honest) == 3
    for name, result in honest.items():
        assert result.max_score > 0 and result.score == result.max_score, (name, result.errors)


@needs_sandbox
def test_grader_files_and_class_folder_untouched(batch: Batch) -> None:
    changed = {k for k in batch.repo_before.keys() | batch.repo_after.keys()
               if batch.repo_before.get(k) != batch.repo_after.get(k)}
    if os.environ.get("CI"):
        assert not changed  # a fresh clone nobody else edits: not one byte may change
    else:  # a shared work tree may be edited by people meanwhile: look for the batch's mark
        assert not [p for p in changed if Path(p).is_file() and batch.marker in Path(p).read_text(errors="replace")]
    vandalised = [p for p in batch.class_after if "__pycache__" in p]
    assert not vandalised
    assert batch.class_after == batch.class_before


@needs_sandbox
def test_no_process_of_any_run_is_left(batch: Batch) -> None:
    assert batch.leftovers, "the recording isolation saw no run"
    assert all(not running for _, running in batch.leftovers), batch.leftovers
    assert not batch.still_running
    slot_uids = range(UID_BASE, UID_BASE + SLOTS)
    assert all(uid in slot_uids for uid, _ in batch.leftovers)


@needs_sandbox
def test_no_file_left_outside_the_run(batch: Batch) -> None:
    assert not batch.files_left


@needs_sandbox
def test_nobody_reached_the_network(batch: Batch) -> None:
    assert not batch.connections


# --------------------------------------------------------------------------- positive control

UNSANDBOXED = ["read_reference", "read_other_submissions", "read_hidden_cases", "network", "tmp_leftover",
               "setsid_daemon"]


def why_unscored(result: SubmissionResult) -> list[str]:
    """What a result says went wrong: its errors, every check's status and message, its stderr."""
    checks = [f"{check.id}: {check.status} {check.message or check.feedback}"[:300]
              for question in result.questions for check in question.checks]
    return [*result.errors, *checks, f"stderr: {result.stderr_tail[-500:]}"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the controls read Linux's /proc")
def test_the_same_attacks_score_without_the_sandbox(hw2_spec, hw2_reference, tmp_path: Path) -> None:
    """Read-only attacks in a plain subprocess: they do score, so the corpus detects a missing layer.

    Only attacks that read, talk to our own listener, leave a small file in /tmp or a daemon
    that sleeps (both removed here) run unsandboxed; none that kills, floods, forks many
    processes or writes the grader's files.
    """
    marker = f"ctl{secrets.token_hex(6)}"
    listener = Listener(marker)
    executor = SubprocessExecutor(module_name="hw2", sandbox="none")

    def make_grader_for(name: str) -> Grader:
        grader = Grader(hw2_spec, hw2_reference, executor, GradingOptions(only=question_of(name)))
        grader.limits = LIMITS
        return grader

    try:
        results, _, _ = grade_class(make_grader_for, UNSANDBOXED, tmp_path, marker, listener, jobs=2)
    finally:
        listener.close()
        for path in paths_with(marker, ["/tmp", "/var/tmp", "/dev/shm"]):
            with contextlib.suppress(OSError):
                os.unlink(path)
        daemons = running_with(marker)  # without a PID namespace the daemon did outlive its worker
        for line in daemons:
            with contextlib.suppress(OSError):
                os.kill(int(line.split(":")[0]), 9)
    scored = {name: results[name].score for name in UNSANDBOXED if name != "tmp_leftover"}
    scored["tmp_leftover_next"] = results["tmp_leftover_next"].score
    unscored = {name: why_unscored(results[name]) for name, score in sorted(scored.items()) if score <= 0}
    assert not unscored, f"without the sandbox these attacks should have scored: {unscored}"
    assert listener.connections
    assert daemons, "the daemon should have outlived its worker without the sandbox"
