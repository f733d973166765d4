"""Tokens and vocabularies: text → tokens → integer ids and back (d2l §9.2).

``tokenize(text, "char")`` keeps every character (spaces and line breaks included), so the
characters join back into the text. ``tokenize(text, "word")`` lower-cases by default and
splits punctuation off as tokens of its own: ``"The LORD’s house."`` →
``["the", "lord’s", "house", "."]`` (an apostrophe between letters stays inside the word).
Whitespace is dropped, so words join back with ``" "`` only approximately.

:class:`Vocab` numbers the tokens: ``"<unk>"`` is 0, then the ``reserved`` tokens, then the
tokens seen at least ``min_freq`` times, most frequent first (ties alphabetically). Any
other token — rare, or never seen — encodes as ``<unk>``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

UNK = "<unk>"
# a word is letters/digits, possibly joined by apostrophes (don’t, king's); any other non-space is a token
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def tokenize(text: str, level: Literal["char", "word"], *, lower: bool = True) -> list[str]:
    """Characters of ``text``, or its words and punctuation marks (lower-cased unless ``lower=False``)."""
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text.lower() if lower else text)
    raise ValueError(f"level must be 'char' or 'word', got {level!r}")


class Vocab:
    """Token ↔ id mapping with a frequency cut-off, e.g. ``Vocab(tokenize(text, "char"))``.

    ``token_freqs`` lists every counted token (kept or cut) as ``(token, count)``, most
    frequent first — the data of a Zipf plot.
    """

    unk: int = 0

    def __init__(self, tokens: Iterable[str], min_freq: int = 1, reserved: Sequence[str] = ()):
        if min_freq < 1:
            raise ValueError(f"min_freq must be ≥ 1, got {min_freq}")
        counts = Counter(tokens)
        self.min_freq = min_freq
        self.token_freqs: list[tuple[str, int]] = sorted(counts.items(), key=lambda tc: (-tc[1], tc[0]))
        kept = [t for t, c in self.token_freqs if c >= min_freq]
        self._set_tokens([UNK, *reserved, *kept])

    def _set_tokens(self, tokens: Iterable[str]) -> None:
        self.idx_to_token: list[str] = list(dict.fromkeys(tokens))  # first place wins: no duplicates
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, token: str) -> int:
        return self.token_to_idx.get(token, self.unk)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_idx

    def encode(self, tokens: Iterable[str]) -> Tensor:
        """The ids of ``tokens`` as an int64 tensor (unknown tokens → ``unk``)."""
        ids = map(self.token_to_idx.get, tokens, repeat(self.unk))  # get(token, unk), in C: no Python loop
        return torch.from_numpy(np.fromiter(ids, dtype=np.int64))

    def decode(self, ids: Tensor | Iterable[int]) -> list[str]:
        """The tokens of ``ids`` (a tensor or a sequence of ints)."""
        values = ids.reshape(-1).tolist() if isinstance(ids, Tensor) else [int(i) for i in ids]
        bad = [i for i in values if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"id {bad[0]} is outside this vocabulary of {len(self)} tokens")
        return [self.idx_to_token[i] for i in values]

    def state_dict(self) -> dict[str, Any]:
        """A JSON-able description from which :meth:`from_state_dict` rebuilds this vocabulary."""
        return {"idx_to_token": list(self.idx_to_token), "min_freq": self.min_freq,
                "token_freqs": [[t, c] for t, c in self.token_freqs]}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Vocab:
        """The vocabulary saved by :meth:`state_dict` (ids unchanged)."""
        tokens = state["idx_to_token"]
        if not tokens or tokens[0] != UNK or len(set(tokens)) != len(tokens):
            raise ValueError(f"not a saved vocabulary: idx_to_token must start with {UNK!r} and have no repeats")
        vocab = cls.__new__(cls)
        vocab.min_freq = int(state.get("min_freq", 1))
        vocab.token_freqs = [(str(t), int(c)) for t, c in state.get("token_freqs", [])]
        vocab._set_tokens(tokens)
        return vocab

