"""How one worker process is started: a plain subprocess, or a bubblewrap sandbox.

What a sandboxed worker sees (``BwrapIsolation``)
-------------------------------------------------
- Its own mount namespace holding only: ``/usr`` (and the ``/lib*``, ``/bin`` links) read-only,
  the Python runtime read-only at its own path (the interpreter's prefix, the virtual
  environment's prefix, the folders that hold numpy and torch), ``/grader/worker.py`` and
  ``/grader/protocol.py`` read-only, a read-only *copy* of the submission at
  ``/submission/<module>.py`` (bwrap reads it from a descriptor the trusted side opened with
  ``O_NOFOLLOW``), ``/proc`` of its own PID namespace, a minimal ``/dev``, and size-capped
  private tmpfs mounts on ``/tmp`` (its working directory and HOME) and ``/dev/shm``. ``/`` and
  ``/dev`` are remounted read-only, so nothing else is writable. The reference module, the
  problems folder, hidden cases, other submissions, the reports, ``/root``, ``/work`` and
  ``/etc`` are not there at all.
- New user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``), no further user
  namespaces (``--disable-userns``), every capability dropped, a new session (no terminal
  injection), and ``--die-with-parent``: when the grader kills bwrap, or dies, the PID namespace
  and everything in it go with it. The worker is the namespace's PID 1 (``--as-pid-1``): when it
  ends, the kernel kills every process left in the namespace (a ``setsid`` daemon included), and
  bwrap reaps the worker itself, so the CPU time the grader reads from ``wait4`` is the
  worker's (bwrap's own init would take it to its grave, and "killed by its CPU limit" could not
  be told from other kills). bwrap reports "killed by signal N" as exit status 128 + N; the
  executor turns it back into the signal.
- When the grader runs as root (``mode="uid"``): a uid of its own per concurrent worker slot
  (``UID_BASE + slot``, locked with ``flock`` across processes), switched to *before* bwrap is
  executed, so bwrap and everything under it are that uid to the kernel; after every worker and
  at the end of the run every process of that uid is killed (``sweep_uid``).
- Resource limits set before exec (hard = soft): RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE,
  RLIMIT_NOFILE, RLIMIT_NPROC (meaningful only under a uid that is not root), RLIMIT_CORE = 0.
  The wall clock is the executor's: SIGKILL from the parent.
- The environment is built from scratch (no secrets; see the executor's ``_child_env``) and the
  command line holds only descriptor numbers and paths inside the sandbox.

Which interpreter runs inside, and why (measured on the grading machine, root, bwrap 0.8.0)
-----------------------------------------------------------------------------------------
The grader's own Python (pyenv, under ``/root``, mode 0700) cannot be executed by another uid,
and the sandbox must run as another uid. The options, each measured with a root-owned 0600
file bound into the sandbox, the reference module's host path, and RLIMIT_NPROC = 20:

============================================  ==============  ===========  ==========  ========
option                                        root 0600 file  reference    NPROC = 20  works
============================================  ==============  ===========  ==========  ========
root runs bwrap ``--uid 65534`` (userns)      read            not mounted  ignored     yes
root in a user namespace, caps dropped        read            not mounted  ignored     yes
uid switch, then bwrap ``--ro-bind-fd`` of an O_PATH fd    -   -           -           no: bwrap
                                                                                       0.8 calls
                                                                                       realpath()
                                                                                       on the fd
                                                                                       and fails
                                                                                       at /root
uid switch, staged runtime, then bwrap        EACCES          ENOENT       honoured    yes
(chosen)                                                                   (fork #15)
============================================  ==============  ===========  ==========  ========

Root inside a user namespace is still kuid 0 to the kernel: it owns root's 0600 files and is
exempt from RLIMIT_NPROC whatever its capabilities, so it fails two of the three checks.
A world-readable interpreter (Debian's ``/usr/bin/python3.11`` with a second venv holding
numpy and torch) holds as well as the chosen option, but it costs a second torch install
(~1 GB) and runs student code on a different interpreter than the grader's. The chosen option
*stages* the grader's own runtime: between fork and exec, while still root, the launcher enters
a private mount namespace, mounts a tmpfs on ``/run/grader-sandbox/stage`` (mode 0755) and
bind-mounts the runtime folders and the worker files into it; then it switches to the slot's
uid and executes bwrap, which binds them from there to their own paths in the sandbox. The
staging exists only in that launcher's mount namespace: nothing on the host changes, and no
descriptor of a root-only folder ever reaches the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import importlib.util
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

STATE_DIR = Path(os.environ.get("GRADER_SANDBOX_STATE", "/run/grader-sandbox"))
UID_BASE = int(os.environ.get("GRADER_SANDBOX_UID_BASE", "2900000"))
SLOTS = 64  # concurrent sandboxed runs on one machine (each holds one uid)
INSIDE_WORKER = "/grader/worker.py"
INSIDE_PROTOCOL = "/grader/protocol.py"
INSIDE_SUBMISSION_DIR = "/submission"
MAX_SUBMISSION_BYTES = 16 * 1024**2  # the grading layer refuses far less; this bounds the copy
SHM_BYTES = 16 * 1024**2
SWEEP_TIMEOUT_S = 3.0
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(Exception):
    """This machine cannot start a sandboxed worker (the probe says why)."""


# --------------------------------------------------------------------------- limits


def rlimits_for(limits: Any, *, nproc: int | None) -> list[tuple[int, int]]:
    """(resource, value) pairs computed in the parent: the pre-exec hook must not think.

    ``nproc`` None leaves RLIMIT_NPROC alone (a plain subprocess as root is exempt anyway, and
    for a normal user it would count every process of theirs).
    """
    wanted = [
        (resource.RLIMIT_CPU, int(limits.cpu_s)),
        (resource.RLIMIT_AS, int(limits.memory_bytes)),
        (resource.RLIMIT_FSIZE, int(limits.file_size_bytes)),
        (resource.RLIMIT_CORE, 0),  # a crash must not write a core file
        (resource.RLIMIT_NOFILE, int(getattr(limits, "open_files", 256))),
    ]
    if nproc is not None:
        wanted.append((resource.RLIMIT_NPROC, int(nproc)))
    pairs = []
    for which, value in wanted:
        _, hard = resource.getrlimit(which)
        # A hard limit can only be lowered without privileges; never ask for more.
        pairs.append((which, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return pairs


def _apply_rlimits(pairs: list[tuple[int, int]]) -> None:
    """Soft = hard: at the CPU limit the kernel sends SIGKILL, which cannot be caught."""
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


# --------------------------------------------------------------------------- launch


@dataclass
class Launch:
    """Everything subprocess.Popen needs to start one worker, and what to do after."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    pass_fds: tuple[int, ...]
    preexec: Callable[[], None]
    workdir: str  # the worker's working directory and HOME, as the worker sees it
    signal_exit_codes: bool = False  # bwrap reports "killed by signal N" as exit code 128 + N
    close_after_spawn: list[int] = field(default_factory=list)

    def spawned(self) -> None:
        """Close the descriptors only the child needed (call after Popen, success or not)."""
        for fd in self.close_after_spawn:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.close_after_spawn.clear()


class Session:
    """One executor run: holds a slot (uid) if the isolation uses one."""

    protected = False
    description = ""

    def launch(self, python: str, worker: Path, protocol_file: Path, submission: Path,
               module_name: str, worker_args: list[str], pass_fds: tuple[int, ...],
               limits: Any, env_for: Callable[[str], dict[str, str]]) -> Launch:
        raise NotImplementedError

    def after_child(self) -> None:
        """A worker ended (killed and reaped): make sure nothing of it is left."""

    def close(self) -> None:
        """The run is over."""


class Isolation:
    """A way to start workers. ``session()`` is entered once per executor run."""

    mode = "none"
    protected = False

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        raise NotImplementedError
        yield  # pragma: no cover


def open_submission(path: Path) -> int:
    """A descriptor of the submission, never through a symlink, only a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SandboxUnavailable(f"{path.name} is a symbolic link; submit the file itself") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SandboxUnavailable(f"{path.name} is not a regular file")
    if info.st_size > MAX_SUBMISSION_BYTES:
        os.close(fd)
        raise SandboxUnavailable(f"{path.name} is {info.st_size} bytes; the limit is {MAX_SUBMISSION_BYTES}")
    os.set_blocking(fd, True)
    return fd


# --------------------------------------------------------------------------- plain


class _PlainSession(Session):
    description = "a plain subprocess (not a security boundary)"

    def __init__(self, root: str) -> None:
        self.root = root

    def launch(self, python, worker, protocol_file, submission, module_name, worker_args,
               pass_fds, limits, env_for) -> Launch:
        workdir = tempfile.mkdtemp(prefix="work-", dir=self.root)
        rlimits = rlimits_for(limits, nproc=None)
        argv = [python, "-I", "-X", "faulthandler", str(worker), "--submission", str(submission),
                "--module-name", module_name, *worker_args]
        return Launch(argv, env_for(workdir), workdir, pass_fds, lambda: _apply_rlimits(rlimits),
                      workdir)


class PlainIsolation(Isolation):
    """A child process of this Python with rlimits and the data-only protocol; nothing else.

    Used where no sandbox layer works (macOS, Windows, a locked-down Linux): self-check still
    scores correctly, but the student's code can read whatever this user can read.
    """

    mode = "none"
    protected = False

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        root = tempfile.mkdtemp(prefix="grader-plain-")
        try:
            yield _PlainSession(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- runtime layout


@dataclass(frozen=True)
class RuntimeLayout:
    """The interpreter to execute inside the sandbox and the host folders it needs."""

    python: str  # path to execute (its folder resolved, the last symlink kept: venvs need it)
    folders: tuple[str, ...]  # real paths, mounted read-only at the same path inside


def _runtime_folders() -> list[str]:
    """This interpreter's prefixes and the folders holding numpy and torch (not imported)."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("numpy", "torch"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            folders.add(os.path.dirname(list(spec.submodule_search_locations)[0]))
    return sorted(folders)


def runtime_layout(python: str) -> RuntimeLayout:
    """Which folders the interpreter `python` needs: its prefixes and numpy's and torch's."""
    python = os.path.abspath(python)
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        raw = _runtime_folders()
    else:  # another interpreter: ask it the same question
        import inspect

        script = (inspect.getsource(_runtime_folders) + "\nimport importlib.util, json, os, sys\n"
                  "print(json.dumps(_runtime_folders()))\n")
        done = subprocess.run([python, "-I", "-c", script], capture_output=True, text=True,
                              timeout=60, check=True)
        raw = json.loads(done.stdout)
    folders = sorted({os.path.realpath(p) for p in raw if p})
    kept: list[str] = []
    for folder in folders:  # sorted: a parent comes before its children
        if _inside(folder, "/usr") or any(_inside(folder, k) for k in kept):
            continue
        kept.append(folder)
    cwd = os.path.realpath(os.getcwd())
    for folder in kept:
        if folder == "/" or _inside(cwd, folder):
            raise SandboxUnavailable(
                f"the Python runtime lives in {folder}, which holds the working directory "
                f"{cwd}: mounting it would show the sandbox this folder")
    inside_python = os.path.join(os.path.realpath(os.path.dirname(python)), os.path.basename(python))
    if not (_inside(inside_python, "/usr") or any(_inside(inside_python, k) for k in kept)):
        raise SandboxUnavailable(f"the interpreter {python} lies outside its own prefix")
    return RuntimeLayout(inside_python, tuple(kept))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# --------------------------------------------------------------------------- uid slots


def processes_of(uid: int) -> list[tuple[int, bool]]:
    """(pid, is_zombie) of every process whose real, effective, saved or fs uid is `uid`.

    Reads /proc/PID/status, not the owner of /proc/PID: a process that made itself
    non-dumpable shows up as owned by root there.
    """
    wanted = str(uid).encode()
    found = []
    for pid, data in _process_statuses():
        uids, zombie = b"", False
        for line in data.split(b"\n"):
            if line.startswith(b"State:"):
                zombie = b"Z" in line.split()[1:2] or b"X" in line.split()[1:2]
            elif line.startswith(b"Uid:"):
                uids = line
                break
        if wanted in uids.split()[1:]:
            found.append((pid, zombie))
    return found


def _process_statuses() -> Iterator[tuple[int, bytes]]:
    """(pid, contents of /proc/PID/status) of every process still there when read."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as status:
                yield int(name), status.read()
        except OSError:
            continue


def sweep_uid(uid: int, timeout_s: float = SWEEP_TIMEOUT_S) -> bool:
    """SIGKILL every process of `uid` until none is left running; False if some still run.

    Zombies are dead already (no memory, no code running); one whose parent was killed waits
    for the system's init to reap it, which can take a second here, so they are not waited for.
    """
    if uid == 0:
        raise ValueError("refusing to sweep uid 0")
    deadline = time.monotonic() + timeout_s
    while True:
        running = [pid for pid, zombie in processes_of(uid) if not zombie]
        if not running:
            return True
        for pid in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


class SlotPool:
    """One uid per concurrent run, locked with flock in a root-only folder (any process)."""

    def __init__(self, lock_dir: Path, uid_base: int = UID_BASE, slots: int = SLOTS) -> None:
        self.lock_dir = lock_dir
        self.uid_base = uid_base
        self.slots = slots

    @contextlib.contextmanager
    def acquire(self, wait_s: float = 600.0) -> Iterator[int]:
        """The uid of a free slot, held until the block ends (then swept)."""
        deadline = time.monotonic() + wait_s
        while True:
            for slot in range(self.slots):
                fd = os.open(self.lock_dir / f"slot-{slot}.lock",
                             os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                uid = self.uid_base + slot
                try:
                    sweep_uid(uid)  # whatever a crashed grader left behind
                    yield uid
                finally:
                    try:
                        sweep_uid(uid)
                    finally:
                        os.close(fd)  # releases the lock
                return
            if time.monotonic() >= deadline:
                raise SandboxUnavailable(f"all {self.slots} sandbox slots stayed busy")
            time.sleep(0.05)


def prepare_state_dir(state_dir: Path = STATE_DIR) -> tuple[Path, Path]:
    """(stage mount point, lock folder), created root-owned; refuses a planted symlink."""
    for path, mode in ((state_dir, 0o755), (state_dir / "stage", 0o755), (state_dir / "slots", 0o700)):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SandboxUnavailable(f"{path} is not a folder owned by this user")
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    return state_dir / "stage", state_dir / "slots"


# --------------------------------------------------------------------------- mounts (root)

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


class _Libc:
    """unshare(2) and mount(2), bound before fork: the pre-exec hook only calls them."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.unshare = libc.unshare
        self.unshare.argtypes = [ctypes.c_int]
        self.mount = libc.mount
        self.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_ulong, ctypes.c_char_p]

    def check(self, result: int, what: str) -> None:
        if result != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{what}: {os.strerror(code)}")


_LIBC: _Libc | None = None


def _libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


def _stage_hook(stage: str, binds: list[tuple[str, str, bool]], rlimits: list[tuple[int, int]],
                uid: int) -> Callable[[], None]:
    """The pre-exec hook of the uid mode: limits, private staging mounts, then the uid switch.

    ``binds``: (host path, name in the stage, is a folder). Runs between fork and exec as root;
    everything it needs was computed before the fork.
    """
    libc = _libc()
    stage_b = stage.encode()
    targets = [(src.encode(), f"{stage}/{name}", f"{stage}/{name}".encode(), is_dir)
               for src, name, is_dir in binds]

    def apply() -> None:
        _apply_rlimits(rlimits)
        libc.check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        libc.check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        libc.check(libc.mount(b"grader-stage", stage_b, b"tmpfs", MS_NOSUID | MS_NODEV,
                              b"mode=0755,size=1m"), "mount the stage")
        for src, target, target_b, is_dir in targets:
            if is_dir:
                os.mkdir(target, 0o755)
            else:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            libc.check(libc.mount(src, target_b, None, MS_BIND | MS_REC, None), f"bind {target}")
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    return apply


# --------------------------------------------------------------------------- bubblewrap


def user_task_count(uid: int) -> int:
    """Tasks (threads included: RLIMIT_NPROC counts them) of `uid` right now."""
    total = 0
    for _, data in _process_statuses():
        uid_line = next((l for l in data.split(b"\n") if l.startswith(b"Uid:")), b"")
        if uid_line.split()[1:2] == [str(uid).encode()]:
            threads = next((l for l in data.split(b"\n") if l.startswith(b"Threads:")), b"Threads: 1")
            total += int(threads.split()[1])
    return total


class _BwrapSession(Session):
    def __init__(self, isolation: BwrapIsolation, uid: int | None) -> None:
        self.isolation = isolation
        self.uid = uid
        self.starts = 0
        self.description = isolation.description

    def launch(self, python, worker, protocol_file, submission, module_name, worker_args,
               pass_fds, limits, env_for) -> Launch:
        iso = self.isolation
        layout = iso.layout
        self.starts += 1  # (the slot was swept when acquired, and after every killed worker)
        inside_file = f"{INSIDE_SUBMISSION_DIR}/{module_name}.py"
        workdir = f"/tmp/{iso.run_label}-{os.getpid()}-{self.starts}"
        submission_fd = open_submission(submission)
        try:
            extra = [host for host, _ in iso.extra_binds]
            if self.uid is not None:
                binds = [(folder, f"rt{i}", True) for i, folder in enumerate(layout.folders)]
                binds += [(str(worker), "worker.py", False), (str(protocol_file), "protocol.py", False)]
                binds += [(host, f"extra{i}", os.path.isdir(host)) for i, host in enumerate(extra)]
                sources = {b[0]: f"{iso.stage}/{b[1]}" for b in binds}
                rlimits = rlimits_for(limits, nproc=int(limits.processes))
                preexec = _stage_hook(str(iso.stage), binds, rlimits, self.uid)
            else:
                sources = {p: p for p in (*layout.folders, str(worker), str(protocol_file), *extra)}
                nproc = user_task_count(os.getuid()) + int(limits.processes)
                rlimits = rlimits_for(limits, nproc=nproc)
                preexec = lambda: _apply_rlimits(rlimits)  # noqa: E731
            # The private /tmp first: a runtime that lives under /tmp (a checkout in /tmp with its
            # .venv) is then bound on top of it instead of being hidden by it.
            argv = [iso.bwrap, *iso.base_args(), "--size", str(int(limits.tmp_bytes)), "--tmpfs", "/tmp"]
            for folder in layout.folders:
                argv += ["--ro-bind", sources[folder], folder]
            for host, inside in iso.extra_binds:
                argv += ["--ro-bind", sources[host], inside]
            argv += ["--ro-bind", sources[str(worker)], INSIDE_WORKER,
                     "--ro-bind", sources[str(protocol_file)], INSIDE_PROTOCOL,
                     "--ro-bind-data", str(submission_fd), inside_file,
                     "--proc", "/proc", "--dev", "/dev",
                     "--size", str(min(SHM_BYTES, int(limits.tmp_bytes))), "--tmpfs", "/dev/shm",
                     "--dir", workdir,
                     "--remount-ro", "/dev", "--remount-ro", "/",
                     "--chdir", workdir, "--",
                     layout.python, "-I", "-X", "faulthandler", INSIDE_WORKER,
                     "--submission", inside_file, "--module-name", module_name, *worker_args]
        except BaseException:
            os.close(submission_fd)
            raise
        return Launch(argv, env_for(workdir), "/", (*pass_fds, submission_fd), preexec, workdir,
                      signal_exit_codes=True, close_after_spawn=[submission_fd])

    def after_child(self) -> None:
        if self.uid is not None:
            sweep_uid(self.uid)


class BwrapIsolation(Isolation):
    """bubblewrap namespaces; as root also a uid of its own per slot (see the module doc)."""

    protected = True

    def __init__(self, bwrap: str, layout: RuntimeLayout, *, switch_uid: bool,
                 state_dir: Path = STATE_DIR, uid_base: int = UID_BASE, slots: int = SLOTS,
                 extra_binds: Sequence[tuple[str, str]] = ()) -> None:
        self.bwrap = bwrap
        self.layout = layout
        # (host path, path inside), read-only: data files an assignment's students may read.
        self.extra_binds = tuple((os.path.realpath(h), i) for h, i in extra_binds)
        self.switch_uid = switch_uid
        self.mode = "bwrap+uid" if switch_uid else "bwrap"
        self.run_label = "grader-run"
        if switch_uid:
            self.stage, lock_dir = prepare_state_dir(state_dir)
            self.pool: SlotPool | None = SlotPool(lock_dir, uid_base, slots)
            self.description = (f"bubblewrap namespaces, uid {uid_base}+slot, rlimits")
        else:
            self.stage = None
            self.pool = None
            self.description = "bubblewrap namespaces (user namespace of this user), rlimits"
        _libc()  # bind the C functions now, never after a fork

    def base_args(self) -> list[str]:
        args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--as-pid-1", "--cap-drop", "ALL", "--hostname", "sandbox",
                "--ro-bind", "/usr", "/usr"]
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        return args

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self.pool is None:
            yield _BwrapSession(self, None)
            return
        with self.pool.acquire() as uid:
            yield _BwrapSession(self, uid)
