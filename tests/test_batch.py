"""Batch grading: parallel with deterministic output, resumable after kill -9, cache by content."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT

HW2 = str(ROOT / "problems" / "hw2")
NAMES = ["correct_numpy", "flipped_kernel", "lua_torch_names", "wrong_arithmetic"]


def grade_command(folder: Path, out: Path, *extra: str, assignment: str = HW2) -> list[str]:
    return [sys.executable, "-m", "grader", "grade", assignment, str(folder), "--out", str(out), *extra]


def grade(folder: Path, out: Path, *extra: str, assignment: str = HW2) -> subprocess.CompletedProcess:
    return subprocess.run(
        grade_command(folder, out, *extra, assignment=assignment),
        capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "CI": "1"},
    )


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(EXAMPLES / f"{name}.py", folder / f"{name}.py")
    return folder


def snapshot(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


def test_output_is_the_same_whatever_the_parallelism(klass, tmp_path):
    one, two = tmp_path / "j1", tmp_path / "j2"
    assert grade(klass, one, "-j", "1").returncode == 0
    assert grade(klass, two, "-j", "2").returncode == 0
    assert {k: without_durations(k, v) for k, v in snapshot(one).items()} == \
        {k: without_durations(k, v) for k, v in snapshot(two).items()}


def without_durations(name: str, text: str) -> object:
    if not name.endswith(".json"):
        return text
    data = json.loads(text)
    assert data.pop("duration_s") >= 0
    return data


def test_rerun_reuses_unchanged_results_and_regrades_a_changed_submission(klass, tmp_path):
    out = tmp_path / "out"
    first = grade(klass, out, "-j", "2")
    assert first.returncode == 0 and "reusing" not in first.stderr
    again = grade(klass, out)
    assert "4 submission(s) unchanged" in again.stderr and "[1/" not in again.stderr
    (klass / "flipped_kernel.py").write_text((EXAMPLES / "correct_numpy.py").read_text())
    changed = grade(klass, out)
    assert "3 submission(s) unchanged" in changed.stderr and "[4/4] flipped_kernel: 16 / 16" in changed.stderr
    forced = grade(klass, out, "--force")
    assert "unchanged" not in forced.stderr and forced.stderr.count("/ 16") == 4


def test_a_batch_killed_with_sigkill_resumes_where_it_stopped(klass, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        grade_command(klass, out, "-j", "1"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("*/result.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(out.glob("*/result.json")))
    assert 1 <= finished < len(NAMES)
    for leftover in out.rglob(".*"):  # no half-written file is ever visible under its real name
        assert leftover.name.startswith(".result.json.") or leftover.name.startswith(".report.md.")
    resumed = grade(klass, out)
    assert resumed.returncode == 0
    assert f"{finished} submission(s) unchanged" in resumed.stderr
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[2:]] == sorted(NAMES)


def _start_batch(folder: Path, out: Path) -> subprocess.Popen:
    """`grader grade -j 2` in its own session, its plain progress lines readable as they come."""
    return subprocess.Popen(
        grade_command(folder, out, "-j", "2"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "CI": "1"},
    )


def _read_until(process: subprocess.Popen, text: str) -> list[str]:
    lines = []
    for line in process.stderr:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the batch ended before printing {text!r}: {''.join(lines)}")


def _live_in_session(session: int) -> list[int]:
    """Processes of that session still running (zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _assert_session_ends(session: int) -> None:
    deadline = time.monotonic() + 10
    while _live_in_session(session) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_in_session(session) == [], "a grading process outlived the interrupted batch"


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_batch_stops_soon_keeps_what_finished_and_resumes(how, tmp_path):
    klass = tmp_path / "class"
    source = (EXAMPLES / "correct_numpy.py").read_text()
    for index in range(30):
        (klass / f"student{index:02d}").mkdir(parents=True)
        (klass / f"student{index:02d}" / "hw2.py").write_text(f"{source}\n# student {index}\n")
    out = tmp_path / "out"
    process = _start_batch(klass, out)
    try:
        _read_until(process, "[1/30]")
        if how == "ctrl-c":  # a terminal sends SIGINT to the whole foreground process group
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130
    finally:
        process.kill()
    assert time.monotonic() - stopped_at < 30  # the 2 or 3 submissions in flight, not the 29 left
    _assert_session_ends(process.pid)
    finished = len(list(out.glob("*/result.json")))
    assert 1 <= finished < 30
    assert f"interrupted: {finished} graded in this run and 0 reused, of 30" in rest, rest
    assert f"grade the {30 - finished} left" in rest and "Traceback" not in rest
    resumed = grade(klass, out)
    assert resumed.returncode == 0
    assert f"{finished} submission(s) unchanged" in resumed.stderr
    assert len((out / "gradebook.csv").read_text().splitlines()) == 2 + 30


def test_a_second_ctrl_c_stops_the_submissions_in_flight_at_once(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    sleeper = "import time\ntime.sleep(600)\n"  # in flight until the 60 s import timeout
    (klass / "a_sleeper.py").write_text(sleeper)
    shutil.copy(EXAMPLES / "correct_numpy.py", klass / "b_correct.py")
    (klass / "c_sleeper.py").write_text(sleeper)
    out = tmp_path / "out"
    process = _start_batch(klass, out)  # a_sleeper in one process; b_correct, then c_sleeper, in the other
    try:
        _read_until(process, "[1/3] b_correct")
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(1)
        assert process.poll() is None  # waiting for the two sleepers
        os.killpg(process.pid, signal.SIGINT)
        stopped_at = time.monotonic()
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130
    finally:
        process.kill()
    assert time.monotonic() - stopped_at < 15
    _assert_session_ends(process.pid)
    assert "interrupted: 1 graded in this run" in rest and "grade the 2 left" in rest, rest
    assert [p.parent.name for p in out.glob("*/result.json")] == ["b_correct"]


def _bar_after(progress, names, stream) -> str:
    from types import SimpleNamespace

    for name in names:
        progress.advance(SimpleNamespace(submission=name, score=1.0, max_score=2.0))
    return stream.getvalue().rsplit("\r", 1)[-1]


def _eta_shown(bar: str) -> str:
    return bar.split("ETA")[1].split("s")[0].strip()


def test_progress_counts_reused_results_as_done_and_leaves_them_out_of_the_eta():
    import io

    from grader.batch import Progress

    now = [100.0]
    stream = io.StringIO()
    progress = Progress(10, stream=stream, interactive=True, clock=lambda: now[0])
    progress.start(reused=6)
    _bar_after(progress, ["a"], stream)
    now[0] += 1.0  # then one submission a second: 2 left after the second
    bar = _bar_after(progress, ["b"], stream)
    assert " 8/10 " in bar
    assert float(_eta_shown(bar)) == 2.0, bar


def test_progress_eta_leaves_the_start_up_out_and_waits_for_a_pace():
    import io

    from grader.batch import Progress

    now = [0.0]
    stream = io.StringIO()
    progress = Progress(60, stream=stream, interactive=True, clock=lambda: now[0])
    progress.start(reused=0)
    now[0] = 6.0  # start-up: the first result comes after 6 s
    assert _eta_shown(_bar_after(progress, ["s01"], stream)) == "--"
    now[0] = 6.2  # then 0.2 s a submission: 58 left at 0.2 s each
    assert float(_eta_shown(_bar_after(progress, ["s02"], stream))) == pytest.approx(11.6, abs=0.05)
    now[0] = 20.0
    assert _eta_shown(_bar_after(progress, [f"s{i:02d}" for i in range(3, 61)], stream)) == "0.0"


def test_a_grader_recipe_with_jobs_grades_in_forked_processes(klass, tmp_path):
    from grader import cli
    from grader.batch import BatchOptions, grade_batch
    from grader.discovery import find_submissions
    from grader.grading import Grader, GradingOptions
    from grader.spec import load_assignment

    spec = load_assignment(Path(HW2))
    stamps = tmp_path / "pids"
    stamps.mkdir()

    class Stamping(Grader):
        def grade(self, submission):
            (stamps / str(os.getpid())).touch()
            return super().grade(submission)

    def recipe() -> Grader:
        return Stamping(spec, cli._reference(spec), cli._executor(spec), GradingOptions())

    submissions, _ = find_submissions([klass], spec.model.submission_file)
    outcome = grade_batch(spec, recipe, submissions, tmp_path / "out", BatchOptions(jobs=2))
    graders = {int(p.name) for p in stamps.iterdir()}
    assert graders and os.getpid() not in graders
    assert [r.submission for r in outcome.results] == sorted(NAMES)
    assert {r.submission: r.score for r in outcome.results}["correct_numpy"] == 16


def test_a_reference_failing_in_the_grading_processes_is_a_clear_error(klass, tmp_path):
    assignment = tmp_path / "hw2"
    shutil.copytree(HW2, assignment)
    reference = assignment / "reference.py"
    reference.write_text(reference.read_text() + "\nraise RuntimeError('broken reference')\n")
    done = grade(klass, tmp_path / "out", "-j", "2", assignment=str(assignment))
    assert done.returncode == 2, done.stderr
    assert "importing the reference failed: RuntimeError: broken reference" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_grading_process_keeps_the_batch_s_objects_out_of_the_collector_and_collects_young_ones_rarely() -> None:
    from grader.batch import YOUNG_COLLECTION_THRESHOLD, _frozen

    threshold = gc.get_threshold()
    sentinel = object()
    try:
        assert _frozen(sentinel) is sentinel
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *threshold[1:])
        assert YOUNG_COLLECTION_THRESHOLD > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_cache_key_changes_with_any_file_of_the_assignment_but_not_with_its_caches(tmp_path):
    from grader.spec import load_assignment

    assignment = tmp_path / "hw2"
    shutil.copytree(HW2, assignment)

    def key() -> str:
        return load_assignment(assignment).content_hash

    keys = [key()]
    with open(assignment / "reference.py", "a") as reference:
        reference.write("\n# a fix\n")
    keys.append(key())
    (assignment / "questions" / "1.1a.yaml").write_text((assignment / "questions" / "1.1a.yaml").read_text() + "\n")
    keys.append(key())
    (assignment / "helpers.py").write_text("SCALE = 2\n")  # what a reference may import
    keys.append(key())
    (assignment / "helpers.py").rename(assignment / "helpers2.py")  # the same bytes elsewhere
    keys.append(key())
    assert len(set(keys)) == len(keys)
    (assignment / "__pycache__").mkdir(exist_ok=True)
    (assignment / "__pycache__" / "reference.cpython-311.pyc").write_bytes(b"\0")
    (assignment / ".DS_Store").write_bytes(b"\0")
    assert key() == keys[-1]
