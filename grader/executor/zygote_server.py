"""Sandboxed side of the warm worker (zygote): imports numpy and torch once, forks one child per run.

Run by path inside the sandbox, never imported by the grader (see zygote.py for the trusted side):

    python -I -X faulthandler zygote_server.py --submission WORKER_PY --module-name worker \
        --control FD

``--submission`` names worker.py (the sandbox's launch mounts one program, protocol.py and one
read-only file: the program is this file and the file is the worker whose serve loop every child
runs). ``--control`` is this end of a SOCK_SEQPACKET socket pair; the other end is the trusted
grader's. Self-contained like worker.py: the standard library, numpy, torch, protocol.py and
worker.py, never ``grader``.

What this process holds, and what it never holds
-------------------------------------------------
It imports numpy and torch (``torch.set_num_threads(1)``, one thread for OpenMP, MKL and
OpenBLAS) and never runs a torch or BLAS operation: fork() from a process that used torch's
OpenMP pool deadlocks the child (THREATS.md), and before every fork it checks that it still has
one thread. It never receives reference code, expected outputs, hidden cases, the salt, or even
the submission's source: the source arrives as a sealed memfd that only the child reads, the
calls' inputs go from the grader straight to the child over the child's own pipes, and the
results straight back. So the memory every child is forked from holds nothing of any student and
nothing of any answer.

Messages on the control socket (one JSON object per datagram, descriptors as SCM_RIGHTS):
  zygote -> grader, once:  {"event": "ready", "threads", "vm_kb"} | {"event": "failed", "error"}
  grader -> zygote:        {"op": "spawn", "serial", "module_name", "rlimits", "env", "seccomp"}
                           + descriptors [source memfd, requests (read end), responses (write
                           end), stdout, stderr]
  zygote -> grader:        {"event": "spawned", "serial"} | {"event": "spawn_failed", "serial",
                           "error"}
  grader -> zygote:        {"op": "kill", "serial"} (a call timed out: kill the child now)
  zygote -> grader:        {"event": "exited", "serial", "returncode", "cpu_s", "maxrss_kb",
                           "clean", "why"} once the child and everything it started are gone,
                           its files wiped; "clean": false means this zygote retires (exits).
End of stream from the grader: kill everything and exit.

Between two children (in the sandbox, where this process is PID 1 of its own PID namespace):
``kill(-1, SIGKILL)`` (from PID 1 that spares only itself), every process reaped, /tmp and
/dev/shm emptied, System V IPC objects removed, the uid's keyrings cleared; POSIX message queues
cannot be created (RLIMIT_MSGQUEUE = 0) and keyring system calls fail (a seccomp filter), so
nothing one student leaves can reach the next. A child cannot kill this process: the kernel
drops SIGKILL and SIGSTOP sent to a namespace's init from inside it, and this process installs
no signal handler. It is not dumpable, so no child can ptrace it or read its memory or
environment through /proc, and its command line is overwritten with a neutral name.
Outside a sandbox (``none``: not a security boundary) the child's session and every orphan it
leaves (this process is their subreaper) are killed and its private folder removed instead.
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import gc
import importlib.util
import json
import os
import re
import resource
import select
import signal
import socket
import stat
import struct
import sys
import time
from types import ModuleType
from typing import Any

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
for _variable in _THREAD_VARIABLES:
    os.environ[_variable] = "1"

sys.dont_write_bytecode = True

PROTOCOL_MODULE = "_grader_executor_protocol"
WORKER_MODULE = "_grader_executor_worker"
# What submissions import, and what torch imports lazily on first use (sympy through
# torch.fx.experimental.symbolic_shapes: autograd's backward() with a gradient, 0.65 s per child
# that would import it itself; numpy.random: 18 ms for the first np.random access).
PRELOAD = ("numpy", "numpy.random", "numpy.linalg", "numpy.fft", "numpy.lib.stride_tricks",
           "torch", "torch.nn", "torch.nn.functional", "torch.fx.experimental.symbolic_shapes")
MAX_MESSAGE = 1 << 16
REAP_BUDGET_S = 3.0  # every process of a child gone within this, or this zygote retires
WIPE_BUDGET_S = 3.0  # /tmp and /dev/shm emptied within this, or this zygote retires
PROCESS_TITLE = b"zygote"
WIPED = ("/tmp", "/dev/shm")

PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 4, 38, 22
PR_SET_CHILD_SUBREAPER = 36
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


# --------------------------------------------------------------------------- loading


def _load(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _preload() -> list[str]:
    """Import what submissions import; one thread everywhere. The names that did not import."""
    missing = []
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - torch is optional for the grader's own machinery
            missing.append(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # sets the OpenMP count; runs no parallel region
    return missing


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _vm_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _collapse_into_huge_pages() -> int:
    """Back the heap and large anonymous mappings with 2 MiB pages (MADV_COLLAPSE, Linux 6.1).

    fork() copies one page-table entry per 4 KiB page touched: about 37,000 after importing
    torch, 8-12 ms per child here; with huge pages 1.5-3 ms. A child's first write into one
    splits only that mapping in the child (a 4 KiB copy, as before). Best effort: MiB collapsed.
    """
    libc_madvise = _libc.madvise
    libc_madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madv_collapse, huge = 25, 1 << 21
    collapsed = 0
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return 0
    for line in lines:
        parts = line.split()
        name = parts[5] if len(parts) > 5 else ""
        if len(parts) < 5 or not parts[1].startswith("rw") or name not in ("", "[heap]"):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        start, end = (start + huge - 1) & ~(huge - 1), end & ~(huge - 1)
        if end - start >= huge and libc_madvise(start, end - start, madv_collapse) == 0:
            collapsed += (end - start) >> 20
    return collapsed


def _set_process_title(title: bytes) -> None:
    """Overwrite argv in place: /proc/1/cmdline then shows `title`, nothing of the grader."""
    try:
        with open("/proc/self/stat", "rb") as stat_file:
            fields = stat_file.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
    except (OSError, IndexError, ValueError):
        return
    if end - start > len(title):
        ctypes.memset(start, 0, end - start)
        ctypes.memmove(start, title, len(title))


# --------------------------------------------------------------------------- the child


def _seccomp_filter() -> bytes | None:
    """A classic BPF program: keyring system calls (add_key, request_key, keyctl) fail with EPERM.

    The children of one zygote share its user namespace, whose keyrings outlive a process; a
    fresh sandbox per run would not share them. None on an architecture not in the table.
    """
    arches = {  # AUDIT_ARCH_*: (add_key, request_key, keyctl)
        0xC000003E: (248, 249, 250, 0x40000000 | 248, 0x40000000 | 249, 0x40000000 | 250),  # x86_64, x32
        0x40000003: (286, 287, 288),  # i386
        0xC00000B7: (217, 218, 219),  # aarch64
        0x40000028: (309, 310, 311),  # arm
    }
    machine = os.uname().machine
    if machine not in ("x86_64", "aarch64", "arm64"):
        return None
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM
    blocks: list[list[tuple[int, int, int, int]]] = []
    for numbers in arches.values():
        block = [(ld_abs, 0, 0, 0)]  # seccomp_data.nr
        for index, number in enumerate(numbers):
            block.append((jeq, len(numbers) - index, 0, number))  # to the shared deny below
        block.append((ret, 0, 0, allow))
        blocks.append(block)
    program: list[tuple[int, int, int, int]] = [(ld_abs, 0, 0, 4)]  # seccomp_data.arch
    offset = len(arches) + 1  # past the arch jumps and the unknown-arch allow
    for index, arch in enumerate(arches):
        program.append((jeq, offset - index - 1 + sum(len(b) for b in blocks[:index]), 0, arch))
    program.append((ret, 0, 0, allow))
    deny_at = len(program) + sum(len(b) for b in blocks)
    for block in blocks:
        start = len(program)
        for position, (code, jt, jf, k) in enumerate(block):
            if code == jeq:
                jt = deny_at - (start + position) - 1
            program.append((code, jt, jf, k))
    program.append((ret, 0, 0, deny))
    return b"".join(struct.pack("HBBI", *insn) for insn in program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Seccomp:
    """The filter, built in the zygote (ctypes objects cost page copies in every child)."""

    def __init__(self, program: bytes) -> None:
        self.buffer = ctypes.create_string_buffer(program, len(program))
        self.fprog = _SockFprog(len(program) // 8, ctypes.addressof(self.buffer))
        self.pointer = ctypes.byref(self.fprog)

    def install(self) -> None:
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self.pointer, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def _write_private_copy(source_fd: int, folder: str, module_name: str) -> str:
    """The submission's source, from the memfd, as a read-only file in a read-only folder."""
    os.mkdir(folder, 0o700)
    path = os.path.join(folder, f"{module_name}.py")
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        offset = 0
        while True:
            chunk = os.pread(source_fd, 1 << 20, offset)
            if not chunk:
                break
            offset += len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(target, view):]
    finally:
        os.close(target)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    return path


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(f"{code}\n")
    except Exception:  # noqa: BLE001
        pass
    return 1


def _child(message: dict[str, Any], fds: list[int], sandboxed: bool, root: str,
           seccomp: Seccomp | None) -> None:
    """In the forked child: become the worker for one submission. Never returns."""
    code = 70
    try:
        source_fd, requests, responses, stdout, stderr = fds
        os.setsid()
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for fd in (stdout, stderr):
            if fd > 2:
                os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
        faulthandler.enable()  # as `python -X faulthandler` (the zygote itself has it off)
        for which, value in message["rlimits"]:
            resource.setrlimit(which, (value, value))
        if sandboxed:
            resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
            if message.get("seccomp", True) and seccomp is not None:
                seccomp.install()
        module_name = message["module_name"]
        serial = int(message["serial"])
        home = os.path.join(root, f"work-{serial}")
        os.mkdir(home, 0o700)
        submission = _write_private_copy(source_fd, os.path.join(root, f"submission-{serial}"),
                                         module_name)
        os.close(source_fd)
        os.chdir(home)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in message["env"].items()})
        os.environ["HOME"] = os.environ["TMPDIR"] = home
        import tempfile

        tempfile.tempdir = None
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed()  # a fresh interpreter seeds from the OS: so does each child
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as a fresh process (the zygote is not)
        worker = sys.modules[WORKER_MODULE]
        sys.argv = [os.path.join(os.path.dirname(worker.__file__), "worker.py"),
                    "--submission", submission, "--module-name", module_name,
                    "--requests", str(requests), "--responses", str(responses)]
        try:
            code = worker.serve(submission, module_name, requests, responses)
        except SystemExit as exc:
            code = _exit_code(exc)
        # Done: flush, then close the output and the pipe before the (slow) exit of a large
        # address space, so the grader can go on while the zygote reaps and cleans up.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        for fd in (responses, 1, 2):
            try:
                os.close(fd)
            except OSError:
                pass
    except BaseException:  # noqa: BLE001 - as an uncaught exception ends a fresh interpreter
        try:
            import traceback

            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code if isinstance(code, int) else 1)


# --------------------------------------------------------------------------- the zygote


class Zygote:
    def __init__(self, control: socket.socket, sandboxed: bool) -> None:
        self.control = control
        self.sandboxed = sandboxed  # PID 1 of its own namespace, inside bubblewrap
        program = _seccomp_filter() if sandboxed else None
        self.seccomp = Seccomp(program) if program is not None else None
        # The next spawn request, when it came while the last child was still exiting (the
        # grader does not wait for that exit once the child closed its pipe).
        self.queued: tuple[dict[str, Any] | None, list[int]] | None = None
        if sandboxed:
            self.root = "/tmp"
            # Read-only runtime mounts can live under /tmp (a checkout under /tmp keeps its .venv
            # there): they and the folders leading to them stay, as they were at the start.
            self.mounts = _mount_points()
            self.kept = _KeptFolders(WIPED, self.mounts)
        else:
            import tempfile

            self.root = tempfile.mkdtemp(prefix="zygote-")  # under the session's private TMPDIR

    # -- messages

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.control, [data], fds)
        else:
            self.control.send(data)

    def receive(self) -> tuple[dict[str, Any] | None, list[int]]:
        """The next message and its descriptors; (None, []) at end of stream."""
        try:
            data, fds, _flags, _address = socket.recv_fds(self.control, MAX_MESSAGE, 8)
        except (ConnectionResetError, BrokenPipeError):
            return None, []
        if not data:
            for fd in fds:
                os.close(fd)
            return None, []
        try:
            message = json.loads(data)
        except ValueError:
            message = {}
        return (message if isinstance(message, dict) else {}), fds

    # -- the loop

    def serve(self) -> int:
        while True:
            if self.queued is not None:
                (message, fds), self.queued = self.queued, None
            else:
                message, fds = self.receive()
            if message is None or message.get("op") == "exit":
                self._close(fds)
                self.cleanup(None)
                return 0
            if message.get("op") != "spawn":
                self._close(fds)  # a stale "kill" for a child already gone
                continue
            if not self.run_child(message, fds):
                return 0

    def run_child(self, message: dict[str, Any], fds: list[int]) -> bool:
        """Fork one child and see it through; False when this zygote retires."""
        serial = message.get("serial")
        if len(fds) != 5 or _threads() != 1:
            why = "a spawn without its 5 descriptors" if len(fds) != 5 else "more than one thread"
            self._close(fds)
            self.send({"event": "spawn_failed", "serial": serial, "error": f"zygote: {why}"})
            return len(fds) != 5
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            self._close(fds)
            self.send({"event": "spawn_failed", "serial": serial, "error": f"fork: {exc}"})
            return True
        if pid == 0:
            self.control.close()
            _child(message, fds, self.sandboxed, self.root, self.seccomp)
        self._close(fds)
        self.send({"event": "spawned", "serial": serial})
        returncode, cpu_s, maxrss_kb, grader_gone = self.await_child(pid, serial)
        clean, why = self.cleanup(pid)
        if not grader_gone:
            self.send({"event": "exited", "serial": serial, "returncode": returncode,
                       "cpu_s": cpu_s, "maxrss_kb": maxrss_kb, "clean": clean, "why": why})
        return clean and not grader_gone

    def await_child(self, pid: int, serial: Any) -> tuple[int, float, int, bool]:
        """Wait until the child exits (or the grader asks to kill it): returncode, CPU, RSS."""
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        grader_gone = False
        try:
            while True:
                listening = self.queued is None
                waitable = ([self.control] if listening else []) + ([pidfd] if pidfd is not None else [])
                ready, _, _ = select.select(waitable, [], [], None if pidfd is not None else 0.01)
                if self.control in ready:
                    message, fds = self.receive()
                    if message is not None and message.get("op") == "spawn":
                        self.queued = (message, fds)  # served once this child is gone
                        continue
                    self._close(fds)
                    if message is None:
                        grader_gone = True
                    if message is None or message.get("op") == "kill":
                        self._kill_child(pid)
                if pidfd is None or pidfd in ready or grader_gone:
                    flags = 0 if grader_gone else os.WNOHANG
                    done, status, usage = os.wait4(pid, flags)
                    if done == pid:
                        cpu_s = usage.ru_utime + usage.ru_stime
                        return os.waitstatus_to_exitcode(status), cpu_s, usage.ru_maxrss, grader_gone
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _kill_child(self, pid: int) -> None:
        for kill, target in ((os.killpg, pid), (os.kill, pid)):
            try:
                kill(target, signal.SIGKILL)
            except OSError:
                pass

    # -- between children

    def cleanup(self, pid: int | None) -> tuple[bool, str]:
        """Nothing of the last child left: processes, files, IPC objects, keys. (clean, why)."""
        if not self.reap_everything(pid):
            return False, "a process of the last run could not be stopped"
        if self.sandboxed:
            _remove_sysv_ipc()
            _clear_keyrings()
            folders = WIPED
        else:
            folders = (self.root,)
        deadline = time.monotonic() + WIPE_BUDGET_S
        kept = self.kept if self.sandboxed else None
        for folder in folders:
            if not _empty_folder(folder, deadline, kept):
                return False, f"{folder} could not be emptied in {WIPE_BUDGET_S:g} s"
        if self.sandboxed:
            if not self.kept.restore():
                return False, "a folder kept in /tmp could not be restored"
            if _mount_points() != self.mounts:
                return False, "the mounts changed"
        return True, ""

    def reap_everything(self, pid: int | None) -> bool:
        deadline = time.monotonic() + REAP_BUDGET_S
        if self.sandboxed:
            try:
                os.kill(-1, signal.SIGKILL)  # PID 1 of this namespace: every other process in it
            except ProcessLookupError:
                pass
        elif pid is not None:
            self._kill_child(pid)
        while True:
            if not self.sandboxed:
                for orphan in _children():  # this process is their subreaper
                    try:
                        os.kill(orphan, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                done, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if done:
                continue
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)

    @staticmethod
    def _close(fds: list[int]) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def _children() -> list[int]:
    found = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as children:
                found += [int(pid) for pid in children.read().split()]
    except OSError:
        pass
    return found


def _mount_points() -> list[str]:
    """Every mount point of this mount namespace (/proc/self/mountinfo), unescaped."""
    points = []
    try:
        with open("/proc/self/mountinfo") as info:
            for line in info:
                fields = line.split()
                if len(fields) > 4:
                    points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    except OSError:
        pass
    return sorted(points)


class _KeptFolders:
    """The wiped folders themselves, the mount points below them and the folders leading there.

    They stay; a child may have changed their mode, times or extended attributes (a channel to
    the next child), so all three are put back as they were when the zygote started.
    """

    def __init__(self, roots: tuple[str, ...], mounts: list[str]) -> None:
        self.mounts = {m for m in mounts if any(m.startswith(r + "/") for r in roots)}
        folders = set(roots)
        for mount in self.mounts:
            parent = os.path.dirname(mount)
            while parent not in roots and parent != "/":
                folders.add(parent)
                parent = os.path.dirname(parent)
        self.folders = {}
        for folder in folders:
            try:
                info = os.lstat(folder)
            except OSError:
                continue
            self.folders[folder] = (stat.S_IMODE(info.st_mode), info.st_atime_ns, info.st_mtime_ns)

    def restore(self) -> bool:
        for folder, (mode, atime_ns, mtime_ns) in sorted(self.folders.items(), key=lambda kv: -len(kv[0])):
            try:
                try:
                    names = os.listxattr(folder, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                        raise
                    names = []
                for name in names:
                    os.removexattr(folder, name, follow_symlinks=False)
                os.chmod(folder, mode, follow_symlinks=False)
                os.utime(folder, ns=(atime_ns, mtime_ns), follow_symlinks=False)
            except OSError:
                return False
        return True


def _empty_folder(folder: str, deadline: float, kept: _KeptFolders | None = None) -> bool:
    """Remove everything inside `folder` (0o000 folders included) but what is `kept`.

    False if out of time or if something cannot be removed.
    """
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return True
    except PermissionError:
        os.chmod(folder, 0o700)
        entries = list(os.scandir(folder))
    for entry in entries:
        if time.monotonic() >= deadline:
            return False
        path = entry.path
        if kept is not None and path in kept.mounts:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(path, 0o700)
                if not _empty_folder(path, deadline, kept):
                    return False
                if kept is None or path not in kept.folders:
                    os.rmdir(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def _remove_sysv_ipc() -> None:
    """System V shared memory, message queues and semaphores outlive processes: remove them."""
    ipc_rmid = 0
    removers = {"shm": lambda i: _libc.shmctl(i, ipc_rmid, None),
                "msg": lambda i: _libc.msgctl(i, ipc_rmid, None),
                "sem": lambda i: _libc.semctl(i, 0, ipc_rmid)}
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def _clear_keyrings() -> None:
    """Belt and braces (the children's seccomp filter already refuses keyring calls)."""
    keyctl = {"x86_64": 250, "aarch64": 219, "arm64": 219}.get(os.uname().machine)
    if keyctl is None:
        return
    keyctl_clear, user_keyring, user_session_keyring = 7, -4, -5
    for keyring in (user_keyring, user_session_keyring):
        _libc.syscall(keyctl, keyctl_clear, ctypes.c_int(keyring))


# --------------------------------------------------------------------------- main


def _arguments(argv: list[str]) -> dict[str, str]:
    values = {}
    for flag in ("--submission", "--module-name", "--control"):
        if flag not in argv or argv.index(flag) + 1 >= len(argv):
            raise SystemExit(f"zygote: {flag} is required")
        values[flag] = argv[argv.index(flag) + 1]
    return values


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    control_fd = int(args["--control"])
    control = socket.socket(fileno=control_fd)
    control.set_inheritable(False)
    sandboxed = os.getpid() == 1  # bubblewrap --as-pid-1: init of a PID namespace of its own
    # No signal handler at all: the init of a PID namespace gets no signal from inside it for
    # which it has none (SIGKILL and SIGSTOP included). Hence SIGINT back to its default, and
    # no faulthandler (-X faulthandler catches SIGSEGV and friends; children get it back).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    faulthandler.disable()
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if sandboxed:
        os.chdir("/")
    else:
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    zygote: Zygote | None = None
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        _load(PROTOCOL_MODULE, os.path.join(here, "protocol.py"))
        worker = _load(WORKER_MODULE, os.path.abspath(args["--submission"]))
        worker._close_other_descriptors({0, 1, 2, control_fd})  # a launcher's leftovers
        missing = _preload()
        _set_process_title(PROCESS_TITLE)
        zygote = Zygote(control, sandboxed)
        gc.collect()
        gc.freeze()  # what the children inherit stays out of their collections (fewer copies)
        huge_mib = _collapse_into_huge_pages()
        threads = _threads()
        if threads != 1:
            raise RuntimeError(f"{threads} threads after the imports: forking would be unsafe")
        ready = {"event": "ready", "threads": threads, "vm_kb": _vm_kb(), "missing": missing,
                 "sandboxed": sandboxed, "huge_pages_mib": huge_mib}
        zygote.send(ready)
    except Exception as exc:  # noqa: BLE001 - reported to the grader, which gives up on us
        failure = {"event": "failed", "error": f"{type(exc).__name__}: {exc}"}
        try:
            control.send(json.dumps(failure).encode())
        except OSError:
            pass
        return 1
    return zygote.serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
