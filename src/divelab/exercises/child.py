"""The child process that runs a learner's file: ``python -m divelab.exercises.child``.

It reads one JSON request on standard input (the file, its folder, the exercises, the seed,
the memory limit and a file descriptor for the answer), limits its own memory, loads the
chapter modules (torch only, no solution), then guards itself and imports the learner's file:

- writing, deleting or renaming anything outside the learner's folder is refused;
- reading divelab's own source (where the solutions are) or importing divelab's modules is refused;
- starting processes and opening network connections are refused;

each refusal is recorded, and the parent marks the submission failing with the reason. These
guards (a Python audit hook) stop mistakes and casual copying; they are not a security
boundary against code written to escape them — run untrusted code in a container as well.

The answer — per exercise and case, the tensors the learner's code computed or the failure —
is written to the inherited descriptor as a length-prefixed JSON header followed by a
safetensors blob (no pickle crosses the boundary). The parent compares it with the reference.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent          # …/divelab
HARNESS = Path(__file__).resolve().parent                     # …/divelab/exercises
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    """The audit hook: what the learner's code may not do, and what it tried."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.violations: list[str] = []
        self.active = False

    def _inside(self, path: Any) -> bool:
        try:
            resolved = Path(os.fsdecode(path)).resolve()
        except (TypeError, ValueError, OSError):
            return False
        return resolved == self.root or self.root in resolved.parents or str(resolved) == os.devnull

    @staticmethod
    def _solution_source(path: Any) -> bool:
        try:
            resolved = Path(os.fsdecode(path)).resolve()
        except (TypeError, ValueError, OSError):
            return False
        inside_package = PACKAGE_ROOT in resolved.parents
        harness = HARNESS in resolved.parents and "solutions" not in resolved.relative_to(HARNESS).parts
        return inside_package and not harness

    def refuse(self, what: str) -> None:
        if what not in self.violations:
            self.violations.append(what)
        raise PermissionError(f"not allowed in an exercise: {what}")

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            if isinstance(path, int):
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and not self._inside(path):
                self.refuse(f"writing {os.fsdecode(path)} (outside the submission's folder)")
            if self._solution_source(path):
                self.refuse(f"reading divelab's own source {os.fsdecode(path)} (the reference solution)")
        elif event in ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.truncate", "os.symlink", "os.link",
                       "shutil.rmtree", "shutil.move", "os.chmod"):
            path = args[0] if args else None
            if isinstance(path, int) or not self._inside(path):
                self.refuse(f"{event} on {path!r} (outside the submission's folder)")
        elif event == "import" and args and isinstance(args[0], str) and args[0].split(".")[0] == "divelab":
            self.refuse(f"importing {args[0]} (divelab's own modules hold the solutions)")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork"):
            self.refuse(f"starting a process ({event})")
        elif event == "socket.connect":
            self.refuse("opening a network connection")


def _limit_memory(megabytes: int) -> None:
    limit = megabytes << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _load_learner(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


def _answer(fd: int, header: dict[str, Any], tensors: dict[str, Any]) -> None:
    from safetensors.torch import save

    blob = save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}) if tensors else b""
    data = json.dumps(header).encode()
    payload = struct.pack("<Q", len(data)) + data + blob
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def main() -> int:
    request = json.loads(sys.stdin.read())
    fd, root, path = int(request["fd"]), Path(request["root"]), Path(request["file"])
    _limit_memory(int(request["memory_mb"]))
    import torch

    torch.set_num_threads(1)
    from divelab.exercises.checker import describe_exception, learner_outputs
    from divelab.exercises.registry import EXERCISES

    import safetensors.torch  # noqa: F401  (loaded before the guard: it is needed to answer)

    guard = Guard(root)
    sys.addaudithook(guard)
    os.chdir(root)
    header: dict[str, Any] = {"problem": None, "exercises": {}, "violations": []}
    tensors: dict[str, Any] = {}
    guard.active = True
    try:
        module = _load_learner(path)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        module = None
        kind = "syntax error" if isinstance(exc, SyntaxError) else "error"
        if isinstance(exc, SyntaxError):
            header["problem"] = f"syntax error at line {exc.lineno}: {exc.msg}"
        elif isinstance(exc, MemoryError):
            header["problem"] = f"ran out of memory while being imported (limit {request['memory_mb']} MB)"
        else:
            header["problem"] = f"{'failed to import' if kind == 'error' else kind}: {describe_exception(exc)}"
    if module is not None:
        for name in request["exercises"]:
            exercise = EXERCISES[name]
            fn = getattr(module, exercise.entry, None)
            if not callable(fn):
                header["exercises"][name] = {"problem": f"the file defines no function {exercise.entry}()"}
                continue
            cases = []
            for i, outcome in enumerate(learner_outputs(exercise, fn, int(request["seed"]))):
                keys = []
                for key, value in outcome.tensors.items():
                    tensors[f"{name}/{i}/{key}"] = value
                    keys.append(key)
                cases.append({"keys": keys, "kind": outcome.kind, "error": outcome.error})
            header["exercises"][name] = {"cases": cases}
    guard.active = False
    header["violations"] = guard.violations
    _answer(fd, header, tensors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
