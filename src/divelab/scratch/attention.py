"""Attention written by hand: masked softmax, additive and scaled dot-product attention,
multi-head attention with a key/value cache, sinusoidal positional encoding.

An attention layer pools values ``v_j`` with weights that a query ``q`` gives each key
``k_j``: ``attention(q, K, V) = Σ_j α(q, k_j) v_j`` with ``α = softmax_j(a(q, k_j))``
for a scoring function ``a`` (additive, or the scaled dot product ``q·k/√d``).

Mask conventions (the same everywhere in divelab): a boolean mask is **True where a
query may attend to a key**, as in ``F.scaled_dot_product_attention`` — except masks named
``*_padding_mask``, which are **True at padding** (torch's ``key_padding_mask``). A float
mask is added to the scores (``−∞`` = may not attend). Note that ``nn.MultiheadAttention``'s
boolean ``attn_mask`` has the opposite meaning (True = may *not* attend).

A query that may attend to no key at all (every key masked) gets weight 0 everywhere and
an output of 0 (its gradients are 0 too), as ``F.scaled_dot_product_attention`` does in
torch ≥ 2.5; ``nn.MultiheadAttention`` with ``need_weights=True`` gives NaN there instead.

Batch first throughout: queries ``(B, ..., L, d)``, keys ``(B, ..., S, d)``.

One family kept in one module because every attention layer builds on the same masked softmax
and the mask conventions above, which a split would scatter.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from divelab.scratch.checks import check_tensor
from divelab.scratch.dropout import dropout as scratch_dropout
from divelab.scratch.init import kaiming_uniform_, xavier_uniform_
from divelab.scratch.linear import linear

Cache = dict[str, Any]


# ---- masked softmax -------------------------------------------------------------------------------

def _lengths_mask(valid_len: Tensor, scores: Tensor) -> Tensor:
    """The keep-mask of ``valid_len``: ``keep[b, …, i, j] = j < valid_len[b(, i)]``, broadcastable to ``scores``."""
    nd, (q, k) = scores.dim(), scores.shape[-2:]
    if valid_len.dim() == 1 and valid_len.shape[0] == scores.shape[0] and nd >= 2:
        lengths = valid_len.reshape(-1, *(1,) * (nd - 1))                      # (B, 1, …, 1)
    elif valid_len.dim() == 2 and nd >= 3 and tuple(valid_len.shape) == (scores.shape[0], q):
        lengths = valid_len.reshape(valid_len.shape[0], *(1,) * (nd - 3), q, 1)  # (B, 1, …, q, 1)
    else:
        raise ValueError(f"valid_len must have shape (B,) or (B, q) for scores (B, …, q, k) = "
                         f"{tuple(scores.shape)}, got {tuple(valid_len.shape)}")
    return torch.arange(k, device=scores.device) < lengths.to(scores.device)


def _softmax_with_keep(scores: Tensor, keep: Tensor | None, additive: Tensor | None = None) -> Tensor:
    """``softmax`` over the last axis of ``scores`` (+ ``additive``) with masked entries at −∞.

    A row with nothing left to attend to would be ``softmax(−∞, …, −∞) = NaN``; such rows
    (found from the small mask, not from the scores) are set to 0 before and after the
    softmax, so that neither the weights nor their gradient are NaN.
    """
    empty = None                                                       # rows with no key, shaped like the mask
    if additive is not None:
        scores = scores + additive
        empty = (additive == -math.inf).all(dim=-1, keepdim=True)
    if keep is not None:
        scores = scores.masked_fill(~keep, -math.inf)
        no_key = ~keep.any(dim=-1, keepdim=True)
        empty = no_key if empty is None else empty | no_key
    if empty is not None and bool(empty.any()):                         # (a host sync on a GPU; the mask is small)
        weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1)
        return weights.masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=-1)


def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    """Softmax over the last axis in which only the first ``valid_len`` keys count (d2l's ``masked_softmax``).

    ``α[b, …, i, j] = exp(s_ij) / Σ_{j' < n} exp(s_ij')`` for ``j < n`` and ``0`` for
    ``j ≥ n``, where ``n = valid_len[b]`` (shape ``(B,)``, one length per example) or
    ``n = valid_len[b, i]`` (shape ``(B, q)``, one per query) for ``scores`` of shape
    ``(B, …, q, k)``. ``valid_len=None``: the plain softmax. A row with ``n = 0`` is all
    zeros (d2l's version, which fills with −10⁶, would make it uniform instead).

    Twin: torch.softmax(scores.masked_fill(j ≥ n, −∞), dim=−1)
    """
    check_tensor("masked_softmax", "scores", scores)
    check_tensor("masked_softmax", "valid_len", valid_len, optional=True)
    if valid_len is None:
        return torch.softmax(scores, dim=-1)
    return _softmax_with_keep(scores, _lengths_mask(valid_len, scores))


# ---- scaled dot-product attention --------------------------------------------------------------------

def causal_mask(L: int, S: int, device: torch.device | str | None = None, aligned: str = "top_left") -> Tensor:
    """Boolean ``(L, S)`` keep-mask: query ``i`` may attend to key ``j`` iff ``j ≤ i + offset``.

    ``offset = 0`` for ``aligned="top_left"`` (``F.scaled_dot_product_attention``'s
    ``is_causal``) and ``offset = S − L`` for ``"bottom_right"`` (the last ``L`` positions of
    a sequence of ``S``: what incremental decoding with a cache needs). Both agree for ``L = S``.
    """
    if aligned not in ("top_left", "bottom_right"):
        raise ValueError(f"aligned must be 'top_left' or 'bottom_right', got {aligned!r}")
    offset = 0 if aligned == "top_left" else S - L
    return torch.ones(L, S, dtype=torch.bool, device=device).tril(diagonal=offset)


def _split_mask(attn_mask: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
    """A mask as (boolean keep-mask, additive float mask): one of the two is None."""
    if attn_mask is None:
        return None, None
    if attn_mask.dtype == torch.bool:
        return attn_mask, None
    if not attn_mask.is_floating_point():
        raise ValueError(f"attn_mask must be boolean (True = may attend) or floating (added), got {attn_mask.dtype}")
    return None, attn_mask


def attention_and_weights(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None,
                          dropout_p: float = 0.0, scale: float | None = None,
                          training: bool = True) -> tuple[Tensor, Tensor]:
    """``(softmax(q kᵀ · scale + mask) V, weights)``; the weights are returned after dropout (as torch does).

    ``q`` ``(…, L, d)``, ``k`` ``(…, S, d)``, ``v`` ``(…, S, d_v)``; ``attn_mask`` boolean
    (True = may attend) or float (added), broadcastable to ``(…, L, S)``.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    keep, additive = _split_mask(attn_mask)
    scores = (q @ k.transpose(-2, -1)) * scale                         # (…, L, S)
    weights = _softmax_with_keep(scores, keep, additive)
    weights = scratch_dropout(weights, dropout_p, training=training)
    return weights @ v, weights                                      # (…, L, d_v), (…, L, S)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None,
                                 is_causal: bool = False, dropout_p: float = 0.0, scale: float | None = None) -> Tensor:
    """``softmax(q kᵀ / √d + M) V`` with ``F.scaled_dot_product_attention``'s contract.

    ``q`` ``(…, L, d)``, ``k`` ``(…, S, d)``, ``v`` ``(…, S, d_v)`` → ``(…, L, d_v)``.
    ``attn_mask``: boolean, True = the query may attend to the key (``M = 0`` there, ``−∞``
    elsewhere), or float, added to the scores as ``M``; broadcastable to ``(…, L, S)``.
    ``is_causal``: query ``i`` attends to keys ``j ≤ i`` (top-left aligned, torch's rule;
    not together with ``attn_mask``). ``scale`` defaults to ``1/√d``. Dropout with
    probability ``dropout_p`` is applied to the weights (always, as in torch: pass 0 in
    evaluation). A query with no key left gets output 0.

    Twin: torch.nn.functional.scaled_dot_product_attention
    """
    for name, value in (("q", q), ("k", k), ("v", v)):
        check_tensor("scaled_dot_product_attention", name, value)
    check_tensor("scaled_dot_product_attention", "attn_mask", attn_mask, optional=True)
    if is_causal and attn_mask is not None:
        raise ValueError("pass either attn_mask or is_causal=True, not both (as F.scaled_dot_product_attention)")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"need q (…, L, d), k (…, S, d), v (…, S, d_v); got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if is_causal:
        attn_mask = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    return attention_and_weights(q, k, v, attn_mask, dropout_p, scale)[0]


def _check_dropout(p: float) -> float:
    """``p`` if it is a probability, else a ValueError."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout must be between 0 and 1, got {p}")
    return p


# ---- the course's two scoring functions as layers --------------------------------------------------

class DotProductAttention(nn.Module):
    """Scaled dot-product attention with d2l's ``valid_len`` masking.

    ``out = dropout(α) V`` with ``α = masked_softmax(Q Kᵀ / √d, valid_len)``; queries
    ``(B, q, d)``, keys ``(B, k, d)``, values ``(B, k, d_v)`` → ``(B, q, d_v)``. The weights
    ``α`` (before dropout) are kept in ``attention_weights`` for heatmaps.

    Twin: torch.nn.functional.scaled_dot_product_attention with the boolean mask ``j < valid_len``
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = _check_dropout(dropout)
        self.attention_weights: Tensor | None = None

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor, valid_len: Tensor | None = None) -> Tensor:
        scores = queries @ keys.transpose(-2, -1) / math.sqrt(queries.shape[-1])  # (B, q, k)
        self.attention_weights = masked_softmax(scores, valid_len)
        return scratch_dropout(self.attention_weights, self.dropout, self.training) @ values


def _linear_weight(out_features: int, in_features: int) -> nn.Parameter:
    """A weight ``(out, in)`` drawn as ``nn.Linear`` draws it: U(−1/√in, 1/√in)."""
    weight = nn.Parameter(torch.empty(out_features, in_features))
    kaiming_uniform_(weight, nonlinearity="leaky_relu", negative_slope=math.sqrt(5))
    return weight


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention: a one-hidden-layer MLP scores each query–key pair.

    ``a(q, k) = w_vᵀ tanh(W_q q + W_k k)`` with ``W_q`` ``(h, query_size)``, ``W_k``
    ``(h, key_size)``, ``w_v`` ``(1, h)`` (no biases, as in d2l); then
    ``out = dropout(α) V`` with ``α = masked_softmax(a, valid_len)``. Queries ``(B, q,
    query_size)``, keys ``(B, k, key_size)``, values ``(B, k, d_v)`` → ``(B, q, d_v)``.
    Weights are initialised as ``nn.Linear``'s; ``attention_weights`` keeps ``α``.

    Twin: none in torch (the test composes it from nn.Linear, tanh and a hand-masked softmax)
    """

    def __init__(self, key_size: int, query_size: int, num_hiddens: int, dropout: float = 0.0) -> None:
        super().__init__()
        if min(key_size, query_size, num_hiddens) < 1:
            raise ValueError(f"key_size, query_size and num_hiddens must be ≥ 1, got "
                             f"{key_size}, {query_size}, {num_hiddens}")
        self.W_k = _linear_weight(num_hiddens, key_size)
        self.W_q = _linear_weight(num_hiddens, query_size)
        self.w_v = _linear_weight(1, num_hiddens)
        self.dropout = _check_dropout(dropout)
        self.attention_weights: Tensor | None = None

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor, valid_len: Tensor | None = None) -> Tensor:
        q, k = linear(queries, self.W_q), linear(keys, self.W_k)          # (B, q, h), (B, k, h)
        features = torch.tanh(q.unsqueeze(-2) + k.unsqueeze(-3))          # (B, q, k, h): every pair
        scores = linear(features, self.w_v).squeeze(-1)                   # (B, q, k)
        self.attention_weights = masked_softmax(scores, valid_len)
        return scratch_dropout(self.attention_weights, self.dropout, self.training) @ values


# ---- multi-head attention ------------------------------------------------------------------------

def _heads(x: Tensor, num_heads: int) -> Tensor:
    """``(B, L, E)`` → ``(B, h, L, E/h)``."""
    B, L, E = x.shape
    return x.reshape(B, L, num_heads, E // num_heads).transpose(1, 2)


def _attn_mask_4d(attn_mask: Tensor, B: int, h: int) -> Tensor:
    """``(L, S)``, ``(B·h, L, S)`` (torch's layout) or ``(B, h|1, L, S)`` → broadcastable to ``(B, h, L, S)``."""
    if attn_mask.dim() == 2 or attn_mask.dim() == 4:
        return attn_mask
    if attn_mask.dim() == 3 and attn_mask.shape[0] == B * h:
        return attn_mask.reshape(B, h, *attn_mask.shape[1:])
    raise ValueError(f"attn_mask must have shape (L, S), (B·num_heads, L, S) or (B, num_heads, L, S); "
                     f"got {tuple(attn_mask.shape)} for B={B}, num_heads={h}")


def _combine_masks(key_padding_mask: Tensor | None, attn_mask: Tensor | None) -> Tensor | None:
    """One mask for ``(B, h, L, S)`` scores: boolean keep-mask if both are boolean, else additive float."""
    if key_padding_mask is not None:
        if key_padding_mask.dtype == torch.bool:
            key_padding_mask = ~key_padding_mask                           # True = padding → True = keep
        key_padding_mask = key_padding_mask[:, None, None, :]              # (B, 1, 1, S)
    masks = [m for m in (key_padding_mask, attn_mask) if m is not None]
    if not masks:
        return None
    if all(m.dtype == torch.bool for m in masks):
        return masks[0] if len(masks) == 1 else masks[0] & masks[1]
    dtype = next(m.dtype for m in masks if m.dtype != torch.bool)
    additive = [torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill(~m, -math.inf)
                if m.dtype == torch.bool else m for m in masks]
    return additive[0] if len(additive) == 1 else additive[0] + additive[1]


class MultiHeadAttention(nn.Module):
    """Multi-head attention: ``h`` scaled dot-product attentions on learned projections, concatenated.

    ``head_i = attention(Q W_qᵢ + b_qᵢ, K W_kᵢ + b_kᵢ, V W_vᵢ + b_vᵢ)`` with
    ``attention(q, k, v) = softmax(q kᵀ/√d + M) v``, ``d = E/h``, and
    ``out = concat(head_1, …, head_h) W_oᵀ + b_o``. Batch first: query ``(B, L, E)``,
    key and value ``(B, S, E)`` → ``(B, L, E)``.

    Parameters as ``nn.MultiheadAttention``'s (same names, shapes and initialisation, drawn
    in the same order, so one seed gives the same numbers): ``in_proj_weight`` ``(3E, E)``
    = ``[W_q; W_k; W_v]``, ``in_proj_bias`` ``(3E,)``, ``out_proj.weight``, ``out_proj.bias``.
    ``load_state_dict(mha.state_dict())`` or :meth:`from_torch` copies a torch layer.

    Masks: ``key_padding_mask`` ``(B, S)``, True = padding (torch's convention), or float
    (added); ``attn_mask`` ``(L, S)``, ``(B·h, L, S)`` or ``(B, h, L, S)``, boolean **True =
    may attend** (the opposite of ``nn.MultiheadAttention``'s boolean ``attn_mask``), or
    float (added); ``is_causal=True`` builds the causal mask, aligned bottom-right (query
    ``i`` is position ``S − L + i``, so it also holds with a cache).

    ``need_weights=True`` also returns the weights (after dropout, as torch), averaged over
    heads ``(B, L, S)`` or per head ``(B, h, L, S)`` with ``average_attn_weights=False``.

    ``cache`` (a dict) serves incremental decoding: for self-attention (``{}`` to start) the
    keys and values of this call's new positions are appended to ``cache["k"]``,
    ``cache["v"]`` ``(B, h, t, d)`` and attention runs over all of them; with
    ``cache["static"] = True`` (cross-attention) they are computed from ``key``/``value`` on
    the first call and reused afterwards.

    The attention itself (:meth:`attend`) is the hand-written ``softmax(q kᵀ/√d + M) V``;
    :class:`divelab.models.attention.FusedMultiHeadAttention`, the library side, hands it to
    ``F.scaled_dot_product_attention`` (same parameters, same numbers).

    Twin: torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first=True)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim must be a positive multiple of num_heads, got {embed_dim} and {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.dropout = _check_dropout(dropout)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)  # holds out_proj.weight / .bias, drawn here
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """``in_proj_weight`` Xavier-uniform, both biases 0 (``out_proj.weight`` keeps nn.Linear's draw)."""
        xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            self.in_proj_bias.zero_()
            self.out_proj.bias.zero_()

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of a (batch-first or not) ``nn.MultiheadAttention``'s weights, dtype and device."""
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("only nn.MultiheadAttention with kdim = vdim = embed_dim, no bias_k/bias_v and "
                             "no add_zero_attn can be copied")
        mine = cls(mha.embed_dim, mha.num_heads, mha.dropout, bias=mha.in_proj_bias is not None)
        mine = mine.to(device=mha.in_proj_weight.device, dtype=mha.in_proj_weight.dtype)
        mine.load_state_dict(mha.state_dict())
        return mine

    def _project(self, x: Tensor, part: slice) -> Tensor:
        bias = None if self.in_proj_bias is None else self.in_proj_bias[part]
        return linear(x, self.in_proj_weight[part], bias)

    def _qkv(self, query: Tensor, key: Tensor | None, value: Tensor | None,
             cache: Cache | None) -> tuple[Tensor, Tensor, Tensor]:
        """Heads of the projected queries, keys and values ``(B, h, ·, d)``, using and filling the cache."""
        E, h = self.embed_dim, self.num_heads
        if cache is not None and cache.get("static") and "k" in cache:
            return _heads(self._project(query, slice(0, E)), h), cache["k"], cache["v"]
        if key is None or value is None:
            raise ValueError("key and value are needed unless a static cache already holds them")
        if key is query and value is query:                               # self-attention: one matmul
            q, k, v = self._project(query, slice(None)).chunk(3, dim=-1)
        else:
            q = self._project(query, slice(0, E))
            k, v = (self._project(key, slice(E, None)).chunk(2, dim=-1) if key is value else
                    (self._project(key, slice(E, 2 * E)), self._project(value, slice(2 * E, None))))
        q, k, v = _heads(q, h), _heads(k, h), _heads(v, h)
        if cache is not None:
            if not cache.get("static") and "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)  # (B, h, t, d)
            cache["k"], cache["v"] = k, v
        return q, k, v

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float,
               need_weights: bool) -> tuple[Tensor, Tensor | None]:
        """Per-head outputs ``softmax(q kᵀ/√d + M) v`` ``(B, h, L, d)`` and the weights ``(B, h, L, S)``
        (after dropout), by hand; ``mask`` is a boolean keep-mask or an additive float one."""
        return attention_and_weights(q, k, v, mask, dropout_p)

    def forward(self, query: Tensor, key: Tensor | None, value: Tensor | None,
                key_padding_mask: Tensor | None = None, attn_mask: Tensor | None = None,
                need_weights: bool = False, cache: Cache | None = None, *,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if query.dim() != 3 or query.shape[-1] != self.embed_dim:
            raise ValueError(f"query must have shape (B, L, {self.embed_dim}), got {tuple(query.shape)}")
        B, L, _ = query.shape
        q, k, v = self._qkv(query, key, value, cache)                    # (B, h, L, d), (B, h, S, d) ×2
        S = k.shape[2]
        if key_padding_mask is not None and tuple(key_padding_mask.shape) != (B, S):
            raise ValueError(f"key_padding_mask must have shape (B, S) = ({B}, {S}), got "
                             f"{tuple(key_padding_mask.shape)}")
        if attn_mask is not None:
            attn_mask = _attn_mask_4d(attn_mask, B, self.num_heads)
        if is_causal:
            causal = causal_mask(L, S, device=query.device, aligned="bottom_right")
            if attn_mask is None:
                attn_mask = causal
            elif attn_mask.dtype == torch.bool:
                attn_mask = attn_mask & causal
            else:
                attn_mask = attn_mask.masked_fill(~causal, -math.inf)
        mask = _combine_masks(key_padding_mask, attn_mask)
        p = self.dropout if self.training else 0.0
        heads, weights = self.attend(q, k, v, mask, p, need_weights)     # (B, h, L, d), (B, h, L, S) or None
        out = linear(heads.transpose(1, 2).reshape(B, L, self.embed_dim), self.out_proj.weight, self.out_proj.bias)
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


# ---- positional encoding -------------------------------------------------------------------------

def sinusoidal_encoding(max_len: int, num_hiddens: int) -> Tensor:
    """``P[t, 2i] = sin(t / 10000^{2i/d})``, ``P[t, 2i+1] = cos(t / 10000^{2i/d})``, shape ``(max_len, d)``."""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)                    # (T, 1)
    frequency = torch.pow(10000.0, -torch.arange(0, num_hiddens, 2, dtype=torch.float64) / num_hiddens)
    angles = position * frequency                                                         # (T, ⌈d/2⌉)
    P = torch.zeros(max_len, num_hiddens, dtype=torch.float64)
    P[:, 0::2] = torch.sin(angles)
    P[:, 1::2] = torch.cos(angles[:, : num_hiddens // 2])
    return P


class PositionalEncoding(nn.Module):
    """Add the sinusoidal position code to a batch of embeddings: ``y = dropout(x + P[offset : offset + L])``.

    ``x`` ``(B, L, d)``; ``offset`` is the position of ``x``'s first step (for incremental
    decoding, the number of steps already decoded). ``P`` (see :func:`sinusoidal_encoding`)
    is computed in float64 once and kept in float32 as a non-persistent buffer (not in the
    state dict; ``.double()`` upcasts it, :func:`sinusoidal_encoding` gives it in float64).
    Each pair of columns ``(2i, 2i+1)`` is a rotation by the angle ``k ω_i`` away from
    ``P[t+k]``: ``P[t+k]`` is a linear function of ``P[t]``, whatever ``t``.

    Twin: none in torch (d2l's ``PositionalEncoding``)
    """

    def __init__(self, num_hiddens: int, dropout: float = 0.0, max_len: int = 10_000) -> None:
        super().__init__()
        if num_hiddens < 1 or max_len < 1:
            raise ValueError(f"num_hiddens and max_len must be ≥ 1, got {num_hiddens} and {max_len}")
        self.dropout, self.max_len = _check_dropout(dropout), max_len
        self.register_buffer("P", sinusoidal_encoding(max_len, num_hiddens).float(), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        L = x.shape[-2]
        if offset < 0 or offset + L > self.max_len:
            raise ValueError(f"positions {offset}…{offset + L - 1} are outside 0…{self.max_len - 1} (max_len)")
        return scratch_dropout(x + self.P[offset: offset + L].to(x.dtype), self.dropout, self.training)
