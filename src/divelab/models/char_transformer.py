"""A decoder-only Transformer language model over characters (GPT-style; d2l §11.9, Radford et al. 2018).

    h₀ = E[x] + P[0 … T−1]               token and learned position embeddings, (B, T, d)
    h ← h + SA(LN₁(h)),  h ← h + FFN(LN₂(h))   num_layers times, causal self-attention (pre-norm)
    logits = LN(h) Eᵀ + b                 the output projection tied to the embedding

Built from the project's own pre-norm encoder layer
(:class:`divelab.models.transformer_layers.EncoderLayer`: the hand-written layer of
:mod:`divelab.scratch.transformer` on torch's kernels, as the translation
:class:`~divelab.models.transformer.Transformer`)
with a causal mask, so position ``t`` attends to ``0 … t`` only and the logits at ``t`` predict
token ``t + 1``. ``context`` is the longest sequence it takes (the size of the position table).
The embedding is drawn from ``N(0, 0.02²)`` as in GPT-2; the tied output layer needs no extra
``V·d`` parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from divelab.models.transformer_layers import EncoderLayer


class CharTransformer(nn.Module):
    """``num_layers`` causal pre-norm Transformer layers of width ``d_model`` over ``vocab_size`` tokens.

    ``forward(x)``: token ids ``(B, T)`` with ``T ≤ context`` → logits ``(B, T, vocab_size)``.
    """

    def __init__(self, vocab_size: int, d_model: int = 256, nhead: int = 4, num_layers: int = 4,
                 dim_feedforward: int = 1024, dropout: float = 0.0, context: int = 128):
        super().__init__()
        if min(vocab_size, num_layers, context) < 1:
            raise ValueError(f"vocab_size, num_layers and context must be ≥ 1, got {vocab_size}, {num_layers}, "
                             f"{context}")
        self.vocab_size, self.context = vocab_size, context
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(context, d_model)
        for table in (self.embedding, self.positions):
            nn.init.normal_(table.weight, std=0.02)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, nhead, dim_feedforward, dropout, norm_first=True)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.head.weight = self.embedding.weight  # tied: logits = LN(h) Eᵀ + b
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.is_floating_point():
            raise ValueError(f"x must be integer token ids of shape (B, T), got {x.dtype} {tuple(x.shape)}")
        if x.shape[1] > self.context:
            raise ValueError(f"sequence of {x.shape[1]} tokens is longer than the context ({self.context})")
        steps = torch.arange(x.shape[1], device=x.device)
        h = self.drop(self.embedding(x) + self.positions(steps))
        for layer in self.layers:
            h = layer(h, is_causal=True)
        return self.head(self.norm(h))

    @torch.inference_mode()
    def generate(self, prefix: Tensor, steps: int, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
        """``prefix`` (B, T₀) extended by ``steps`` tokens: greedy at ``temperature`` 0, else sampled
        from ``softmax(logits / temperature)``; each step sees the last ``context`` tokens."""
        was_training = self.training
        self.eval()
        out = prefix
        for _ in range(steps):
            logits = self(out[:, -self.context:])[:, -1].float()
            if temperature == 0:
                token = logits.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, -1)
                token = torch.multinomial(probs.cpu(), 1, generator=generator).to(out.device)
            out = torch.cat([out, token], 1)
        self.train(was_training)
        return out
