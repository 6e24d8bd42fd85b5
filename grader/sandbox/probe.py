"""Which isolation layers work on this machine, and the strongest isolation built from them.

``probe()`` runs once per process and interpreter (cached): it looks for each layer, then
proves the strongest candidate end to end by starting the real worker in it on a small probe
module that reports what it can see (its uid, whether numpy imports, whether the grader's
working directory and /root are visible). A candidate that does not prove itself is not used.

Order of preference:

1. ``bwrap+uid``: running as root on Linux with bubblewrap: namespaces + a uid per slot.
2. ``bwrap``: a normal user with bubblewrap and unprivileged user namespaces: namespaces, the
   user's own uid (RLIMIT_NPROC then counts the user's other processes too).
3. ``none``: a plain subprocess with rlimits and the data-only protocol. Not a security
   boundary: self-check still runs and says so; ``grader grade`` refuses without ``--unsafe``.

As root, bubblewrap without the uid switch is never used: the sandboxed process would still be
uid 0 to the kernel (THREATS.md).
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .launch import (
    UID_BASE,
    BwrapIsolation,
    Isolation,
    PlainIsolation,
    SandboxUnavailable,
    runtime_layout,
)

WORKER_DIR = Path(__file__).resolve().parent.parent / "executor"
PROBE_TIMEOUT_S = 60.0
BWRAP_CANDIDATES = ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap")
FIX = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
       "bubblewrap; it is Linux only) and run the grader as root, or as a user allowed to create "
       "user namespaces; `grader doctor` shows what is missing")

PROBE_MODULE = r'''
import json, os, sys
facts = {"uid": os.getuid(), "euid": os.geteuid()}
try:
    import numpy
    facts["numpy"] = numpy.__version__
except Exception as exc:
    facts["numpy_error"] = repr(exc)
facts["visible"] = sorted(p for p in HIDDEN if os.path.exists(p))
facts["pid"] = os.getpid()
raise ImportError("PROBE " + json.dumps(facts))
'''


@dataclass(frozen=True)
class Layer:
    name: str
    state: str  # "used", "available" (works here, not used), "missing"
    detail: str


@dataclass(frozen=True)
class ProbeReport:
    mode: str  # "bwrap+uid", "bwrap" or "none"
    protected: bool
    layers: tuple[Layer, ...]
    summary: str
    isolation: Isolation = field(compare=False, repr=False)
    python: str = ""
    seconds: float = 0.0

    def render(self) -> str:
        """What `grader doctor` prints."""
        lines = [f"grader doctor: what protects a run of student code here "
                 f"({platform.system()} {platform.release()}, python {self.python})", ""]
        width = max(len(layer.name) for layer in self.layers)
        for layer in self.layers:
            lines.append(f"  {layer.state:<9}  {layer.name:<{width}}  {layer.detail}")
        lines += ["", f"verdict: {self.summary}"]
        if not self.protected:
            lines.append(f"to fix: {FIX}")
        return "\n".join(lines)


_PROBE_LOCK = threading.Lock()  # the batch grades in threads: probe once, not once per thread


def probe(python: str = sys.executable) -> ProbeReport:
    """The layers and the strongest isolation that proved itself here (cached per process)."""
    with _PROBE_LOCK:
        return _probe(python)


@functools.lru_cache(maxsize=None)
def _probe(python: str) -> ProbeReport:
    started = time.monotonic()
    layers: list[Layer] = []
    linux = sys.platform.startswith("linux")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    bwrap = _find_bwrap() if linux else None
    version = _bwrap_version(bwrap) if bwrap else ""

    isolation: Isolation = PlainIsolation()
    failure = ""
    if not linux:
        failure = f"{platform.system()} has no namespaces"
    elif bwrap is None:
        failure = "bubblewrap (bwrap) is not installed"
    else:
        try:
            candidate = BwrapIsolation(bwrap, runtime_layout(python), switch_uid=root)
            facts = prove(candidate, python)
            _judge(facts, candidate, root)
            isolation = candidate
        except (SandboxUnavailable, OSError, subprocess.SubprocessError, ValueError) as exc:
            failure = f"bubblewrap did not start a working sandbox: {exc}"
    used = isolation.protected

    layers.append(Layer("bubblewrap", "used" if used else ("available" if bwrap else "missing"),
                        f"{version or 'bwrap'} at {bwrap}: mount, PID, network, IPC, UTS and user "
                        "namespaces; /tmp and /dev/shm private and size-capped; / read-only"
                        if bwrap else "not installed (" + FIX.split(";")[0] + ")"))
    if root:
        layers.append(Layer("uid per slot", "used" if used else "available",
                            f"runs as root: each concurrent run switches to uid {UID_BASE}+slot "
                            "before bwrap starts; every process of that uid is killed after each "
                            "worker and run; RLIMIT_NPROC applies"))
    else:
        layers.append(Layer("uid per slot", "missing",
                            "not root: workers run as this user inside a user namespace; "
                            "RLIMIT_NPROC counts this user's other processes too"))
    layers.append(_userns_layer(used))
    layers.append(Layer("rlimits", "used",
                        "RLIMIT_CPU (hard), RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE"
                        + (", RLIMIT_NPROC" if used else "") + ", no core files; wall-clock "
                        "SIGKILL from the grader"))
    layers.append(_seccomp_layer(linux))
    layers.append(_landlock_layer(linux))
    layers.append(_cgroup_layer(linux))

    if used:
        summary = (f"protected ({isolation.mode}): student code runs in {isolation.description}")
    else:
        summary = (f"NOT protected: {failure}. Student code would run in a plain subprocess "
                   "(rlimits and the data-only protocol only), which is not a security "
                   "boundary: `grader check` still works and says so; `grader grade` refuses "
                   "unless --unsafe is given")
    return ProbeReport(isolation.mode, used, tuple(layers), summary, isolation, python,
                       round(time.monotonic() - started, 3))


def isolation_for(python: str = sys.executable) -> Isolation:
    return probe(python).isolation


# --------------------------------------------------------------------------- proof


def prove(isolation: Isolation, python: str) -> dict:
    """Start the real worker in `isolation` on PROBE_MODULE; the facts it reports."""
    from grader.executor import protocol
    from grader.executor.base import Limits

    with tempfile.TemporaryDirectory(prefix="grader-probe-") as folder, isolation.session() as session:
        module = Path(folder) / "probe_module.py"
        # Files that must not be visible inside: the module's own host path (the sandbox gets a
        # copy), the grader's sources, and the host's /etc.
        hidden = [str(module), str(WORKER_DIR / "subprocess_executor.py"), "/etc/passwd"]
        module.write_text(f"HIDDEN = {hidden!r}\n" + PROBE_MODULE)
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        with tempfile.TemporaryFile() as err:
            launch = session.launch(
                python, WORKER_DIR / "worker.py", WORKER_DIR / "protocol.py", module,
                "probe_module", ["--requests", str(request_read), "--responses",
                                 str(response_write)],
                (request_read, response_write), Limits(), _probe_env)
            try:
                proc = subprocess.Popen(
                    launch.argv, env=launch.env, cwd=launch.cwd, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err.fileno(), pass_fds=launch.pass_fds,
                    close_fds=True, start_new_session=True, preexec_fn=launch.preexec)
            finally:
                launch.spawned()
                os.close(request_read)
                os.close(response_write)
            try:
                os.close(request_write)  # no requests: the worker exits after the import
                message = _read_with_timeout(protocol, response_read, proc, PROBE_TIMEOUT_S)
            finally:
                os.close(response_read)
                try:
                    proc.wait(timeout=5)  # it exits by itself once it reported
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                session.after_child()
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace").strip()
    error = (message or {}).get("error", "")
    if not error.startswith("ImportError: PROBE "):
        raise SandboxUnavailable(
            f"the probe worker said {error or 'nothing'!r}" + (f"; stderr: {stderr[-500:]}" if stderr else ""))
    return json.loads(error[len("ImportError: PROBE "):])


def _probe_env(home: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = "1"
    return env


def _read_with_timeout(protocol, fd: int, proc: subprocess.Popen, timeout_s: float) -> dict | None:
    import selectors

    decoder = protocol.FrameDecoder()
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            payload = decoder.next_payload()
            if payload is not None:
                return protocol.decode_frame(payload)
            if selector.select(min(0.2, deadline - time.monotonic())):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                decoder.feed(chunk)
    return None


def _judge(facts: dict, isolation: BwrapIsolation, root: bool) -> None:
    if "numpy" not in facts:
        raise SandboxUnavailable(f"numpy does not import inside: {facts.get('numpy_error')}")
    if facts.get("visible"):
        raise SandboxUnavailable(f"the sandbox can see {', '.join(facts['visible'])}")
    if root and (facts.get("uid") in (0, None) or facts.get("euid") in (0, None)):
        raise SandboxUnavailable("the sandboxed process is still uid 0")


# --------------------------------------------------------------------------- layers


def _find_bwrap() -> str | None:
    found = shutil.which("bwrap")
    if found:
        return found
    return next((c for c in BWRAP_CANDIDATES if os.access(c, os.X_OK)), None)


def _bwrap_version(bwrap: str) -> str:
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return ""


def _userns_layer(used: bool) -> Layer:
    limit = _read("/proc/sys/user/max_user_namespaces")
    if not limit:
        return Layer("user namespaces", "missing", "no /proc/sys/user/max_user_namespaces")
    if limit == "0":
        return Layer("user namespaces", "missing", "disabled (user.max_user_namespaces = 0)")
    return Layer("user namespaces", "used" if used else "available",
                 f"max {limit}; bwrap creates one per worker and forbids nested ones "
                 "(--disable-userns); every capability dropped")


def _seccomp_layer(linux: bool) -> Layer:
    status = _read("/proc/self/status")
    if not linux or "Seccomp:" not in status:
        return Layer("seccomp", "missing", "no seccomp in this kernel")
    return Layer("seccomp", "available",
                 "in the kernel; not used: the network namespace already cuts the network, and "
                 "a syscall filter (kernel attack surface) is future work")


def _landlock_layer(linux: bool) -> Layer:
    if not linux:
        return Layer("Landlock", "missing", "Linux only")
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        abi = -1
    if abi < 0:
        return Layer("Landlock", "missing", "not enabled in this kernel")
    return Layer("Landlock", "available",
                 f"ABI {abi}; not used: the mount namespace already shows only what the worker "
                 "needs")


def _cgroup_layer(linux: bool) -> Layer:
    if not linux:
        return Layer("cgroups", "missing", "Linux only")
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        kind = "v2"
    elif os.path.isdir("/sys/fs/cgroup/memory"):
        kind = "v1"
    else:
        return Layer("cgroups", "missing", "no cgroup file system")
    return Layer("cgroups", "available",
                 f"{kind}; not used: memory is bounded per process (RLIMIT_AS) times processes "
                 "(RLIMIT_NPROC), not by one total for the run")
