"""``divelab exercise list | start | check | solution | grade``: parsing and printing only.

``check`` exits 0 when every case of every exercise passes, 1 when some fail, 2 on a user
error (unknown exercise, missing file), like the rest of the command line.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

from divelab.errors import UserError

EXIT_SOME_FAIL = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exercise", help="exercises that check your own code: list, start, check, solution, grade")
    ex = p.add_subparsers(dest="exercise_command", metavar="{list,start,check,solution,grade}", required=True,
                          parser_class=type(p))

    p_list = ex.add_parser("list", help="every exercise, with its status in your workspace")
    p_list.add_argument("--json", action="store_true", help="print a JSON list")
    _dir_option(p_list)

    p_start = ex.add_parser("start", help="write an exercise's skeleton into your workspace (never overwrites)")
    p_start.add_argument("names", nargs="+", metavar="NAME", help="exercise name(s) (see 'divelab exercise list')")
    _dir_option(p_start)

    p_check = ex.add_parser("check", help="check your file(s) against the library twin, in a sandboxed process")
    p_check.add_argument("names", nargs="*", metavar="NAME", help="exercise name(s)")
    p_check.add_argument("--all", action="store_true", help="every exercise that has a file in the workspace")
    _dir_option(p_check)
    _limit_options(p_check)

    p_solution = ex.add_parser("solution", help="print the project's own implementation")
    p_solution.add_argument("name", metavar="NAME")

    p_grade = ex.add_parser("grade", help="grade a folder of submissions, one folder per student")
    p_grade.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    p_grade.add_argument("--exercises", nargs="+", metavar="NAME",
                         help="exercises to grade (default: every exercise some student submitted)")
    p_grade.add_argument("--out", metavar="DIR", help="where grades.csv and grades.html go (default SUBMISSIONS_DIR)")
    _limit_options(p_grade)


def _dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="divelab-exercises", metavar="DIR",
                   help="your workspace, one file per exercise (default ./divelab-exercises)")


def _limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, metavar="S", help="seed of the random inputs (default: fresh each time)")
    p.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS", help="per file (default 60)")
    p.add_argument("--memory-limit", type=int, default=2048, metavar="MB", help="per file (default 2048)")


def run(args: argparse.Namespace) -> int:
    commands = {"list": _list, "start": _start, "check": _check, "solution": _solution, "grade": _grade}
    return commands[args.exercise_command](args)


def _list(args: argparse.Namespace) -> int:
    from divelab.exercises.registry import CHAPTER_TITLES, EXERCISES
    from divelab.exercises.workspace import status_of

    directory = Path(args.dir)
    rows = [{"name": e.name, "chapter": e.chapter, "topic": CHAPTER_TITLES[e.chapter], "title": e.title,
             "difficulty": e.difficulty, "status": status_of(e, directory), "experiments": list(e.experiments)}
            for e in EXERCISES.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    chapter = None
    for r in rows:
        if r["chapter"] != chapter:
            chapter = r["chapter"]
            print(f"\nchapter {chapter}: {r['topic']}")
        print(f"  {r['name']:<{width}}  {r['difficulty']:<6}  {r['status']:<11}  {r['title']}")
    done = sum(r["status"] == "passing" for r in rows)
    print(f"\n{done}/{len(rows)} passing in {directory}/ — start one with 'divelab exercise start NAME'")
    return 0


def _start(args: argparse.Namespace) -> int:
    from divelab.exercises.registry import get_exercise
    from divelab.exercises.workspace import start

    exercises = [get_exercise(n) for n in args.names]  # every name checked before anything is written
    for exercise in exercises:
        path = start(exercise, Path(args.dir))
        print(f"wrote {path}: write {exercise.entry}(), then run 'divelab exercise check {exercise.name}'")
    return 0


def _limits(args: argparse.Namespace):  # noqa: ANN202 - Limits, imported lazily
    from divelab.exercises.sandbox import Limits

    if not args.time_limit > 0 or args.memory_limit < 256:
        raise UserError("--time-limit must be > 0 seconds and --memory-limit at least 256 MB")
    return Limits(time_s=args.time_limit, memory_mb=args.memory_limit)


def _check(args: argparse.Namespace) -> int:
    from divelab.exercises.registry import EXERCISES, get_exercise
    from divelab.exercises.sandbox import check_file
    from divelab.exercises.workspace import file_for, record

    directory = Path(args.dir)
    if args.all == bool(args.names):
        raise UserError("give exercise names or --all (not both)")
    if args.all:
        exercises = [e for e in EXERCISES.values() if file_for(e, directory).is_file()]
        if not exercises:
            raise UserError(f"no exercise files in {directory}/; start one with 'divelab exercise start NAME'")
    else:
        exercises = [get_exercise(n) for n in args.names]
    for e in exercises:
        if not file_for(e, directory).is_file():
            raise UserError(f"no file {file_for(e, directory)}; start it with 'divelab exercise start {e.name}'"
                            + (f" (or give --dir)" if args.dir == "divelab-exercises" else ""))
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    limits = _limits(args)
    failing = 0
    for e in exercises:
        path = file_for(e, directory)
        result = check_file(path, [e.name], seed=seed, limits=limits)[e.name]
        record(directory, path, result)
        print(result, end="\n\n")
        failing += not result.passed
    if len(exercises) > 1:
        print(f"{len(exercises) - failing}/{len(exercises)} exercises pass (seed {seed})")
    return EXIT_SOME_FAIL if failing else 0


def _solution(args: argparse.Namespace) -> int:
    from divelab.exercises.registry import get_exercise
    from divelab.exercises.workspace import solution_source

    print(solution_source(get_exercise(args.name)))
    return 0


def _grade(args: argparse.Namespace) -> int:
    from divelab.exercises.grade import grade

    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    grades, csv_path, html_path = grade(Path(args.submissions), args.exercises,
                                        out=Path(args.out) if args.out else None, seed=seed,
                                        limits=_limits(args), progress=print)
    passed = sum(g.passed for g in grades)
    print(f"wrote {csv_path} and {html_path}: {passed}/{len(grades)} passing (seed {seed})")
    return 0
