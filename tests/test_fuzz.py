"""Property tests over untrusted input: data files and ``--set`` settings.

Whatever the bytes or strings, a reader returns its result or raises the project's
:class:`DataError` (a :class:`UserError`: one ``error:`` line from the CLI); the ``--set``
parser returns a config or raises :class:`UserError`. Nothing else may escape.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from divelab.config import FashionOptimConfig, RunConfig, build_config, parse_assignments
from divelab.data.idx import read_idx
from divelab.data.text import read_text
from divelab.errors import DataError, UserError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch_file(tmp_path_factory) -> Path:
    """One file rewritten by every example (hypothesis reruns a test body; no per-example fixture)."""
    return tmp_path_factory.mktemp("fuzz") / "input"


def _idx_like() -> st.SearchStrategy[bytes]:
    """Bytes that often get past the magic number: a plausible header and a body of random length."""
    header = st.tuples(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]), st.integers(0, 4),
                       st.lists(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)), max_size=5))
    return st.builds(lambda h, body: bytes([0, 0, h[0], h[1]]) + b"".join(struct.pack(">I", d) for d in h[2]) + body,
                     header, st.binary(max_size=200))


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), _idx_like()), compress=st.booleans(),
       rank=st.sampled_from([None, 1, 3]), shape=st.sampled_from([None, (2,), (28, 28)]))
@example(data=b"\x00\x00\x08\x01\x00\x00\x00\x00", compress=False, rank=None, shape=None)  # an empty vector
@example(data=b"\x00\x00\x0e\x00", compress=False, rank=None, shape=None)  # rank 0: a scalar with no body
def test_idx_reader_returns_an_array_or_a_data_error(scratch_file, data, compress, rank, shape):
    scratch_file.write_bytes(gzip.compress(data) if compress else data)
    try:
        array = read_idx(scratch_file, rank=rank, shape=shape)
    except DataError as exc:
        assert str(scratch_file) in str(exc)  # every message names the file
        return
    assert isinstance(array, np.ndarray) and array.dtype.isnative
    assert rank is None or array.ndim == rank


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda s: s.encode("utf-8"))))
def test_text_reader_returns_text_or_a_data_error(scratch_file, data):
    scratch_file.write_bytes(data)
    try:
        text = read_text(scratch_file)
    except DataError as exc:
        assert str(scratch_file) in str(exc)
        return
    assert isinstance(text, str) and text.strip() and "\r" not in text


_HAS_PAIRS = importlib.util.find_spec("divelab.data.parallel") is not None


@pytest.mark.skipif(not _HAS_PAIRS, reason="divelab.data.parallel (tab-separated pairs) is not there yet")
@FUZZ
@given(data=st.one_of(
    st.binary(max_size=300),
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from("\t\r\n"), max_size=30),
             max_size=8).map(lambda lines: "\n".join(lines).encode("utf-8"))))
def test_pairs_reader_returns_pairs_or_a_data_error(scratch_file, data):
    from divelab.data.parallel import read_pairs

    scratch_file.write_bytes(data)
    try:
        pairs = read_pairs(scratch_file)
    except DataError as exc:
        assert str(scratch_file) in str(exc)
        return
    assert pairs and all(src and tgt and "\t" not in src + tgt for src, tgt in pairs)


def _configs() -> list[type[RunConfig]]:
    """The base configs and every registered experiment's config."""
    from divelab.experiments import EXPERIMENTS

    return list(dict.fromkeys([RunConfig, FashionOptimConfig, *(e.config for e in EXPERIMENTS.values())]))


CONFIGS = _configs()


def _assignment(cls: type[RunConfig]) -> st.SearchStrategy[str]:
    """``key=value`` strings: mostly real keys of ``cls`` with random or tricky values."""
    keys = st.one_of(st.sampled_from([f.name for f in dataclasses.fields(cls)]), st.text(max_size=10))
    values = st.one_of(st.text(max_size=20), st.sampled_from(
        ["", "none", "nan", "inf", "-1", "0", "1e400", "1" * 5000, "true", "fp16", "1,2,,3", "0x10", " 3 "]))
    return st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, values), st.text(max_size=20))


@FUZZ
@given(data=st.data())
def test_set_parser_returns_a_config_or_a_user_error(data):
    cls = data.draw(st.sampled_from(CONFIGS))
    items = data.draw(st.lists(_assignment(cls), max_size=4))
    try:
        config = build_config(cls, parse_assignments(items))
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc).strip()  # one line for `error: …`
        return
    assert isinstance(config, cls)
