"""What the language-model experiments share with each other and with ``char-transformer``:
the fixed prefixes and temperatures of ``samples.txt``, the text check, the tokenised corpus
and its loaders, the per-epoch perplexity and bits, the final held-out metrics and speed, and
the run files ``vocab.json``, ``samples.txt`` (and ``pieces.model`` for subword pieces).

Levels: ``char`` (every character a token), ``word`` (:func:`~divelab.data.vocab.tokenize`;
bits are per word) and ``bpe`` (:class:`~divelab.data.text_pieces.TextPieces`, learnt on the
training text; bits are per character: the bits of the pieces over the characters they spell,
``chars_per_token`` of each split converts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from divelab.analysis.flops import recurrent_macs
from divelab.data.sequence import SequenceLoader
from divelab.data.text import Corpus, load_corpus
from divelab.data.text_pieces import TextPieces
from divelab.data.vocab import Vocab, tokenize
from divelab.errors import UserError
from divelab.experiment import RunContext
from divelab.files import atomic_write_bytes, atomic_write_json
from divelab.models.rnn_lm import RNNLM, bits_per_token, perplexity, sequence_cross_entropy
from divelab.train import evaluate

PREFIXES = ("In the beginning", "And Jesus said", "Blessed are")
TEMPERATURES = (0.0, 0.5, 1.0)  # 0 = greedy


def check_text(text: str) -> None:
    """Reject an empty ``text`` setting (``web``, ``kjv`` or a file path) before anything is loaded."""
    if not text.strip():
        raise UserError("text must be web, kjv or the path of a UTF-8 text file; got an empty string")


@dataclass
class LMData:
    """The tokenised corpus of a language-model run and its loaders.

    ``chars_per_token``: characters per token of the ``"train"`` and ``"test"`` text (1 at
    char level, empty at word level, where bits stay per word); ``pieces``: the subword model
    at ``bpe`` level.
    """

    corpus: Corpus
    vocab: Vocab
    train: SequenceLoader
    test: SequenceLoader
    train_text: str
    level: str = "char"
    chars_per_token: dict[str, float] = field(default_factory=dict)
    pieces: TextPieces | None = None

    def split(self, text: str) -> list[str]:
        """``text`` as this run's tokens."""
        return self.pieces.split(text) if self.pieces is not None else tokenize(text, self.level)  # type: ignore[arg-type]

    def join(self, tokens: list[str]) -> str:
        """Tokens back to text (words joined by spaces, which loses the original spacing)."""
        if self.pieces is not None:
            return self.pieces.join(tokens)
        return ("" if self.level == "char" else " ").join(tokens)

    def bits(self, loss: float, split: str) -> float:
        """Bits per character of ``split`` for a mean loss in nats per token (per word at word level)."""
        return bits_per_token(loss) / self.chars_per_token.get(split, 1.0)


def prepare(cfg: Any, device: torch.device) -> LMData:
    """Load and tokenise the text, build the vocabulary on the training part, make the loaders.

    ``cfg`` is any language-model config: its ``text``, ``level``, ``min_freq``, ``max_chars``,
    ``batch_size``, ``num_steps``, ``partition`` and ``seed`` are read.

    The test loader is sequential (the state carried through each row) with ``batch_size``
    rows, or fewer if the test text is too short for that many.
    """
    corpus = load_corpus(cfg.text)
    train_text = corpus.train[:cfg.max_chars] if cfg.max_chars else corpus.train
    pieces = TextPieces.train(train_text, cfg.vocab_size) if cfg.level == "bpe" else None
    tokens = pieces.split(train_text) if pieces is not None else tokenize(train_text, cfg.level)
    vocab = Vocab(tokens, min_freq=cfg.min_freq, reserved=pieces.pieces() if pieces is not None else ())
    test_tokens = pieces.split(corpus.test) if pieces is not None else tokenize(corpus.test, cfg.level)
    test_ids = vocab.encode(test_tokens)
    # a short test text is read in fewer (longer) rows: one batch needs T·(B + 1) tokens
    test_batch = max(1, min(cfg.batch_size, len(test_ids) // cfg.num_steps - 1))
    loaders = []
    for split, ids, batch_size, partition in (("training", vocab.encode(tokens), cfg.batch_size, cfg.partition),
                                              ("test", test_ids, test_batch, "sequential")):
        try:
            loaders.append(SequenceLoader(ids, batch_size, cfg.num_steps, partition, seed=cfg.seed, device=device))
        except ValueError as exc:
            raise UserError(f"the {split} text of {corpus.name!r} ({len(ids):,} {cfg.level} tokens) is too short "
                            f"for one batch of batch_size × num_steps = {batch_size} × {cfg.num_steps} "
                            f"({exc}); lower them or use a longer text") from None
    chars_per_token = {} if cfg.level == "word" else {
        "train": len(train_text) / max(1, len(tokens)), "test": len(corpus.test) / max(1, len(test_tokens))}
    return LMData(corpus, vocab, loaders[0], loaders[1], train_text, cfg.level, chars_per_token, pieces)


def bits_recorder(data: LMData) -> Callable[[Any, dict[str, Any]], None]:
    """An :class:`EpochEnd` hook adding perplexity (per token) and bits per character (per word
    at word level) to an epoch's record."""
    def add_bits(trainer: Any, record: dict[str, Any]) -> None:
        record["train_bpc"] = data.bits(record["train_loss"], "train")
        if "test_loss" in record:
            record["test_ppl"] = perplexity(record["test_loss"])
            record["test_bpc"] = data.bits(record["test_loss"], "test")
    return add_bits


CELL_GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight matrices per layer: tanh cell, GRU's 3 gates, LSTM's 4


def macs_per_token(model: RNNLM) -> int:
    """Multiply–accumulates per token of the model's recurrent layers and head (the same for its scratch
    and library versions; an embedding is a lookup, a one-hot input is counted as the product it is)."""
    inputs = model.embedding.embedding_dim if model.embedding is not None else model.vocab_size
    directions = 2 if model.bidirectional else 1
    return (recurrent_macs(CELL_GATES[model.cell], inputs, model.hidden_size, model.num_layers, model.bidirectional)
            + directions * model.hidden_size * model.vocab_size)


def final_metrics(ctx: RunContext, model: torch.nn.Module, data: LMData, cfg: Any,
                  history: list[dict[str, Any]], macs: int | None = None) -> dict[str, Any]:
    """Held-out loss, perplexity and bits per token after training, the last epoch's training bits,
    and the training speed (tokens per second of the batch loops, and the model FLOP utilisation
    from ``macs`` per token, by default :func:`macs_per_token` of a recurrent model)."""
    macs = macs_per_token(model) if macs is None else macs
    test_loss = history[-1]["test_loss"] if history else \
        evaluate(model, data.test, sequence_cross_entropy, classification=False)["loss"]
    tokens_per_epoch = data.train.num_samples * cfg.num_steps
    train_seconds = sum(r["train_seconds"] for r in history)
    held_out = {"perplexity": perplexity(test_loss)}  # the run-directory contract's names (DESIGN.md)
    if data.chars_per_token:
        held_out["bits_per_char"] = data.bits(test_loss, "test")
    speed = ctx.utilisation(macs, len(history) * tokens_per_epoch, train_seconds)
    tokens_per_s = len(history) * tokens_per_epoch / train_seconds if train_seconds > 0 else None
    if data.pieces is not None:
        held_out["bits_per_token"] = bits_per_token(test_loss)
        held_out["chars_per_s"] = tokens_per_s and tokens_per_s * data.chars_per_token["train"]
    return {"test_loss": test_loss, "test_ppl": perplexity(test_loss), "test_bpc": data.bits(test_loss, "test"),
            **held_out, "train_bpc": history[-1]["train_bpc"] if history else None,
            "tokens_per_s": tokens_per_s, "epochs_done": len(history), "macs_per_token": macs, **speed}


def samples_text(runs: dict[str, dict[str, dict[str, str]]]) -> str:
    """The text of ``samples.txt``: ``{label: {prefix: {how: text}}}``, one headed block per label and prefix."""
    lines = []
    for label, by_prefix in runs.items():
        for prefix, texts in by_prefix.items():
            lines.append(f"=== {label}{': ' if label else ''}{prefix!r} ===")
            lines += [f"[{how}] {text}" for how, text in texts.items()] + [""]
    return "\n".join(lines)


def write_run_files(ctx: RunContext, data: LMData, text: str) -> None:
    """Write ``vocab.json`` and ``samples.txt`` (``text``) into the run directory, from process 0 only."""
    ctx.open()
    if not ctx.world.is_main:  # process 0 alone writes the run's files
        return
    atomic_write_json(ctx.out_dir / "vocab.json", data.vocab.state_dict())
    if data.pieces is not None:
        data.pieces.save(ctx.out_dir / "pieces.model")
    atomic_write_bytes(ctx.out_dir / "samples.txt", text.encode())
