import gzip

import numpy as np
import pytest

from divelab.data.idx import read_idx, write_idx
from divelab.errors import DataError


def test_round_trip_plain_and_gzip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, array)
        back = read_idx(tmp_path / name, rank=3, shape=(3, 4))
        np.testing.assert_array_equal(back, array)
        assert back.flags.writeable


def test_big_endian_types_are_decoded(tmp_path):
    array = np.array([1, -2, 300000], dtype=np.int32)
    write_idx(tmp_path / "i.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.idx"), array)


def _good(tmp_path):
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros((5, 28, 28), dtype=np.uint8))
    return path, path.read_bytes()


def test_wrong_magic_is_rejected_by_name(tmp_path):
    path, raw = _good(tmp_path)
    path.write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(DataError, match=r"x\.idx is not an IDX file \(bad magic"):
        read_idx(path)


def test_unknown_type_code_is_rejected(tmp_path):
    path, raw = _good(tmp_path)
    path.write_bytes(raw[:2] + b"\x42" + raw[3:])
    with pytest.raises(DataError, match="bad magic"):
        read_idx(path)


def test_truncated_data_is_rejected(tmp_path):
    path, raw = _good(tmp_path)
    path.write_bytes(raw[:-10])
    with pytest.raises(DataError, match=r"x\.idx is truncated"):
        read_idx(path)


def test_truncated_header_is_rejected(tmp_path):
    path, raw = _good(tmp_path)
    path.write_bytes(raw[:9])
    with pytest.raises(DataError, match="header is incomplete"):
        read_idx(path)


def test_count_mismatch_extra_bytes_is_rejected(tmp_path):
    path, raw = _good(tmp_path)
    path.write_bytes(raw + b"\x00" * 28)
    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(path)


def test_rank_and_shape_are_checked(tmp_path):
    path, _ = _good(tmp_path)
    with pytest.raises(DataError, match="rank 3, expected 1"):
        read_idx(path, rank=1)
    with pytest.raises(DataError, match=r"shape \(28, 28\), expected \(32, 32\)"):
        read_idx(path, rank=3, shape=(32, 32))


def test_damaged_gzip_is_rejected_by_name(tmp_path):
    path = tmp_path / "y.idx.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x04" + b"abcd")[:-6])
    with pytest.raises(DataError, match=r"y\.idx\.gz is a damaged gzip file"):
        read_idx(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope.idx")
