"""Chapter 7 — the parallel corpus behind every translation experiment (d2l §10.5).

``mt-data`` prepares English→Spanish Bible verses (or your ``--set pairs=FILE``) the way
the translation models see them and reports what that does to the text:

- the pairs: how many per split, and for the Bible how many verses the alignment dropped
  and why (:func:`divelab.data.parallel.align_verses`); how many test sources also occur,
  word for word, in the training pairs (the Bible repeats itself: "Yahweh spoke to Moses,
  saying,");
- word tokens (normalised, punctuation split off, lower-cased unless ``lower=false``) against
  SentencePiece subwords (``subword`` = ``bpe`` or ``unigram``, ``vocab_size`` pieces per
  language, trained on the training pairs only): tokens per sentence, vocabulary sizes, the
  share of test tokens that become ``<unk>``, the share of sentences cut at ``num_steps``;
- the course's length histogram (tokens per sentence, source against target) and a few
  test pairs with their tokens and their padded id arrays.

Nothing is trained; it takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from divelab.config import RunConfig, setting
from divelab.data.parallel import PairCorpus, TranslationData, load_pairs, translation_data
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure

MAX_EXAMPLE_WORDS = 20


@dataclass
class MTDataConfig(RunConfig):
    """``pairs``: ``bible`` (WEB → RV1909 verses; ``$DIVELAB_PAIRS`` replaces it) or a
    tab-separated pairs file (``fra.txt`` format). ``lower``: lower-case the text.
    ``min_freq``: words seen fewer times in the training pairs become ``<unk>``.
    ``num_steps``: the length sentences are cut or padded to. ``subword``/``vocab_size``: the
    SentencePiece model compared with word tokens (pieces per language). ``examples``: test
    pairs shown. Nothing is trained: ``epochs``, ``lr`` and ``batch_size`` are unused."""

    pairs: str = "bible"
    lower: bool = True
    min_freq: int = setting(2, ge=1)
    num_steps: int = setting(64, ge=2)
    subword: Literal["bpe", "unigram"] = "bpe"
    vocab_size: int = setting(8000, ge=8, le=1_000_000)
    examples: int = setting(3, ge=0)

    def validate(self) -> None:
        super().validate()
        if not self.pairs.strip():
            raise UserError("pairs must be bible or the path of a tab-separated pairs file; got an empty string")


def unk_rate(token_lists: Sequence[Sequence[str]], vocab: Any) -> float:
    """The share of tokens that ``vocab`` does not hold (they encode as ``<unk>``); 0 for no tokens."""
    total = sum(len(tokens) for tokens in token_lists)
    unknown = sum(token not in vocab for tokens in token_lists for token in tokens)
    return unknown / total if total else 0.0


def truncation_rate(lengths: Sequence[int], num_steps: int) -> float:
    """The share of sentences whose tokens plus ``<eos>`` do not fit in ``num_steps``."""
    return sum(n + 1 > num_steps for n in lengths) / len(lengths) if lengths else 0.0


def _side_stats(name: str, counts: Tensor, test_tokens: list[list[str]], vocab: Any, num_steps: int,
                ) -> dict[str, Any]:
    """Statistics of one side (``src_word``, ``tgt_subword``…): training token counts, the test ``<unk>`` rate."""
    lengths = counts.tolist()
    return {f"train_tokens_{name}": sum(lengths), f"mean_len_{name}": sum(lengths) / max(len(lengths), 1),
            f"max_len_{name}": max(lengths, default=0), f"vocab_{name}": len(vocab),
            f"test_unk_rate_{name}": unk_rate(test_tokens, vocab),
            f"truncation_rate_{name}": truncation_rate(lengths, num_steps)}


def _examples(corpus: PairCorpus, word: TranslationData, sub: TranslationData, count: int) -> list[dict[str, Any]]:
    """The first ``count`` test pairs of at most MAX_EXAMPLE_WORDS source words: text, tokens, id arrays."""
    chosen = [i for i, (s, _) in enumerate(corpus.test)
              if len(word.prep.src_tokenizer.encode(s)) <= MAX_EXAMPLE_WORDS][:count]
    records = []
    for i in chosen:
        source, target = corpus.test[i]
        records.append({
            "source": source, "target": target,
            "source_words": word.prep.src_tokenizer.encode(source),
            "target_words": word.prep.tgt_tokenizer.encode(target),
            "source_pieces": sub.prep.src_tokenizer.encode(source),
            "target_pieces": sub.prep.tgt_tokenizer.encode(target),
            "src_ids": word.test.src[i].tolist(), "src_len": int(word.test.src_len[i]),
            "tgt_in_ids": word.test.tgt_in[i].tolist(), "tgt_out_ids": word.test.tgt_out[i].tolist(),
            "tgt_len": int(word.test.tgt_len[i]),
            "reference": word.test_ref[i], "decoded_target": word.prep.decode_target(word.test.tgt_out[i]),
        })
    return records


def _overlap(corpus: PairCorpus) -> dict[str, float]:
    """Shares of test pairs whose source (or whole pair) occurs verbatim among the training pairs."""
    sources, pairs = {s for s, _ in corpus.train}, set(corpus.train)
    n = max(len(corpus.test), 1)
    return {"test_src_in_train": sum(s in sources for s, _ in corpus.test) / n,
            "test_pair_in_train": sum(p in pairs for p in corpus.test) / n}


def _length_figure(ctx: RunContext, lengths: dict[str, tuple[list[int], list[int]]], num_steps: int) -> None:
    """d2l's histogram of tokens per sentence, source beside target, one panel per tokenizer."""
    fig, axes = new_figure(ncols=len(lengths), size=(4.8, 3.4))
    for ax, (kind, (src, tgt)) in zip(axes[0], lengths.items()):
        top = max(max(src, default=1), max(tgt, default=1))
        bins = range(0, top + 3, max(1, (top + 2) // 40))
        ax.hist([src, tgt], bins=list(bins), label=["source (English)", "target (Spanish)"]
                if ctx.config.pairs == "bible" else ["source", "target"])
        ax.axvline(num_steps - 1, color="black", linestyle="--", linewidth=1,
                   label=f"longer ones are cut (num_steps {num_steps})")
        ax.set(xlabel=f"# {kind} tokens per sentence", ylabel="count", title=f"{kind} tokens, training pairs")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ctx.save_figure(fig, "lengths")


def mt_data(cfg: MTDataConfig, ctx: RunContext) -> dict[str, Any]:
    corpus = load_pairs(cfg.pairs)
    ctx.open()  # the subword models are written to the run directory
    word = translation_data(corpus, "word", min_freq=cfg.min_freq, num_steps=cfg.num_steps, lower=cfg.lower)
    sub = translation_data(corpus, cfg.subword, vocab_size=cfg.vocab_size, num_steps=cfg.num_steps,
                           lower=cfg.lower, directory=ctx.out_dir)
    summary: dict[str, Any] = {"pairs": corpus.source, "pairs_train": len(corpus.train),
                               "pairs_val": len(corpus.val), "pairs_test": len(corpus.test),
                               **{f"align_{k}": v for k, v in corpus.stats.items()}, **_overlap(corpus)}
    lengths = {}
    for kind, data in (("word", word), (cfg.subword, sub)):
        label = "word" if kind == "word" else "subword"
        sides = (("src", 0, data.prep.src_tokenizer, data.src_vocab, data.train.src_count),
                 ("tgt", 1, data.prep.tgt_tokenizer, data.tgt_vocab, data.train.tgt_count))
        for side, index, tokenizer, vocab, counts in sides:
            test_tokens = [tokenizer.encode(pair[index]) for pair in corpus.test]
            summary.update(_side_stats(f"{side}_{label}", counts, test_tokens, vocab, cfg.num_steps))
        lengths[kind] = (data.train.src_count.tolist(), data.train.tgt_count.tolist())
    summary["vocab_src_word_all"] = len(word.src_vocab.token_freqs) + 4  # no frequency cut-off
    summary["vocab_tgt_word_all"] = len(word.tgt_vocab.token_freqs) + 4
    summary["reserved"] = word.tgt_vocab.idx_to_token[:4]
    summary["tensor_shapes"] = {"src": list(word.train.src.shape), "tgt_in": list(word.train.tgt_in.shape)}
    summary["subword_models"] = [p.name for p in sorted(ctx.out_dir.glob("spm-*.model"))]
    summary["examples"] = _examples(corpus, word, sub, cfg.examples)
    _length_figure(ctx, lengths, cfg.num_steps)
    return summary


EXPERIMENTS = [
    Experiment("mt-data", "translation",
               "the English→Spanish verse pairs: alignment, normalisation, word vs subword tokens, vocabularies "
               "with <unk> <pad> <bos> <eos>, truncation/padding, valid lengths; length histogram",
               MTDataConfig, mt_data,
               headline=("pairs_train", "vocab_tgt_word", "vocab_tgt_subword", "test_unk_rate_tgt_word",
                         "test_unk_rate_tgt_subword", "truncation_rate_src_word")),
]
