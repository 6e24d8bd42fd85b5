"""Warm workers (zygotes), trusted side: one sandboxed process per slot forks a child per run.

A fresh interpreter per submission spends 1.2-3 s importing torch (0.2 s for numpy alone);
forking a child from a process that imported numpy and torch already costs a few milliseconds. ``ZygoteExecutor`` keeps
such a process (zygote_server.py) in each concurrent slot, started through the same isolation
as every worker (grader/sandbox/: bubblewrap, the slot's uid, rlimits, private /tmp, PID
namespace, --die-with-parent), and asks it for one child per run; it then talks to that child
exactly as SubprocessExecutor talks to a fresh worker (the same _Run: framing, per-call
timeouts, restarts, skips, fail closed).

What the zygote may hold, and why this stays as strong as a fresh sandbox per run
-------------------------------------------------------------------------------
- It is started by exec (bwrap, then ``python -I``), never forked from this process, which holds
  the reference and the expected outputs. It never receives them, nor hidden cases, the salt or
  even a submission's source: the source goes as a sealed memfd that only the child reads; the
  calls' inputs and the results go over the child's own pipes, never through the zygote.
- Children of one zygote share its namespaces, so between two children the zygote (PID 1 of its
  PID namespace) kills every other process in it, reaps them, empties /tmp and /dev/shm,
  removes System V IPC objects and clears the uid's keyrings; children cannot create POSIX
  message queues (RLIMIT_MSGQUEUE = 0) nor use keyrings (seccomp). A child cannot kill the
  zygote (the kernel drops SIGKILL sent to a namespace's init from inside), ptrace it or read
  its memory (not dumpable). A run is over once its child closed its pipe and its output
  after the last answer; the zygote reaps it and does all of the above before it reads the
  next spawn request, so the next child (of any student) starts only from a clean state.
- A call that outlives its limit: the grader asks the zygote to kill the child; if the zygote
  does not answer within KILL_ANSWER_S (or died), the grader kills the whole sandbox (bwrap and,
  with it, the PID namespace; then the uid sweep) and the run goes on in a child of a fresh
  zygote. Any misstep of a zygote (a malformed message, an unclean cleanup, a second thread)
  retires it the same way; a zygote is also retired after RECYCLE_AFTER children.
- Where the probe found no sandbox (``none``), the zygote is a plain local process and says
  so, as the plain worker does: not a security boundary. Off Linux, and for memory limits too
  small to hold torch's address space in every child, runs go to SubprocessExecutor.

Where the time goes, and what was done about it (bench/grade_class.py)
----------------------------------------------------------------------
- fork(): one page-table entry per 4 KiB page the zygote touched (~37,000 after torch): 8-12
  ms here. The zygote backs its heap with 2 MiB pages (MADV_COLLAPSE) once it has imported
  everything: 1.5-3 ms. Lazy imports a child would pay (numpy.random: 18 ms; sympy, which
  autograd's backward() imports: 0.65 s) are done once, in the zygote.
- The child's exit (tearing down that address space) is not waited for: see `stop()`.
- Requests are pipelined (see _ZygoteRun); a shared Call's (a public case's) is encoded once
  for every student (_SharedRequests).
- A pool's first run goes to a fresh worker (a zygote pays off from the second run).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from collections import OrderedDict
from typing import IO, Any, Sequence

from grader.sandbox import Isolation, SandboxUnavailable
from grader.sandbox.launch import open_submission, rlimits_for, user_task_count

from . import protocol
from .base import Call, CallOutcome, ExecutorError, Limits, RunResult
from .subprocess_executor import (
    GRACEFUL_EXIT_S,
    PROTOCOL_PATH,
    WORKER_PATH,
    PendingRun,
    SubprocessExecutor,
    _Child,
    _ChildGone,
    _child_env,
    _describe_exit,
    _encode_request,
    _launch,
    _read_tail,
    _Request,
    _Run,
    _Timeout,
)

ZYGOTE_SERVER_PATH = Path(__file__).with_name("zygote_server.py")
RECYCLE_AFTER = 1000  # children per zygote, then a fresh one
REPLACE_AHEAD = 50  # its replacement starts in the background this many children before
START_TIMEOUT_S = 120.0  # a zygote imports numpy and torch: seconds on a busy machine
ANSWER_TIMEOUT_S = 10.0  # a spawn request answered within this, or the zygote is retired
KILL_ANSWER_S = 8.0  # "exited" after a kill: the zygote's reap and wipe budgets (3 s + 3 s)
ZYGOTE_CPU_S = 3600  # RLIMIT_CPU of the zygote itself (its children get the run's own)
MIN_MEMORY_BYTES = 1536 * 1024**2  # below this a child could not allocate past torch's mappings
MAX_ZYGOTE_STARTS_PER_RUN = 3
MAX_MESSAGE = 1 << 16
MAX_SHARED_CALLS = 4096  # shared Calls whose encoded requests are kept (a class's public calls)
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
PIPE_BYTES = 1 << 20  # the default maximum for an unprivileged process (/proc/sys/fs/pipe-max-size)
# What became of a child whose zygote is gone (or would not say): killed, as it is.
_KILLED = {"returncode": -signal.SIGKILL, "cpu_s": 0.0, "clean": False}
MFD_SEALS = (getattr(fcntl, "F_SEAL_SEAL", 1) | getattr(fcntl, "F_SEAL_SHRINK", 2)
             | getattr(fcntl, "F_SEAL_GROW", 4) | getattr(fcntl, "F_SEAL_WRITE", 8))

# Zygotes are started from this one long-lived thread: bubblewrap's --die-with-parent follows the
# thread that started it, and batch grading runs in pool threads that come and go.
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-zygote-launcher")


class ZygoteUnavailable(Exception):
    """A zygote could not be started or stopped answering (it is then destroyed)."""


def supported() -> bool:
    """Whether this platform has what the zygote needs (fork, descriptor passing, memfd)."""
    return (sys.platform.startswith("linux") and hasattr(socket, "send_fds")
            and hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS"))


# --------------------------------------------------------------------------- one zygote


@dataclass(frozen=True)
class _Shape:
    """What a zygote is launched with; a run fits it when its limits fit under these."""

    memory_bytes: int
    file_size_bytes: int
    open_files: int
    processes: int
    tmp_bytes: int

    @classmethod
    def of(cls, limits: Limits) -> "_Shape":
        return cls(int(limits.memory_bytes), int(limits.file_size_bytes), int(limits.open_files),
                   int(limits.processes), int(limits.tmp_bytes))

    def launch_limits(self) -> Limits:
        # The zygote's hard limits bound its children's: the run's own values, a generous CPU
        # limit for the zygote itself, and one process more for the zygote (as PID 1 it takes
        # the place of the fresh worker; bwrap counts in both).
        return Limits(cpu_s=ZYGOTE_CPU_S, memory_bytes=self.memory_bytes,
                      file_size_bytes=self.file_size_bytes, open_files=self.open_files,
                      processes=self.processes + 1, tmp_bytes=self.tmp_bytes)


class _Zygote:
    """One zygote process (in its sandbox) and the trusted end of its control socket."""

    def __init__(self, isolation: Isolation, python: str, shape: _Shape) -> None:
        self.isolation = isolation
        self.python = python
        self.shape = shape
        self.serial = 0
        self.children = 0
        self.broken = ""  # why it may not be used any more
        self.proc: Any = None
        self.sock: socket.socket | None = None
        self.session: Any = None
        self.stack = contextlib.ExitStack()
        self.log: IO[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.max_child_rss_kb = 0
        self.pending = False  # a finished child's "exited" report is still to come
        self.replaced = False  # its successor was started ahead of its retirement

    # -- life

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.destroy("it did not start")
            raise

    def _start(self) -> None:
        self.log = tempfile.TemporaryFile(prefix="grader-zygote-")
        self.session = self.stack.enter_context(self.isolation.session())
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        try:
            launch = self.session.launch(
                self.python, ZYGOTE_SERVER_PATH, PROTOCOL_PATH, WORKER_PATH, "worker",
                ["--control", str(theirs.fileno())], (theirs.fileno(),),
                self.shape.launch_limits(), _child_env)
            try:
                log_fd = self.log.fileno()
                self.proc = _LAUNCHER.submit(_launch, launch, stdout=log_fd, stderr=log_fd).result()
            finally:
                launch.spawned()
        except SandboxUnavailable as exc:
            raise ZygoteUnavailable(str(exc)) from exc
        except OSError as exc:
            raise ZygoteUnavailable(f"cannot start it: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        message = self._receive(time.monotonic() + START_TIMEOUT_S)
        if message is None or message.get("event") != "ready":
            error = (message or {}).get("error") or "it ended while importing numpy and torch"
            raise ZygoteUnavailable(f"{error}{self._log_tail()}")
        self.info = message

    def destroy(self, why: str) -> None:
        """Kill the whole sandbox (bwrap; the PID namespace goes with it), sweep, free the slot."""
        self.broken = self.broken or why
        proc, self.proc = self.proc, None
        if proc is not None:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(proc.pid, signal.SIGKILL)
            proc.wait()
            with contextlib.suppress(Exception):
                self.session.after_child()  # every process of the slot's uid, if it has one
        with contextlib.suppress(Exception):
            self.stack.close()  # leaves the isolation session: sweep and release the slot
        for closable in (self.sock, self.log):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()
        self.sock = self.log = None

    @property
    def usable(self) -> bool:
        return not self.broken and self.sock is not None

    def _log_tail(self) -> str:
        if self.log is None:
            return ""
        try:
            text = _read_tail(self.log, 2000).strip()
        except OSError:
            return ""
        return f"; its output: {text}" if text else ""

    # -- messages

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The zygote's next message; None once it ended. Raises TimeoutError at `deadline`."""
        assert self.sock is not None
        while True:
            try:
                data, fds, _flags, _address = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError() from None
                select.select([self.sock], [], [], remaining)
                continue
            except OSError:
                data, fds = b"", []
            for fd in fds:  # it has no reason to send any
                os.close(fd)
            if not data:
                self.broken = self.broken or "it ended"
                return None
            try:
                message = json.loads(data)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                self.broken = "it sent a malformed message"
                return None
            return message

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        assert self.sock is not None
        data = json.dumps(message).encode()
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while True:
            try:
                if fds:
                    socket.send_fds(self.sock, [data], list(fds))
                else:
                    self.sock.send(data)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ZygoteUnavailable("it stopped reading its requests") from None
                select.select([], [self.sock], [], max(0.0, deadline - time.monotonic()))
            except OSError as exc:
                raise ZygoteUnavailable(f"it ended ({exc.strerror})") from exc

    # -- children

    def spawn(self, module_name: str, limits: Limits, mode: str, fds: Sequence[int]) -> int:
        """Ask for a child for one worker: its serial. Raises ZygoteUnavailable.

        The zygote forks it once it is done with the last child; confirm() waits for that."""
        if not self.usable:
            raise ZygoteUnavailable(self.broken or "it is closed")
        self.serial += 1
        if mode == "bwrap+uid":
            nproc: int | None = int(limits.processes) + 1
        elif mode == "bwrap":
            nproc = user_task_count(os.getuid()) + int(limits.processes)
        else:
            nproc = None
        ceiling = self.shape.launch_limits()
        rlimits = [(which, min(value, _ceiling_of(which, ceiling, value)))
                   for which, value in rlimits_for(limits, nproc=nproc)]
        message = {"op": "spawn", "serial": self.serial, "module_name": module_name,
                   "rlimits": rlimits, "env": _child_env("/"), "seccomp": True}
        try:
            self._send(message, fds)
        except ZygoteUnavailable as exc:
            self.destroy(str(exc))
            raise
        return self.serial

    def confirm(self, serial: int) -> None:
        """Wait until the zygote forked child `serial` (see spawn). Raises ZygoteUnavailable."""
        if not self.usable:
            raise ZygoteUnavailable(self.broken or "it is closed")
        try:
            deadline = time.monotonic() + ANSWER_TIMEOUT_S + (KILL_ANSWER_S if self.pending else 0)
            while True:
                reply = self._receive(deadline)
                if reply is None or reply.get("event") != "exited":
                    break
                self._exited(reply)  # of a child whose run ended without waiting for it
            self.pending = False
        except TimeoutError:
            self.destroy(f"it did not answer a spawn request within {ANSWER_TIMEOUT_S:g} s")
            raise ZygoteUnavailable(self.broken) from None
        except ZygoteUnavailable as exc:
            self.destroy(str(exc))
            raise
        if reply is None:
            self.destroy(self.broken or "it ended")
            raise ZygoteUnavailable(f"{self.broken}{self._log_tail()}")
        if reply.get("event") == "spawned" and reply.get("serial") == serial:
            self.children += 1
            return
        error = reply.get("error") if reply.get("event") == "spawn_failed" else None
        self.destroy(str(error or "it answered a spawn request with something else"))
        raise ZygoteUnavailable(self.broken)

    def kill_child(self, serial: int) -> None:
        if self.usable:
            with contextlib.suppress(ZygoteUnavailable):
                self._send({"op": "kill", "serial": serial})

    def wait_exit(self, serial: int, deadline: float) -> dict[str, Any] | None:
        """The child's "exited" report (None if not by `deadline`); a dead zygote's child is dead."""
        if not self.usable:
            return dict(_KILLED)
        while True:
            try:
                message = self._receive(deadline)
            except TimeoutError:
                return None
            if message is None:
                return dict(_KILLED)
            if message.get("event") != "exited" or message.get("serial") != serial:
                continue  # nothing else is expected while a child lives; stale otherwise
            self._exited(message)
            return message

    def _exited(self, message: dict[str, Any]) -> None:
        if not message.get("clean", False):
            self.broken = f"it could not clean up after a run: {message.get('why') or '?'}"
        rss = message.get("maxrss_kb")
        if isinstance(rss, int):
            self.max_child_rss_kb = max(self.max_child_rss_kb, rss)


def _ceiling_of(which: int, ceiling: Limits, default: int) -> int:
    import resource

    table = {resource.RLIMIT_CPU: ceiling.cpu_s, resource.RLIMIT_AS: ceiling.memory_bytes,
             resource.RLIMIT_FSIZE: ceiling.file_size_bytes,
             resource.RLIMIT_NOFILE: ceiling.open_files, resource.RLIMIT_NPROC: ceiling.processes}
    return int(table.get(which, default))


# --------------------------------------------------------------------------- one child


class _ZygoteChild(_Child):
    """A child of a zygote, seen like a fresh worker by _Run (send, receive, kill, ...)."""

    def __init__(self, zygote: _Zygote, serial: int, request_fd: int, response_fd: int,
                 cpu_limit_s: float) -> None:
        self.zygote = zygote
        self.serial = serial
        self.cpu_limit_s = cpu_limit_s
        self.signal_exit_codes = False
        self.cpu_s = 0.0
        self.returncode: int | None = None
        self.exit: dict[str, Any] | None = None
        assert zygote.sock is not None
        # The zygote reports the child's exit on its socket: that is this child's "exit" event.
        self.pidfd = zygote.sock.fileno()
        self._attach(request_fd, response_fd, self.pidfd)
        self.reaped = False
        self.confirmed = False  # the zygote said it forked this child (see confirm)
        self.sent_ahead: dict[int, int] = {}  # id(request) -> frame bytes, sent before its turn
        self.ahead_bytes = 0  # of the requests in sent_ahead
        self.current_bytes = 0  # of the request it is answering (perhaps still in the pipe)
        self.next_ahead = 0  # position of the first request not yet considered for sending ahead
        try:  # requests sent ahead stay within half the pipe: such a write never blocks
            self.ahead_budget = fcntl.fcntl(request_fd, F_GETPIPE_SZ) // 2
        except OSError:
            self.ahead_budget = 2048

    def confirm(self) -> str:
        """Wait for the zygote's word that this child was forked: "" once it was, else why not
        (the child is then gone). Before anything reads the zygote's socket for this child,
        whose messages until then are the last child's exit and this one's fork."""
        if not self.confirmed:
            try:
                self.zygote.confirm(self.serial)
            except ZygoteUnavailable as exc:
                self.exit, self.returncode, self.reaped = dict(_KILLED), -signal.SIGKILL, True
                self._close_fds()
                return str(exc) or "it failed"
            self.confirmed = True
        return ""

    def take_turn(self, request: _Request) -> bool:
        """`request` is now the one being answered; whether it was sent ahead already."""
        ahead = self.sent_ahead.pop(id(request), None)
        if ahead is not None:
            self.ahead_bytes -= ahead
        self.current_bytes = len(request.frame)
        return ahead is not None

    def room_for(self, request: _Request) -> bool:
        return self.ahead_bytes + self.current_bytes + len(request.frame) <= self.ahead_budget

    def sent(self, request: _Request) -> None:
        self.sent_ahead[id(request)] = len(request.frame)
        self.ahead_bytes += len(request.frame)

    def has_exited(self) -> bool:
        return self._wait_for_exit(0.0)

    def _wait_for_exit(self, seconds: float) -> bool:
        self.confirm()
        if self.exit is None:
            self.exit = self.zygote.wait_exit(self.serial, time.monotonic() + seconds)
        return self.exit is not None

    def kill(self) -> str:
        self.confirm()
        if not self.reaped:
            if self.exit is None:
                self.zygote.kill_child(self.serial)
                self.exit = self.zygote.wait_exit(self.serial, time.monotonic() + KILL_ANSWER_S)
            if self.exit is None:
                self.zygote.destroy(f"it did not report a killed child within {KILL_ANSWER_S:g} s")
                self.exit = dict(_KILLED)
            returncode, cpu_s = self.exit.get("returncode"), self.exit.get("cpu_s")
            self.returncode = returncode if isinstance(returncode, int) else -signal.SIGKILL
            self.cpu_s = float(cpu_s) if isinstance(cpu_s, (int, float)) else 0.0
            self.reaped = True
        self._close_fds()
        return _describe_exit(self.returncode, self.cpu_s, self.cpu_limit_s)

    def stop(self) -> None:
        """End of the run: end of requests; done once the child closed its pipe and output.

        The child closes them after its last answer and before its exit, which (tearing down
        an address space the size of torch's) takes longer than the rest of a run: the zygote
        reaps it, kills whatever it left and cleans up while the grader goes on, and reports
        before it forks the next child. A child that does not close its end in time is
        killed and waited for, as by SubprocessExecutor. Outside a sandbox (where the
        child's folder is a host folder) the run always waits for the cleanup.
        """
        with contextlib.suppress(OSError):
            os.close(self.request_fd)
        self.request_fd = -1
        if self.confirm():
            return  # never forked: nothing to wait for
        if self.zygote.info.get("sandboxed") and self._closed_by_child(GRACEFUL_EXIT_S):
            self.zygote.pending = True
            self.reaped = True
            self._close_fds()
            return
        self._wait_for_exit(GRACEFUL_EXIT_S)
        self.kill()

    def _closed_by_child(self, seconds: float) -> bool:
        """Whether the child closed the response pipe (read to its end) within `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if not os.read(self.response_fd, 1 << 16):
                    return True
                continue  # a reply nobody asked for: ignored, as the run is over
            except BlockingIOError:
                pass
            except OSError:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready = [key.data for key, _ in self.selector.select(remaining)]
            if "exit" in ready and self.has_exited():
                return False  # it exited (or the zygote ended): report that way

    def _close_fds(self) -> None:
        with contextlib.suppress(Exception):
            self.selector.close()
        for fd in (self.request_fd, self.response_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.request_fd = self.response_fd = -1


# --------------------------------------------------------------------------- pools and runs


class _Pool:
    """The idle zygotes of one isolation; a run leases one (or a new one) for its duration."""

    def __init__(self, isolation: Isolation, python: str) -> None:
        self.isolation = isolation
        self.python = python
        self.lock = threading.Lock()
        self.idle: list[_Zygote] = []
        self.closed = False
        self.ever_ready = False
        self.started = 0
        self.runs = 0  # runs asked of this pool (the first goes to a fresh worker, see run())
        self.unavailable = ""  # why no zygote ever started here: runs go to fresh workers
        self.max_child_rss_kb = 0
        self.zygote_info: dict[str, Any] = {}

    def first_run(self) -> bool:
        with self.lock:
            self.runs += 1
            return self.runs == 1

    def prestart(self, shape: _Shape, count: int) -> None:
        """Start zygotes until `count` are idle, in parallel (a batch about to begin)."""
        with self.lock:
            missing = count - sum(1 for z in self.idle if z.shape == shape)
        if missing <= 0:
            return
        with ThreadPoolExecutor(max_workers=missing) as starters:
            started = list(starters.map(lambda _: self.take(shape), range(missing)))
        for zygote in started:
            self.give_back(zygote)

    def take(self, shape: _Shape) -> _Zygote:
        """An idle zygote for `shape` (the oldest: its spare waits until it retires), or a new one."""
        with self.lock:
            fitting = [z for z in self.idle if z.shape == shape]
            if fitting:
                zygote = max(fitting, key=lambda z: z.children)
                self.idle.remove(zygote)
                return zygote
        return self.take_new(shape)

    def take_new(self, shape: _Shape) -> _Zygote:
        zygote = _Zygote(self.isolation, self.python, shape)
        try:
            zygote.start()
        except ZygoteUnavailable as exc:
            if not self.ever_ready:  # never worked here: the machine's problem, not a student's
                raise ExecutorError(f"cannot start the warm worker: {exc}") from exc
            raise
        with self.lock:
            self.ever_ready = True
            self.started += 1
            self.zygote_info = zygote.info
        return zygote

    def give_back(self, zygote: _Zygote) -> None:
        with self.lock:
            self.max_child_rss_kb = max(self.max_child_rss_kb, zygote.max_child_rss_kb)
            keep = zygote.usable and zygote.children < RECYCLE_AFTER and not self.closed
            replace = (keep and not zygote.replaced
                       and zygote.children >= RECYCLE_AFTER - REPLACE_AHEAD)
            if keep:
                zygote.replaced = zygote.replaced or replace
                self.idle.append(zygote)
        if replace:  # its successor imports torch meanwhile, so no run waits for that
            threading.Thread(target=self._start_spare, args=(zygote.shape,), daemon=True,
                             name="grader-zygote-spare").start()
        if not keep:
            zygote.destroy("recycled" if zygote.usable else zygote.broken)

    def _start_spare(self, shape: _Shape) -> None:
        try:
            spare = self.take_new(shape)
        except (ZygoteUnavailable, ExecutorError):
            return
        self.give_back(spare)

    def close(self) -> None:
        with self.lock:
            self.closed, idle, self.idle = True, self.idle, []
        for zygote in idle:
            zygote.destroy("closed")


class _Lease:
    """What a _Run sees as its session: the zygote it spawns children from, replaced if broken."""

    def __init__(self, pool: _Pool, shape: _Shape) -> None:
        self.pool = pool
        self.shape = shape
        self.zygote: _Zygote | None = None
        self.starts = 0

    def spawn(self, module_name: str, limits: Limits, fds: Sequence[int]) -> tuple[_Zygote, int]:
        while True:
            if self.zygote is not None and not self.zygote.usable:
                self.zygote.destroy(self.zygote.broken)
                self.zygote = None
            if self.zygote is None:
                if self.starts >= MAX_ZYGOTE_STARTS_PER_RUN:
                    raise ZygoteUnavailable(f"the warm worker failed {self.starts} times in this run")
                self.starts += 1
                self.zygote = self.pool.take(self.shape)
            try:
                return self.zygote, self.zygote.spawn(module_name, limits, self.pool.isolation.mode, fds)
            except ZygoteUnavailable:
                if self.starts >= MAX_ZYGOTE_STARTS_PER_RUN:
                    raise

    def after_child(self) -> None:
        """The zygote cleans up after each child before it reports the exit: nothing to do."""

    def release(self) -> None:
        zygote, self.zygote = self.zygote, None
        if zygote is not None:
            self.pool.give_back(zygote)


class _ZygoteRun(_Run):
    """A _Run whose children come from a zygote instead of a fresh interpreter each.

    Requests are pipelined: a child is sent the run's requests as soon as it is forked, as many
    as fit in half its request pipe (enlarged to PIPE_BYTES: usually all of them), and with
    each call's turn go the next ones, so the child goes from one call to the next without
    waiting for the grader to read an answer and write the next request. Nothing else
    changes: the answers are read in order, each call's wall-clock limit starts when the
    grader starts waiting for it (the child starts it at about that moment, having just
    written the previous answer), and a child that times out, crashes or goes out of step is
    killed with whatever was sent ahead to it; the next child is sent those requests again.
    A child started before the calls are known (ZygoteExecutor.start) is sent them once they are.
    """

    session: _Lease
    source: bytes | None  # the submission's bytes as the grader read them (None: read the file)
    queue: list[_Request]
    calls: dict[int, Call]
    positions: dict[int, int]

    def start_planning(self) -> None:
        self.turn = 0  # position of the request whose call is being run
        self.queue = []
        self.calls = {}
        self.positions = {}

    def add(self, call: Call, request: _Request) -> None:
        self.calls[id(request)] = call
        self.positions[id(request)] = len(self.queue)
        self.queue.append(request)
        child = self.child
        if isinstance(child, _ZygoteChild):
            self._send_ahead(child, self.turn, time.monotonic() + self.limits.call_timeout_s)

    def run_call(self, call: Call, request: _Request) -> CallOutcome:
        self.turn = self.positions[id(request)]
        return super().run_call(call, request)

    def _deliver(self, request: _Request, deadline: float) -> _Child | None:
        child = self.child
        assert isinstance(child, _ZygoteChild)
        if not child.take_turn(request):
            try:
                child.send(request, deadline)
            except _ChildGone:
                # Broken before this call began (see _Run._deliver): once more in a fresh child,
                # which start_child sent this request already if it fitted.
                self.end_child()
                if self.ensure_child() is not None:
                    return None
                child = self.child
                assert isinstance(child, _ZygoteChild)
                if not child.take_turn(request):
                    child.send(request, deadline)
        child.next_ahead = max(child.next_ahead, self.turn + 1)  # this one is sent, ahead or now
        self._send_ahead(child, self.turn + 1, deadline)
        return child

    def _send_ahead(self, child: _ZygoteChild, first: int, deadline: float) -> None:
        """Send the requests from position `first` on, as many as fit in the child's budget."""
        position = max(first, child.next_ahead)
        while position < len(self.queue) and self.blocked is None:
            later = self.queue[position]
            if self.calls[id(later)].name not in self.failed_names:  # else skipped at its turn
                if not child.room_for(later):
                    return
                try:
                    child.send(later, deadline)
                except (_ChildGone, _Timeout):
                    return  # seen again when its turn comes
                child.sent(later)
            position += 1
            child.next_ahead = position

    def await_child(self) -> tuple[str, str] | None:
        failure = self._confirmed()
        failure = failure or self._await_ready()
        if failure is not None and self.spawned_from is not None and not self.spawned_from.usable:
            # The warm worker died under this child (killed from outside, the OOM killer...):
            # the machine's fault, not the student's, so once more with a fresh one.
            failure = self.launch_child() or self._confirmed() or self._await_ready()
        return failure

    def _confirmed(self) -> tuple[str, str] | None:
        """None once the zygote forked the child launch_child asked for (while this process
        went on: parsing, planning, sending the first requests ahead)."""
        child = self.child
        error = child.confirm() if isinstance(child, _ZygoteChild) else ""
        if not error:
            return None
        self.child = None
        self.children_started -= 1  # never forked: not a start (nor a restart)
        return f"could not start the process: the warm worker failed ({error})", ""

    def launch_child(self) -> tuple[str, str] | None:
        self.spawned_from: _Zygote | None = None
        try:
            source = _sealed(self.source) if self.source is not None else _sealed_copy(self.submission)
        except SandboxUnavailable as exc:  # a symlink, not a regular file, too large
            return str(exc), ""
        except OSError as exc:
            return f"the submission file {self.submission.name} cannot be read ({exc.strerror})", ""
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        for fd in (request_write, response_read):
            _grow_pipe(fd)
        fds = [source, request_read, response_write, self.stdout.fileno(), self.stderr.fileno()]
        try:
            zygote, serial = self.session.spawn(self.module_name, self.limits, fds)
        except ZygoteUnavailable as exc:
            os.close(request_write)
            os.close(response_read)
            return f"could not start the process: the warm worker failed ({exc})", ""
        except BaseException:
            os.close(request_write)
            os.close(response_read)
            raise
        finally:
            for fd in (source, request_read, response_write):  # only the child may hold them
                os.close(fd)
        self.children_started += 1
        self.spawned_from = zygote
        child = _ZygoteChild(zygote, serial, request_write, response_read, self.limits.cpu_s)
        self.child = child
        # Its requests go now: it reads them once it imported the module, without waiting for
        # the grader to see "ready" (the calls' limits still start when their turn comes).
        self._send_ahead(child, self.turn, time.monotonic() + self.limits.call_timeout_s)
        return None


class _SharedRequests:
    """The requests of shared Calls (Call.shared: a public case, the same object for every
    student), encoded once and found by identity. An entry holds its Call, so the id cannot be
    reused while it is here; the oldest go first past MAX_SHARED_CALLS."""

    def __init__(self) -> None:
        self.by_call: OrderedDict[int, tuple[Call, _Request]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, call: Call) -> _Request | None:
        with self.lock:
            found = self.by_call.get(id(call))
        return found[1] if found is not None and found[0] is call else None

    def put(self, call: Call, request: _Request) -> None:
        with self.lock:
            self.by_call[id(call)] = (call, request)
            while len(self.by_call) > MAX_SHARED_CALLS:
                self.by_call.popitem(last=False)


_SHARED = _SharedRequests()


def _shared_or_encoded(call: Call) -> _Request:
    """_encode_request's request; a shared Call's is kept (and found again)."""
    if not call.shared:
        return _encode_request(call)
    request = _SHARED.get(call)
    if request is None:
        request = _encode_request(call)
        _SHARED.put(call, request)
    return request


def _grow_pipe(fd: int) -> None:
    """Room for every request of a run (and for large answers) without blocking; best effort."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)


def _sealed_copy(path: Path) -> int:
    """A sealed memfd holding the submission's bytes, read without following a symlink."""
    fd = open_submission(path)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return _sealed(b"".join(chunks))


def _sealed(data: bytes) -> int:
    """A sealed memfd holding `data`: the child can read it, nobody can change it."""
    memfd = os.memfd_create("submission", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(memfd, view):]
        fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, MFD_SEALS)
    except BaseException:
        os.close(memfd)
        raise
    return memfd


# --------------------------------------------------------------------------- the executor

_SHARED_POOLS: dict[tuple[str, str], _Pool] = {}
_POOLS_LOCK = threading.Lock()
_ALL_POOLS: "weakref.WeakSet[_Pool]" = weakref.WeakSet()


def _close_all_pools() -> None:
    for pool in list(_ALL_POOLS):
        pool.close()


atexit.register(_close_all_pools)


class ZygoteExecutor(SubprocessExecutor):
    """Runs each submission in a child forked from a warm, sandboxed zygote (see the module doc).

    The same interface and outcomes as SubprocessExecutor, whose parameters it takes. Zygotes
    are shared by every executor of the same isolation ("auto" or "none") in this process, one
    per concurrent run, and are closed at exit; an executor given its own Isolation has its
    own, closed by ``close()`` or when the executor is collected.
    """

    def __init__(self, module_name: str | None = None, python: str = sys.executable,
                 sandbox: str | Isolation = "auto", *, eager: bool = False) -> None:
        super().__init__(module_name, python, sandbox)
        self._own_pool: _Pool | None = None
        # A zygote costs what a fresh worker that imports torch costs (seconds) and pays off
        # from the second run on: so the first run of a pool goes to a fresh worker (`grader
        # check` grades one module), unless `eager`.
        self.eager = eager
        self._warming: threading.Thread | None = None

    def _pool(self, isolation: Isolation) -> _Pool:
        if isinstance(self.sandbox, Isolation):
            if self._own_pool is None:
                self._own_pool = _Pool(isolation, self.python)
                _ALL_POOLS.add(self._own_pool)
                weakref.finalize(self, self._own_pool.close)
            return self._own_pool
        # "none" makes a new PlainIsolation each time; "auto" is the probe's, cached per python.
        key = (self.python, "none" if self.sandbox == "none" else str(id(isolation)))
        with _POOLS_LOCK:
            pool = _SHARED_POOLS.get(key)
            if pool is None or (self.sandbox != "none" and pool.isolation is not isolation):
                pool = _SHARED_POOLS[key] = _Pool(isolation, self.python)
                _ALL_POOLS.add(pool)
            return pool

    def close(self) -> None:
        """Stop this executor's own zygotes (shared ones live until the process exits)."""
        if self._own_pool is not None:
            self._own_pool.close()

    def stats(self) -> dict[str, Any]:
        """Zygotes started, the largest child's peak RSS (KiB), and the zygote's start report."""
        pools = [self._own_pool] if self._own_pool is not None else list(_SHARED_POOLS.values())
        return {"zygotes_started": sum(p.started for p in pools),
                "max_child_rss_kb": max([p.max_child_rss_kb for p in pools] + [
                    z.max_child_rss_kb for p in pools for z in p.idle] + [0]),
                "zygote": next((p.zygote_info for p in pools if p.zygote_info), {})}

    def warm_up(self, limits: Limits = Limits()) -> None:
        """Start a zygote for runs with `limits` in the background, now: it imports numpy and
        torch while this process loads what it needs (the reference, which imports torch too).
        The first run (or prestart) waits for it. Failures are left to that run to meet."""
        if self._warming is None:
            self._warming = threading.Thread(target=self._quietly_prestart, args=(limits,),
                                             daemon=True, name="grader-zygote-warm-up")
            self._warming.start()

    def _quietly_prestart(self, limits: Limits) -> None:
        with contextlib.suppress(Exception):
            self._prestart(1, limits)

    def _warmed_up(self) -> None:
        if self._warming is not None:
            self._warming.join()

    def prestart(self, count: int, limits: Limits = Limits()) -> None:
        """Have `count` zygotes ready for runs with `limits` (e.g. one per batch thread)."""
        self._warmed_up()
        self._prestart(count, limits)

    def _prestart(self, count: int, limits: Limits) -> None:
        if supported() and limits.memory_bytes >= MIN_MEMORY_BYTES:
            pool = self._pool(self.isolation())
            pool.first_run()
            pool.prestart(_Shape.of(limits), count)

    def start(self, submission: Path, limits: Limits = Limits(), source: bytes | None = None) -> PendingRun:
        """As SubprocessExecutor.start; a child of a zygote runs exactly `source` when given."""
        self._warmed_up()
        if not supported() or limits.memory_bytes < MIN_MEMORY_BYTES:
            return super().start(submission, limits, source)
        isolation = self.isolation()
        pool = self._pool(isolation)
        if (pool.first_run() and not self.eager) or pool.unavailable:
            return super().start(submission, limits, source)
        try:
            return self._start_in_zygote(pool, submission, limits, source)
        except ExecutorError as exc:
            # Raised only when no zygote ever started in this pool (before any child ran):
            # the machine's problem, so grade as before, with a fresh worker per run.
            if not pool.unavailable:
                pool.unavailable = str(exc)
                print(f"grader: {exc}; grading with a fresh sandboxed interpreter per "
                      "submission instead (slower, as safe)", file=sys.stderr)
            return super().start(submission, limits, source)

    def _start_in_zygote(self, pool: _Pool, submission: Path, limits: Limits,
                         source: bytes | None) -> PendingRun:
        submission = Path(submission).absolute()
        lease = _Lease(pool, _Shape.of(limits))
        stack = contextlib.ExitStack()
        try:
            stack.callback(lease.release)
            out = stack.enter_context(_output_file("stdout"))
            err = stack.enter_context(_output_file("stderr"))
            run = _ZygoteRun(submission, self._module_name_for(submission), self.python,
                             limits, lease, out, err)  # type: ignore[arg-type]
            run.source = source
            run.start_planning()
            return self._begun(run, stack, _shared_or_encoded)
        except BaseException:
            stack.close()
            raise


def _output_file(name: str) -> IO[bytes]:
    """A child's stdout or stderr: an anonymous memory file (no folder to make and remove),
    bounded like a file by the child's RLIMIT_FSIZE and read back through this descriptor."""
    return open(os.memfd_create(name, os.MFD_CLOEXEC), "w+b", buffering=0)


__all__ = ["RECYCLE_AFTER", "ZygoteExecutor", "ZygoteUnavailable", "supported"]

