"""Per-submission overhead of the sandbox: the same submission graded sandboxed and plain.

    .venv/bin/python bench/sandbox_overhead.py [--runs 15] [--submission PATH] [--only 1.1c]

Grades one submission (default: submissions/examples/correct_numpy.py, every question) with
the real grader and the HW2 spec, alternating a plain subprocess (``sandbox="none"``) and the
strongest sandbox the probe proves here, in one process (the probe and the imports are paid
before timing starts). Prints the median and p95 wall time of each and of their difference.
A benchmark, not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.executor import SubprocessExecutor  # noqa: E402
from grader.expected import Reference, load_reference  # noqa: E402
from grader.grading import Grader, GradingOptions, Submission  # noqa: E402
from grader.sandbox import probe  # noqa: E402
from grader.spec import load_assignment  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--submission", type=Path, default=ROOT / "submissions" / "examples" / "correct_numpy.py")
    parser.add_argument("--only", default="", help="restrict to one question, e.g. 1.1c")
    args = parser.parse_args()

    report = probe()
    print(f"probe: {report.mode} ({'protected' if report.protected else 'NOT protected'}), took {report.seconds:.2f} s")
    if not report.protected:
        print("no sandbox here: nothing to compare")
        return 1
    spec = load_assignment(ROOT / "problems" / "hw2")
    reference = Reference(load_reference(spec.reference_path, spec.id), spec.constants)
    graders = {
        mode: Grader(spec, reference, SubprocessExecutor(module_name="hw2", sandbox=mode), GradingOptions(only=args.only))
        for mode in ("none", "auto")
    }
    submission = Submission("bench", args.submission)
    for grader in graders.values():  # warm up: caches, page cache, first imports
        grader.grade(submission)
    times: dict[str, list[float]] = {"none": [], "auto": []}
    score = None
    for _ in range(args.runs):
        for mode, grader in graders.items():
            started = time.perf_counter()
            result = grader.grade(submission)
            times[mode].append(time.perf_counter() - started)
            assert score in (None, result.score), "sandboxed and plain runs disagree"
            score = result.score
    overhead = [s - p for s, p in zip(times["auto"], times["none"])]
    calls = sum(len(c.cases) for q in result.questions for c in q.checks)
    print(f"submission: {args.submission.relative_to(ROOT) if args.submission.is_relative_to(ROOT) else args.submission}"
          f" ({calls} checked cases, score {score:g}), {args.runs} runs each, alternating")
    for label, values in (("plain subprocess", times["none"]), (f"sandbox ({report.mode})", times["auto"]),
                          ("overhead per submission", overhead)):
        print(f"  {label:<26} median {statistics.median(values) * 1000:7.1f} ms   p95 {percentile(values, 0.95) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
