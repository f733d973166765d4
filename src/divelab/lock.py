"""One run per directory: an exclusive lock on the run directory while a run writes to it.

Two runs into one ``--out`` would interleave their ``metrics.jsonl`` and overwrite each
other's checkpoints. :func:`exclusive` takes an ``flock`` on ``OUT/.divelab.lock`` (which
holds the PID of the run that has it); the operating system releases it however the
process ends — return, exception, Ctrl-C or ``kill -9`` — so a stale lock cannot exist.
The file stays behind after a run: deleting it would let a third run lock a different
file of the same name while the second still holds the old one. A run that fails before
it writes anything (bad data, say) takes its lock file — and the directory, if it made it
— away again, so a mistake leaves no trace.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from divelab.errors import UserError

LOCK_FILE = ".divelab.lock"


@contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold the run directory's lock (creating the directory) until the block ends; a
    :class:`UserError` naming the holder's PID if another process has it."""
    made_directory = not directory.exists()
    made_file = not (directory / LOCK_FILE).exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise UserError(f"cannot create the output directory {directory} ({exc.strerror}); "
                        "choose another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise UserError(f"{directory} is in use by process {holder} (another divelab run); wait for it "
                            "to end, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        except BaseException:
            _undo(directory, made_directory, made_file)
            raise
    finally:
        os.close(fd)


def _undo(directory: Path, made_directory: bool, made_file: bool) -> None:
    """Remove the lock file this run made, and the directory it made if nothing else is in it."""
    if made_file:
        (directory / LOCK_FILE).unlink(missing_ok=True)
    if made_directory and not any(directory.iterdir()):
        directory.rmdir()
