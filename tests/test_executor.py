"""The executor runs student code in a child process and brings back plain data only."""

from __future__ import annotations

import base64
import io
import math
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.executor import (
    Call,
    CallOutcome,
    Limits,
    ProtocolError,
    QualifiedName,
    RunResult,
    SubprocessExecutor,
    UnencodableValue,
)
from grader.executor import protocol

WORKER_FILE = Path(protocol.__file__).with_name("worker.py")
FAST = Limits(call_timeout_s=1.0, import_timeout_s=10.0, total_timeout_s=30.0)


def run(
    tmp_path: Path, source: str, calls: list[Call], limits: Limits = FAST, name: str = "hw2.py"
) -> RunResult:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return SubprocessExecutor(module_name="hw2").run(path, calls, limits)


def get(name: str) -> Call:
    return Call(name, "get", name)


def call(call_id: str, name: str, *args: Any, **kwargs: Any) -> Call:
    return Call(call_id, "call", name, args, kwargs)


def statuses(result: RunResult) -> dict[str, str]:
    return {key: outcome.status for key, outcome in result.outcomes.items()}


# --------------------------------------------------------------------------- values


def test_get_constants(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import math
        N = 3
        BIG = 10 ** 5000
        SHAPE = (3, 3)
        TEXT = "3 × 3"
        NESTED = [[1, 2.5], [(-0.0, None), [True, "x"]]]
        MODULES = {"max": "nn.MaxPool2d", "lp": [1, 2]}
        ODD_KEYS = {1: "one", (2, 3): "pair", "$x": 4.0}
        P = math.inf
        NAN = float("nan")
        Z = 1 + 2j
        S = {1, 2}
        M = math
        BUILTIN = len
        import functools
        PARTIAL = functools.partial(max, 0)
        def fn():
            pass
    """, [get(n) for n in
          ("N", "BIG", "SHAPE", "TEXT", "NESTED", "MODULES", "ODD_KEYS", "P", "NAN", "Z", "S",
           "M", "BUILTIN", "PARTIAL", "fn")])
    values = {key: outcome.value for key, outcome in result.outcomes.items()}
    assert set(statuses(result).values()) == {"ok"}, result.outcomes
    assert values["N"] == 3 and type(values["N"]) is int
    assert values["BIG"] == 10**5000
    assert values["SHAPE"] == (3, 3) and type(values["SHAPE"]) is tuple
    assert values["TEXT"] == "3 × 3"
    assert values["NESTED"] == [[1, 2.5], [(-0.0, None), [True, "x"]]]
    assert math.copysign(1, values["NESTED"][1][0][0]) == -1
    assert values["MODULES"] == {"max": "nn.MaxPool2d", "lp": [1, 2]}
    assert values["ODD_KEYS"] == {1: "one", (2, 3): "pair", "$x": 4.0}
    assert values["P"] == math.inf
    assert math.isnan(values["NAN"])
    assert values["Z"] == 1 + 2j
    assert values["S"] == {1, 2}
    assert values["M"] == QualifiedName("math") and type(values["M"]) is QualifiedName
    assert values["BUILTIN"] == "builtins.len"
    assert values["PARTIAL"] == "functools.partial" and type(values["PARTIAL"]) is QualifiedName
    assert values["fn"] == "hw2.fn" and type(values["fn"]) is QualifiedName
    assert result.import_error == "" and result.restarts == 0


@pytest.fixture(scope="module")
def torch_result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run that imports torch (a few seconds), shared by the torch tests."""
    source = """
        import numpy as np
        import torch
        from torch import nn
        MAXPOOL = torch.nn.MaxPool2d
        POOLING_MODULES = {"max": nn.MaxPool2d, "average": nn.AvgPool2d, "lp": "nn.LPPool2d"}
        def tensor32(n):
            return torch.arange(n, dtype=torch.float32).reshape(2, -1)
        def with_grad():
            x = torch.ones(2, requires_grad=True)
            return (x * 3).sum()
        def bfloat():
            return torch.ones(2, dtype=torch.bfloat16)
        def size():
            return torch.zeros(2, 3).shape
        def threads():
            return torch.get_num_threads()
    """
    path = tmp_path_factory.mktemp("torch") / "hw2.py"
    path.write_text(textwrap.dedent(source))
    calls = [get("MAXPOOL"), get("POOLING_MODULES"), call("t32", "tensor32", 6),
             call("grad", "with_grad"), call("bf16", "bfloat"), call("size", "size"),
             call("threads", "threads")]
    return SubprocessExecutor().run(path, calls, Limits(import_timeout_s=60.0))


def test_torch_class_arrives_as_qualified_name(torch_result: RunResult) -> None:
    outcome = torch_result.outcomes["MAXPOOL"]
    assert outcome.status == "ok", outcome
    assert type(outcome.value) is QualifiedName
    assert outcome.value == "torch.nn.modules.pooling.MaxPool2d"
    modules = torch_result.outcomes["POOLING_MODULES"].value
    assert modules["max"] == "torch.nn.modules.pooling.MaxPool2d"
    assert modules["average"] == "torch.nn.modules.pooling.AvgPool2d"
    assert modules["lp"] == "nn.LPPool2d" and type(modules["lp"]) is str


def test_torch_tensors_arrive_as_numpy(torch_result: RunResult) -> None:
    t32 = torch_result.outcomes["t32"].value
    assert type(t32) is np.ndarray and t32.dtype == np.float32
    np.testing.assert_array_equal(t32, np.arange(6, dtype=np.float32).reshape(2, 3))
    grad = torch_result.outcomes["grad"].value
    assert type(grad) is np.ndarray and grad.shape == () and grad == 6.0
    bf16 = torch_result.outcomes["bf16"].value
    assert type(bf16) is np.ndarray and bf16.dtype == np.float32
    assert torch_result.outcomes["size"].value == (2, 3)
    assert torch_result.outcomes["threads"].value == 1


def test_call_returns_arrays_lists_and_scalars(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import numpy as np
        def double(a, factor=2):
            return a * factor
        def as_list(a):
            return a.tolist()
        def scalar(a):
            return a.sum()
        def ints():
            return np.arange(4, dtype=np.int16).reshape(2, 2).T  # not C-contiguous
    """, [call("arr", "double", np.arange(3.0), factor=3), call("list", "as_list", np.eye(2)),
          call("scalar", "scalar", np.ones(3, dtype=np.float32)), call("ints", "ints")])
    arr = result.outcomes["arr"].value
    assert type(arr) is np.ndarray and arr.dtype == np.float64
    np.testing.assert_array_equal(arr, [0.0, 3.0, 6.0])
    assert result.outcomes["list"].value == [[1.0, 0.0], [0.0, 1.0]]
    scalar = result.outcomes["scalar"].value
    assert scalar == 3.0 and type(scalar) is float
    np.testing.assert_array_equal(result.outcomes["ints"].value, [[0, 2], [1, 3]])
    assert result.outcomes["ints"].value.dtype == np.int16


def test_map_over_many_inputs(tmp_path: Path) -> None:
    items = tuple((np.full(2, float(i)), i) for i in range(1000))
    result = run(tmp_path, """
        def scale(a, i, offset=0):
            if i == 500:
                raise ValueError("bad item")
            if i == 501:
                raise NotImplementedError
            return a * i + offset
    """, [Call("m", "map", "scale", items, {"offset": 1})])
    outcome = result.outcomes["m"]
    assert outcome.status == "ok"
    per_item = outcome.value
    assert len(per_item) == 1000 and all(isinstance(o, CallOutcome) for o in per_item)
    assert per_item[7].id == "m[7]"
    np.testing.assert_array_equal(per_item[7].value, [50.0, 50.0])
    assert per_item[500].status == "error" and "ValueError: bad item" in per_item[500].error
    assert per_item[501].status == "missing"
    assert sum(o.status == "ok" for o in per_item) == 998


def test_map_over_integer_points_gives_what_single_calls_give(tmp_path: Path) -> None:
    # A formula's points take the worker's shortcut (ints in, an int out); every other
    # argument or result must come back exactly as a single call would bring it.
    source = """
        import numpy as np
        def width(i, k, s):
            if i == 0:
                raise ZeroDivisionError("no input")
            if i == 1:
                raise NotImplementedError
            if i == 2:
                return 10 ** 30
            if i == 3:
                return np.int64(7)
            if i == 4:
                return True
            if i == 5:
                return (i - k) / s
            if i == 6:
                return object()
            return (i - k) // s + 1
    """
    points = ((0, 1, 1), (1, 1, 1), (2, 1, 1), (3, 1, 1), (4, 1, 1), (5, 1, 2), (6, 1, 1),
              (9, 3, 2), (7.0, 1, 1), (True, 1, 1), ([9], 1, 1))
    singles = [Call(f"c{n}", "call", "width", point) for n, point in enumerate(points)]
    result = run(tmp_path, source, [Call("m", "map", "width", points), *singles])
    mapped = result.outcomes["m"].value
    for n, item in enumerate(mapped):
        single = result.outcomes[f"c{n}"]
        assert (item.status, item.error, item.traceback) == (single.status, single.error, single.traceback)
        assert type(item.value) is type(single.value) and item.value == single.value
    assert [o.status for o in mapped] == ["error", "missing", "ok", "ok", "ok", "ok", "unencodable",
                                          "ok", "ok", "missing", "error"]
    assert [mapped[n].value for n in (2, 3, 4, 5, 7)] == [10 ** 30, 7, True, 2.0, 4]


@pytest.mark.parametrize("reply", [
    {"status": "ok", "values": [1, 2]},
    {"status": "ok", "values": [1], "failures": []},
    {"status": "ok", "values": [1, 2], "failures": [[2, {"status": "error", "error": "x"}]]},
    {"status": "ok", "values": [1, 2], "failures": [[0, {"status": "error"}], [0, {"status": "error"}]]},
    {"status": "ok", "values": [1, 2], "failures": [[True, {"status": "error"}]]},
    {"status": "ok", "values": [1, 2], "failures": [[0, {"status": "ok", "value": 5}]]},
    {"status": "ok", "items": [{"status": "ok", "value": 1}, {"status": "ok", "value": 2}]},
], ids=["no-failures", "short", "index-out", "index-twice", "bool-index", "ok-failure", "old-form"])
def test_a_forged_map_reply_is_malformed_as_a_whole(reply: dict[str, Any]) -> None:
    from grader.executor.subprocess_executor import _Malformed, _outcome_from_reply

    with pytest.raises(_Malformed):
        _outcome_from_reply(Call("m", "map", "f", ((1,), (2,))), {"id": "m", **reply})


def test_a_map_reply_loses_only_the_items_it_garbled() -> None:
    from grader.executor.subprocess_executor import _outcome_from_reply

    reply = {"id": "m", "status": "ok", "values": [{"$npy": "junk"}, 2.5, None, {"$tuple": [1]}],
             "failures": [[2, {"status": "error", "error": "ValueError: no", "traceback": "line 3"}]]}
    items = _outcome_from_reply(Call("m", "map", "f", ((1,), (2,), (3,), (4,))), reply).value
    assert [o.status for o in items] == ["malformed", "ok", "error", "ok"]
    assert items[1].value == 2.5 and items[3].value == (1,)
    assert (items[2].error, items[2].traceback, items[2].id) == ("ValueError: no", "line 3", "m[2]")


def test_missing_and_not_implemented(tmp_path: Path) -> None:
    result = run(tmp_path, """
        VALUE = 1
        def todo(x):
            \"\"\"Starter code.\"\"\"
            raise NotImplementedError
    """, [get("ABSENT"), call("absent", "absent_function"), call("todo", "todo", 1),
          Call("map", "map", "todo", ((1,), (2,))), call("value", "VALUE")])
    assert statuses(result) == {"ABSENT": "missing", "absent": "missing", "todo": "missing",
                                "map": "ok", "value": "error"}
    assert "does not define ABSENT" in result.outcomes["ABSENT"].error
    assert result.outcomes["todo"].error == "not implemented (raises NotImplementedError)"
    assert [o.status for o in result.outcomes["map"].value] == ["missing", "missing"]
    assert "not callable" in result.outcomes["value"].error


def test_exception_traceback_shows_only_student_frames(tmp_path: Path) -> None:
    result = run(tmp_path, """
        def helper(x):
            return x / 0

        def conv2d(x):
            y = x + 1
            return helper(y)
    """, [call("c", "conv2d", 1)])
    outcome = result.outcomes["c"]
    assert outcome.status == "error"
    assert outcome.error == "ZeroDivisionError: division by zero"
    assert outcome.traceback.splitlines() == [
        "line 7, in conv2d: return helper(y)",
        "line 3, in helper: return x / 0",
        "ZeroDivisionError: division by zero",
    ]
    assert "worker" not in outcome.traceback and "protocol" not in outcome.traceback


# --------------------------------------------------------------------------- import failures


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(:\n    pass\n", "SyntaxError"),
        ("import no_such_module_xyz\n", "ModuleNotFoundError: No module named 'no_such_module"),
        ("x = 1\nraise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("import sys\nsys.exit(0)\n", "exited while importing the module (exit code 0)"),
        ("import os\nos._exit(3)\n", "exited while importing the module (exit code 3)"),
    ],
    ids=["syntax", "import", "raise", "sys.exit", "os._exit"],
)
def test_import_failures_fail_every_call(tmp_path: Path, source: str, expected: str) -> None:
    result = run(tmp_path, source, [get("A"), call("f", "f")])
    assert expected in result.import_error
    assert statuses(result) == {"A": "error", "f": "error"}
    assert result.outcomes["f"].error == result.import_error


def test_a_started_run_has_its_process_before_its_calls_are_known(tmp_path: Path) -> None:
    path = tmp_path / "hw2.py"
    path.write_text("def double(x):\n    return 2 * x\nN = 7\n")
    heard: list[tuple[str, str, Any]] = []
    with SubprocessExecutor(module_name="hw2").start(path, FAST) as started:
        assert started.started  # importing the module while the caller plans the calls
        calls = [call("d", "double", 21), get("N"), call("none", "absent")]
        result = started.perform(calls, on_outcome=lambda c, o: heard.append((c.id, o.status, o.value)))
        assert not started.started  # perform ends the run
    assert statuses(result) == {"d": "ok", "N": "ok", "none": "missing"}
    assert heard == [(key, o.status, o.value) for key, o in result.outcomes.items()]  # each once, in order


def test_on_outcome_hears_nothing_when_the_module_cannot_be_imported(tmp_path: Path) -> None:
    path = tmp_path / "hw2.py"
    path.write_text("raise ImportError('no')\n")
    heard: list[str] = []
    with SubprocessExecutor(module_name="hw2").start(path, FAST) as started:
        result = started.perform([get("N")], on_outcome=lambda c, o: heard.append(c.id))
    assert heard == [] and "ImportError: no" in result.import_error
    assert statuses(result) == {"N": "error"}


def test_a_cancelled_run_stops_its_process_and_the_next_run_works(tmp_path: Path) -> None:
    path = tmp_path / "hw2.py"
    path.write_text("import time\nwhile True:\n    time.sleep(1)\n")  # never finishes importing
    executor = SubprocessExecutor(module_name="hw2")
    started = executor.start(path, FAST)
    assert started.started
    started.cancel()
    started.cancel()  # idempotent
    assert not started.started
    result = run(tmp_path, "N = 3\n", [get("N")])
    assert result.outcomes["N"].value == 3


def test_import_error_traceback(tmp_path: Path) -> None:
    result = run(tmp_path, "x = 1\nraise RuntimeError('boom')\n", [get("x")])
    assert result.import_traceback.splitlines() == [
        "line 2, in <module>: raise RuntimeError('boom')", "RuntimeError: boom"]
    syntax = run(tmp_path, "def f(:\n    pass\n", [get("x")])
    assert "line 1" in syntax.import_error and "def f(:" in syntax.import_traceback


def test_import_that_hangs_times_out(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, "while True:\n    pass\n", [get("A")],
                 Limits(import_timeout_s=1.0, call_timeout_s=1.0))
    assert time.monotonic() - started < 5
    assert "importing the module took longer than 1 s" in result.import_error
    assert result.outcomes["A"].status == "error"


def test_missing_submission_file(tmp_path: Path) -> None:
    result = SubprocessExecutor().run(tmp_path / "absent.py", [get("A")], FAST)
    assert "does not exist" in result.import_error
    assert result.outcomes["A"].status == "error"


# --------------------------------------------------------------------------- robustness


def test_infinite_loop_times_out_and_later_calls_still_run(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, """
        def loop():
            while True:
                pass
        def ok(x):
            return x + 1
    """, [call("ok1", "ok", 1), call("loop1", "loop"), call("ok2", "ok", 2),
          call("loop2", "loop"), call("ok3", "ok", 3)])
    assert time.monotonic() - started < 6  # one timeout, not two
    assert statuses(result) == {"ok1": "ok", "loop1": "timeout", "ok2": "ok",
                                "loop2": "skipped", "ok3": "ok"}
    assert "took longer than 1 s" in result.outcomes["loop1"].error
    assert "loop timed out" in result.outcomes["loop2"].error
    assert result.outcomes["ok3"].value == 4
    assert result.restarts == 1


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)"])
def test_exit_during_call_is_a_crash(tmp_path: Path, exit_call: str) -> None:
    result = run(tmp_path, f"""
        import os, sys
        def quit():
            {exit_call}
        def ok(x):
            return x * 2
    """, [call("ok1", "ok", 1), call("quit", "quit"), call("ok2", "ok", 2),
          call("quit2", "quit")])
    assert statuses(result) == {"ok1": "ok", "quit": "crashed", "ok2": "ok", "quit2": "skipped"}
    assert result.outcomes["quit"].error == "the process exited during this call (exit code 0)"
    assert result.outcomes["ok2"].value == 4


def test_too_many_restarts_skip_the_rest(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import os
        def a():
            os._exit(1)
        def b():
            os._exit(2)
        def ok():
            return 1
    """, [call("a", "a"), call("b", "b"), call("ok", "ok")],
        Limits(call_timeout_s=1.0, max_restarts=1))
    assert statuses(result) == {"a": "crashed", "b": "crashed", "ok": "skipped"}
    assert "exit code 2" in result.outcomes["b"].error
    assert "restarted 1 times" in result.outcomes["ok"].error


def test_total_timeout_bounds_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, """
        import time
        def slow():
            time.sleep(30)
        def ok():
            return 1
    """, [call("slow", "slow"), call("ok", "ok")],
        Limits(call_timeout_s=10.0, total_timeout_s=1.5))
    assert time.monotonic() - started < 5
    assert statuses(result) == {"slow": "timeout", "ok": "skipped"}
    assert "total time limit" in result.outcomes["slow"].error


def test_memory_limit_applies(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import resource
        def hog():
            return len(bytearray(3 * 1024 ** 3))
        def limits():
            return resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)
    """, [call("hog", "hog"), call("limits", "limits")])
    assert result.outcomes["hog"].status == "error"
    assert "MemoryError" in result.outcomes["hog"].error
    assert result.outcomes["limits"].value == ((2 * 1024**3,) * 2, (FAST.cpu_s,) * 2)


def test_cpu_limit_kills_the_process(tmp_path: Path) -> None:
    result = run(tmp_path, """
        def spin():
            while True:
                pass
    """, [call("spin", "spin")], Limits(call_timeout_s=10.0, cpu_s=1))
    assert result.outcomes["spin"].status == "crashed"
    assert "CPU time limit of 1 s" in result.outcomes["spin"].error


def test_stdout_never_carries_results(tmp_path: Path) -> None:
    fake = protocol.encode_frame({"id": "c", "status": "ok", "value": 100})
    result = run(tmp_path, f"""
        import os, sys
        print("hello from import")
        def answer():
            sys.stdout.flush()
            os.write(1, {fake!r})
            sys.stdout.buffer.write({fake!r})
            print("score: 100/100")
            print("to stderr", file=sys.stderr)
            return 42
    """, [call("c", "answer")])
    assert result.outcomes["c"].value == 42
    assert "hello from import" in result.stdout_tail and "score: 100/100" in result.stdout_tail
    assert "to stderr" in result.stderr_tail


def test_only_the_tail_of_output_is_kept(tmp_path: Path) -> None:
    result = run(tmp_path, """
        def chatty():
            print("x" * 200_000 + "THE END")
            return 1
    """, [call("c", "chatty")], Limits(call_timeout_s=2.0, output_bytes=100))
    assert result.outcomes["c"].value == 1
    assert len(result.stdout_tail) == 100 and result.stdout_tail.endswith("THE END\n")


def test_subclass_and_lying_objects(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other):
                return True
            def __array_ufunc__(self, *args, **kwargs):
                return True
        class AlwaysEqual:
            def __eq__(self, other):
                return True
        class LyingInt(int):
            def __eq__(self, other):
                return True
        def subclass():
            return np.zeros(3).view(Liar)
        def always_equal():
            return AlwaysEqual()
        def nested():
            return {"a": [1, AlwaysEqual()]}
        def lying_int():
            return LyingInt(5)
        def object_array():
            return np.array([1, "x"], dtype=object)
    """, [call("subclass", "subclass"), call("always", "always_equal"),
          call("nested", "nested"), call("int", "lying_int"), call("obj", "object_array")])
    sub = result.outcomes["subclass"].value
    assert type(sub) is np.ndarray and not (sub == np.ones(3)).any()
    assert result.outcomes["always"].status == "unencodable"
    assert "hw2.AlwaysEqual" in result.outcomes["always"].error
    assert result.outcomes["nested"].status == "unencodable"
    assert "['a'][1]" in result.outcomes["nested"].error
    value = result.outcomes["int"].value
    assert type(value) is int and value == 5 and value != 6
    assert result.outcomes["obj"].status == "unencodable"
    assert "dtype object" in result.outcomes["obj"].error


def test_requests_larger_than_the_pipe_arrive_whole(tmp_path: Path) -> None:
    # 3 MB of input per call, more than a pipe holds (64 KiB, or 1 MiB enlarged): each write
    # takes what fits and the rest waits until the child has read it.
    big = np.arange(400_000, dtype=np.float64)
    result = run(tmp_path, """
        def total(a):
            return float(a.sum()), a.shape[0]
    """, [call("one", "total", big), call("two", "total", big[::-1].copy())])
    expected = (float(big.sum()), 400_000)
    assert result.outcomes["one"].value == expected and result.outcomes["two"].value == expected


def test_inputs_mutated_in_place_do_not_leak(tmp_path: Path) -> None:
    data = np.array([1.0, 2.0, 3.0])
    result = run(tmp_path, """
        def clobber(a, items):
            a[:] = 999
            items.append("junk")
            return float(a.sum())
        def total(a, items):
            return float(a.sum()), len(items)
    """, [call("c", "clobber", data, [1]), call("t", "total", data, [1]),
          Call("m", "map", "clobber", ((data, [1]), (data, [1])))])
    assert result.outcomes["c"].value == 2997.0
    assert result.outcomes["t"].value == (6.0, 1)
    assert [o.value for o in result.outcomes["m"].value] == [2997.0, 2997.0]
    np.testing.assert_array_equal(data, [1.0, 2.0, 3.0])


def test_child_environment_and_cleanup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET_SALT", "do-not-leak")
    # Found afterwards by its command line: inside a PID namespace its pid means nothing here.
    sleep_arg = f"30.{time.time_ns() % 10**9:09d}"
    result = run(tmp_path, """
        import os, sys, subprocess
        def env():
            return dict(os.environ)
        def where():
            os.makedirs("locked/inner")
            open("locked/inner/file", "w").close()
            os.chmod("locked/inner", 0)
            os.chmod("locked", 0o500)
            os.symlink("/etc", "etc-link")
            return os.getcwd(), sys.flags.isolated
        def spawn_daemon():
            return subprocess.Popen(["sleep", "SLEEP_ARG"]).pid
    """.replace("SLEEP_ARG", sleep_arg),
        [call("env", "env"), call("where", "where"), call("spawn", "spawn_daemon")])
    env = result.outcomes["env"].value
    assert "GRADER_SECRET_SALT" not in env and env["OMP_NUM_THREADS"] == "1"
    cwd, isolated = result.outcomes["where"].value
    assert env["HOME"] == cwd and isolated == 1
    assert not os.path.exists(cwd)  # the temp dir is removed
    assert not list(tmp_path.glob("__pycache__"))  # nothing written next to the submission
    assert isinstance(result.outcomes["spawn"].value, int), result.outcomes["spawn"]
    assert not _alive(sleep_arg), "the process group was not killed"


def _alive(argument: str) -> bool:
    """Whether a live process has `argument` on its command line, 2 s after the run."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if not any(_running_with(pid, argument) for pid in os.listdir("/proc") if pid.isdigit()):
            return False
        time.sleep(0.05)
    return True


def _running_with(pid: str, argument: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if argument.encode() not in cmdline.read().split(b"\0"):
                return False
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # zombies are dead
    except OSError:
        return False


def test_malformed_replies_fail_closed(tmp_path: Path) -> None:
    result = run(tmp_path, """
        import os, struct, sys
        RESPONSES = int(sys.argv[sys.argv.index("--responses") + 1])
        protocol = sys.modules["_grader_executor_protocol"]
        def huge_frame():
            os.write(RESPONSES, struct.pack(">I", 2 ** 31))
            return 1
        def wrong_id():
            protocol.write_frame(RESPONSES, {"id": "someone-else", "status": "ok", "value": 1})
            return 1
        def pickled_array():
            import base64, io, numpy as np
            buffer = io.BytesIO()
            np.save(buffer, np.array([1, "x"], dtype=object), allow_pickle=True)
            original = protocol.encode_value
            protocol.encode_value = lambda v: {"$npy": base64.b64encode(buffer.getvalue()).decode()}
            return 1
        def ok():
            return 7
    """, [call("huge", "huge_frame"), call("ok1", "ok"), call("wrong", "wrong_id"),
          call("ok2", "ok"), call("pickled", "pickled_array")])
    assert statuses(result) == {"huge": "malformed", "ok1": "ok", "wrong": "malformed",
                                "ok2": "ok", "pickled": "malformed"}
    assert "exceeds the limit" in result.outcomes["huge"].error
    assert "not what np.save writes for a numeric array" in result.outcomes["pickled"].error
    assert result.restarts == 2


def test_bad_calls_are_the_callers_bug(tmp_path: Path) -> None:
    path = tmp_path / "hw2.py"
    path.write_text("A = 1\n")
    with pytest.raises(ValueError, match="duplicate"):
        SubprocessExecutor().run(path, [get("A"), get("A")], FAST)
    with pytest.raises(ValueError, match="cannot be sent"):
        SubprocessExecutor().run(path, [call("x", "f", object())], FAST)


# --------------------------------------------------------------------------- protocol


ROUNDTRIP_VALUES = [
    None, True, False, 0, -7, 2**80, -(10**5000), 1.5, -0.0, math.inf, -math.inf, "", "ü∞\ud800",
    [1, [2, (3,)]], (), (1, "a", None), {"a": 1}, {"$a": 1}, {1: 2, (1, 2): [3]}, {1, "x"},
    3 - 4j, complex(math.inf, -1), QualifiedName("torch.nn.modules.pooling.MaxPool2d"),
]


@pytest.mark.parametrize("value", ROUNDTRIP_VALUES, ids=lambda v: type(v).__name__)
def test_protocol_roundtrip(value: Any) -> None:
    frame = protocol.encode_frame({"value": protocol.encode_value(value)})
    decoder = protocol.FrameDecoder()
    decoder.feed(frame)
    decoded = protocol.decode_value(protocol.decode_frame(decoder.next_payload())["value"])
    assert decoded == value and type(decoded) is type(value)


def test_protocol_roundtrip_nan_and_arrays() -> None:
    assert math.isnan(protocol.decode_value(protocol.encode_value(math.nan)))
    for array in [np.arange(6.0).reshape(2, 3), np.array([1, 2], dtype=np.uint8),
                  np.array([True]), np.array([1 + 2j]), np.zeros((0, 3)),
                  np.asfortranarray(np.eye(3)), np.array([np.nan, np.inf], dtype=np.float32)]:
        decoded = protocol.decode_value(protocol.encode_value(array))
        assert type(decoded) is np.ndarray and decoded.dtype == array.dtype
        np.testing.assert_array_equal(decoded, array)
        decoded[...] = 0  # writeable: the worker's callees may mutate their inputs


NPY_ARRAYS = [
    np.random.default_rng(0).random((12, 11)), np.arange(6, dtype=np.int16).reshape(2, 3).T,
    np.array(3.5), np.zeros((0, 3)), np.ones(5, dtype=">f4"), np.array([True, False]),
    (np.arange(6) + 1j).reshape(3, 2), np.arange(20.0).reshape(4, 5)[::2, ::3],
    np.float16([1, 2]), np.asfortranarray(np.ones((3, 4))), np.zeros((2, 0, 3), order="F"),
    np.arange(123456, dtype=np.uint8), np.zeros((1, 1, 1, 1, 1, 1, 1, 1), dtype=np.int64),
]


@pytest.mark.parametrize("array", NPY_ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_protocol_npy_bytes_are_what_np_save_writes(array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    assert protocol.npy_bytes(array) == buffer.getvalue()


@pytest.mark.parametrize("array", NPY_ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_protocol_decodes_whatever_np_save_writes_for_a_numeric_array(array: np.ndarray) -> None:
    """No np.load fallback: the header reader alone must take every array np.save writes."""
    decoded = protocol.decode_value(_npy_tag(array))
    assert type(decoded) is np.ndarray and decoded.dtype == array.dtype and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_protocol_encodes_numpy_scalars_as_python_numbers() -> None:
    encoded = protocol.encode_value([np.float32(1.5), np.int64(3), np.bool_(True)])
    assert encoded == [1.5, 3, True] and type(encoded[1]) is int


def test_protocol_encodes_functions_and_classes_by_name() -> None:
    assert protocol.encode_value(np.zeros) == {"$qualname": "numpy.zeros"}
    assert protocol.encode_value(Path) == {"$qualname": "pathlib.Path"}
    assert protocol.encode_value(io) == {"$qualname": "io"}


def _npy_tag(array: np.ndarray, allow_pickle: bool = False) -> dict[str, str]:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return {"$npy": base64.b64encode(buffer.getvalue()).decode()}


def _npy_tag_with_header(header: bytes, data: bytes, version: bytes = b"\x01\x00") -> dict[str, str]:
    """An .npy np.load accepts but np.save never writes for a numeric array."""
    size = len(header).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    return {"$npy": base64.b64encode(b"\x93NUMPY" + version + size + header + data).decode()}


@pytest.mark.parametrize(
    "data",
    [
        _npy_tag_with_header(b"{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}\n", bytes(16)),
        _npy_tag_with_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", bytes(16),
                             version=b"\x02\x00"),
        _npy_tag_with_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", bytes(24)),
    ],
    ids=["keys-reordered", "format-2.0", "trailing-bytes"],
)
def test_protocol_refuses_npy_headers_np_save_does_not_write(data: dict[str, str]) -> None:
    """np.load would parse these with ast.literal_eval (racing the grader's threads); refused."""
    np.testing.assert_array_equal(np.load(io.BytesIO(base64.b64decode(data["$npy"]))), np.zeros(2))
    with pytest.raises(ProtocolError, match="not what np.save writes"):
        protocol.decode_value(data)


@pytest.mark.parametrize(
    "data",
    [
        _npy_tag(np.array([1, "x"], dtype=object), allow_pickle=True),
        _npy_tag(np.array(["a", "b"])),
        _npy_tag(np.zeros(2, dtype=[("a", "f8")])),
        _npy_tag(np.array(["2020-01-01"], dtype="datetime64[D]")),
        {"$npy": "not base64!"},
        {"$npy": base64.b64encode(b"PK\x03\x04 a zip archive").decode()},
        {"$pickle": "gASV"},
        {"$tuple": [1], "extra": 2},
        {"$float": "1e999"},
        {"$qualname": 3},
        {"$set": [[1]]},
        1e400,  # json can yield inf from a literal; only tagged non-finite floats are accepted
        (1, 2),  # a Python tuple is not JSON
    ],
    ids=["object", "str", "structured", "datetime", "base64", "npz", "unknown-tag", "mixed",
         "float-tag", "qualname", "unhashable", "inf-literal", "non-json"],
)
def test_protocol_refuses_malformed_values(data: Any) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode_value(data)


@pytest.mark.parametrize("row", [[1.0, 1e400], [[2.0, 3.0], [1.0, -1e400]], [1.0, (2.0,)], [1, (2,)]],
                         ids=["inf", "nested-inf", "float-tuple", "int-tuple"])
def test_protocol_rows_of_numbers_are_checked_like_any_value(row: Any) -> None:
    """Lists of plain numbers take a faster path: no non-finite float and no non-JSON gets through."""
    with pytest.raises(ProtocolError):
        protocol.decode_value(row)


def test_protocol_rows_of_numbers_decode_as_copies() -> None:
    row = [1.5, -0.0, 2.0]
    decoded = protocol.decode_value([row, [1, 2], [True, 1], [1, [2]], []])
    assert decoded == [row, [1, 2], [True, 1], [1, [2]], []] and decoded[0] is not row


def test_protocol_refuses_deep_nesting() -> None:
    deep: Any = 1
    for _ in range(protocol.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ProtocolError):
        protocol.decode_value(deep)
    with pytest.raises(UnencodableValue):
        protocol.encode_value(deep)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnencodableValue):
        protocol.encode_value(loop)


def test_protocol_refuses_oversize_and_broken_frames() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        protocol.encode_frame({"x": "a" * 100}, max_bytes=50)
    decoder = protocol.FrameDecoder(max_bytes=50)
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.feed((51).to_bytes(4, "big"))  # refused from the header, before the payload
    default = protocol.FrameDecoder()
    with pytest.raises(ProtocolError):
        default.feed((protocol.MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
    for payload in [b"[1, 2]", b"{bad json", b"\xff\xfe", b'{"x": NaN}']:
        with pytest.raises(ProtocolError):
            protocol.decode_frame(payload)


def test_protocol_refuses_unencodable_values() -> None:
    for value in [object(), b"bytes", np.array(["a"]), np.datetime64("2020-01-01")]:
        with pytest.raises(UnencodableValue):
            protocol.encode_value(value)


def test_worker_is_self_contained() -> None:
    """The sandbox may mount only grader/executor/: the worker must not import `grader`."""
    source = Path(WORKER_FILE).read_text()
    assert "import grader" not in source and "from grader" not in source
    assert "from ." not in source


def test_map_outcomes_read_as_a_list_of_call_outcomes() -> None:
    from grader.executor import MapOutcomes

    failed = CallOutcome("m[1]", "error", error="ValueError: no")
    items = MapOutcomes("m", [3, None, "x"], {1: failed})
    assert len(items) == 3
    assert list(items) == [CallOutcome("m[0]", "ok", value=3), failed, CallOutcome("m[2]", "ok", value="x")]
    assert items[-1] == items[2] and items[-3].id == "m[0]"
    with pytest.raises(IndexError):
        items[3]
