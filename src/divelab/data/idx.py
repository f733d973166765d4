"""Reader for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).

Layout: two zero bytes, a type code, the rank ``r``; then ``r`` big-endian uint32
dimensions; then ``prod(dims)`` items, big-endian. Every check names the file it rejects.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from divelab.errors import DataError

# IDX type code -> big-endian numpy dtype
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is a damaged gzip file ({exc}); delete it and fetch it again") from None


def read_idx(path: str | Path, rank: int | None = None, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read an IDX file into a native-endian numpy array, validating it.

    ``rank`` and ``shape`` (trailing dimensions, e.g. ``(28, 28)``) are checked when given.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    dtype, ndim = _DTYPES[data[2]], data[3]
    if rank is not None and ndim != rank:
        raise DataError(f"{path} has rank {ndim}, expected {rank}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated: its header is incomplete")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if shape is not None and dims[1:] != tuple(shape):
        raise DataError(f"{path} holds items of shape {dims[1:]}, expected {tuple(shape)}")
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise DataError(f"{path} is {what}: {actual} data bytes for dimensions {dims} ({expected} expected)")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    path = Path(path)
    codes = {v.newbyteorder("="): k for k, v in _DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = header + array.astype(_DTYPES[code]).tobytes()
    path.write_bytes(gzip.compress(body, mtime=0) if path.suffix == ".gz" else body)
