"""Child side of the executor: imports one submission and serves calls on it.

Run by path, never imported by the grader:

    python -I -X faulthandler worker.py --submission PATH --module-name hw2 \
        --requests FD --responses FD

Self-contained on purpose: the sandbox may mount only this folder, so it imports the standard
library, numpy and ``protocol.py`` (loaded by path from this file's folder), never ``grader``.

Everything here runs next to untrusted code that can replace any of it; the grader trusts
nothing this process says beyond plain data, decoded strictly on its side. The point of this
file is to give *honest* submissions precise outcomes and short, student-only tracebacks.

Messages (one JSON object per frame, see protocol.py):
  child -> parent, once:  {"event": "ready"} | {"event": "import_error", "error", "traceback"}
  parent -> child:        {"id", "op": "get"|"call", "name", "args", "kwargs"}
                          {"id", "op": "map", "name", "items": [[arg, ...], ...], "kwargs"}
  child -> parent:        {"id", "status", "value"?, "error"?, "traceback"?}
                          for map: {"id", "status": "ok", "values": [value or null, ...],
                                    "failures": [[index, {"status", "error", ...}], ...]}
  A map item is the list of its encoded positional arguments; its result is in "values" when
  ok, else in "failures" (a formula maps thousands of points: no object per item on the wire).
SystemExit and os._exit are not caught: the parent reports the process as crashed.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import sys
import traceback
from types import ModuleType, TracebackType
from typing import Any, Callable

# Before numpy (and torch) are imported: their thread pools size themselves at import.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
for _variable in _THREAD_VARIABLES:
    os.environ[_variable] = "1"

MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_FRAMES = 20
MAX_TRACEBACK_CHARS = 10_000
_PLAIN_INT_BOUND = 1 << 63  # ints below this travel as they are (protocol.encode_value agrees)
PROTOCOL_FILE = "protocol.py"


def _load_protocol() -> ModuleType:
    loaded = sys.modules.get("_grader_executor_protocol")  # the zygote (zygote_server.py) loaded it
    if loaded is not None:
        return loaded
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), PROTOCOL_FILE)
    spec = importlib.util.spec_from_file_location("_grader_executor_protocol", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sys.dont_write_bytecode = True  # never leave __pycache__ next to the submission or this file
protocol = _load_protocol()


# --------------------------------------------------------------------------- errors


def _safe_text(make: Callable[[], str], fallback: str) -> str:
    """Student __str__/__repr__ may raise; never let that take the worker down."""
    try:
        text = make()
        return text if isinstance(text, str) else fallback
    except Exception:  # noqa: BLE001
        return fallback


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ...(truncated)"


def error_line(exc: BaseException) -> str:
    """One line for a human: 'ZeroDivisionError: division by zero'."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError):
        message = f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)
    else:
        message = _safe_text(lambda: str(exc), "<the exception could not be printed>")
    line = f"{name}: {message}" if message else name
    return _clip(" ".join(line.split("\n")), MAX_ERROR_CHARS)


def _collapse_repeats(lines: list[str], keep: int = 3) -> list[str]:
    """Runs of one frame (recursion) shortened as Python does: 'previous line repeated'."""
    result: list[str] = []
    index = 0
    while index < len(lines):
        end = index
        while end < len(lines) and lines[end] == lines[index]:
            end += 1
        run = end - index
        result.extend(lines[index : index + min(run, keep)])
        if run > keep:
            result.append(f"[previous line repeated {run - keep} more times]")
        index = end
    return result


class StudentTraceback:
    """Formats tracebacks keeping only the frames of the submission file."""

    def __init__(self, submission: str) -> None:
        self._paths = {submission, os.path.realpath(submission)}

    def _is_student(self, filename: str) -> bool:
        return filename in self._paths or os.path.realpath(filename) in self._paths

    def format(self, exc: BaseException) -> str:
        lines = _collapse_repeats([
            f"line {frame.lineno}, in {frame.name}: {(frame.line or '').strip()}"
            for frame in self._frames(exc.__traceback__)
        ])
        if len(lines) > MAX_TRACEBACK_FRAMES:  # keep where it started and where it ended
            half = MAX_TRACEBACK_FRAMES // 2
            skipped = len(lines) - 2 * half
            lines = lines[:half] + [f"... {skipped} more lines ..."] + lines[-half:]
        if isinstance(exc, SyntaxError) and exc.text:
            lines.append(f"line {exc.lineno}: {exc.text.strip()}")
        lines.append(error_line(exc))
        return _clip("\n".join(lines), MAX_TRACEBACK_CHARS)

    def _frames(self, tb: TracebackType | None) -> list[traceback.FrameSummary]:
        try:
            summary = traceback.extract_tb(tb)
        except Exception:  # noqa: BLE001 - linecache on a vanished file, odd code objects
            return []
        return [frame for frame in summary if self._is_student(frame.filename)]


# --------------------------------------------------------------------------- requests


class Server:
    def __init__(self, module: ModuleType, module_name: str, tracebacks: StudentTraceback):
        self.module = module
        self.module_name = module_name
        self.tracebacks = tracebacks

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op, name = request.get("op"), request.get("name")
        if not isinstance(name, str):
            return {"status": "error", "error": "worker: request without a name"}
        if op == "get":
            return self.get(name)
        if op == "call":
            return self.call(name, request.get("args"), request.get("kwargs"))
        if op == "map":
            return self.map(name, request.get("items"), request.get("kwargs"))
        return {"status": "error", "error": f"worker: unknown op {op!r}"}

    def _lookup(self, name: str) -> tuple[Any, dict[str, Any] | None]:
        try:
            return getattr(self.module, name), None
        except AttributeError:
            missing = f"{self.module_name} does not define {name}"
            return None, {"status": "missing", "error": missing}
        except Exception as exc:  # noqa: BLE001 - a module __getattr__ may raise anything
            return None, self._failure(exc)

    def get(self, name: str) -> dict[str, Any]:
        value, failure = self._lookup(name)
        if failure is not None:
            return failure
        if callable(value) and not protocol.is_named_object(value):
            # e.g. functools.partial or an instance with __call__: say what it is, by name.
            value = _qualified_type(value)
        return self._encoded(value)

    def call(self, name: str, args: Any, kwargs: Any) -> dict[str, Any]:
        function, failure = self._callable(name)
        if failure is not None:
            return failure
        return self._call_once(function, args, kwargs)

    def map(self, name: str, items: Any, kwargs: Any) -> dict[str, Any]:
        function, failure = self._callable(name)
        if failure is not None:
            return failure
        if not isinstance(items, list):
            return {"status": "error", "error": "worker: map request without items"}
        plain = kwargs is None or kwargs == {}
        _limit_torch_threads()
        values: list[Any] = []
        failures: list[list[Any]] = []
        bound = _PLAIN_INT_BOUND
        for index, args in enumerate(items):
            # The usual item, a formula's point (ints in, an int out), with nothing to decode
            # or encode and no call per item beyond the student's (thousands of points).
            if plain and type(args) is list and _all_ints(args):
                try:
                    result = function(*args)
                except Exception as exc:  # noqa: BLE001 - as in _call_once
                    reply = self._failure(exc)
                else:
                    if type(result) is int and -bound < result < bound:
                        values.append(result)
                        continue
                    reply = self._encoded(result)
            elif type(args) is not list:
                reply = {"status": "error", "error": "worker: bad request: a map item is not a list"}
            else:
                reply = self._call_once(function, {"$tuple": args}, kwargs)
            if reply["status"] == "ok":
                values.append(reply["value"])
            else:
                values.append(None)
                failures.append([index, reply])
        return {"status": "ok", "values": values, "failures": failures}

    def _callable(self, name: str) -> tuple[Any, dict[str, Any] | None]:
        function, failure = self._lookup(name)
        if failure is None and not callable(function):
            kind = type(function).__name__
            failure = {"status": "error", "error": f"{name} is not callable (it is a {kind})"}
        return function, failure

    def _call_once(self, function: Any, args: Any, kwargs: Any) -> dict[str, Any]:
        # Decoded fresh for every call: a student mutating its inputs cannot affect later calls.
        try:
            positional = protocol.decode_value(args)
            keywords = protocol.decode_value(kwargs) if kwargs is not None else {}
            if not isinstance(positional, tuple) or not isinstance(keywords, dict):
                raise protocol.ProtocolError("args must be a tuple and kwargs a dict")
        except protocol.ProtocolError as exc:
            return {"status": "error", "error": f"worker: bad request: {exc}"}
        _limit_torch_threads()
        try:
            result = function(*positional, **keywords)
        except Exception as exc:  # noqa: BLE001 - SystemExit is left to crash the process
            return self._failure(exc)
        return self._encoded(result)

    def _failure(self, exc: Exception) -> dict[str, Any]:
        if isinstance(exc, NotImplementedError):
            return {"status": "missing", "error": "not implemented (raises NotImplementedError)"}
        return {
            "status": "error",
            "error": error_line(exc),
            "traceback": self.tracebacks.format(exc),
        }

    def _encoded(self, value: Any) -> dict[str, Any]:
        try:
            return {"status": "ok", "value": protocol.encode_value(value)}
        except protocol.UnencodableValue as exc:
            return {"status": "unencodable", "error": _clip(str(exc), MAX_ERROR_CHARS)}
        except Exception as exc:  # noqa: BLE001 - e.g. a student __iter__ that raises
            message = f"the returned value could not be converted: {error_line(exc)}"
            return {"status": "unencodable", "error": _clip(message, MAX_ERROR_CHARS)}


def _all_ints(items: list[Any]) -> bool:
    for item in items:
        if type(item) is not int:
            return False
    return True


def _qualified_type(value: Any) -> Any:
    return protocol.QualifiedName(protocol.qualified_name_of(type(value)))


def _limit_torch_threads() -> None:
    """One torch thread: the machine's cores belong to the grader's other workers."""
    torch = sys.modules.get("torch")
    if torch is None or getattr(_limit_torch_threads, "done", False):
        return
    try:
        torch.set_num_threads(1)
    except Exception:  # noqa: BLE001 - a half-imported or student-patched torch
        return
    _limit_torch_threads.done = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- main


def import_submission(path: str, module_name: str) -> ModuleType:
    """Import the file by path (never via sys.path: no shadowing by files next to it)."""
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # as a normal import would: pickling, dataclasses...
    loader.exec_module(module)
    return module


def _flush_student_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the student may have closed or replaced them
            pass


def _send(fd: int, message: dict[str, Any]) -> None:
    try:
        protocol.write_frame(fd, message)
    except protocol.ProtocolError as exc:  # too large, most likely: say so instead
        status = "unencodable" if message.get("status") == "ok" else message.get("status")
        error = _clip(f"the result could not be sent: {exc}", MAX_ERROR_CHARS)
        protocol.write_frame(fd, {"id": message.get("id"), "status": status, "error": error})


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", required=True)
    parser.add_argument("--module-name", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--responses", type=int, required=True)
    return parser.parse_args(argv)


def _close_other_descriptors(keep: set[int]) -> None:
    """Whatever else was inherited (a launcher's leftovers) is closed before student code runs."""
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (macOS): the parent passed only what it meant to
        return
    for fd in open_fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, already gone


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    return serve(args.submission, args.module_name, args.requests, args.responses)


def serve(submission: str, module_name: str, requests: int, responses: int) -> int:
    """Import the submission, say so, answer requests until end of stream: the exit code.

    Also the child side of the warm worker: zygote_server.py calls it in each forked child.
    """
    _close_other_descriptors(keep={0, 1, 2, requests, responses})
    for fd in (requests, responses):
        os.set_inheritable(fd, False)  # the student's own subprocesses do not get them
    submission = os.path.abspath(submission)
    tracebacks = StudentTraceback(submission)
    try:
        module = import_submission(submission, module_name)
    except Exception as exc:  # noqa: BLE001 - SystemExit/os._exit: the parent sees the exit
        _flush_student_streams()
        event = {"event": "import_error", "error": error_line(exc)}
        protocol.write_frame(responses, {**event, "traceback": tracebacks.format(exc)})
        return 0
    _limit_torch_threads()
    _flush_student_streams()
    protocol.write_frame(responses, {"event": "ready"})
    server = Server(module, module_name, tracebacks)
    reader = protocol.FrameReader(requests)
    while True:
        try:
            request = reader.read()
        except protocol.ProtocolError:
            return 3  # the stream is out of step; the parent will see the exit
        if request is None:
            return 0  # the parent is done with us
        response = server.handle(request)
        _flush_student_streams()
        _send(responses, {"id": request.get("id"), **response})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
