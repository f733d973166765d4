"""Writing files so that a crash never leaves half of one: the bottom of the package (it imports
nothing of divelab), used by checkpoints, run files, figures, reports and data caches alike.

:func:`atomic_write_bytes` writes to a temporary file in the same directory, fsyncs it,
renames it over the target and fsyncs the directory: readers see the old content or the
new, never a mix, and the rename survives a power loss. :func:`probe_writable` finds a full
or read-only disk before a run starts rather than in its middle.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably: a temporary file in the same directory, fsync,
    rename, fsync of the directory. Readers see the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() would honour the umask
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` survive a power loss (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def probe_writable(directory: Path, size: int = 1 << 20) -> None:
    """Write ``size`` bytes to a temporary file in ``directory``, fsync and delete it: an
    ``OSError`` (no space, no permission, a read-only disk) now rather than mid-run."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".divelab-probe-", suffix=".tmp")
    try:
        block = bytes(min(size, 1 << 16))
        written = 0
        while written < size:
            written += os.write(fd, block[:size - written])
        os.fsync(fd)
    finally:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())
