"""Benchmark: grade a class of HW2 submissions, warm workers against a fresh interpreter each.

    .venv/bin/python bench/grade_class.py --count 1000 --baseline-count 20 -j 2

Grades `count` copies of a realistic mix (the shipped examples: three correct styles, every
classic mistake, an unfinished module) with the production executor (`grader grade`'s:
sandboxed warm zygotes, grader/executor/zygote.py), then, in the same process,
`baseline-count` of them with a fresh sandboxed interpreter per submission (the way
one-pytest-run-per-submission graders work). Both use the same Grader, so the trusted side's
caches (public cases and their expected outputs, made once per class) serve both.

Prints per-submission median and p95 wall time, totals, the ratio, the projection to 1,000,
peak memory of the parent, of a zygote and of the largest child, and whether both executors
gave the same scores. Start-up (the reference, the first zygotes) is not per-submission cost:
it is paid before the clock starts and printed separately. A benchmark, not a test: run it on
an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.expected import Reference, load_reference  # noqa: E402
from grader.grading import Grader, GradingOptions, Submission  # noqa: E402
from grader.spec import load_assignment  # noqa: E402

EXAMPLES = ROOT / "submissions" / "examples"


def class_of(count: int, folder: Path) -> list[Submission]:
    sources = sorted(EXAMPLES.glob("*.py")) + sorted(EXAMPLES.glob("*/hw2.py"))
    submissions = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"student{index:05d}.py"
        shutil.copy(source, target)
        submissions.append(Submission(target.stem, target))
    return submissions


def timed_batch(grader: Grader, submissions: list[Submission], jobs: int) -> tuple[list[float], float, list]:
    def one(submission: Submission) -> tuple[float, object]:
        started = time.perf_counter()
        result = grader.grade(submission)
        return time.perf_counter() - started, result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(one, submissions))
    total = time.perf_counter() - started
    return [t for t, _ in outcomes], total, [r for _, r in outcomes]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(name: str, times: list[float], total: float, jobs: int) -> str:
    per = total / len(times)
    return (
        f"{name:<30} n={len(times):5d}  median {1000 * statistics.median(times):7.1f} ms"
        f"  p95 {1000 * percentile(times, 0.95):7.1f} ms  total {total:7.1f} s"
        f"  throughput {1000 * per:7.1f} ms/submission (-j {jobs})"
    )


class TimedExecutor:
    """The executor, with the wall time of each run (process, sandbox, transport, student code)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.times: list[float] = []

    def run(self, submission, calls, limits):
        started = time.perf_counter()
        try:
            return self.inner.run(submission, calls, limits)
        finally:
            self.times.append(time.perf_counter() - started)


def bare_overhead(executor, folder: Path, source: str, runs: int) -> list[float]:
    """A module with one trivial call: what a run costs beyond the work (start, sandbox, end)."""
    from grader.executor import Call, Limits

    path = folder / "bare.py"
    path.write_text(source)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = executor.run(path, [Call("ok", "call", "ok")], Limits())
        times.append(time.perf_counter() - started)
        assert result.outcomes["ok"].status == "ok", result.outcomes
    return times


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--baseline-count", type=int, default=12)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()

    from grader.cli import _executor, _fresh_executor  # the production and the baseline executors
    from grader.sandbox import probe

    report = probe()
    print(f"sandbox: {report.mode} ({'protected' if report.protected else 'NOT protected'}); "
          f"{os.cpu_count()} cores; {args.count} submissions, baseline {args.baseline_count}, -j {args.jobs}")
    spec = load_assignment(ROOT / "problems" / "hw2")
    reference = Reference(load_reference(spec.reference_path, spec.id), spec.constants)
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        submissions = class_of(args.count, Path(tmp))
        executor = _executor(spec)
        timed_warm = TimedExecutor(executor)
        warm = Grader(spec, reference, timed_warm, GradingOptions())
        started = time.perf_counter()
        warm.grade(submissions[0])  # the reference's first calls; a pool's first run is fresh
        if hasattr(executor, "prestart"):
            executor.prestart(args.jobs, warm.limits)  # one zygote per thread, ready
        gc.collect()
        gc.freeze()  # as grade_batch does (grader/batch.py)
        startup = time.perf_counter() - started
        timed_warm.times.clear()
        times, total, results = timed_batch(warm, submissions, args.jobs)
        stats = executor.stats() if hasattr(executor, "stats") else {}  # before the bare runs
        zygote_pids = [z.proc.pid for p in __import__("grader.executor.zygote", fromlist=["x"])._ALL_POOLS
                       for z in p.idle if z.proc is not None]
        zygote_rss = max([rss_mib(int(open(f"/proc/{pid}/task/{pid}/children").read().split()[0]))
                          for pid in zygote_pids if open(f"/proc/{pid}/task/{pid}/children").read().split()]
                         + [0.0])
        parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        fresh = _fresh_executor(spec)
        timed_fresh = TimedExecutor(fresh)
        baseline_grader = Grader(spec, reference, timed_fresh, GradingOptions())
        base_times, base_total, base_results = timed_batch(baseline_grader, submissions[: args.baseline_count], args.jobs)
        fresh_child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        bare = Path(tmp)
        numpy_module = "import numpy\ndef ok():\n    return 1\n"
        torch_module = "import numpy, torch\ndef ok():\n    return 1\n"
        bare_warm = bare_overhead(executor, bare, torch_module, 40)
        bare_fresh_numpy = bare_overhead(fresh, bare, numpy_module, 5)
        bare_fresh_torch = bare_overhead(fresh, bare, torch_module, 5)

    same = all(a.score == b.score for a, b in zip(results, base_results))
    print(f"start-up before the clock: {startup:.1f} s (reference warm-up, {stats.get('zygotes_started', 0)} zygote(s))")
    print(describe("warm sandboxed zygotes", times, total, args.jobs))
    print(describe("fresh interpreter (baseline)", base_times, base_total, args.jobs))
    ratio = statistics.median(base_times) / statistics.median(times)
    throughput_ratio = (base_total / len(base_times)) / (total / len(times))
    print(f"speed-up: {ratio:.0f}x by median per submission, {throughput_ratio:.0f}x by throughput")
    print(f"projected 1,000 submissions: {1000 * total / len(times):.1f} s warm, {1000 * base_total / len(base_times):.0f} s fresh")
    print(f"peak memory: parent {parent_peak:.0f} MiB; zygote {zygote_rss:.0f} MiB now; largest zygote child "
          f"{stats.get('max_child_rss_kb', 0) / 1024:.0f} MiB (most of it shared with the zygote); "
          f"largest fresh worker {fresh_child_peak:.0f} MiB")
    print(f"scores identical between the two executors: {same} ({min(len(results), len(base_results))} compared)")
    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731
    print(f"inside the executor (sandbox, processes, transport, student code), median per submission: "
          f"warm {ms(timed_warm.times):.1f} ms, fresh {ms(timed_fresh.times):.1f} ms "
          f"({statistics.median(timed_fresh.times) / statistics.median(timed_warm.times):.0f}x); the rest of each "
          f"submission's time is the trusted side (cases, expected outputs, comparisons, reports)")
    print(f"bare run (a module with one trivial call), median: warm {ms(bare_warm):.1f} ms; fresh {ms(bare_fresh_numpy):.0f} ms "
          f"(numpy) / {ms(bare_fresh_torch):.0f} ms (torch): {statistics.median(bare_fresh_numpy) / statistics.median(bare_warm):.0f}x / "
          f"{statistics.median(bare_fresh_torch) / statistics.median(bare_warm):.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
