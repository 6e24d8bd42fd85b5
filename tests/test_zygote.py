"""The warm worker (grader/executor/zygote.py): the same outcomes as a fresh worker, nothing shared.

1. Every executor scenario of test_executor.py (timeouts, crashes, os._exit, stdout ignored,
   skipped after a timeout, import errors, NotImplementedError as missing, limits, ...) and the
   examples' grades of test_examples_grading.py, run again through ZygoteExecutor.
2. What is particular to a zygote: a child cannot harm it or learn anything from it, nothing
   passes from one student's child to the next, a timeout or a dead zygote costs one child (or
   one zygote), not the batch.
3. The attack corpus (tests/attack_corpus/) graded through ZygoteExecutor, the executor
   `grader grade` uses, with the checks of test_attacks.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import test_attacks as attacks
import test_examples_grading as examples
import test_executor as scenarios
from grader.executor import Call, Limits, RunResult
from grader.executor import zygote as zygote_module
from grader.executor.zygote import ZygoteExecutor
from grader.grading import Grader, GradingOptions
from grader.sandbox import probe

REPORT = probe()
needs_sandbox = pytest.mark.skipif(not REPORT.protected, reason=f"no sandbox here: {REPORT.summary}")
needs_linux = pytest.mark.skipif(not zygote_module.supported(), reason="zygotes need Linux")
FAST = Limits(call_timeout_s=2.0, import_timeout_s=20.0, total_timeout_s=60.0)


class EagerZygoteExecutor(ZygoteExecutor):
    """ZygoteExecutor from the first run on (it otherwise sends a pool's first run to a fresh worker)."""

    def __init__(self, module_name: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(module_name, *args, eager=True, **kwargs)


# --------------------------------------------------------------------------- 1. the same outcomes


@pytest.fixture(scope="module", autouse=True)
def _scenarios_use_the_zygote() -> Iterator[None]:
    """test_executor's scenarios and the examples' grades, with a zygote instead of a fresh worker."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenarios, "SubprocessExecutor", EagerZygoteExecutor)
        yield


@pytest.fixture(scope="module")
def make_grader(hw2_spec, hw2_reference):  # overrides conftest's for the examples' tests here
    executor = EagerZygoteExecutor(module_name="hw2")

    def make(**options) -> Grader:
        return Grader(hw2_spec, hw2_reference, executor, GradingOptions(**options))

    return make


torch_result = scenarios.torch_result
SCENARIOS = [name for name in dir(scenarios) if name.startswith("test_")
             and not name.startswith("test_protocol") and name != "test_worker_is_self_contained"]
for _name in SCENARIOS:
    globals()[_name] = getattr(scenarios, _name)
graded = examples.graded
for _name in [n for n in dir(examples) if n.startswith("test_")]:
    globals()[_name] = getattr(examples, _name)


def test_the_scenarios_are_all_here() -> None:
    assert len(SCENARIOS) >= 20
    assert "test_infinite_loop_times_out_and_later_calls_still_run" in SCENARIOS


def test_zygote_server_is_self_contained() -> None:
    source = Path(zygote_module.ZYGOTE_SERVER_PATH).read_text()
    assert "import grader" not in source and "from grader" not in source and "from ." not in source


# --------------------------------------------------------------------------- 2. zygote specifics


def _run(executor: ZygoteExecutor, tmp_path: Path, source: str, calls: list[Call],
         limits: Limits = FAST, name: str = "hw2.py") -> RunResult:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return executor.run(path, calls, limits)


def _values(result: RunResult) -> dict[str, Any]:
    assert all(o.status == "ok" for o in result.outcomes.values()), result.outcomes
    return {key: outcome.value for key, outcome in result.outcomes.items()}


def _executor_of_its_own() -> Iterator[ZygoteExecutor]:
    """An executor with zygotes of its own (one at a time here), closed at the end."""
    executor = EagerZygoteExecutor(module_name="hw2", sandbox=probe().isolation)
    try:
        yield executor
    finally:
        executor.close()


solo = pytest.fixture(scope="module", name="solo")(_executor_of_its_own)
own = pytest.fixture(name="own")(_executor_of_its_own)  # for a test that breaks or recycles its zygotes


def _started(executor: ZygoteExecutor) -> int:
    return executor.stats()["zygotes_started"]


ATTACK_ZYGOTE = """
    import ctypes, os, signal
    def attack():
        found = {}
        try:
            os.kill(os.getppid(), signal.SIGKILL)
            os.kill(1, signal.SIGKILL)
            os.kill(1, signal.SIGSTOP)
        except OSError as exc:
            found["kill"] = str(exc)
        found["ppid"] = os.getppid()
        found["cmdline"] = open("/proc/1/cmdline", "rb").read().replace(b"\\0", b" ").decode()
        for name in ("environ", "mem", "maps"):
            try:
                with open(f"/proc/1/{name}", "rb") as file:
                    file.read(64)
                found[name] = "read"
            except OSError as exc:
                found[name] = type(exc).__name__
        libc = ctypes.CDLL(None, use_errno=True)
        found["ptrace"] = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH to the zygote
        found["uid"] = os.getuid()
        status = dict(line.split(":", 1) for line in open("/proc/1/status"))
        found["caught"] = int(status["SigCgt"], 16)  # signals it has a handler for
        for number in (signal.SIGSEGV, signal.SIGTERM, signal.SIGUSR1):
            os.kill(1, number)
        return found
"""


@needs_sandbox
def test_a_child_cannot_kill_trace_or_read_the_zygote(solo: ZygoteExecutor, tmp_path: Path) -> None:
    _values(_run(solo, tmp_path, "X = 1\n", [Call("x", "get", "X")]))
    before = _started(solo)
    first = _values(_run(solo, tmp_path, ATTACK_ZYGOTE, [Call("a", "call", "attack")]))["a"]
    assert first["ppid"] == 1  # the zygote is the init of the sandbox's PID namespace
    assert first["environ"] != "read" and first["mem"] != "read" and first["maps"] != "read"
    assert first["ptrace"] == -1
    assert "grader" not in first["cmdline"] and "worker" not in first["cmdline"], first["cmdline"]
    assert first["uid"] != 0
    assert first["caught"] == 0  # so no signal from inside its namespace reaches it
    second = _values(_run(solo, tmp_path, "def ok():\n    return os.getpid()\nimport os\n",
                          [Call("b", "call", "ok")]))
    assert second["b"] > 1
    assert _started(solo) == before  # the same zygote, alive and well


LEAVE_TRACES = """
    import ctypes, os, socket, subprocess, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    def leave(marker):
        done = {}
        for folder in ("/tmp", "/dev/shm", os.environ["HOME"]):
            with open(os.path.join(folder, marker), "w") as file:
                file.write("answers")
        done["shm"] = libc.shmget(0x5EC12E7, 4096, 0o1666)
        done["msg"] = libc.msgget(0x5EC12E8, 0o1666)
        done["key"] = libc.syscall(248, b"user", marker.encode(), b"x", 1, ctypes.c_int(-4))
        done["key_errno"] = ctypes.get_errno()
        try:
            rt = ctypes.CDLL("librt.so.1", use_errno=True)
            done["mq"] = rt.mq_open(b"/" + marker.encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
        except OSError:
            done["mq"] = -1
        daemon = ("import socket, time\\ns = socket.socket(socket.AF_UNIX)\\n"
                  f"s.bind('\\\\0{marker}')\\ns.listen(1)\\ntime.sleep(60)\\n")
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", daemon])
            os._exit(0)
        os.wait()
        time.sleep(0.3)
        return done
    def look(marker):
        seen = {}
        seen["files"] = [folder for folder in ("/tmp", "/dev/shm", os.environ["HOME"])
                         if any(marker in name for _, _, names in os.walk(folder) for name in names)]
        seen["shm"] = libc.shmget(0x5EC12E7, 0, 0)
        seen["msg"] = libc.msgget(0x5EC12E8, 0)
        seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect("\\0" + marker)
            seen["daemon"] = True
        except OSError:
            seen["daemon"] = False
        return seen
"""


@needs_sandbox
def test_nothing_passes_from_one_child_to_the_next(solo: ZygoteExecutor, tmp_path: Path) -> None:
    marker = f"trace{secrets.token_hex(4)}"
    _values(_run(solo, tmp_path, "X = 1\n", [Call("x", "get", "X")]))
    before = _started(solo)
    left = _values(_run(solo, tmp_path, LEAVE_TRACES, [Call("l", "call", "leave", (marker,))]))["l"]
    assert left["shm"] >= 0 and left["msg"] >= 0  # System V IPC works inside one child...
    assert left["key"] == -1 and left["key_errno"] == 1  # ...keyrings do not (seccomp: EPERM)
    assert left["mq"] == -1  # nor POSIX message queues (RLIMIT_MSGQUEUE = 0)
    seen = _values(_run(solo, tmp_path, LEAVE_TRACES, [Call("s", "call", "look", (marker,))]))["s"]
    assert seen["files"] == [] and seen["shm"] == -1 and seen["msg"] == -1, seen
    assert seen["daemon"] is False
    assert len(seen["processes"]) == 2 and seen["processes"][0] == 1  # the zygote and itself
    assert _started(solo) == before


@needs_sandbox
def test_the_next_child_cannot_find_the_last_submission_in_memory(solo: ZygoteExecutor, tmp_path: Path) -> None:
    """The zygote never holds a source: the next child, a copy of it, finds none in its memory."""
    secret = f"SOURCE{secrets.token_hex(8)}"
    first = _run(solo, tmp_path, f"ANSWER = {secret!r}\n", [Call("a", "get", "ANSWER")], name="a.py")
    assert first.outcomes["a"].value == secret
    scan = textwrap.dedent(f"""
        HEAD, TAIL = {secret[:10]!r}.encode(), {secret[10:]!r}.encode()  # never joined here
        def scan():
            hits = 0
            with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
                for line in maps:
                    fields = line.split()
                    if not fields[1].startswith("r") or len(fields) > 5 and not fields[5].startswith("["):
                        continue  # anonymous memory, the heap and the stack: where a copy would be
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    try:
                        mem.seek(start)
                        data = mem.read(end - start)
                    except (OSError, ValueError, OverflowError):
                        continue
                    at = data.find(HEAD)
                    while at >= 0:
                        hits += data.startswith(TAIL, at + len(HEAD))
                        at = data.find(HEAD, at + 1)
            return hits
    """)
    found = _values(_run(solo, tmp_path, scan, [Call("s", "call", "scan")], name="b.py"))["s"]
    assert found == 0


@needs_linux
def test_a_whole_run_is_sent_ahead_and_answered_in_order(solo: ZygoteExecutor, tmp_path: Path) -> None:
    """Requests go before the child is ready (a map larger than a default pipe included)."""
    points = tuple((i, i % 7) for i in range(6000))
    calls = [Call("m", "map", "add", points)] + [Call(f"c{i}", "call", "twice", (i,)) for i in range(300)]
    result = _run(solo, tmp_path, """
        import time
        time.sleep(0.2)  # importing: the requests wait in the pipe
        def add(a, b):
            return a + b
        def twice(x):
            return 2 * x
    """, calls)
    values = _values(result)
    assert [item.value for item in values["m"]] == [a + b for a, b in points]
    assert [values[f"c{i}"] for i in range(300)] == [2 * i for i in range(300)]


@needs_linux
def test_a_child_runs_the_bytes_the_grader_read_even_after_a_restart(solo: ZygoteExecutor, tmp_path: Path) -> None:
    path = tmp_path / "hw2.py"
    path.write_text("import os\nX = 'analysed'\ndef crash():\n    os._exit(3)\n")
    started = solo.start(path, FAST, source=path.read_bytes())
    path.write_text("X = 'swapped after the analysis'\n")
    result = started.perform([Call("X", "get", "X"), Call("boom", "call", "crash"), Call("again", "get", "X")])
    assert result.outcomes["boom"].status == "crashed" and result.restarts == 1
    assert result.outcomes["X"].value == result.outcomes["again"].value == "analysed"


def test_a_crash_mid_run_resends_what_was_sent_ahead(solo: ZygoteExecutor, tmp_path: Path) -> None:
    calls = [Call("a", "call", "ok", (1,)), Call("die", "call", "die"), Call("b", "call", "ok", (2,)),
             Call("die2", "call", "die"), Call("c", "call", "ok", (3,))]
    result = _run(solo, tmp_path, """
        import os
        def ok(x):
            return x + 1
        def die():
            os._exit(3)
    """, calls)
    statuses = {key: outcome.status for key, outcome in result.outcomes.items()}
    assert statuses == {"a": "ok", "die": "crashed", "b": "ok", "die2": "skipped", "c": "ok"}
    assert result.outcomes["c"].value == 4 and result.restarts >= 1


@needs_linux
def test_a_timeout_costs_one_child_not_the_zygote(solo: ZygoteExecutor, tmp_path: Path) -> None:
    _values(_run(solo, tmp_path, "X = 1\n", [Call("x", "get", "X")]))
    before = _started(solo)
    started = time.monotonic()
    result = _run(solo, tmp_path, """
        import signal
        def spin():
            for name in ("SIGTERM", "SIGINT", "SIGHUP"):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
            while True:
                pass
        def ok(x):
            return x + 1
    """, [Call("spin", "call", "spin"), Call("ok", "call", "ok", (1,))], Limits(call_timeout_s=1.0))
    assert time.monotonic() - started < 8
    assert result.outcomes["spin"].status == "timeout" and result.outcomes["ok"].value == 2
    assert result.restarts == 1 and _started(solo) == before


@needs_linux
def test_a_dead_zygote_is_replaced(own: ZygoteExecutor, tmp_path: Path) -> None:
    _values(_run(own, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")]))
    pool = own._own_pool
    assert pool is not None and len(pool.idle) == 1
    zygote_pid = _zygote_pid(pool.idle[0])
    os.killpg(pool.idle[0].proc.pid, signal.SIGKILL)  # bwrap (or the plain zygote), from outside
    # In a sandbox the zygote dies a moment later (--die-with-parent): a run started before
    # that could be spawned by it and lose its child with it.
    _wait_until_dead(zygote_pid)
    again = _run(own, tmp_path, "def ok():\n    return 2\n", [Call("a", "call", "ok")])
    assert again.outcomes["a"].value == 2
    assert _started(own) == 2


@needs_linux
def test_a_zygote_killed_while_its_child_imports_costs_the_student_nothing(own: ZygoteExecutor, tmp_path: Path) -> None:
    _values(_run(own, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")]))
    pool = own._own_pool
    assert pool is not None and len(pool.idle) == 1
    # 0.7 s into the run the child is still importing (it sleeps 1.5 s there): kill the zygote
    # from outside (bwrap, or the plain zygote), as the OOM killer or an operator would.
    killer = threading.Timer(0.7, os.killpg, (pool.idle[0].proc.pid, signal.SIGKILL))
    killer.start()
    try:
        result = _run(own, tmp_path, "import time\ntime.sleep(1.5)\ndef ok():\n    return 2\n",
                      [Call("a", "call", "ok")])
    finally:
        killer.cancel()
    assert not result.import_error, result.import_error
    assert result.outcomes["a"].value == 2
    assert _started(own) == 2


@needs_linux
def test_a_zygote_killed_before_it_forks_the_child_costs_the_student_nothing(own: ZygoteExecutor, tmp_path: Path) -> None:
    # The spawn request goes out without waiting for the fork (the grader parses meanwhile);
    # here the zygote never answers it: stopped, then killed from outside.
    _values(_run(own, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")]))
    pool = own._own_pool
    assert pool is not None and len(pool.idle) == 1
    zygote = pool.idle[0]
    os.kill(_zygote_pid(zygote), signal.SIGSTOP)
    path = tmp_path / "hw2.py"
    path.write_text("def ok():\n    return 2\n")
    started = own.start(path, FAST, source=path.read_bytes())
    os.killpg(zygote.proc.pid, signal.SIGKILL)
    result = started.perform([Call("a", "call", "ok")])
    assert not result.import_error, result.import_error
    assert result.outcomes["a"].value == 2 and result.restarts == 0
    assert _started(own) == 2


def _wait_until_dead(pid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except OSError:
            return
        time.sleep(0.01)


def _zygote_pid(zygote: Any) -> int:
    """The zygote's own pid here: bwrap's child in a sandbox, the process itself otherwise."""
    if not zygote.info.get("sandboxed"):
        return zygote.proc.pid
    with open(f"/proc/{zygote.proc.pid}/task/{zygote.proc.pid}/children") as children:
        return int(children.read().split()[0])


@needs_linux
def test_a_zygote_that_stops_answering_is_destroyed(own: ZygoteExecutor, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _values(_run(own, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")]))
    pool = own._own_pool
    assert pool is not None
    frozen = _zygote_pid(pool.idle[0])
    monkeypatch.setattr(zygote_module, "ANSWER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(zygote_module, "KILL_ANSWER_S", 1.0)
    os.kill(frozen, signal.SIGSTOP)  # it cannot answer the next spawn request
    try:
        started = time.monotonic()
        result = _run(own, tmp_path, "def spin():\n    while True:\n        pass\n",
                      [Call("s", "call", "spin")], Limits(call_timeout_s=1.0))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(frozen, signal.SIGCONT)
    assert result.outcomes["s"].status == "timeout"
    assert time.monotonic() - started < 15
    assert _started(own) == 2
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{frozen}") and time.monotonic() < deadline:
        time.sleep(0.05)  # killed with its sandbox (a zombie until reaped is gone from /proc soon)
    assert not os.path.exists(f"/proc/{frozen}") or "Z" in open(f"/proc/{frozen}/stat").read().split(")")[-1][:3]


@needs_linux
def test_zygotes_are_recycled(own: ZygoteExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A zygote retires after RECYCLE_AFTER children; its successor started ahead, unhurried."""
    monkeypatch.setattr(zygote_module, "RECYCLE_AFTER", 3)
    monkeypatch.setattr(zygote_module, "REPLACE_AHEAD", 1)

    def run(value: int) -> None:
        result = _run(own, tmp_path, f"def ok():\n    return {value}\n", [Call("a", "call", "ok")])
        assert result.outcomes["a"].value == value

    run(1)
    run(2)  # its second child: the spare starts now, in the background
    pool = own._own_pool
    assert pool is not None
    deadline = time.monotonic() + 60
    while len(pool.idle) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pool.idle) == 2 and _started(own) == 2
    run(3)  # the old one's last child: it retires
    run(4)  # the spare's first
    assert _started(own) == 2 and len(pool.idle) == 1 and pool.idle[0].children == 1


@needs_linux
def test_the_zygote_preloads_without_threads(solo: ZygoteExecutor, tmp_path: Path) -> None:
    _values(_run(solo, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")]))
    info = solo.stats()["zygote"]
    assert info["threads"] == 1 and info["missing"] == []
    threads = _values(_run(solo, tmp_path, """
        import os, torch
        def threads():
            x = torch.ones(3, requires_grad=True)
            (x * 2).sum().backward()
            return torch.get_num_threads(), os.environ["OMP_NUM_THREADS"]
    """, [Call("t", "call", "threads")]))["t"]
    assert threads == (1, "1")


def test_small_memory_limits_go_to_a_fresh_worker(tmp_path: Path) -> None:
    executor = EagerZygoteExecutor(module_name="hw2")
    limits = Limits(memory_bytes=1024**3, call_timeout_s=5.0)
    result = _run(executor, tmp_path, "import resource\ndef limit():\n    return resource.getrlimit(resource.RLIMIT_AS)\n",
                  [Call("l", "call", "limit")], limits)
    assert result.outcomes["l"].value == (1024**3, 1024**3)


@needs_linux
def test_first_run_of_a_pool_goes_to_a_fresh_worker(tmp_path: Path) -> None:
    executor = ZygoteExecutor(module_name="hw2", sandbox=probe().isolation)  # a pool of its own
    try:
        for expected_zygotes in (0, 1, 1):
            result = _run(executor, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")])
            assert result.outcomes["a"].value == 1
            assert executor.stats()["zygotes_started"] == expected_zygotes
    finally:
        executor.close()


@needs_linux
def test_a_warmed_up_executor_runs_its_first_submission_on_the_zygote_it_started(tmp_path: Path) -> None:
    executor = ZygoteExecutor(module_name="hw2", sandbox=probe().isolation, eager=True)
    try:
        executor.warm_up(Limits())
        executor._warmed_up()
        assert executor.stats()["zygotes_started"] == 1  # before any run
        result = _run(executor, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")])
        assert result.outcomes["a"].value == 1
        assert executor.stats()["zygotes_started"] == 1  # the warmed-up one, not a second
    finally:
        executor.close()


@needs_linux
def test_a_warm_up_that_fails_leaves_the_run_to_meet_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = ZygoteExecutor(module_name="hw2", sandbox=probe().isolation, eager=True)
    calls = []

    def broken(count: int, limits: Limits) -> None:
        calls.append(count)
        raise OSError("no zygote today")

    monkeypatch.setattr(executor, "_prestart", broken)
    try:
        executor.warm_up(Limits())
        executor._warmed_up()
        monkeypatch.undo()
        result = _run(executor, tmp_path, "def ok():\n    return 1\n", [Call("a", "call", "ok")])
        assert calls == [1] and result.outcomes["a"].value == 1
    finally:
        executor.close()


# --------------------------------------------------------------------------- 3. the attack corpus


@pytest.fixture(scope="module")
def zygote_batch(hw2_spec, hw2_reference, tmp_path_factory: pytest.TempPathFactory) -> Iterator[attacks.Batch]:
    """test_attacks' batch, graded through zygotes; they are closed (and swept) before the checks."""
    marker = f"atk{secrets.token_hex(6)}"
    folder = tmp_path_factory.mktemp("class")
    isolation = attacks.RecordingIsolation(probe().isolation)
    executor = EagerZygoteExecutor(module_name="hw2", sandbox=isolation)
    listener = attacks.Listener(marker)
    record = attacks.Batch(marker)
    watched = [attacks.ROOT / p for p in attacks.WATCHED_TREES]
    record.repo_before = attacks.tree_digest(watched)
    try:
        def make_grader_for(name: str) -> Grader:
            options = GradingOptions(only=attacks.question_of(name), salt="attack-test-salt")
            grader = Grader(hw2_spec, hw2_reference, executor, options)
            grader.limits = attacks.LIMITS
            return grader

        record.results, record.seconds, record.total_s = attacks.grade_class(
            make_grader_for, attacks.corpus_entries(), folder, marker, listener, jobs=2,
            planted=lambda: setattr(record, "class_before", attacks.tree_digest([folder])))
        zygotes = executor.stats()["zygotes_started"]
    finally:
        executor.close()  # ends every zygote's session: the recording isolation looks then
        listener.close()
    record.class_after = attacks.tree_digest([folder])
    record.repo_after = attacks.tree_digest(watched)
    record.leftovers = isolation.leftovers
    time.sleep(0.5)
    record.still_running = attacks.running_with(marker)
    record.files_left = attacks.paths_with(marker, ["/tmp", "/var/tmp", "/dev/shm", str(attacks.ROOT)])
    record.files_left = [p for p in record.files_left if not p.startswith(str(folder))]
    record.connections = listener.connections
    record.zygotes = zygotes  # type: ignore[attr-defined]
    yield record
    for pid_line in record.still_running:
        with contextlib.suppress(OSError):
            os.kill(int(pid_line.split(":")[0]), 9)


@pytest.fixture(scope="module")
def batch(zygote_batch: attacks.Batch) -> attacks.Batch:  # test_attacks' checks, on this batch
    return zygote_batch


for _name in ("test_attack_scores_nothing", "test_second_student_finds_nothing_left_by_the_first",
              "test_output_flood_is_capped", "test_batch_finishes_in_bounded_time",
              "test_honest_students_keep_full_marks", "test_grader_files_and_class_folder_untouched",
              "test_no_process_of_any_run_is_left", "test_no_file_left_outside_the_run",
              "test_nobody_reached_the_network"):
    globals()[_name] = getattr(attacks, _name)


@needs_sandbox
def test_the_corpus_ran_on_few_zygotes(zygote_batch: attacks.Batch) -> None:
    # Two threads, and a zygote replaced only when an attack broke its child's cleanup or the
    # zygote itself: most children came from a handful of zygotes.
    assert zygote_batch.zygotes <= len(zygote_batch.results) // 2  # type: ignore[attr-defined]


def test_a_shared_call_is_encoded_once_and_found_by_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.executor import zygote

    points = tuple((i, i % 5) for i in range(3000))
    public = Call("q/formula", "map", "width", points, shared=True)
    first = zygote._shared_or_encoded(public)
    assert zygote._shared_or_encoded(public) is first  # the same object: kept
    assert zygote._shared_or_encoded(Call("q/formula", "map", "width", points, shared=True)) is not first
    hidden = Call("q/formula", "map", "width", points)
    assert zygote._shared_or_encoded(hidden) is not zygote._shared_or_encoded(hidden)
    assert first.frame == zygote._shared_or_encoded(hidden).frame

    monkeypatch.setattr(zygote, "MAX_SHARED_CALLS", 3)
    later = [Call(f"c{n}", "get", "X", shared=True) for n in range(4)]
    for call in later:
        zygote._shared_or_encoded(call)
    assert zygote._SHARED.get(later[0]) is None and zygote._SHARED.get(later[3]) is not None
    assert len(zygote._SHARED.by_call) == 3
