"""Benchmark: grader/static_rules.py on realistic HW2 submissions, this tree against a git revision.

    .venv/bin/python bench/static_rules.py [--rounds 15] [--against HEAD]

For each file of submissions/examples (*.py, */hw2.py) and tests/attack_corpus (*.py, recursively),
times `ModuleSource.parse` and then the rules HW2 applies (every question's forbid and require
rules, as grader/grading.py's _rule_violations applies them) on that parsed module. The version
in the working tree (A) and the one at `--against` (B, from `git show`) run interleaved, file by
file and round by round, so machine noise hits both alike. Prints, per version, the median over
files of each file's median time (ms per submission), and the ratio B / A.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.spec import load_assignment  # noqa: E402

MODULE = "grader/static_rules.py"


def files() -> list[Path]:
    examples = ROOT / "submissions" / "examples"
    found = [*sorted(examples.glob("*.py")), *sorted(examples.glob("*/hw2.py")),
             *sorted((ROOT / "tests" / "attack_corpus").rglob("*.py"))]
    return [f for f in found if f.is_file()]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def rules(folder: Path) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    spec = load_assignment(folder)
    out = []
    for question in spec.questions:
        out += [("forbid", tuple(r.functions), tuple(r.names), r.reason) for r in question.question.forbid]
        out += [("require", tuple(r.functions), tuple(r.calls), r.reason) for r in question.question.require]
    return out


def time_one(module: ModuleType, source: str, filename: str, applied: list) -> tuple[float, float]:
    started = time.perf_counter()
    try:
        parsed = module.ModuleSource.parse(source, filename)
    except module.SourceError:
        return time.perf_counter() - started, 0.0
    parsed_at = time.perf_counter()
    for kind, functions, names, reason in applied:
        getattr(parsed, kind)(functions, names, reason)
    return parsed_at - started, time.perf_counter() - parsed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--against", default="HEAD", help="git revision to compare with")
    args = parser.parse_args()

    old_text = subprocess.run(["git", "show", f"{args.against}:{MODULE}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        old_path = Path(tmp) / "static_rules_old.py"
        old_path.write_text(old_text, encoding="utf-8")
        versions = {"working tree": load(ROOT / MODULE, "_bench_static_rules_new"),
                    args.against: load(old_path, "_bench_static_rules_old")}
    applied = rules(ROOT / "problems" / "hw2")
    sources = [(str(f), f.read_text(encoding="utf-8")) for f in files()]
    samples = {(v, kind): [[] for _ in sources] for v in versions for kind in ("parse", "rules")}

    gc.collect()
    for round_ in range(args.rounds):
        for i, (filename, source) in enumerate(sources):
            order = list(versions.items()) if round_ % 2 == 0 else list(reversed(versions.items()))
            for label, module in order:
                parse_s, rules_s = time_one(module, source, filename, applied)
                samples[label, "parse"][i].append(parse_s * 1000)
                samples[label, "rules"][i].append(rules_s * 1000)

    examples = [i for i, (filename, _) in enumerate(sources) if "/submissions/" in filename.replace("\\", "/")]
    print(f"{len(sources)} files ({len(examples)} in submissions/examples), {args.rounds} rounds, {len(applied)} rules; "
          "median over files of each file's median, ms per submission")
    for group, members in (("all files", range(len(sources))), ("submissions/examples", examples)):
        report(group, versions, samples, list(members))


def report(group: str, versions: dict[str, ModuleType], samples: dict, members: list[int]) -> None:
    summary: dict[tuple[str, str], float] = {}
    for (label, kind), per_file in samples.items():
        summary[label, kind] = statistics.median(statistics.median(per_file[i]) for i in members)
    print(f"{group}:")
    for label in versions:
        parse_ms, rules_ms = summary[label, "parse"], summary[label, "rules"]
        print(f"  {label:>14}: parse {parse_ms:7.2f}   rules {rules_ms:7.2f}   total {parse_ms + rules_ms:7.2f}")
    new, old = versions
    ratios = [f"{kind} {summary[old, kind] / summary[new, kind]:.2f}x" for kind in ("parse", "rules")]
    old_total = summary[old, "parse"] + summary[old, "rules"]
    ratios.append(f"total {old_total / (summary[new, 'parse'] + summary[new, 'rules']):.2f}x")
    print(f"  speed-up: {', '.join(ratios)}")


if __name__ == "__main__":
    main()
