"""Grading a class that includes hostile submissions: every student is graded with the right
reason, nothing outside the submissions is written, and the grader itself never fails."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from divelab.exercises.grade import grade
from divelab.exercises.sandbox import Limits

GOOD = '''
import torch
def dropout(x, p, training=True):
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p) / (1 - p)
'''

# student -> (dropout.py, a word the reason must contain); None: no file at all
SUBMISSIONS: dict[str, tuple[str | None, str]] = {
    "alice": (GOOD, "all 12 cases pass"),
    "bob": (GOOD.replace("/ (1 - p)", ""), "scale of kept values"),
    "carol": ("while True:\n    pass\n", "time limit"),
    "dave": ("import sys\nsys.exit(0)\n", "sys.exit(0)"),
    "erin": ("blob = bytearray(50 * 2**30)\n", "memory"),
    "frank": ("def dropout(x, p:\n", "syntax error at line 1"),
    "grace": ("open({outside!r}, 'w').write('pwned')\n" + GOOD, "outside the submission's folder"),
    "heidi": ("import divelab, pathlib\n"
              "SOURCE = (pathlib.Path(divelab.__file__).parent / 'scratch' / 'dropout.py').read_text()\n" + GOOD,
              "divelab's own source"),
    "ivan": ("import numpyy\n" + GOOD, "ModuleNotFoundError"),
    "judy": (None, "no submission"),
    "mallory": ("from divelab.scratch.dropout import dropout\n", "importing divelab.scratch"),
    "oscar": ("import os\ndef dropout(x, p, training=True):\n    os._exit(0)\n", "before the checks finished"),
    "peggy": ("import subprocess\nsubprocess.run(['true'])\n" + GOOD, "starting a process"),
    "trent": ("def dropout(x, p, training=True):\n    return dropout(x, p, training)\n", "RecursionError"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("class")
    outside = root.parent / f"{root.name}-outside.txt"
    submissions = root / "submissions"
    for student, (text, _) in SUBMISSIONS.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        if text is not None:
            (folder / "dropout.py").write_text(text.replace("{outside!r}", repr(str(outside))))
    grades, csv_path, html_path = grade(submissions, ["dropout"], seed=3, limits=Limits(time_s=8, memory_mb=1024))
    return submissions, outside, grades


def test_every_student_gets_a_mark_with_the_right_reason(graded: tuple[Path, Path, list]) -> None:
    _, _, grades = graded
    by_student = {g.student: g for g in grades}
    assert sorted(by_student) == sorted(SUBMISSIONS)
    for student, (_, word) in SUBMISSIONS.items():
        mark = by_student[student]
        assert mark.passed == (student == "alice"), f"{student}: {mark}"
        assert word in mark.reason, f"{student}: {mark.reason!r} lacks {word!r}"


def test_hostile_code_changed_nothing_outside_its_folder(graded: tuple[Path, Path, list]) -> None:
    _, outside, _ = graded
    assert not outside.exists()


def test_grades_files_hold_every_student(graded: tuple[Path, Path, list]) -> None:
    submissions, _, grades = graded
    rows = list(csv.DictReader((submissions / "grades.csv").open()))
    assert [(r["student"], r["result"]) for r in rows] == [(g.student, "pass" if g.passed else "fail") for g in grades]
    page = (submissions / "grades.html").read_text()
    assert all(student in page for student in SUBMISSIONS) and "<script" not in page
    assert page.count("class='pass'") == 1 and page.count("class='fail'") == len(SUBMISSIONS) - 1


def test_each_submission_is_timed(graded: tuple[Path, Path, list]) -> None:
    _, _, grades = graded
    carol = next(g for g in grades if g.student == "carol")
    assert 8 <= carol.seconds < 20  # killed at the limit, not later
    assert all(g.seconds < 20 for g in grades)
