"""The learner's workspace: one file per exercise, skeletons, and the status of each.

``divelab exercise start NAME`` writes ``WORKSPACE/NAME.py`` (dashes become underscores)
with the signature, the task and ``raise NotImplementedError``; it never overwrites a file.
Each check records its result, by the SHA-256 of the file checked, in
``WORKSPACE/.divelab-status.json``, so ``divelab exercise list`` can show every exercise's
status without running anything: *not started* (no file, or the skeleton unchanged),
*passing* / *failing* (as last checked), *changed* (edited since its last check).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from pathlib import Path
from typing import Any

from divelab.errors import UserError
from divelab.exercises.checker import CheckResult, resolve
from divelab.exercises.spec import Exercise
from divelab.files import atomic_write_bytes, atomic_write_json

DEFAULT_DIR = Path("divelab-exercises")
STATUS_FILE = ".divelab-status.json"


def file_for(exercise: Exercise, directory: Path = DEFAULT_DIR) -> Path:
    return directory / f"{exercise.name.replace('-', '_')}.py"


def skeleton(exercise: Exercise) -> str:
    """The text of a new exercise file."""
    from divelab.exercises.registry import CHAPTER_TITLES

    path = file_for(exercise)
    train = "".join(f"\nTrain with it:  divelab run {name} --set impl={path}" for name in exercise.experiments)
    task = textwrap.indent(inspect.cleandoc(exercise.task), "    ").strip()
    return f'''"""Exercise {exercise.name} — chapter {exercise.chapter} ({CHAPTER_TITLES[exercise.chapter]}), {exercise.difficulty}: {exercise.title}.

Check it:       divelab exercise check {exercise.name}{train}
The answer:     divelab exercise solution {exercise.name}   (after trying!)
"""

from __future__ import annotations

{exercise.imports}


{exercise.signature}
    """{task}
    """
    raise NotImplementedError
'''


def start(exercise: Exercise, directory: Path = DEFAULT_DIR) -> Path:
    """Write the skeleton of ``exercise`` into ``directory``; refuse to overwrite."""
    path = file_for(exercise, directory)
    if path.exists():
        raise UserError(f"{path} exists already; edit it, or move it away to start over")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, skeleton(exercise).encode())
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc}); choose another --dir") from None
    return path


def solution_source(exercise: Exercise) -> str:
    """The project's own implementation of the exercise, as source text."""
    parts = []
    for target in exercise.source or (exercise.solution,):
        obj = resolve(target)
        module = target.partition(":")[0]
        parts.append(f"# {module} ({inspect.getsourcefile(obj)})\n{inspect.getsource(obj)}")
    return "\n\n".join(parts)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_status(directory: Path) -> dict[str, Any]:
    try:
        record = json.loads((directory / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def record(directory: Path, path: Path, result: CheckResult) -> None:
    """Remember ``result`` for the current content of ``path`` (best effort: a read-only folder is fine)."""
    status = _load_status(directory)
    status[result.exercise] = {"sha256": _digest(path), "status": result.status, "reason": result.reason()}
    try:
        atomic_write_json(directory / STATUS_FILE, status)
    except OSError:
        pass


def status_of(exercise: Exercise, directory: Path = DEFAULT_DIR) -> str:
    """not started | passing | failing | changed (edited since the last check)."""
    path = file_for(exercise, directory)
    if not path.is_file():
        return "not started"
    try:
        content = path.read_bytes()
    except OSError:
        return "unreadable"
    if content == skeleton(exercise).encode():
        return "not started"
    last = _load_status(directory).get(exercise.name)
    if isinstance(last, dict) and last.get("sha256") == hashlib.sha256(content).hexdigest():
        return str(last.get("status"))
    return "changed"
