"""The language models' shared helpers: MACs per token against the FLOP counter, and who writes the run files."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from divelab.analysis.flops import count_flops
from divelab.data.vocab import Vocab
from divelab.experiment import RunContext
from divelab.experiments.language_model.common import macs_per_token, write_run_files
from divelab.experiments.language_model.recurrent import LMConfig
from divelab.models.rnn_lm import RNNLM
from divelab.train.distributed import World


@pytest.mark.parametrize("cell, embed, layers, bidirectional", [("lstm", 0, 1, False), ("gru", 16, 2, False),
                                                                 ("rnn", 0, 2, True)])
def test_macs_per_token_equals_the_flop_counter_on_the_library_model(cell, embed, layers, bidirectional):
    model = RNNLM(30, cell, 24, layers, embed_size=embed, bidirectional=bidirectional, carry_state=False)
    steps = 7
    counted = count_flops(model, (steps,), dtype=torch.long).macs
    assert macs_per_token(model) * steps == counted
    scratch = RNNLM(30, cell, 24, layers, scratch=True, embed_size=embed, bidirectional=bidirectional,
                    carry_state=False)
    assert macs_per_token(scratch) == macs_per_token(model)  # the same arithmetic, written by hand


@pytest.mark.parametrize("rank", [0, 1])
def test_only_process_zero_writes_vocab_and_samples(rank, tmp_path):
    """Process 1 of a torchrun launch must not write (nor create) anything in the run directory."""
    ctx = RunContext(experiment="lstm", config=LMConfig(), out_dir=tmp_path / "run", device=torch.device("cpu"),
                     world=World(rank, 2))
    write_run_files(ctx, SimpleNamespace(vocab=Vocab(list("abc")), pieces=None), "sample")
    if rank == 0:
        assert (tmp_path / "run" / "vocab.json").is_file() and (tmp_path / "run" / "samples.txt").is_file()
    else:
        assert not (tmp_path / "run").exists()
