"""Find the submissions named on the command line.

A file is one submission (any name). A folder holds one submission per student: NAME/<file>
(e.g. NAME/hw2.py) or NAME.py; or, when it holds <file> itself and no NAME/<file>, it is one
student's folder (`grader grade problems/hw2 class/*`): that student's submission, named after
the folder, its other .py files the student's helpers. Order is sorted by student id, so output
is deterministic.
"""

from __future__ import annotations

from pathlib import Path

from grader.grading import Submission


class DiscoveryError(Exception):
    pass


def find_submissions(paths: list[Path], submission_file: str) -> tuple[list[Submission], list[str]]:
    """The submissions and warnings (e.g. a folder entry that is not a submission)."""
    found: list[Submission] = []
    warnings: list[str] = []
    for path in paths:
        if path.is_file():
            found.append(Submission(_file_id(path, submission_file), path))
        elif path.is_dir():
            found += _folder(path, submission_file, warnings)
        else:
            raise DiscoveryError(f"{path}: no such file or folder")
    return _unique_ids(found, warnings), warnings


def _file_id(path: Path, submission_file: str) -> str:
    if path.name == submission_file and path.parent.name:
        return path.parent.resolve().name
    return path.stem


def _is_student_folder(folder: Path, submission_file: str) -> bool:
    if not (folder / submission_file).is_file():
        return False
    return not any(_visible(entry) and (entry / submission_file).is_file()
                   for entry in folder.iterdir() if entry.is_dir())


def _visible(entry: Path) -> bool:
    return not entry.name.startswith((".", "_"))


def _folder(folder: Path, submission_file: str, warnings: list[str]) -> list[Submission]:
    if _is_student_folder(folder, submission_file):
        return [Submission(folder.resolve().name, folder / submission_file)]
    found = []
    for entry in sorted(folder.iterdir()):
        if not _visible(entry):
            continue
        if entry.is_dir():
            candidate = entry / submission_file
            if candidate.is_file():
                found.append(Submission(entry.name, candidate))
            else:
                warnings.append(f"{entry}: no {submission_file} inside, skipped")
        elif entry.suffix == ".py":
            found.append(Submission(entry.stem, entry))
    if not found:
        warnings.append(f"{folder}: no submissions found (expected NAME/{submission_file} or NAME.py)")
    return found


def _unique_ids(submissions: list[Submission], warnings: list[str]) -> list[Submission]:
    seen: dict[str, int] = {}
    result = []
    for submission in sorted(submissions, key=lambda s: (s.id, str(s.path))):
        count = seen.get(submission.id, 0) + 1
        seen[submission.id] = count
        if count > 1:
            new_id = f"{submission.id}-{count}"
            warnings.append(f"two submissions are named {submission.id!r}; {submission.path} is graded as {new_id!r}")
            submission = Submission(new_id, submission.path)
        result.append(submission)
    return result
