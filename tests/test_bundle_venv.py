"""The sample student workflow, run for real on a fixture student repository, and self-check from a
bundle in a fresh virtual environment.

The workflow's `run:` steps (examples/student-repo-workflow.yml) are extracted and executed with
bash, as GitHub Actions would, with GRADER_SOURCE set to a local copy of this grader's source and
BUNDLE_URL to a file:// URL: no network. The "runner's Python" is a fresh virtual environment
(`--system-site-packages`, and a `.pth` line that adds this interpreter's site-packages, so torch and
its dependencies are not downloaded again; pip is the system's, told to use no index); the workflow's own `pip install "$GRADER_SOURCE"` installs the grader into it. The
fixture repository carries what a student might add to subvert the check (a spec, tests, a
conftest.py, a `grader` package, sitecustomize.py, a fake bundle): none of it may run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from conftest import EXAMPLES
from grader.bundle import make_bundle, write_archive
from grader.grading import Submission

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "student-repo-workflow.yml"
# Every example but the two slowest (they import torch in the worker); test_bundle.py covers the rest.
SUBSET = ["correct_loops", "correct_numpy", "flipped_kernel", "forbidden_conv", "gradient_3x3", "lp_factor_outside_root",
          "lua_torch_names", "stride_one_formula", "unfinished", "wrong_arithmetic"]
PWNED = "PWNED-student-file-ran"
STEP_TIMEOUT_S = 240


def _student_repo(folder: Path, submission: Path) -> None:
    folder.mkdir(parents=True)
    shutil.copy(submission, folder / "hw2.py")
    boom = f"raise SystemExit({PWNED!r})\n"
    (folder / "grader").mkdir()
    (folder / "grader" / "__init__.py").write_text(boom)
    (folder / "sitecustomize.py").write_text(boom)
    (folder / "conftest.py").write_text(boom)
    (folder / "setup.py").write_text(boom)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_hw2.py").write_text(boom)
    (folder / "problems" / "hw2").mkdir(parents=True)
    (folder / "problems" / "hw2" / "assignment.yaml").write_text("id: hw2\ntitle: everything passes\nquestions: []\n")
    (folder / "hw2-bundle").mkdir()
    (folder / "hw2-bundle" / "bundle.json").write_text('{"format": 1, "kind": "student-bundle", "withheld": []}\n')


def _copy_source(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "grader", target / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _see_these_packages(venv: Path) -> None:
    """The base interpreter may lack torch's dependencies (filelock, sympy...): the runner's Python
    sees the packages this test runs with, as a plain path (their .pth files, such as the editable
    grader's finder, are not run)."""
    site = sysconfig.get_paths()["purelib"]
    (target,) = venv.glob("lib/python*/site-packages")
    (target / "runner-packages.pth").write_text(site + "\n")


def _run(script: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, hw2_spec, hw2_reference):
    base = tmp_path_factory.mktemp("actions")
    instructor = base / "instructor"
    summary = make_bundle(hw2_spec, hw2_reference, instructor / "hw2-bundle")
    archive_digest = write_archive(summary.folder, instructor / "hw2-bundle.tar.gz")
    source = _copy_source(instructor / "grader")
    venv = base / "python"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True, timeout=60)
    _see_these_packages(venv)
    repo, runner_temp = base / "repo", base / "runner-temp"
    _student_repo(repo, EXAMPLES / "flipped_kernel.py")
    runner_temp.mkdir()

    spec = yaml.safe_load(WORKFLOW.read_text())
    (job,) = spec["jobs"].values()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "GITHUB_", "GRADER_"))}
    env.update({k: str(v) for k, v in spec["env"].items()})
    assert {"GRADER_SOURCE", "BUNDLE_URL", "BUNDLE_SHA256"} <= set(spec["env"])
    env.update(
        GRADER_SOURCE=str(source),  # the instructor's source, as a local path
        BUNDLE_URL=(instructor / "hw2-bundle.tar.gz").as_uri(),
        BUNDLE_SHA256=archive_digest,
        PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        VIRTUAL_ENV=str(venv),
        PIP_NO_INDEX="1",  # no network: torch and the dependencies are already there
        PIP_NO_BUILD_ISOLATION="0",  # (sic: "0" turns build isolation off)
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(repo),
        RUNNER_TEMP=str(runner_temp),
        GITHUB_STEP_SUMMARY=str(base / "summary.md"),
        GITHUB_OUTPUT=str(base / "output.txt"),
    )
    steps = [step for step in job["steps"] if "run" in step]
    assert [s["name"] for s in steps] == [
        "Install the grader (pinned, from the instructor's source)",
        "Fetch the bundle and check its checksum",
        "Self-check (public checks only)",
    ]
    assert all("${{" not in step["run"] for step in steps)  # no expression interpolation in scripts
    runs = {step["name"]: _run(step["run"], env, repo) for step in steps}
    return {"runs": runs, "steps": steps, "env": env, "repo": repo, "venv": venv, "runner_temp": runner_temp, "base": base, "source": source}


def test_the_sample_workflow_runs_on_a_fixture_student_repository(workflow):
    runs = workflow["runs"]
    install, fetch, check = runs.values()
    assert install.returncode == 0, install.stderr
    assert fetch.returncode == 0, fetch.stderr
    assert check.returncode == 1, check.stdout + check.stderr  # flipped kernel: a public check fails
    for run in runs.values():
        assert PWNED not in run.stdout + run.stderr
    out = check.stdout
    assert out.startswith("::stop-commands::") and "45 of 51 public checks passed; hidden checks run at grading." in out
    assert "known mistake (flipped-kernel)" in out
    assert "replay: grader check hw2-bundle hw2.py --only 1.1c/random/" in out
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith("::error file=hw2.py,line=")
    base = workflow["base"]
    assert "| 1.1c | Convolution output | 0/6 | 0 / 1 | ❌ failed |" in (base / "summary.md").read_text()
    assert (base / "output.txt").read_text().startswith("result=")
    assert (workflow["runner_temp"] / "junit.xml").is_file() and (workflow["runner_temp"] / "classroom.json").is_file()
    installed = subprocess.run([str(workflow["venv"] / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                               env=workflow["env"], cwd=workflow["runner_temp"], capture_output=True, text=True, timeout=60)
    assert installed.stdout.startswith(str(workflow["venv"]))  # the pip-installed grader, not this checkout


def test_a_correct_submission_passes_the_workflow(workflow):
    shutil.copy(EXAMPLES / "correct_numpy.py", workflow["repo"] / "hw2.py")
    check = _run(workflow["steps"][2]["run"], workflow["env"], workflow["repo"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All 51 public checks passed; hidden checks run at grading." in check.stdout
    assert not [line for line in check.stdout.splitlines() if line.startswith("::error")]


def test_a_bundle_that_does_not_match_the_pinned_checksum_is_refused(workflow):
    env = dict(workflow["env"], BUNDLE_SHA256=hashlib.sha256(b"another bundle").hexdigest())
    fetch = _run(workflow["steps"][1]["run"], env, workflow["repo"])
    assert fetch.returncode != 0 and "FAILED" in fetch.stdout + fetch.stderr


VERDICTS = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import grader
from grader.ci import self_check
assert grader.__file__.startswith(sys.prefix), grader.__file__
bundle, names = Path(sys.argv[1]), sys.argv[2:]
def one(path):
    _, result = self_check(bundle, Path(path), student=Path(path).stem)
    return {f"{q.id}/{c.id}/{k.id}": [k.status, k.mistake] for q in result.questions for c in q.checks for k in c.cases}, result.score, result.withheld
with ThreadPoolExecutor(2) as pool:
    print(json.dumps(dict(zip(names, pool.map(one, names)))))
"""


def test_self_check_from_a_bundle_in_a_fresh_venv_matches_the_instructors_grading(workflow, make_grader):
    bundle = workflow["runner_temp"] / "hw2-bundle"  # as the workflow downloaded and verified it
    paths = {name: (EXAMPLES / name / "hw2.py" if (EXAMPLES / name).is_dir() else EXAMPLES / f"{name}.py") for name in SUBSET}
    done = subprocess.run([str(workflow["venv"] / "bin" / "python"), "-c", VERDICTS, str(bundle), *map(str, paths.values())],
                          env=workflow["env"], cwd=workflow["runner_temp"], capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    offline = json.loads(done.stdout)
    manifest = json.loads((bundle / "bundle.json").read_text())
    instructor_grader = make_grader(public_only=True)
    with ThreadPoolExecutor(2) as pool:
        graded = dict(zip(paths, pool.map(lambda item: instructor_grader.grade(Submission(*item)), paths.items())))
    for name, path in paths.items():
        verdicts, score, withheld = offline[str(path)]
        assert withheld == manifest["withheld"]
        instructor = graded[name]
        expected = {
            f"{q.id}/{c.id}/{k.id}": [k.status, k.mistake]
            for q in instructor.questions for c in q.checks for k in c.cases
            if f"{q.id}/{c.id}" not in withheld
        }
        assert verdicts == expected, name
        assert score == pytest.approx(sum(c.score for q in instructor.questions for c in q.checks if f"{q.id}/{c.id}" not in withheld), abs=1e-3)
