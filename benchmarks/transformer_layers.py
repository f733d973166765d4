"""Training speed of the translation Transformer on the hand-written layers against torch's kernels.

``scratch`` side: the ``transformer`` experiment's model with its layers swapped for the
hand-written :class:`~divelab.scratch.transformer.TransformerEncoderLayer` /
``TransformerDecoderLayer`` (layer norm, dropout and FFN by hand; the fused attention kept) and
the hand-written loss :func:`~divelab.models.seq2seq.masked_cross_entropy`. ``torch`` side: the
model as the experiment builds it (:mod:`divelab.models.transformer_layers`: ``nn.LayerNorm``,
``F.dropout``) with :class:`~divelab.models.seq2seq.TranslationLoss` (``F.cross_entropy``).
Both start from the same weights and train (Adam, clipping at norm 1) on the same training
batches of the Bible verses, taking turns batch by batch, so drifting machine load hits both
alike. ``loss_rel_diff`` compares the two losses on the first timed batch without dropout
(they compute the same function).

Run it with::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/transformer_layers.py [--batches 40] [--warmup 3]
        [--vocab-size 8000] [--device cpu]

Progress lines go to stderr; stdout gets ONE JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from divelab import machine
from divelab.data.parallel import load_pairs, translation_data
from divelab.experiments.translation import TransformerTranslationConfig
from divelab.models.attention import FusedMultiHeadAttention
from divelab.models.seq2seq import TranslationLoss, masked_cross_entropy
from divelab.models.transformer import Transformer
from divelab.scratch.transformer import TransformerDecoderLayer, TransformerEncoderLayer
from timing import log, run_alternating  # benchmarks/timing.py


def with_scratch_layers(model: Transformer, cfg: TransformerTranslationConfig) -> Transformer:
    """A copy of ``model`` whose layers are the hand-written ones, holding the same weights."""
    slow = copy.deepcopy(model)
    shape = (cfg.d_model, cfg.nhead, cfg.dim_feedforward, cfg.dropout, cfg.norm_first)
    for stack, cls in ((slow.encoder_layers, TransformerEncoderLayer), (slow.decoder_layers, TransformerDecoderLayer)):
        for i, layer in enumerate(stack):
            mine = cls(*shape, attention_layer=FusedMultiHeadAttention).to(layer.linear1.weight.device)
            mine.load_state_dict(layer.state_dict())
            stack[i] = mine
    return slow


def trainer_step(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor],
                 batches: list[tuple[Any, Tensor]]) -> Callable[[], float]:
    """A function that trains ``model`` on the next of ``batches`` each call and returns the loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    position = iter(range(len(batches)))

    def step() -> float:
        x, y = batches[next(position)]
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()
    return step


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="timed batches per side (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted batches per side first (default 3)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="BPE pieces per language (default 8000)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cfg = TransformerTranslationConfig(vocab_size=args.vocab_size)
    with tempfile.TemporaryDirectory() as directory:
        data = translation_data(load_pairs("bible"), "bpe", cfg.vocab_size, num_steps=cfg.num_steps,
                                batch_size=cfg.batch_size, device=device, directory=directory)
    batches = [b for _, b in zip(range(args.warmup + args.batches), data.train_loader.batches(1))]
    torch.manual_seed(0)
    fast = Transformer(len(data.src_vocab), len(data.tgt_vocab), **cfg.model_args()).to(device)
    slow = with_scratch_layers(fast, cfg)
    x, y = batches[args.warmup]
    fast.eval(), slow.eval()
    with torch.no_grad():
        want = masked_cross_entropy(slow(x), y, data.pad, cfg.label_smoothing)
        got = TranslationLoss(data.pad, cfg.label_smoothing)(fast(x), y)
    fast.train(), slow.train()
    sides = {"scratch": trainer_step(slow, lambda z, t: masked_cross_entropy(z, t, data.pad, cfg.label_smoothing),
                                     batches),
             "torch": trainer_step(fast, TranslationLoss(data.pad, cfg.label_smoothing), batches)}
    log(f"{args.warmup} + {args.batches} batches per side, taking turns")
    times, _ = run_alternating(sides, args.warmup, args.batches, device)
    tokens = sum(int((t != data.pad).sum()) for _, t in batches[args.warmup:])
    results = {name: {"seconds": sum(s), "tokens_per_s": tokens / sum(s)} for name, s in times.items()}
    return {"benchmark": "transformer_layers", "batches": args.batches, "batch_size": cfg.batch_size,
            "tgt_vocab": len(data.tgt_vocab), "target_tokens": tokens, "results": results,
            "speedup": results["torch"]["tokens_per_s"] / results["scratch"]["tokens_per_s"],
            "loss_rel_diff": abs(got.item() - want.item()) / abs(want.item()),
            "threads": torch.get_num_threads(), "machine": machine.facts(str(device))}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
