"""Grading a class: ``divelab exercise grade SUBMISSIONS_DIR``.

``SUBMISSIONS_DIR`` holds one folder per student, each with that student's exercise files
(``dropout.py``, ``batch_norm.py``, … as ``divelab exercise start`` names them). Every file is
checked in its own child process with a time and a memory limit, all with the same seed, and
may write only inside its student's folder. The grades go to ``grades.csv`` (one row per
student and exercise: result, reason, seconds) and ``grades.html`` (a self-contained table,
students × exercises), both rewritten atomically after each student, so an interrupted
grading keeps every student graded so far.
"""

from __future__ import annotations

import csv
import html
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from divelab.errors import UserError
from divelab.exercises.registry import EXERCISES, get_exercise
from divelab.exercises.sandbox import Limits, check_file
from divelab.exercises.workspace import file_for
from divelab.files import atomic_write_bytes


@dataclass(frozen=True)
class Grade:
    """One student's mark on one exercise."""

    student: str
    exercise: str
    passed: bool
    reason: str
    seconds: float


def students_in(directory: Path) -> list[Path]:
    """The student folders of ``directory`` (hidden folders are skipped), sorted by name."""
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory; give the folder that holds one folder per student")
    folders = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UserError(f"{directory} holds no student folders (one folder per student, each with its .py files)")
    return folders


def exercises_submitted(students: Sequence[Path]) -> list[str]:
    """Every exercise for which some student has a file, in the registry's order."""
    return [name for name, e in EXERCISES.items() if any(file_for(e, s).is_file() for s in students)]


def grade_student(folder: Path, names: Sequence[str], seed: int, limits: Limits) -> list[Grade]:
    grades = []
    for name in names:
        path = file_for(get_exercise(name), folder)
        if not path.is_file():
            grades.append(Grade(folder.name, name, False, f"no submission ({path.name} missing)", 0.0))
            continue
        result = check_file(path, [name], seed=seed, limits=limits, root=folder)[name]
        grades.append(Grade(folder.name, name, result.passed, result.reason(), round(result.seconds, 2)))
    return grades


def grade(directory: Path, names: Sequence[str] | None = None, *, out: Path | None = None, seed: int = 0,
          limits: Limits = Limits(), progress: Callable[[str], None] | None = None) -> tuple[list[Grade], Path, Path]:
    """Grade every student folder of ``directory``; returns the grades and the CSV and HTML paths."""
    students = students_in(directory)
    names = list(names) if names else exercises_submitted(students)
    for name in names:
        get_exercise(name)  # an unknown name is a user error before anything runs
    if not names:
        raise UserError(f"no exercise files found in the student folders of {directory}; "
                        "name them as 'divelab exercise start' does (dropout.py, batch_norm.py, …)")
    out = out or directory
    csv_path, html_path = out / "grades.csv", out / "grades.html"
    grades: list[Grade] = []
    for folder in students:
        start = time.perf_counter()
        grades += grade_student(folder, names, seed, limits)
        _write(grades, names, seed, csv_path, html_path)
        if progress is not None:
            mine = [g for g in grades if g.student == folder.name]
            progress(f"{folder.name}: {sum(g.passed for g in mine)}/{len(mine)} passing "
                     f"({time.perf_counter() - start:.1f} s)")
    return grades, csv_path, html_path


def _write(grades: list[Grade], names: Sequence[str], seed: int, csv_path: Path, html_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "exercise", "result", "reason", "seconds"])
    for g in grades:
        writer.writerow([g.student, g.exercise, "pass" if g.passed else "fail", g.reason, g.seconds])
    try:
        atomic_write_bytes(csv_path, buffer.getvalue().encode())
        atomic_write_bytes(html_path, grades_html(grades, names, seed).encode())
    except OSError as exc:
        raise UserError(f"cannot write the grades to {csv_path.parent} ({exc.strerror or exc}); "
                        "choose another --out") from None


def grades_html(grades: list[Grade], names: Sequence[str], seed: int) -> str:
    """A self-contained page: one row per student, one column per exercise, the reason in each failing cell."""
    students = list(dict.fromkeys(g.student for g in grades))
    by = {(g.student, g.exercise): g for g in grades}
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for s in students:
        cells = []
        for n in names:
            g = by.get((s, n))
            if g is None:
                cells.append("<td></td>")
                continue
            mark = "pass" if g.passed else "fail"
            detail = "" if g.passed else f"<div class='why'>{html.escape(g.reason)}</div>"
            cells.append(f"<td class='{mark}'>{mark}{detail}</td>")
        total = sum(by[(s, n)].passed for n in names if (s, n) in by)
        rows.append(f"<tr><th>{html.escape(s)}</th>{''.join(cells)}<td>{total}/{len(names)}</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>divelab grades</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
td.pass {{ background: #dafbe1; }} td.fail {{ background: #ffebe9; }}
.why {{ font-size: 80%; color: #57606a; max-width: 28em; }}
</style></head><body>
<h1>Grades</h1>
<p>{len(students)} students, {len(names)} exercises, seed {seed}: every file checked in its own process.</p>
<table><tr><th>student</th>{head}<th>passed</th></tr>
{"".join(rows)}
</table></body></html>
"""
