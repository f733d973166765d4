"""Training throughput of the translation models, in target tokens per second, side by side.

Each model — ``seq2seq`` (GRU encoder–decoder), ``seq2seq-attention`` (Bahdanau) and
``transformer`` — is built at the size given by ``--preset`` (``default``: the experiments'
defaults, see :mod:`divelab.experiments.translation`; ``large``: a Transformer of d_model 256
with 3 + 3 layers and FFN 1024, GRUs of 512 units) and trained
the way the experiments train it (Adam, the masked label-smoothed cross-entropy, gradient
clipping at norm 1) on the training verses (BPE subwords, batches of similar length;
``$DIVELAB_PAIRS`` replaces the Bible). After ``--warmup`` uncounted batches, the next
``--batches`` batches are timed; the models take turns batch by batch (the same batches,
in the same order), so that drift in the machine's speed hits all alike.

``tokens_per_s``: target tokens (``<eos>`` included, padding not) per second of
forward + backward + update; ``padded_tokens_per_s`` counts the padding too (the work done).

Run it with::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/translation_throughput.py [--preset default|large]
        [--batches 20] [--warmup 2] [--batch-size 64] [--models seq2seq,transformer] [--threads N]

Progress lines go to stderr; stdout gets ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import torch

from divelab import machine
from divelab.data.parallel import load_pairs, translation_data
from divelab.experiments.translation import RNNTranslationConfig, TransformerTranslationConfig
from divelab.models.seq2seq import TranslationLoss
from divelab.translate import build_model

KINDS = {"seq2seq": "gru", "seq2seq-attention": "attention", "transformer": "transformer"}
LARGE = {"seq2seq": {"embed_size": 256, "num_hiddens": 512, "num_layers": 2, "dropout": 0.2},
         "seq2seq-attention": {"embed_size": 256, "num_hiddens": 512, "num_layers": 2, "dropout": 0.2},
         "transformer": {"d_model": 256, "nhead": 4, "num_encoder_layers": 3, "num_decoder_layers": 3,
                         "dim_feedforward": 1024, "dropout": 0.1, "norm_first": False, "tie_output": True}}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_args(name: str, preset: str) -> dict[str, Any]:
    if preset == "large":
        return LARGE[name]
    config = TransformerTranslationConfig() if name == "transformer" else RNNTranslationConfig()
    return config.model_args()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=["default", "large"], default="default")
    parser.add_argument("--models", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    parser.add_argument("--batches", type=int, default=20, help="timed batches per model (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted batches per model first (default 2)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentence pairs per batch (default 64)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="BPE pieces per language (default 8000)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or any(m not in KINDS for m in args.models):
        parser.error(f"--models must list some of {', '.join(KINDS)}")
    if args.batches < 1 or args.warmup < 0:
        parser.error("--batches must be ≥ 1 and --warmup ≥ 0")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as directory:
        data = translation_data(load_pairs("bible"), "bpe", args.vocab_size, num_steps=80,
                                batch_size=args.batch_size, device=args.device, directory=directory)
    loss_fn = TranslationLoss(data.pad, 0.1)
    runs = {}
    for name in args.models:
        torch.manual_seed(0)
        model = build_model(KINDS[name], len(data.src_vocab), len(data.tgt_vocab),
                            model_args(name, args.preset)).to(args.device).train()
        runs[name] = {"model": model, "optimizer": torch.optim.Adam(model.parameters(), lr=1e-4),
                      "seconds": 0.0, "tokens": 0, "padded": 0}
    for i, (x, y) in enumerate(data.train_loader.batches(1)):
        if i >= args.warmup + args.batches:
            break
        for name, run in runs.items():
            start = time.perf_counter()
            loss = loss_fn(run["model"](x), y)
            run["optimizer"].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run["model"].parameters(), 1.0)
            run["optimizer"].step()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if i >= args.warmup:
                run["seconds"] += time.perf_counter() - start
                run["tokens"] += int((y != data.pad).sum())
                run["padded"] += y.numel()
        log(f"batch {i + 1}/{args.warmup + args.batches}")
    results = {name: {"tokens_per_s": run["tokens"] / run["seconds"],
                      "padded_tokens_per_s": run["padded"] / run["seconds"],
                      "seconds": run["seconds"], "target_tokens": run["tokens"],
                      "parameters": sum(p.numel() for p in run["model"].parameters()),
                      "args": model_args(name, args.preset)} for name, run in runs.items()}
    return {"benchmark": "translation_throughput", "preset": args.preset, "batch_size": args.batch_size,
            "batches": args.batches, "src_vocab": len(data.src_vocab), "tgt_vocab": len(data.tgt_vocab),
            "train_target_tokens_per_epoch": int(data.train.tgt_len.sum()), "results": results,
            "device": args.device, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": machine.facts(args.device), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
