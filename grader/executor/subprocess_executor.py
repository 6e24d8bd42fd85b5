"""Runs a submission in a child process (worker.py) and talks to it over two pipes.

Every failure of the child is turned into outcomes, never into an exception (fail closed):
a call that outlives its wall-clock limit gets ``timeout`` and the child's whole process group
is killed from here (never a timeout from inside the child); a child that dies gets ``crashed``;
the remaining calls run in a fresh child, a bounded number of times; further calls of a name
that timed out or crashed are ``skipped`` at once instead of costing another timeout each.

How a worker is started is the sandbox's business (grader/sandbox/): ``SubprocessExecutor``
takes the strongest isolation the start-up probe proved on this machine (bubblewrap with a uid
per slot as root; bubblewrap in a user namespace otherwise; a plain subprocess where neither
works, which is said once on stderr because it is not a security boundary). Each run holds one
isolation session (one slot, one uid); ``_launch`` starts each worker of the run through it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Sequence

from grader.sandbox import Isolation, Launch, PlainIsolation, SandboxUnavailable, probe
from grader.sandbox.launch import Session

from . import protocol
from .base import OPS, Call, CallOutcome, ExecutorError, IdleHook, Limits, MapOutcomes, OutcomeHook, RunResult

WORKER_PATH = Path(__file__).with_name("worker.py")
PROTOCOL_PATH = Path(__file__).with_name("protocol.py")
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
GRACEFUL_EXIT_S = 1.0  # a child told to stop may flush its output for this long
BROKEN_PIPE_GRACE_S = 0.5  # a child whose pipe broke usually exits within this: report how
POLL_TICK_S = 0.05  # exit checks where pidfd is unavailable (macOS)
MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 10_000
WORKER_STATUSES = frozenset({"ok", "missing", "error", "unencodable"})


# --------------------------------------------------------------------------- launch


def _launch(launch: Launch, *, stdout: int, stderr: int) -> subprocess.Popen[bytes]:
    """Start one worker as `launch` says (argv, environment, descriptors, pre-exec hook).

    The pre-exec hook (rlimits; in the uid mode also the private staging mounts and the uid
    switch, see grader/sandbox/launch.py) runs between fork and exec. The batch grades on
    several threads, where the subprocess docs call preexec_fn risky: the hook therefore only
    makes system calls through functions bound before the fork (no import, no lock, no I/O
    beyond mkdir/open/close of the stage's own files).
    """
    return subprocess.Popen(
        launch.argv,
        env=launch.env,
        cwd=launch.cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        pass_fds=launch.pass_fds,
        close_fds=True,
        start_new_session=True,  # own process group: one killpg reaches every descendant
        preexec_fn=launch.preexec,
    )


def _child_env(home: str) -> dict[str, str]:
    """A minimal environment: nothing of the grader's (tokens, salts, paths) leaks."""
    env = {
        "PATH": CHILD_PATH,
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        env[name] = "1"
    return env


# --------------------------------------------------------------------------- one child


class _Timeout(Exception):
    pass


class _ChildGone(Exception):
    """The child exited or closed its end of the response pipe."""


def _describe_exit(returncode: int | None, cpu_s: float, cpu_limit_s: float) -> str:
    if returncode is None:
        return "still running"
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if -returncode in (signal.SIGKILL, signal.SIGXCPU) and cpu_s >= cpu_limit_s - 0.5:
        return f"killed by {name}: it used up its CPU time limit of {cpu_limit_s:g} s"
    if -returncode == signal.SIGXFSZ:
        return f"killed by {name}: it wrote past the file size limit (files and output)"
    return f"killed by {name}"


class _Child:
    """One worker process and the parent's ends of its two pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], request_fd: int, response_fd: int,
                 cpu_limit_s: float, signal_exit_codes: bool = False):
        self.proc = proc
        self.cpu_limit_s = cpu_limit_s
        self.signal_exit_codes = signal_exit_codes  # bwrap: "killed by signal N" = exit 128 + N
        self.cpu_s = 0.0  # CPU time it used, known once reaped
        self.pidfd = self._open_pidfd(proc.pid)
        self._attach(request_fd, response_fd, self.pidfd)
        self.reaped = False

    def _attach(self, request_fd: int, response_fd: int, exit_fd: int | None) -> None:
        """Our ends of its pipes, and a selector on its answers and on `exit_fd` (readable once
        it exited), for receive()."""
        self.request_fd = request_fd
        self.response_fd = response_fd
        os.set_blocking(request_fd, False)  # a child that stops reading must not block us
        os.set_blocking(response_fd, False)
        self.decoder = protocol.FrameDecoder()
        self.selector = selectors.DefaultSelector()
        self.selector.register(response_fd, selectors.EVENT_READ, "response")
        if exit_fd is not None:
            self.selector.register(exit_fd, selectors.EVENT_READ, "exit")

    @staticmethod
    def _open_pidfd(pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)  # readable once the process exits (Linux >= 5.3)
        except (AttributeError, OSError):
            return None

    def has_exited(self) -> bool:
        """Whether the process exited, without reaping it (see kill())."""
        if self.reaped:
            return True
        if hasattr(os, "waitid"):
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            try:
                return os.waitid(os.P_PID, self.proc.pid, flags) is not None
            except ChildProcessError:
                return True
        return self.proc.poll() is not None  # macOS: no waitid; reaping here is the fallback

    def send(self, request: _Request, deadline: float) -> None:
        data = memoryview(request.frame)[self._write(request.frame):]
        if not data:
            return  # the usual case: the pipe had room, no selector needed
        with selectors.DefaultSelector() as writer:
            writer.register(self.request_fd, selectors.EVENT_WRITE)
            while data:
                self._wait(writer, deadline)
                data = data[self._write(data):]

    def _write(self, data: bytes | memoryview) -> int:
        """Bytes of `data` the request pipe took now (0 when full); _ChildGone if it broke."""
        try:
            return os.write(self.request_fd, data)
        except BlockingIOError:
            return 0
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ChildGone() from exc

    def _wait(self, selector: selectors.BaseSelector, deadline: float,
              idle: IdleHook | None = None) -> list[str]:
        events = selector.select(0) if idle is not None else []
        while not events and idle is not None and idle():  # the caller's own work meanwhile
            events = selector.select(0)
        if not events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout()
            if self.pidfd is None:
                remaining = min(remaining, POLL_TICK_S)
            events = selector.select(remaining)
        if self.pidfd is None and self.has_exited():
            return ["exit"]
        return [key.data for key, _ in events]

    def receive(self, deadline: float, idle: IdleHook | None = None) -> dict[str, Any]:
        """The next message; raises _Timeout, _ChildGone or protocol.ProtocolError.

        While nothing has come, `idle()` is called until it says it did nothing (False)."""
        payload = self.decoder.next_payload()
        if payload is not None:  # read with an earlier one: no system call
            return protocol.decode_frame(payload)
        while True:
            ready = self._wait(self.selector, deadline, idle)
            if "response" in ready and not self._read_available():
                payload = self.decoder.next_payload()  # its last frame came with the end
                if payload is None:
                    raise _ChildGone()
                return protocol.decode_frame(payload)
            if "exit" in ready:
                # It may have written its answer just before dying: take what is there.
                self._read_available()
                payload = self.decoder.next_payload()
                if payload is None:
                    raise _ChildGone()
                return protocol.decode_frame(payload)
            payload = self.decoder.next_payload()
            if payload is not None:
                return protocol.decode_frame(payload)

    def _read_available(self) -> bool:
        """Read what the pipe holds now; False at end of stream."""
        while True:
            try:
                chunk = os.read(self.response_fd, 1 << 20)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            self.decoder.feed(chunk)

    def kill(self) -> str:
        """SIGKILL the process group, reap the child, describe how it ended. Idempotent."""
        if not self.reaped:
            # The leader is not reaped yet (a zombie at worst), so its pid, which is also the
            # group id, cannot have been reused: killpg reaches only the student's processes.
            # os.kill, not Popen.kill: that one polls first, reaping the child and losing
            # its CPU time (see _reap).
            for kill in (os.killpg, os.kill):
                try:
                    kill(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._reap()
        self._close_fds()
        return _describe_exit(self.proc.returncode, self.cpu_s, self.cpu_limit_s)

    def _reap(self) -> None:
        try:
            # wait4 rather than Popen.wait: its CPU time tells a CPU-limit kill from others.
            _, status, usage = os.wait4(self.proc.pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
            if self.signal_exit_codes and 128 < returncode <= 128 + 64:
                returncode = -(returncode - 128)  # the worker died of that signal inside
            self.proc.returncode = returncode
            # Sandboxed, bwrap reaps the worker (--as-pid-1): this includes the worker's CPU.
            self.cpu_s = usage.ru_utime + usage.ru_stime
        except ChildProcessError:  # reaped elsewhere (the poll() fallback)
            self.proc.wait()
        self.reaped = True

    def _wait_for_exit(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.has_exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def end(self, grace_s: float) -> str:
        """Give the process `grace_s` to exit by itself (for its real exit status), then kill.

        Used once its pipe broke: it is dying, or the student closed the pipe and it lingers.
        """
        if self._wait_for_exit(grace_s):
            return self.kill()
        self.kill()
        return "it closed its pipe to the grader and was stopped"

    def stop(self) -> None:
        """Ask the child to finish (end of its request stream), then make sure it is gone."""
        try:
            os.close(self.request_fd)
        except OSError:
            pass
        self.request_fd = -1
        self._wait_for_exit(GRACEFUL_EXIT_S)
        self.kill()  # also reaches anything the student left running in the group

    def _close_fds(self) -> None:
        self.selector.close()
        for fd in (self.request_fd, self.response_fd, self.pidfd):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.request_fd = self.response_fd = -1
        self.pidfd = None


# --------------------------------------------------------------------------- requests


class _Request(dict):
    """An encoded request and its frame, encoded once (the zygote executor keeps a shared Call's
    for the next students: see Call.shared). Read-only once made."""

    frame: bytes


def _encode_request(call: Call) -> _Request:
    """A Call's request (ValueError for a bad Call: the caller's bug)."""
    if call.op not in OPS:
        raise ValueError(f"call {call.id!r}: unknown op {call.op!r}")
    request = _Request(id=call.id, op=call.op, name=call.name)
    try:
        request["kwargs"] = protocol.encode_value(dict(call.kwargs))
        if call.op == "map":
            request["items"] = [protocol.encode_value(list(item)) for item in call.args]
        else:
            request["args"] = protocol.encode_value(tuple(call.args))
        request.frame = protocol.encode_frame(request)  # also the size check
    except (protocol.UnencodableValue, protocol.ProtocolError, TypeError) as exc:
        raise ValueError(f"call {call.id!r}: inputs cannot be sent: {exc}") from exc
    return request


def _clip(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 15] + " ...(truncated)"


class _Malformed(Exception):
    """The child's reply does not follow the protocol."""


def _decoded_outcome(outcome_id: str, reply: Any) -> CallOutcome:
    """A CallOutcome from one reply dict ({"status", "value"?, "error"?, "traceback"?})."""
    if not isinstance(reply, dict) or reply.get("status") not in WORKER_STATUSES:
        raise _Malformed("a reply without a valid status")
    status = reply["status"]
    error = _clip(reply.get("error"), MAX_ERROR_CHARS)
    traceback = _clip(reply.get("traceback"), MAX_TRACEBACK_CHARS)
    if status != "ok":
        return CallOutcome(outcome_id, status, error=error, traceback=traceback)
    if "value" not in reply:
        raise _Malformed("an ok reply without a value")
    try:
        value = protocol.decode_value(reply["value"])
    except protocol.ProtocolError as exc:
        # Undecodable data, but the stream is still in step: only this result is lost.
        return CallOutcome(outcome_id, "malformed", error=f"the result was malformed: {exc}")
    return CallOutcome(outcome_id, "ok", value=value)


def _map_outcome(call: Call, reply: dict[str, Any]) -> CallOutcome:
    values, failed = reply.get("values"), reply.get("failures")
    if type(values) is not list or len(values) != len(call.args) or type(failed) is not list:
        raise _Malformed("a map reply without one result per input")
    failures: dict[int, CallOutcome] = {}
    for entry in failed:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int or not (
                0 <= entry[0] < len(values)) or entry[0] in failures:
            raise _Malformed("a map reply with a failure for no input")
        index, item = entry
        outcome = _decoded_item(f"{call.id}[{index}]", item)
        if outcome.status == "ok":
            raise _Malformed("a map reply with a failure that is not one")
        failures[index] = outcome
    for index, value in enumerate(values):  # a list of this decoder's own: filled in place
        if index in failures:
            values[index] = None
        elif type(value) is not int and type(value) is not str:  # the usual item: as it is
            outcome = _decoded_item(f"{call.id}[{index}]", {"status": "ok", "value": value})
            if outcome.status == "ok":
                values[index] = outcome.value
            else:
                values[index], failures[index] = None, outcome
    return CallOutcome(call.id, "ok", value=MapOutcomes(call.id, values, failures))


def _decoded_item(item_id: str, item: Any) -> CallOutcome:
    try:
        return _decoded_outcome(item_id, item)
    except _Malformed as exc:
        return CallOutcome(item_id, "malformed", error=f"the worker sent {exc}")


def _outcome_from_reply(call: Call, reply: dict[str, Any]) -> CallOutcome:
    """Validate the envelope (raises _Malformed) and decode the value."""
    if reply.get("id") != call.id:
        raise _Malformed("a reply for another request")
    if call.op == "map" and reply.get("status") == "ok":
        return _map_outcome(call, reply)
    return _decoded_outcome(call.id, reply)


# --------------------------------------------------------------------------- one run


class _Run:
    """State of one run(): the current child, restarts, names already known to fail."""

    def __init__(self, submission: Path, module_name: str, python: str, limits: Limits,
                 session: Session, stdout: IO[bytes], stderr: IO[bytes]):
        self.submission = submission
        self.module_name = module_name
        self.python = python
        self.limits = limits
        self.session = session
        self.stdout = stdout
        self.stderr = stderr
        self.started = time.monotonic()
        self.total_deadline = self.started + limits.total_timeout_s
        self.child: _Child | None = None
        self.children_started = 0
        self.failed_names: dict[str, str] = {}  # name -> why its further calls are skipped
        self.blocked: CallOutcome | None = None  # once set, every later call gets this outcome
        self.begun: tuple[str, str] | None = None  # why begin() could not start a child
        self.idle: IdleHook | None = None  # what to do while waiting for the child (see _perform)

    @property
    def restarts(self) -> int:
        return max(0, self.children_started - 1)

    # -- children

    def add(self, call: Call, request: _Request) -> None:
        """One more call of the run, known now (a fresh worker is sent each at its turn)."""

    def begin(self) -> None:
        """Start the first child now, without waiting for its import (see PendingRun)."""
        self.begun = _file_problem(self.submission) or self.launch_child()

    def first_child(self) -> tuple[str, str] | None:
        """The child begin() started, once it imported the module; (error, traceback) if not."""
        if self.begun is not None:
            return self.begun
        return self.await_child() if self.child is not None else self.start_child()

    def start_child(self) -> tuple[str, str] | None:
        """Start a worker and wait until it imported the module; (error, traceback) if not."""
        failure = self.launch_child()
        return failure if failure is not None else self.await_child()

    def await_child(self) -> tuple[str, str] | None:
        return self._await_ready()

    def launch_child(self) -> tuple[str, str] | None:
        """Start a worker (it imports the module meanwhile); (error, traceback) if it cannot be."""
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        worker_args = ["--requests", str(request_read), "--responses", str(response_write)]
        launch = None
        try:
            launch = self.session.launch(
                self.python, WORKER_PATH, PROTOCOL_PATH, self.submission, self.module_name,
                worker_args, (request_read, response_write), self.limits, _child_env)
            proc = _launch(launch, stdout=self.stdout.fileno(), stderr=self.stderr.fileno())
        except SandboxUnavailable as exc:  # e.g. the submission is a symlink: its own fault
            os.close(request_write)
            os.close(response_read)
            return str(exc), ""
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(request_write)
            os.close(response_read)
            raise ExecutorError(f"cannot start the worker: {exc}") from exc
        finally:
            if launch is not None:
                launch.spawned()
            os.close(request_read)  # the child's ends: only the child may hold them
            os.close(response_write)  # (else we would never see end of stream)
        self.children_started += 1
        self.child = _Child(proc, request_write, response_read, self.limits.cpu_s,
                            launch.signal_exit_codes)
        return None

    def _await_ready(self) -> tuple[str, str] | None:
        assert self.child is not None
        limit = self.limits.import_timeout_s
        deadline = min(time.monotonic() + limit, self.total_deadline)
        try:
            message = self.child.receive(deadline, self.idle)
        except _Timeout:
            self.drop_child()
            return f"importing the module took longer than {self._limit_text(deadline, limit)}", ""
        except _ChildGone:
            return f"the process exited while importing the module ({self.end_child()})", ""
        except protocol.ProtocolError as exc:
            self.drop_child()
            return f"the worker sent a malformed message while importing the module: {exc}", ""
        if message.get("event") == "ready":
            return None
        self.drop_child()
        if message.get("event") == "import_error":
            error = _clip(message.get("error"), MAX_ERROR_CHARS) or "the import failed"
            return error, _clip(message.get("traceback"), MAX_TRACEBACK_CHARS)
        return "the worker sent a malformed message while importing the module", ""

    def _limit_text(self, deadline: float, limit: float) -> str:
        if deadline >= self.total_deadline:
            return f"the total time limit of {self.limits.total_timeout_s:g} s"
        return f"{limit:g} s"

    def drop_child(self) -> str:
        """Kill and reap the current child; how it ended."""
        child, self.child = self.child, None
        if child is None:
            return "no process"
        how = child.kill()
        self.session.after_child()
        return how

    def stop(self) -> None:
        child, self.child = self.child, None
        if child is not None:
            child.stop()
            self.session.after_child()  # a killed worker dies asynchronously: wait it out

    def ensure_child(self) -> CallOutcome | None:
        """A live child for the next call, or the outcome every remaining call gets."""
        if self.child is not None and self.child.has_exited():
            self.drop_child()  # died between calls (a student thread?): start afresh
        if self.child is not None:
            return None
        if self.restarts >= self.limits.max_restarts:
            return self._block("skipped", f"not run: the process was restarted "
                               f"{self.limits.max_restarts} times already")
        failure = self.start_child()
        if failure is not None:
            return self._block("error", f"could not restart the process: {failure[0]}")
        return None

    def _block(self, status: str, message: str) -> CallOutcome:
        self.blocked = CallOutcome("", status, error=message)  # type: ignore[arg-type]
        return self.blocked

    # -- calls

    def run_call(self, call: Call, request: _Request) -> CallOutcome:
        if self.blocked is not None:
            return CallOutcome(call.id, self.blocked.status, error=self.blocked.error)
        if call.name in self.failed_names:
            return CallOutcome(call.id, "skipped", error=self.failed_names[call.name])
        if time.monotonic() >= self.total_deadline:
            limit = self.limits.total_timeout_s
            return self._block_for(call, "skipped",
                                   f"not run: the total time limit of {limit:g} s ran out")
        failure = self.ensure_child()
        if failure is not None:
            return CallOutcome(call.id, failure.status, error=failure.error)
        return self._exchange(call, request)

    def _block_for(self, call: Call, status: str, message: str) -> CallOutcome:
        blocked = self._block(status, message)
        return CallOutcome(call.id, blocked.status, error=blocked.error)

    def _exchange(self, call: Call, request: _Request) -> CallOutcome:
        limit = self.limits.call_timeout_s
        deadline = min(time.monotonic() + limit, self.total_deadline)
        try:
            child = self._deliver(request, deadline)
            if child is None:
                assert self.blocked is not None
                return CallOutcome(call.id, self.blocked.status, error=self.blocked.error)
            reply = child.receive(deadline, self.idle)
            return _outcome_from_reply(call, reply)
        except _Timeout:
            self.drop_child()
            limit_text = self._limit_text(deadline, limit)
            self.failed_names[call.name] = f"not run: an earlier call of {call.name} timed out"
            return CallOutcome(call.id, "timeout",
                               error=f"took longer than {limit_text} (wall clock); stopped")
        except _ChildGone:
            how = self.end_child()
            self.failed_names[call.name] = (
                f"not run: an earlier call of {call.name} ended the process"
            )
            return CallOutcome(call.id, "crashed",
                               error=f"the process exited during this call ({how})")
        except (protocol.ProtocolError, _Malformed) as exc:
            self.drop_child()  # out of step with us: nothing more it says can be matched
            return CallOutcome(call.id, "malformed", error=f"the worker sent {exc}")

    def _deliver(self, request: _Request, deadline: float) -> _Child | None:
        """Send the request; the child it went to, None if no child can be had."""
        assert self.child is not None
        try:
            self.child.send(request, deadline)
            return self.child
        except _ChildGone:
            # Broken before this call began (a student thread ended it, or it closed its
            # request pipe): not this call's doing, so try once more in a fresh process.
            self.end_child()
        if self.ensure_child() is not None:
            return None
        assert self.child is not None
        self.child.send(request, deadline)
        return self.child

    def end_child(self) -> str:
        """The child's pipe broke: reap it, and say how it ended."""
        child, self.child = self.child, None
        if child is None:
            return "no process"
        how = child.end(BROKEN_PIPE_GRACE_S)
        self.session.after_child()
        return how


def _read_tail(file: IO[bytes], limit: int) -> str:
    """The last `limit` bytes, read through the descriptor we opened (no path is followed)."""
    if limit <= 0:
        return ""
    size = os.fstat(file.fileno()).st_size
    start = max(0, size - limit)
    data = os.pread(file.fileno(), size - start, start)
    return data.decode("utf-8", errors="replace")


def _remove_tree(path: str) -> None:
    """Remove a run's temp dir, whatever the student left in it (0o000 dirs included)."""

    def make_writable_and_retry(_function: Any, name: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
                shutil.rmtree(name, ignore_errors=True)
            else:
                os.unlink(name)
        except OSError:
            pass  # leftovers in a private temp dir are not worth failing a grade over

    try:
        shutil.rmtree(path, onerror=make_writable_and_retry)
    except OSError:
        pass


class SubprocessExecutor:
    """Runs each submission in fresh worker processes of this Python (``python -I``).

    ``sandbox``: "auto" (the strongest isolation the probe proved here; see grader/sandbox/),
    "none" (a plain subprocess: rlimits and the data-only protocol only), or an Isolation.
    """

    _warned_unprotected = False

    def __init__(self, module_name: str | None = None, python: str = sys.executable,
                 sandbox: str | Isolation = "auto") -> None:
        # None: import under the file's stem ("hw2" for hw2.py), "submission" if not a name.
        self.module_name = module_name
        self.python = python
        self.sandbox = sandbox

    def _module_name_for(self, submission: Path) -> str:
        if self.module_name:
            return self.module_name
        stem = submission.stem
        # A student file called random.py must not replace the `random` numpy imports.
        shadows = stem in sys.stdlib_module_names or stem in ("numpy", "torch", "grader")
        return stem if stem.isidentifier() and not shadows else "submission"

    def isolation(self) -> Isolation:
        """The isolation runs use; the first unprotected "auto" says so once on stderr."""
        if isinstance(self.sandbox, Isolation):
            return self.sandbox
        if self.sandbox == "none":
            return PlainIsolation()
        if self.sandbox != "auto":
            raise ValueError(f"sandbox must be 'auto', 'none' or an Isolation, not {self.sandbox!r}")
        report = probe(self.python)
        if not report.protected and not SubprocessExecutor._warned_unprotected:
            SubprocessExecutor._warned_unprotected = True
            print("grader: no sandbox on this machine, so student code runs in a plain "
                  "subprocess: this is NOT a security boundary (scores are still computed "
                  "correctly). `grader doctor` says what is missing.", file=sys.stderr)
        return report.isolation

    def run(
        self, submission: Path, calls: Sequence[Call], limits: Limits = Limits()
    ) -> RunResult:
        """Import `submission` in a child process and perform `calls` in order.

        Raises ValueError for a malformed Call (duplicate ids, inputs that cannot be sent) and
        ExecutorError if no process can be started; whatever the submission does ends up in
        the outcomes.
        """
        return self.start(submission, limits).perform(calls)

    def start(self, submission: Path, limits: Limits = Limits(), source: bytes | None = None) -> PendingRun:
        """Start the run's first child now; its calls come with PendingRun.perform.

        The child imports the module while the caller works out what to ask it (the grader's
        static analysis and cases). `source`: the bytes the caller read and analysed; a fresh
        worker reads the file again, through a descriptor the trusted side opens (the zygote
        executor runs exactly these bytes). Raises ExecutorError as run() does.
        """
        submission = Path(submission).absolute()
        isolation = self.isolation()
        stack = contextlib.ExitStack()
        try:
            root = tempfile.mkdtemp(prefix="grader-run-")
            stack.callback(_remove_tree, root)
            session = stack.enter_context(isolation.session())
            # Unlinked files: the parent reads them back through its own descriptors.
            out = stack.enter_context(tempfile.TemporaryFile(dir=root))
            err = stack.enter_context(tempfile.TemporaryFile(dir=root))
            run = _Run(submission, self._module_name_for(submission), self.python, limits,
                       session, out, err)
            return self._begun(run, stack)
        except BaseException:
            stack.close()
            raise

    @staticmethod
    def _begun(run: _Run, stack: contextlib.ExitStack,
               encode: Callable[[Call], _Request] = _encode_request) -> PendingRun:
        stack.callback(run.stop)
        run.begin()
        return PendingRun(run, stack, encode)

    @staticmethod
    def _result(run: _Run, calls: Iterable[Call], encode: Callable[[Call], _Request],
                on_outcome: OutcomeHook | None = None, on_idle: IdleHook | None = None) -> RunResult:
        """Perform the run, stop its child, and gather what became of it."""
        try:
            outcomes, import_error, import_traceback = _perform(run, calls, encode, on_outcome, on_idle)
        finally:
            run.stop()
        return RunResult(
            outcomes=outcomes,
            import_error=import_error,
            import_traceback=import_traceback,
            stdout_tail=_read_tail(run.stdout, run.limits.output_bytes),
            stderr_tail=_read_tail(run.stderr, run.limits.output_bytes),
            restarts=run.restarts,
        )


class PendingRun:
    """A run whose first child is starting (SubprocessExecutor.start): perform() or cancel();
    a base.StartedRun.

    The caller keeps it for one submission and ends it either way (a context manager).
    """

    def __init__(self, run: _Run, stack: contextlib.ExitStack,
                 encode: Callable[[Call], _Request]) -> None:
        self._run, self._stack, self._encode = run, stack, encode

    def perform(self, calls: Iterable[Call], on_outcome: OutcomeHook | None = None,
                on_idle: IdleHook | None = None) -> RunResult:
        """The calls' outcomes, in order; `on_outcome(call, outcome)` hears of each as soon as it
        is known (the child goes on with the next calls meanwhile), except when the module
        could not be imported at all (RunResult.import_error). Ends the run.

        `calls` may be an iterator that works each call out when asked (the grader's plan):
        the next one is asked for whenever the child has not answered yet, and sent to it at
        once, so the child starts on the first calls while the later ones are still planned.
        Once every call is known, `on_idle()` is called instead, a step at a time, until it
        says there is nothing left (False).
        Raises ValueError for a malformed Call (duplicate ids, inputs that cannot be sent)."""
        try:
            return SubprocessExecutor._result(self._run, calls, self._encode, on_outcome, on_idle)
        finally:
            self.cancel()

    @property
    def started(self) -> bool:
        """Whether a process of this run exists (it is importing the module, or waits for calls)."""
        return self._run.child is not None

    def cancel(self) -> None:
        """Stop the child (if any) and release what the run held. Idempotent."""
        self._stack.close()

    def __enter__(self) -> PendingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _file_problem(submission: Path) -> tuple[str, str] | None:
    if submission.is_symlink():
        # It could point at the reference module, or at /dev/zero: never follow it.
        return f"{submission.name} is a symbolic link; submit the file itself", ""
    if not submission.is_file():
        return f"the submission file {submission.name} does not exist", ""
    return None


def _perform(run: _Run, source: Iterable[Call], encode: Callable[[Call], _Request],
             on_outcome: OutcomeHook | None, on_idle: IdleHook | None = None
             ) -> tuple[dict[str, CallOutcome], str, str]:
    """The outcomes, and the import error and traceback (empty if the import worked).

    Calls are taken from `source` while the child imports the module (run.idle), then all the
    others, before the first outcome is read; then `on_idle` has the waits."""
    pending = iter(source)
    calls: list[Call] = []
    requests: list[_Request] = []
    ids: set[str] = set()

    def take_one() -> bool:
        call = next(pending, None)
        if call is None:
            return False
        if call.id in ids:
            raise ValueError(f"duplicate call id {call.id!r}")
        ids.add(call.id)
        request = encode(call)
        calls.append(call)
        requests.append(request)
        run.add(call, request)
        return True

    def take_one_or_idle() -> bool:
        return take_one() or (on_idle is not None and on_idle())

    if not take_one():
        return {}, "", ""  # nothing to ask: the child is stopped, its import not waited for
    run.idle = take_one_or_idle
    failure = run.first_child()
    if failure is not None:
        while take_one():
            pass
        error, traceback = failure
        outcomes = {c.id: CallOutcome(c.id, "error", error=error, traceback=traceback)
                    for c in calls}
        return outcomes, error, traceback
    # The rest of the plan now, each call sent as it is known, before any outcome is judged:
    # so the child is never left waiting for calls while this process judges answers.
    while take_one():
        pass
    outcomes = {}
    for position, call in enumerate(calls):
        outcome = outcomes[call.id] = run.run_call(call, requests[position])
        if on_outcome is not None:
            on_outcome(call, outcome)
    return outcomes, "", ""
