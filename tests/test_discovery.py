"""Which submissions `grader grade` finds in the paths it is given, and what it names them."""

from pathlib import Path

import pytest

from grader.discovery import DiscoveryError, find_submissions


def _write(path: Path, text: str = "def f():\n    return 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _found(paths: list[Path]) -> list[tuple[str, Path]]:
    submissions, _warnings = find_submissions(paths, "hw2.py")
    return [(s.id, s.path) for s in submissions]


def test_a_class_folder_holds_one_submission_per_student(tmp_path):
    alice = _write(tmp_path / "class" / "alice" / "hw2.py")
    bob = _write(tmp_path / "class" / "bob.py")
    _write(tmp_path / "class" / ".hidden" / "hw2.py")
    assert _found([tmp_path / "class"]) == [("alice", alice), ("bob", bob)]


def test_student_folders_given_one_by_one_are_named_after_their_folders(tmp_path):
    # `grader grade problems/hw2 class/*`: each folder is one student's, its helpers are not students
    alice = _write(tmp_path / "class" / "alice" / "hw2.py")
    _write(tmp_path / "class" / "alice" / "helpers.py")
    bob = _write(tmp_path / "class" / "bob" / "hw2.py")
    found = _found(sorted((tmp_path / "class").iterdir()))
    assert found == [("alice", alice), ("bob", bob)]


def test_a_folder_with_the_submission_file_and_student_folders_is_a_class(tmp_path):
    alice = _write(tmp_path / "class" / "alice" / "hw2.py")
    stray = _write(tmp_path / "class" / "hw2.py")
    assert _found([tmp_path / "class"]) == [("alice", alice), ("hw2", stray)]


def test_a_file_is_named_after_its_folder_when_it_is_the_submission_file(tmp_path):
    alice = _write(tmp_path / "alice" / "hw2.py")
    other = _write(tmp_path / "carol_hw2.py")
    assert _found([alice, other]) == [("alice", alice), ("carol_hw2", other)]


def test_two_submissions_with_one_name_get_distinct_ids_and_a_warning(tmp_path):
    first = _write(tmp_path / "a" / "alice.py")
    second = _write(tmp_path / "b" / "alice.py")
    submissions, warnings = find_submissions([tmp_path / "a", tmp_path / "b"], "hw2.py")
    assert [(s.id, s.path) for s in submissions] == [("alice", first), ("alice-2", second)]
    assert any("alice-2" in warning for warning in warnings)


def test_a_folder_without_submissions_is_a_warning_and_a_missing_path_an_error(tmp_path):
    _write(tmp_path / "class" / "alice" / "notes.txt", "")
    submissions, warnings = find_submissions([tmp_path / "class"], "hw2.py")
    assert submissions == []
    assert any("no hw2.py inside" in warning for warning in warnings)
    with pytest.raises(DiscoveryError, match="no such file or folder"):
        find_submissions([tmp_path / "nowhere"], "hw2.py")
