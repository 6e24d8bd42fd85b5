"""Benchmark: grade a class of HW2 submissions, warm workers against a fresh interpreter each.

    .venv/bin/python bench/grade_class.py --count 1000 --latency-count 200 --baseline-count 12 -j 2

Grades `count` submissions made from a realistic mix (the shipped examples: three correct
styles, every classic mistake, an unfinished module), each copy made distinct by a comment so
that no content-keyed cache can serve one student's work to another. It grades them the way
`grader grade` does (grader/batch.py: `-j` grading processes, each with its sandboxed warm
zygote, reports written), and `latency-count` of them again with one grading process (-j 1:
what one submission costs on an idle machine, as when CI grades one push). Then, in the same
run, `baseline-count` of them in each of two baselines:

- a fresh grading process per submission (`python -m grader grade` on that one file, its own
  interpreter importing the grader, torch and the reference, the student in a fresh sandboxed
  interpreter): how one-pytest-run-per-submission graders (GitHub Classroom, most Gradescope
  autograders) and Otter work;
- the grader kept warm, but a fresh sandboxed interpreter per submission for the student's
  code (no zygote): the stricter baseline, measuring what the warm workers alone buy.

Prints per-submission median and p95 wall time (Grader.grade, from reading the file to the
scored result; for the process baseline, the process's wall time), the grader's overhead
(that time minus the student's own code, timed alone in this process), the batch's total and
throughput, the ratios to both baselines, the projection to 1,000, peak memory of a grading
process, a zygote and the largest child, the CPU time of a submission on each side (the
grading process; the zygote with its child) and the throughput that CPU allows on this
machine's cores, the CPU the whole machine spends per submission in the steady state of the
batch and of the -j 1 pass (what running jobs side by side costs each submission), whether the
executors gave the same scores, a pure-Python gauge of the machine's speed, and the issue's
three targets against what this run measured.
Start-up (imports, the reference, the first zygotes) is paid once per batch and printed
separately. A benchmark, not a test: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import BatchOptions, Progress, grade_batch  # noqa: E402
from grader.grading import Grader, GradingOptions, Submission  # noqa: E402
from grader.spec import load_assignment  # noqa: E402

EXAMPLES = ROOT / "submissions" / "examples"


def _sources() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py")) + sorted(EXAMPLES.glob("*/hw2.py"))


def class_of(count: int, folder: Path) -> list[Submission]:
    sources = _sources()
    submissions = []
    for index in range(count):
        target = folder / f"student{index:05d}" / "hw2.py"
        target.parent.mkdir(parents=True)
        target.write_text(sources[index % len(sources)].read_text() + f"\n# student {index:05d}\n")
        submissions.append(Submission(target.parent.name, target))
    return submissions


def recipe(spec, executor_kind: str):
    def build() -> Grader:
        from grader.cli import _executor, _fresh_executor, _reference

        # As `grader grade` builds it: the executor first (its zygote starts importing torch at
        # once), then the reference.
        executor = _executor(spec, eager=True) if executor_kind == "warm" else _fresh_executor(spec)
        grader = Grader(spec, _reference(spec), executor, GradingOptions())
        if hasattr(executor, "prestart"):
            executor.prestart(1, grader.limits)  # start-up, not the first submission's time
        return grader

    return build


def timed_batch(spec, kind: str, submissions: list[Submission], out: Path, jobs: int):
    """(results, wall seconds, the machine's CPU seconds per submission in the steady state)."""
    started, steady = time.perf_counter(), SteadyCPU(len(submissions))
    outcome = grade_batch(spec, recipe(spec, kind), submissions, out, BatchOptions(jobs=jobs, force=True), steady)
    return outcome.results, time.perf_counter() - started, steady.per_submission()


class SteadyCPU(Progress):
    """The machine's busy CPU read at every result: between the first tenth of the results and the
    last, start-up (imports, the reference, the first zygotes) no longer counts."""

    def __init__(self, total: int) -> None:
        super().__init__(total, stream=None)
        self.marks: list[float] = []

    def advance(self, result) -> None:
        super().advance(result)
        self.marks.append(machine_busy_s())

    def per_submission(self) -> float:
        first = max(1, len(self.marks) // 10)
        graded = len(self.marks) - 1 - first
        return (self.marks[-1] - self.marks[first]) / graded if graded > 0 else 0.0


def machine_busy_s() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat: all but idle and iowait);
    0 where there is no /proc. Every process counts: grading processes, zygotes, their children,
    bubblewrap, the kernel's work for them."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def process_per_submission(submissions: list[Submission], folder: Path, jobs: int):
    """The fresh-process baseline: `python -m grader grade` once per submission, `jobs` at a
    time. (wall times, the batch's total, each score from its result.json)."""
    from concurrent.futures import ThreadPoolExecutor

    def grade_one(index: int) -> tuple[float, float]:
        out = folder / f"process-{index:05d}"
        command = [sys.executable, "-m", "grader", "grade", str(ROOT / "problems" / "hw2"),
                   str(submissions[index].path), "--out", str(out), "--quiet", "-j", "1"]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        written = json.loads((out / submissions[index].id / "result.json").read_text())
        return elapsed, written["score"]  # as result.json holds it: rounded to 4 decimals

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(grade_one, range(len(submissions))))
    total = time.perf_counter() - started
    return [t for t, _ in outcomes], total, [score for _, score in outcomes]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(name: str, times: list[float], total: float, jobs: int) -> str:
    return (
        f"{name:<30} n={len(times):5d}  median {1000 * statistics.median(times):7.1f} ms"
        f"  p95 {1000 * percentile(times, 0.95):7.1f} ms  total {total:7.1f} s"
        f"  throughput {1000 * total / len(times):7.1f} ms/submission (-j {jobs})"
    )


def startup_cost(spec, kind: str, folder: Path, jobs: int) -> float:
    """A batch of one submission per process: what every batch pays before its first result."""
    submissions = class_of(jobs, folder / "in")
    return timed_batch(spec, kind, submissions, folder / "out", jobs)[1]


def machine_cpu_line(batch_s: float, solo_s: float, jobs: int, cores: int) -> str:
    """The machine's CPU per submission at -j `jobs` and at -j 1 (steady state, in seconds)."""
    if not (batch_s and solo_s):
        return "machine-wide CPU per submission: not measured (no /proc/stat, or too few submissions)"
    return (f"machine-wide CPU per submission (/proc/stat, every process, steady state): {1000 * batch_s:.1f} ms at "
            f"-j {jobs}, {1000 * solo_s:.1f} ms at -j 1 ({100 * (batch_s / solo_s - 1):+.0f}% with {jobs} jobs at once); "
            f"so at -j {jobs} on {cores} cores at best {1000 * batch_s / cores:.1f} ms/submission of throughput")


def memory_and_cpu(spec, submissions: list[Submission], cores: int) -> tuple[str, str]:
    """Peak RSS of a grading process, of its zygote and of the largest zygote child, and the CPU
    time a submission costs each side (one grading process, in this process, after a warm-up)."""
    from grader.executor.zygote import _ALL_POOLS

    grader = recipe(spec, "warm")()
    warm_up, measured = submissions[:4], submissions[4:]
    for submission in warm_up:
        grader.grade(submission)

    def zygote_side_pids() -> list[int]:  # bubblewrap and the zygote, whose children it reaps
        return [pid for p in _ALL_POOLS for z in p.idle if z.proc is not None
                for pid in [z.proc.pid, *_children(z.proc.pid)]]

    zygote_before, grading_before = _cpu_s(zygote_side_pids()), time.process_time()
    for submission in measured:
        grader.grade(submission)
    grading = 1000 * (time.process_time() - grading_before) / len(measured)
    zygote_side = 1000 * (_cpu_s(zygote_side_pids()) - zygote_before) / len(measured)
    stats = grader.executor.stats()
    zygote_rss = max([_rss_mib(pid) for pid in zygote_side_pids()] + [0.0])
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory_line = (f"peak memory: grading process {parent:.0f} MiB; zygote {zygote_rss:.0f} MiB; largest zygote "
                   f"child {stats.get('max_child_rss_kb', 0) / 1024:.0f} MiB (most of it shared with the zygote)")
    cpu_line = (f"CPU per submission ({len(measured)} in one grading process): grading process {grading:.1f} ms, "
                f"zygote and its child {zygote_side:.1f} ms; {grading + zygote_side:.1f} ms in all, so on {cores} "
                f"cores at best {(grading + zygote_side) / cores:.1f} ms/submission of throughput")
    return memory_line, cpu_line


def _cpu_s(pids: list[int]) -> float:
    """User and system CPU of these processes and of their reaped children, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(tick) for tick in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def bare_runs(spec, folder: Path) -> str:
    """One trivial call: what a run costs beyond the work (process, sandbox, transport)."""
    from grader.cli import _executor, _fresh_executor
    from grader.executor import Call, Limits

    def median_ms(executor, source: str, runs: int) -> float:
        path = folder / "bare" / "hw2.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(source)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            outcome = executor.run(path, [Call("ok", "call", "ok")], Limits()).outcomes["ok"]
            times.append(time.perf_counter() - started)
            assert outcome.status == "ok", outcome
        return 1000 * statistics.median(times)

    torch_module = "import numpy, torch\ndef ok():\n    return 1\n"
    warm = median_ms(_executor(spec, eager=True), torch_module, 40)
    numpy = median_ms(_fresh_executor(spec), "import numpy\ndef ok():\n    return 1\n", 5)
    torch = median_ms(_fresh_executor(spec), torch_module, 5)
    return (f"bare run (one trivial call; sandbox, process, transport), median: warm {warm:.1f} ms; fresh "
            f"{numpy:.0f} ms (numpy) / {torch:.0f} ms (torch): {numpy / warm:.0f}x / {torch / warm:.0f}x")


def student_code_ms(spec, folder: Path) -> list[float]:
    """Per example source (class_of's order): the student's own code alone (its import and the calls the grader
    makes, inputs ready, no sandbox, no transport), best of 3 in this warm process. These are
    the shipped examples, trusted; the rest of a submission's time is the grader's overhead."""
    import copy
    import types

    from grader.cli import _reference
    from grader.executor import CallOutcome, RunResult

    class Recorder:
        def run(self, path, calls, limits):
            recorded.append((path.read_text(), list(calls)))
            return RunResult(outcomes={c.id: CallOutcome(c.id, "skipped") for c in calls})

    recorded: list[tuple[str, list]] = []
    grader = Grader(spec, _reference(spec), Recorder(), GradingOptions(salt="bench"))
    for submission in class_of(len(_sources()), folder / "student-code"):
        grader.grade(submission)

    def once(source: str, calls: list) -> float:
        started = time.perf_counter()
        module = types.ModuleType("hw2")
        with contextlib.suppress(Exception):
            exec(compile(source, "hw2.py", "exec"), module.__dict__)
        elapsed = time.perf_counter() - started
        for call in calls:
            function = getattr(module, call.name, None)
            if call.op == "get" or not callable(function):
                continue
            for args in call.args if call.op == "map" else [call.args]:
                args = copy.deepcopy(args)  # inputs ready before the clock, as in the worker
                started = time.perf_counter()
                with contextlib.suppress(Exception):
                    function(*args, **call.kwargs)
                elapsed += time.perf_counter() - started
        return elapsed

    return [1000 * min(once(text, calls) for _ in range(3)) for text, calls in recorded]


def python_gauge_line(steps: int = 5_000_000) -> str:
    """CPU time of a plain Python loop, best of three: the grader's own work is mostly Python, so
    its CPU follows this figure more closely than the student's code (mostly numpy and torch)."""
    best = math.inf
    for _ in range(3):
        started, total = time.process_time(), 0
        for step in range(steps):
            total += step
        best = min(best, time.process_time() - started)
    return f"pure-Python gauge: a {steps:,}-step loop takes {1000 * best:.0f} ms of CPU (best of 3)"


def split_ms(results, student_ms: list[float]) -> tuple[list[float], list[float]]:
    """Per result, (the student's own code's time, the grader's overhead: the rest), in ms."""
    own = [student_ms[int(r.submission.removeprefix("student")) % len(student_ms)] for r in results]
    return own, [1000 * r.duration_s - mine for r, mine in zip(results, own)]


def overhead_line(own: list[float], overhead: list[float]) -> str:
    return (f"median {statistics.median(overhead):.1f} ms, p95 {percentile(overhead, 0.95):.1f} ms"
            f" (a submission's time minus the student's own code: import and calls, warm, in-process,"
            f" median {statistics.median(own):.1f} ms)")


def targets_line(overhead_ms: float, median_ratio: float, throughput_ratio: float, thousand_s: float,
                 projected: bool) -> str:
    """The issue's three targets (2 cores, HW2), each as measured in this run."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return (f"targets: grader overhead median <= 25 ms (-j 1): {overhead_ms:.1f} ms, {verdict(overhead_ms <= 25)}; "
            f">= 50x a fresh grading process: {median_ratio:.0f}x by median, {throughput_ratio:.0f}x by throughput, "
            f"{verdict(min(median_ratio, throughput_ratio) >= 50)}; 1,000 in <= 30 s: {thousand_s:.1f} s"
            f"{' (projected)' if projected else ''}, "
            f"{verdict(thousand_s <= 30)}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--latency-count", type=int, default=120)
    parser.add_argument("--baseline-count", type=int, default=12)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()

    from grader.sandbox import probe

    report = probe()
    print(f"sandbox: {report.mode} ({'protected' if report.protected else 'NOT protected'}); "
          f"{os.cpu_count()} cores; {args.count} submissions (-j {args.jobs}), {args.latency_count} at -j 1, "
          f"baselines {args.baseline_count} each")
    spec = load_assignment(ROOT / "problems" / "hw2")
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        folder = Path(tmp)
        submissions = class_of(args.count, folder / "class")
        few = submissions[: args.baseline_count]
        warm_start = startup_cost(spec, "warm", folder / "warm-start", args.jobs)
        warm, warm_total, warm_cpu = timed_batch(spec, "warm", submissions, folder / "warm", args.jobs)
        solo, solo_total, solo_cpu = timed_batch(spec, "warm", submissions[: args.latency_count], folder / "solo", 1)
        fresh_start = startup_cost(spec, "fresh", folder / "fresh-start", args.jobs)
        base, base_total, _ = timed_batch(spec, "fresh", few, folder / "fresh", args.jobs)
        process_times, process_total, process_scores = process_per_submission(few, folder, args.jobs)
        shutil.rmtree(folder / "warm", ignore_errors=True)
        memory_line, cpu_line = memory_and_cpu(spec, submissions[:64], os.cpu_count() or 1)
        bare_line = bare_runs(spec, folder)
        student_ms = student_code_ms(spec, folder)  # last: runs the (trusted) examples in this process
        gauge_line = python_gauge_line()

    warm_times = [r.duration_s for r in warm]
    solo_times = [r.duration_s for r in solo]
    base_times = [r.duration_s for r in base]
    print(f"start-up of a batch (imports, reference, first zygotes), paid once: warm {warm_start:.1f} s, fresh {fresh_start:.1f} s")
    print(describe("warm sandboxed zygotes", warm_times, warm_total, args.jobs))
    print(describe("warm, one grading process", solo_times, solo_total, 1))
    print(describe("fresh grading process each", process_times, process_total, args.jobs))
    print(describe("fresh student interpreter each", base_times, base_total, args.jobs))
    solo_own, solo_overhead = split_ms(solo, student_ms)
    print(f"grader overhead at -j {args.jobs}: {overhead_line(*split_ms(warm, student_ms))}")
    print(f"grader overhead at -j 1: {overhead_line(solo_own, solo_overhead)}")
    warm_each = warm_total / len(warm)
    speed_ups = {}  # baseline: (by median, by throughput)
    for name, times, total in (("a fresh grading process", process_times, process_total),
                               ("a fresh student interpreter", base_times, base_total)):
        speed_ups[name] = statistics.median(times) / statistics.median(warm_times), total / len(times) / warm_each
        print(f"speed-up over {name} per submission (both at -j {args.jobs}): {speed_ups[name][0]:.0f}x by median, "
              f"{speed_ups[name][1]:.0f}x by throughput (start-up included in both)")
    print(f"projected 1,000 submissions: {warm_each * 1000:.1f} s warm, {base_total / len(base) * 1000:.0f} s with a fresh "
          f"student interpreter, {process_total / len(process_times) * 1000:.0f} s with a fresh grading process")
    print(targets_line(statistics.median(solo_overhead), *speed_ups["a fresh grading process"],
                       warm_each * 1000, args.count != 1000))
    print(memory_line)
    print(cpu_line)
    print(machine_cpu_line(warm_cpu, solo_cpu, args.jobs, os.cpu_count() or 1))
    print(bare_line)
    print(gauge_line)
    same = all(a.score == b.score for a, b in zip(warm, base))
    same_process = all(round(a.score, 4) == score for a, score in zip(warm, process_scores))
    print(f"scores identical: fresh student interpreter {same}, fresh grading process {same_process} "
          f"({len(base)} compared each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
