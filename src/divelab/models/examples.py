"""Example inputs for the registered models: what one forward call of each kind of model takes.

A CNN's input is fixed by its ``input_size``; a language model, a tagger or a translation
model takes token ids whose range depends on its vocabulary. Each registered model
(:mod:`divelab.models.registry`) carries one of these so that code that knows nothing about
the family — the zoo tests, ``divelab list --models``, :func:`divelab.analysis.flops.count_call`
— can run it, count its cost and check the shape of what it returns:

    example = spec.example()
    out = model(*example.inputs(batch=4))
    assert out.shape == example.output_shape(4)

Inputs are drawn from a seeded generator (the same numbers every call) on the CPU, then
moved to ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor


class Example(Protocol):
    """The inputs a model takes for a batch of ``batch`` examples, and the shape of its output."""

    def inputs(self, batch: int = 1, device: torch.device | str | None = None) -> tuple[Tensor, ...]: ...

    def output_shape(self, batch: int = 1) -> tuple[int, ...]: ...

    def describe(self) -> str: ...


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_batch(batch: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")


@dataclass(frozen=True)
class ImageExample:
    """Images ``(N, channels, size, size)`` uniform in [0, 1) → logits ``(N, classes)``."""

    size: int
    channels: int = 1
    classes: int = 10

    def inputs(self, batch: int = 1, device: torch.device | str | None = None) -> tuple[Tensor, ...]:
        _check_batch(batch)
        x = torch.rand(batch, self.channels, self.size, self.size, generator=_generator())
        return (x.to(device),)

    def output_shape(self, batch: int = 1) -> tuple[int, ...]:
        return (batch, self.classes)

    def describe(self) -> str:
        return f"{self.channels}×{self.size}×{self.size} image"


@dataclass(frozen=True)
class VectorExample:
    """Feature vectors ``(N, features)`` uniform in [0, 1) → ``(N,)`` (``outputs=0``) or ``(N, outputs)``."""

    features: int
    outputs: int = 0

    def inputs(self, batch: int = 1, device: torch.device | str | None = None) -> tuple[Tensor, ...]:
        _check_batch(batch)
        return (torch.rand(batch, self.features, generator=_generator()).to(device),)

    def output_shape(self, batch: int = 1) -> tuple[int, ...]:
        return (batch, self.outputs) if self.outputs else (batch,)

    def describe(self) -> str:
        return f"{self.features} feature{'s' if self.features > 1 else ''}"


@dataclass(frozen=True)
class TokenExample:
    """Token ids ``(N, steps)`` drawn from ``low … vocab − 1`` → ``(N, steps, outputs)``.

    ``low`` keeps special ids out (a tagger reads id 1 as padding, and a sentence of padding is
    refused); ``outputs`` is the vocabulary for a language model, the number of tags for a tagger.
    """

    vocab: int
    steps: int
    outputs: int
    low: int = 0

    def inputs(self, batch: int = 1, device: torch.device | str | None = None) -> tuple[Tensor, ...]:
        _check_batch(batch)
        return (torch.randint(self.low, self.vocab, (batch, self.steps), generator=_generator()).to(device),)

    def output_shape(self, batch: int = 1) -> tuple[int, ...]:
        return (batch, self.steps, self.outputs)

    def describe(self) -> str:
        return f"{self.steps} tokens"


@dataclass(frozen=True)
class TranslationExample:
    """``(src (N, src_steps), src_len (N,), tgt_in (N, tgt_steps))`` → logits ``(N, tgt_steps, tgt_vocab)``.

    The source lengths run from ``src_steps`` down (at least 1), so the padding paths are exercised.
    """

    src_vocab: int
    tgt_vocab: int
    src_steps: int
    tgt_steps: int

    def inputs(self, batch: int = 1, device: torch.device | str | None = None) -> tuple[Tensor, ...]:
        _check_batch(batch)
        g = _generator()
        src = torch.randint(0, self.src_vocab, (batch, self.src_steps), generator=g)
        src_len = (self.src_steps - torch.arange(batch)).clamp(min=1)  # (N,): S, S − 1, …, 1, 1
        tgt_in = torch.randint(0, self.tgt_vocab, (batch, self.tgt_steps), generator=g)
        return src.to(device), src_len.to(device), tgt_in.to(device)

    def output_shape(self, batch: int = 1) -> tuple[int, ...]:
        return (batch, self.tgt_steps, self.tgt_vocab)

    def describe(self) -> str:
        return f"{self.src_steps} → {self.tgt_steps} tokens"
