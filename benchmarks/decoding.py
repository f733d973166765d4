"""Decoding speed of the Transformer: greedy vs beam search (size 4), with and without the key/value cache.

The model is the issue's full-size Transformer (d_model 256, 3 + 3 layers, 4 heads, FFN 1024)
at its random initialisation — speed does not depend on training — over the test set's
source sentences (the English→Spanish verses, BPE subwords; ``$DIVELAB_PAIRS`` replaces
them). So that every configuration does the same work, the end-of-sentence token is
forbidden (its log-probability set to −∞): every sentence is decoded to exactly
``--max-len`` tokens, greedy and beam alike.

Four configurations, each timed ``--repeats`` times (median reported), the sentences
sorted by source length and decoded ``--batch`` at a time:

``greedy_cache``, ``greedy_nocache``, ``beam4_cache``, ``beam4_nocache``

``sentences_per_s`` per configuration, and the ratios ``cache_speedup_greedy``/``_beam``
(cached / uncached) and ``beam_vs_greedy`` (beam / greedy, with the cache). Without the
cache, step ``t`` runs the decoder over the whole prefix (O(t²) attention work per step,
O(t) for the projections and FFN); with it, over one position.

Run it with::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decoding.py [--sentences 1000] [--max-len 40]
        [--batch 100] [--beam 4] [--repeats 1] [--threads N] [--device cpu]

On one busy CPU thread, 100 sentences of 30 tokens took 4.7 s greedy and 7.1 s beam with the
cache, 13 s and 62 s without: the uncached beam search over all 1,000 test sentences takes
about 10 minutes (``--sentences 200`` for a quicker look).

Progress lines go to stderr; stdout gets ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import torch
from torch import Tensor, nn

from divelab import machine
from divelab.data.parallel import load_pairs, translation_data
from divelab.models.transformer import Transformer
from divelab.translate import DecodeSettings, decode_ids

FULL = {"d_model": 256, "nhead": 4, "num_encoder_layers": 3, "num_decoder_layers": 3, "dim_feedforward": 1024,
        "dropout": 0.1}


class NoEos(nn.Module):
    """Wraps a model so that its ``step`` never proposes ``eos``: every hypothesis runs to the maximum length."""

    def __init__(self, model: nn.Module, eos: int):
        super().__init__()
        self.model, self.eos = model, eos

    def encode(self, src: Tensor, src_len: Tensor) -> Any:
        return self.model.encode(src, src_len)

    def step(self, prev: Tensor, state: Any) -> tuple[Tensor, Any]:
        log_probs, state = self.model.step(prev, state)
        return log_probs.index_fill(1, torch.tensor([self.eos], device=log_probs.device), -torch.inf), state


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=1000, help="test sentences decoded (default 1000: all)")
    parser.add_argument("--max-len", type=int, default=40, help="tokens decoded per sentence (default 40)")
    parser.add_argument("--batch", type=int, default=100, help="sentences per decoder call (default 100)")
    parser.add_argument("--beam", type=int, default=4, help="beam size (default 4)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (default 1)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="BPE pieces per language (default 8000)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if min(args.sentences, args.max_len, args.batch, args.beam, args.repeats) < 1:
        parser.error("--sentences, --max-len, --batch, --beam and --repeats must be ≥ 1")
    return args


def _agreement(a: list[list[int]], b: list[list[int]]) -> float:
    """The share of sentences decoded to the same tokens both ways."""
    return sum(x == y for x, y in zip(a, b)) / max(len(a), 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = load_pairs("bible")
    with tempfile.TemporaryDirectory() as directory:
        data = translation_data(corpus, "bpe", args.vocab_size, num_steps=80, directory=directory)
    src, src_len = data.test.src[:args.sentences].to(args.device), data.test.src_len[:args.sentences].to(args.device)
    torch.manual_seed(0)
    model = Transformer(len(data.src_vocab), len(data.tgt_vocab), **FULL).to(args.device).eval()
    wrapped = NoEos(model, data.eos)
    settings = DecodeSettings(args.beam, 1.0, 0.0, float(args.max_len), args.batch)
    results: dict[str, Any] = {}
    outputs: dict[str, list[list[int]]] = {}
    for name, beam, cache in (("greedy_cache", 1, True), ("greedy_nocache", 1, False),
                              ("beam_cache", args.beam, True), ("beam_nocache", args.beam, False)):
        model.use_cache = cache
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            outputs[name] = decode_ids(wrapped, src, src_len, data.prep, beam, settings)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        results[name] = {"seconds": seconds, "all_seconds": times, "sentences_per_s": len(src) / seconds}
        log(f"{name}: {len(src) / seconds:.1f} sentences/s")
    speed = {k: v["sentences_per_s"] for k, v in results.items()}
    return {
        "benchmark": "decoding", "model": FULL, "parameters": sum(p.numel() for p in model.parameters()),
        "sentences": len(src), "tokens_per_sentence": args.max_len, "batch": args.batch, "beam_size": args.beam,
        "results": results,
        "cache_speedup_greedy": speed["greedy_cache"] / speed["greedy_nocache"],
        "cache_speedup_beam": speed["beam_cache"] / speed["beam_nocache"],
        "beam_vs_greedy": speed["beam_cache"] / speed["greedy_cache"],
        # float32 sums grouped differently: a near-tie may rarely flip; expect (almost) 1.0
        "same_output_share_greedy": _agreement(outputs["greedy_cache"], outputs["greedy_nocache"]),
        "same_output_share_beam": _agreement(outputs["beam_cache"], outputs["beam_nocache"]),
        "device": args.device, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "machine": machine.facts(args.device), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
