"""The sandbox's layers: the probe, the launch (uid switch, namespaces, mounts, limits), slots, sweeps.

The measurements behind the interpreter choice (grader/sandbox/launch.py's docstring) are
tests here: the chosen launch cannot read a root-only file it can see, cannot see the
reference, and is held by RLIMIT_NPROC; root inside a user namespace, the rejected option,
reads that file and ignores RLIMIT_NPROC.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import grader.sandbox
from grader import cli
from grader.executor import Call, Limits, SubprocessExecutor
from grader.sandbox import BwrapIsolation, PlainIsolation, SandboxUnavailable, probe, runtime_layout
from grader.sandbox.launch import SLOTS, UID_BASE, SlotPool, processes_of, sweep_uid

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "problems" / "hw2" / "reference.py"
REPORT = probe()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_uid_sandbox = pytest.mark.skipif(REPORT.mode != "bwrap+uid", reason=f"needs root and bubblewrap: {REPORT.summary}")
FAST = Limits(call_timeout_s=5.0, import_timeout_s=30.0, total_timeout_s=60.0)


def run(tmp_path: Path, source: str, calls: list[Call], sandbox="auto", limits: Limits = FAST):
    path = tmp_path / "hw2.py"
    path.write_text(textwrap.dedent(source))
    return SubprocessExecutor(module_name="hw2", sandbox=sandbox).run(path, calls, limits)


def value(result, call_id: str):
    outcome = result.outcomes[call_id]
    assert outcome.status == "ok", (outcome, result.stderr_tail)
    return outcome.value


# --------------------------------------------------------------------------- probe and doctor


def test_probe_is_cached_and_names_every_layer() -> None:
    assert probe() is REPORT
    names = {layer.name for layer in REPORT.layers}
    assert {"bubblewrap", "uid per slot", "user namespaces", "rlimits", "seccomp", "Landlock", "cgroups"} <= names
    text = REPORT.render()
    assert "verdict:" in text and ("protected (" in text or "NOT protected" in text)


def test_doctor_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["doctor"])
    out = capsys.readouterr().out
    assert "bubblewrap" in out and "verdict:" in out
    assert code == (0 if REPORT.protected else 1)


def test_grade_refuses_to_run_unprotected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    unprotected = grader.sandbox.ProbeReport("none", False, REPORT.layers, "NOT protected: bubblewrap (bwrap) "
                                             "is not installed. Student code would run ...", PlainIsolation())
    monkeypatch.setattr(grader.sandbox, "probe", lambda python=sys.executable: unprotected)
    code = cli.main(["grade", str(ROOT / "problems" / "hw2"), str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "refusing to grade" in err and "install bubblewrap" in err and "--unsafe" in err
    assert not (tmp_path / "out").exists()
    cli._require_sandbox(unsafe=True)  # --unsafe: it runs, saying so
    assert "WITHOUT a sandbox" in capsys.readouterr().err


def test_plain_isolation_still_scores(tmp_path: Path) -> None:
    """Where no layer works (a laptop), self-check still runs with the data-only protocol."""
    result = run(tmp_path, "def f(x):\n    return x * 2\n", [Call("c", "call", "f", (21,))], sandbox="none")
    assert value(result, "c") == 42


def test_runtime_layout_holds_the_interpreter_and_numpy() -> None:
    layout = runtime_layout(sys.executable)
    import numpy

    numpy_dir = os.path.realpath(os.path.dirname(os.path.dirname(numpy.__file__)))
    assert any(numpy_dir == f or numpy_dir.startswith(f + "/") or f == "/usr" for f in layout.folders) \
        or numpy_dir.startswith("/usr/")
    assert "/" not in layout.folders
    cwd = os.path.realpath(os.getcwd())
    assert not any(cwd == f or cwd.startswith(f + "/") for f in layout.folders)


# --------------------------------------------------------------------------- what holds inside


@needs_uid_sandbox
def test_chosen_launch_holds(tmp_path: Path) -> None:
    """The measurement of the docstring's table, on the chosen option."""
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)  # root-owned, visible inside at /secret
    base = probe().isolation
    isolation = BwrapIsolation(base.bwrap, base.layout, switch_uid=True, extra_binds=[(str(secret), "/secret")])
    result = run(tmp_path, """
        import errno, os, time
        def read(path):
            try:
                return open(path).read()
            except OSError as exc:
                return errno.errorcode[exc.errno]
        def forks():
            count = 0
            try:
                for _ in range(200):
                    if os.fork() == 0:
                        time.sleep(5)
                        os._exit(0)
                    count += 1
            except OSError as exc:
                return count, errno.errorcode[exc.errno]
            return count, ""
        def ids():
            status = open("/proc/self/status").read().splitlines()
            return os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), [
                line.split()[1] for line in status if line.startswith(("CapEff", "CapPrm", "NoNewPrivs"))]
    """, [Call("secret", "call", "read", ("/secret",)),
          Call("reference", "call", "read", (str(REFERENCE),)),
          Call("forks", "call", "forks"), Call("ids", "call", "ids")], sandbox=isolation,
        limits=Limits(**{**FAST.__dict__, "processes": 20}))
    assert value(result, "secret") == "EACCES"
    assert value(result, "reference") == "ENOENT"
    count, error = value(result, "forks")
    assert count < 20 and error == "EAGAIN"
    uid, euid, gid, groups, caps = value(result, "ids")
    assert uid == euid == gid and UID_BASE <= uid < UID_BASE + SLOTS and groups == []
    assert caps == ["0000000000000000", "0000000000000000", "1"]


@needs_uid_sandbox
def test_root_in_a_user_namespace_is_no_sandbox(tmp_path: Path) -> None:
    """Why the uid switch: bwrap started by root, even with --cap-drop ALL, reads root's files."""
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)
    code = ("import os\nn = 0\ntry:\n    for _ in range(40):\n        if os.fork() == 0:\n"
            "            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\n"
            "print(open('/secret').read(), n)")
    argv = [REPORT.isolation.bwrap, "--unshare-all", "--unshare-user", "--uid", "0", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--ro-bind", str(secret), "/secret", "--proc", "/proc",
            "--dev", "/dev", "/usr/bin/python3", "-I", "-S", "-c", code]
    if not os.path.exists("/usr/bin/python3") or not os.path.islink("/lib"):
        pytest.skip("needs a merged-/usr system Python")
    import resource

    done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NPROC, (10, 10)))
    assert done.stdout.split() == ["TOPSECRET", "40"], done.stderr


@pytest.mark.skipif(not REPORT.protected, reason="no sandbox here")
def test_inside_the_sandbox(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import os, resource, socket
        def look():
            writable = []
            for path in ("/x", "/usr/x", "/dev/x", "/grader/x", "/submission/x", "/tmp/x", "/dev/shm/x"):
                try:
                    open(path, "w").close()
                    writable.append(path)
                except OSError:
                    pass
            fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            limits = [resource.getrlimit(getattr(resource, n))[0] for n in ("RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_FSIZE")]
            return sorted(os.listdir("/")), writable, len(fds), limits, os.getpid(), os.path.exists("/etc/passwd")
        def net():
            try:
                socket.create_connection(("127.0.0.1", 22), timeout=1)
                return "connected"
            except OSError as exc:
                return type(exc).__name__
        def tmp_size():
            stats = os.statvfs("/tmp")
            return stats.f_blocks * stats.f_frsize
    """, [Call("look", "call", "look"), Call("net", "call", "net"), Call("tmp", "call", "tmp_size")])
    top, writable, fd_count, limits, pid, etc_passwd = value(result, "look")
    # The runtime is mounted at its own path, so its top folder shows (/check in CI, /root, /work...).
    runtime_tops = {Path(folder).parts[1] for folder in runtime_layout(sys.executable).folders}
    assert set(top) <= {"bin", "dev", "etc", "grader", "lib", "lib32", "lib64", "libx32", "proc",
                        "sbin", "submission", "tmp", "usr"} | runtime_tops
    assert not {"problems", "reports"} & set(top)
    assert writable == ["/tmp/x", "/dev/shm/x"]
    assert fd_count <= 6  # stdio, the two pipes, the listing itself
    assert limits == [FAST.open_files, FAST.processes, FAST.file_size_bytes]
    assert pid == 1 and not etc_passwd
    assert value(result, "net") == "ConnectionRefusedError"  # its own loopback: nobody listens
    assert value(result, "tmp") == FAST.tmp_bytes


@pytest.mark.skipif(not REPORT.protected, reason="no sandbox here")
def test_cpu_and_file_size_kills_are_reported(tmp_path: Path) -> None:
    result = run(tmp_path, """
        def spin():
            while True:
                pass
        def big():
            with open("big", "wb") as file:
                file.write(b"x" * (2 * 1024 * 1024))
    """, [Call("spin", "call", "spin"), Call("big", "call", "big")],
        limits=Limits(**{**FAST.__dict__, "cpu_s": 1, "file_size_bytes": 1024 * 1024}))
    assert "CPU time limit of 1 s" in result.outcomes["spin"].error
    assert "File too large" in result.outcomes["big"].error  # Python ignores SIGXFSZ: EFBIG


def test_symlinked_submission_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hw2.py").symlink_to(REFERENCE)
    result = SubprocessExecutor(module_name="hw2").run(tmp_path / "hw2.py", [Call("a", "get", "CONV_OUTPUT")], FAST)
    assert "symbolic link" in result.import_error
    assert result.outcomes["a"].status == "error"


# --------------------------------------------------------------------------- slots and sweeps


@pytest.mark.skipif(not IS_ROOT or not sys.platform.startswith("linux"), reason="needs root on Linux")
def test_slots_are_exclusive_and_swept(tmp_path: Path) -> None:
    base = UID_BASE + 10 * SLOTS  # away from the real slots: other graders may run right now
    pool = SlotPool(tmp_path, uid_base=base, slots=2)
    with pool.acquire() as first, pool.acquire() as second:
        assert {first, second} == {base, base + 1}
        with pytest.raises(SandboxUnavailable):
            with pool.acquire(wait_s=0.2):
                pass
        uid = first
        sleeper = subprocess.Popen(["sleep", "30"], preexec_fn=lambda: os.setresuid(uid, uid, uid))
        assert [pid for pid, _ in processes_of(uid)] == [sleeper.pid]
    sleeper.wait(timeout=5)  # the slot's release swept it
    assert sleeper.returncode == -9


@pytest.mark.skipif(not IS_ROOT or not sys.platform.startswith("linux"), reason="needs root on Linux")
def test_sweep_reaches_a_process_that_hides(tmp_path: Path) -> None:
    """A non-dumpable process shows up as root's in /proc/PID: the sweep reads the status instead."""
    uid = UID_BASE + 10 * SLOTS + 5
    python = "/usr/bin/python3"  # world-executable, unlike an interpreter under /root
    if not os.access(python, os.X_OK):
        pytest.skip("needs /usr/bin/python3")
    code = "import ctypes, time\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\ntime.sleep(30)"
    hider = subprocess.Popen([python, "-I", "-S", "-c", code], preexec_fn=lambda: os.setresuid(uid, uid, uid))
    try:
        deadline = __import__("time").monotonic() + 5
        while not processes_of(uid) and __import__("time").monotonic() < deadline:
            pass
        assert sweep_uid(uid)
        assert hider.wait(timeout=5) == -9
    finally:
        if hider.poll() is None:
            hider.kill()


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("bwrap")),
                    reason="needs root and bubblewrap")
def test_a_runtime_under_tmp_is_not_hidden_by_the_private_tmp(tmp_path: Path) -> None:
    """A checkout in /tmp with its .venv (as CI may make) must still start sandboxed workers."""
    import site
    import subprocess
    import venv

    env_dir = tmp_path / ".venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    # The grader's packages, from this interpreter's environment (the base interpreter's own
    # site-packages may not have them: a distribution's Python does not).
    purelib = Path(subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "outer-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run([str(env_dir / "bin" / "python"), "-m", "grader", "doctor"], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert "verdict: protected" in done.stdout, done.stdout + done.stderr
