"""Translate with a finished translation run: ``divelab translate RUN_DIR "sentence" …``.

A run of ``seq2seq``, ``seq2seq-attention`` or ``transformer`` leaves in its directory
everything needed to translate again:

- ``translation.json`` — which model (``kind``) with which sizes (``args``), and the
  decoding settings the run used (beam size, length penalty, maximum length ``a·|src| + b``);
- ``preprocessing.json`` (+ ``spm-src.model``, ``spm-tgt.model`` for subwords) — tokenizers and
  vocabularies (:class:`divelab.data.parallel.Preprocessing`);
- ``checkpoint/`` — the trained weights (safetensors), as the Trainer wrote them.

::

    from divelab import translate
    translator = translate.load("runs/transformer")
    translator.translate(["In the beginning God created the heavens and the earth."])

The same module decodes a whole test set for the experiments (:func:`decode_sentences`):
sentences sorted by length and decoded in batches, greedy or beam search.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from divelab.data.parallel import Preprocessing
from divelab.errors import UserError
from divelab.eval.decode import beam_search, greedy_decode, max_len_for
from divelab.models.seq2seq import AttentionSeq2Seq, GRUSeq2Seq
from divelab.models.transformer import Transformer
from divelab.train import checkpoint

FILE = "translation.json"
MODEL_KINDS: dict[str, type[nn.Module]] = {"gru": GRUSeq2Seq, "attention": AttentionSeq2Seq,
                                           "transformer": Transformer}


def build_model(kind: str, src_vocab: int, tgt_vocab: int, args: dict[str, Any]) -> nn.Module:
    """A fresh model of ``kind`` (``gru``, ``attention``, ``transformer``) with keyword ``args``."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind](src_vocab, tgt_vocab, **args)


@dataclass(frozen=True)
class DecodeSettings:
    """How to search: ``beam_size`` (1 = greedy), ``length_penalty`` α, max length ``⌊a·src_len + b⌋``."""

    beam_size: int = 4
    length_penalty: float = 1.0
    max_len_a: float = 1.5
    max_len_b: float = 10.0
    batch_size: int = 64


def _decode_batch(model: nn.Module, src: Tensor, src_len: Tensor, prep: Preprocessing, beam_size: int,
                  settings: DecodeSettings) -> list[list[int]]:
    """Token ids (no bos/eos) of one batch: greedy for ``beam_size == 1``, else the best beam hypothesis."""
    if beam_size == 1:
        limit = max_len_for(src_len, settings.max_len_a, settings.max_len_b)
        return greedy_decode(model, src, src_len, bos=prep.bos, eos=prep.eos, max_len=limit)
    hyps = beam_search(model, src, src_len, bos=prep.bos, eos=prep.eos, beam_size=beam_size,
                       max_len_a=settings.max_len_a, max_len_b=settings.max_len_b,
                       length_penalty=settings.length_penalty)
    return [h[0].tokens if h else [] for h in hyps]


@torch.no_grad()
def decode_ids(model: nn.Module, src: Tensor, src_len: Tensor, prep: Preprocessing, beam_size: int,
               settings: DecodeSettings = DecodeSettings()) -> list[list[int]]:
    """Decode every row of ``src`` (N, S): sorted by source length, ``settings.batch_size`` at a
    time, each batch cut to its longest source; results in the original order."""
    model.eval()
    order = torch.argsort(src_len.cpu(), stable=True).tolist()
    out: list[list[int]] = [[] for _ in order]
    for start in range(0, len(order), settings.batch_size):
        idx = torch.tensor(order[start:start + settings.batch_size], device=src.device)
        lengths = src_len[idx]
        tokens = _decode_batch(model, src[idx, :int(lengths.max())], lengths, prep, beam_size, settings)
        for i, ids in zip(idx.tolist(), tokens):
            out[i] = ids
    return out


def decode_sentences(model: nn.Module, sentences: Sequence[str], prep: Preprocessing, beam_size: int,
                     settings: DecodeSettings = DecodeSettings(), device: torch.device | str = "cpu") -> list[str]:
    """Detokenised translations of raw source ``sentences`` (see :func:`decode_ids`)."""
    if not sentences:
        return []
    src, src_len = prep.encode_source(list(sentences))
    ids = decode_ids(model, src.to(device), src_len.to(device), prep, beam_size, settings)
    return [prep.decode_target(tokens) for tokens in ids]


class Translator:
    """A trained model with its preprocessing: raw sentences in, detokenised translations out."""

    def __init__(self, model: nn.Module, prep: Preprocessing, settings: DecodeSettings, kind: str = ""):
        self.model, self.prep, self.settings, self.kind = model.eval(), prep, settings, kind

    def translate(self, sentences: Sequence[str], beam_size: int | None = None) -> list[str]:
        """One translation per sentence (beam search with the run's beam size by default; 1 = greedy).

        Sources longer than the run's ``num_steps`` tokens are cut there, as in training.
        """
        beam = self.settings.beam_size if beam_size is None else beam_size
        if beam < 1:
            raise UserError(f"beam size must be ≥ 1, got {beam}")
        device = next(self.model.parameters()).device
        return decode_sentences(self.model, list(sentences), self.prep, beam, self.settings, device)


def save(directory: Path, kind: str, args: dict[str, Any], settings: DecodeSettings) -> None:
    """Write ``translation.json`` (the model's kind and sizes, the decoding settings) to a run directory."""
    checkpoint.atomic_write_json(directory / FILE, {"kind": kind, "args": args, "decode": settings.__dict__})


def _not_a_run(directory: Path, why: str) -> UserError:
    return UserError(f"{directory} is not a finished translation run ({why}); "
                     "train one with 'divelab run transformer' (or seq2seq, seq2seq-attention)")


def load(run_dir: str | Path, device: str | torch.device = "cpu") -> Translator:
    """The :class:`Translator` of a finished translation run (a :class:`UserError` with one line otherwise)."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise _not_a_run(directory, "no such directory")
    if not (directory / "summary.json").is_file():
        unfinished = checkpoint.find(directory) is not None
        raise _not_a_run(directory, "it has not finished; continue it with --resume" if unfinished
                         else "no summary.json")
    try:
        record = json.loads((directory / FILE).read_text(encoding="utf-8"))
        kind, args, settings = record["kind"], dict(record["args"]), DecodeSettings(**record["decode"])
    except FileNotFoundError:
        raise _not_a_run(directory, f"no {FILE}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _not_a_run(directory, f"unreadable {FILE}: {exc}") from None
    prep = Preprocessing.load(directory)
    found = checkpoint.find(directory)
    if found is None:
        raise _not_a_run(directory, "no checkpoint with the trained weights")
    try:
        model = build_model(kind, len(prep.src_vocab), len(prep.tgt_vocab), args)
        model.load_state_dict(checkpoint.load(found)["model"])
    except (ValueError, RuntimeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _not_a_run(directory, f"its weights do not fit its model: {first}") from None
    return Translator(model.to(device), prep, settings, kind)
