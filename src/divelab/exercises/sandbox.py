"""Checking a learner's file in a child process with a time and a memory limit.

:func:`check_file` starts :mod:`divelab.exercises.child` on the file, waits at most
``time_limit`` seconds (then kills its whole process group), reads back what the learner's
code computed — JSON and safetensors, never pickle — and judges it here against the
reference. Whatever the file does (loops forever, calls ``sys.exit``, allocates without
bound, fails to import, writes outside its folder, reads the reference), the result is a
:class:`~divelab.exercises.checker.CheckResult` per exercise with the reason; nothing raises.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from divelab.exercises.checker import CheckResult, Outcome, judge
from divelab.exercises.registry import EXERCISES

TIME_LIMIT_S = 60.0
MEMORY_LIMIT_MB = 2048
MAX_ANSWER_BYTES = 512 << 20
OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class Limits:
    """How long (wall-clock seconds) and how much memory (address space, MB) a file may use."""

    time_s: float = TIME_LIMIT_S
    memory_mb: int = MEMORY_LIMIT_MB


def check_file(path: str | Path, names: list[str], seed: int = 0, limits: Limits = Limits(),
               root: str | Path | None = None) -> dict[str, CheckResult]:
    """Run the exercises ``names`` of the learner's file ``path`` (its folder, or ``root``, is
    where it may write) in one child process, and judge each."""
    path = Path(path).resolve()
    root = Path(root).resolve() if root is not None else path.parent
    start = time.perf_counter()
    problem, header, tensors, output = _run_child(path, root, names, seed, limits)
    seconds = time.perf_counter() - start
    results = {}
    for name in names:
        result = _judge_one(name, problem, header, tensors, seed, seconds)
        result.output = output
        results[name] = result
    return results


def _judge_one(name: str, problem: str | None, header: dict[str, Any], tensors: dict[str, Any],
               seed: int, seconds: float) -> CheckResult:
    exercise = EXERCISES[name]
    if problem is None and header.get("violations"):
        problem = "not allowed: " + "; ".join(header["violations"][:3])
    problem = problem or header.get("problem")
    entry = header.get("exercises", {}).get(name, {})
    problem = problem or entry.get("problem")
    if problem is not None:
        return CheckResult(name, seed, problem=problem, seconds=seconds)
    try:
        outcomes = [Outcome({k: tensors[f"{name}/{i}/{k}"] for k in case["keys"]}, case["kind"], case["error"])
                    for i, case in enumerate(entry["cases"])]
        return judge(exercise, outcomes, seed, seconds)
    except (KeyError, TypeError, ValueError) as exc:
        return CheckResult(name, seed, problem=f"the child's answer was incomplete ({exc}); "
                                               "did the code write to file descriptors it did not open?",
                           seconds=seconds)


def _run_child(path: Path, root: Path, names: list[str], seed: int,
               limits: Limits) -> tuple[str | None, dict[str, Any], dict[str, Any], str]:
    """Start the child, wait for it; (problem or None, header, tensors, what it printed)."""
    with tempfile.TemporaryFile() as answer, tempfile.TemporaryFile() as printed:
        request = {"file": str(path), "root": str(root), "exercises": names, "seed": seed,
                   "memory_mb": limits.memory_mb, "fd": answer.fileno()}
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "divelab.exercises.child"], stdin=subprocess.PIPE,
                                stdout=printed, stderr=subprocess.STDOUT, pass_fds=(answer.fileno(),),
                                cwd=root, env=env, start_new_session=True)
        timed_out = False
        try:
            proc.communicate(json.dumps(request).encode(), timeout=limits.time_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        output = _tail(printed)
        if timed_out:
            return f"ran longer than the time limit of {limits.time_s:g} s (an endless loop?)", {}, {}, output
        header, tensors, unreadable = _read_answer(answer)
        if header is None:
            return _died(proc.returncode, output, limits, unreadable), {}, {}, output
        return None, header, tensors, output


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _tail(f: IO[bytes]) -> str:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - OUTPUT_TAIL))
    return f.read().decode("utf-8", errors="replace")


def _read_answer(f: IO[bytes]) -> tuple[dict[str, Any] | None, dict[str, Any], bool]:
    """The child's header and tensors; (None, {}, unreadable?) when there is no valid answer."""
    from safetensors.torch import load

    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size == 0:
        return None, {}, False
    if size > MAX_ANSWER_BYTES:
        return None, {}, True
    f.seek(0)
    data = f.read()
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length])
        blob = data[8 + length:]
        tensors = load(blob) if blob else {}
    except Exception:  # struct, JSON and safetensors each raise their own types
        return None, {}, True
    if not isinstance(header, dict):
        return None, {}, True
    return header, tensors, False


def _died(returncode: int | None, output: str, limits: Limits, unreadable: bool) -> str:
    """Why the child ended without an answer, in words."""
    if unreadable:
        return "its answer to the checker was garbled (did the code write to a file descriptor it did not open?)"
    if "MemoryError" in output or "can't allocate memory" in output or returncode == -signal.SIGKILL:
        return f"ran out of memory (limit {limits.memory_mb} MB) or was killed"
    if returncode is not None and returncode < 0:
        return f"crashed with signal {signal.Signals(-returncode).name}"
    return (f"the process ended with status {returncode} before the checks finished "
            "(os._exit, or a crash in native code)")
