"""Chapter 7 exercises — attention and translation: masked softmax, scaled dot-product, additive and
multi-head attention, the sinusoidal positional encoding, corpus BLEU and one step of beam search.

One chapter's exercises, kept in one module like every chapter's; its length is the hand-built
cases and probes of its attention, BLEU and beam-search exercises.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, as_tensor, outputs_and_grads, randn

WRONG = "values|nonfinite|error|shape"  # the failures a case's hint explains (not "todo" or "forbidden")
IMPORTS = "import math\n\nimport torch\nfrom torch import Tensor"  # the skeletons' (math for math.inf, math.sqrt)


def _lengths(g: torch.Generator, low: int, high: int, *shape: int) -> Tensor:
    """int64 lengths drawn uniformly from ``low … high − 1``."""
    return torch.randint(low, high, shape, generator=g)


def _keep_from_lengths(valid_len: Tensor, shape: torch.Size) -> Tensor:
    """``keep[b, …, i, j] = j < valid_len[b(, i)]`` for scores of ``shape`` (B, …, q, k), broadcastable."""
    nd, k = len(shape), shape[-1]
    if valid_len.dim() == 1:
        lengths = valid_len.reshape(-1, *(1,) * (nd - 1))
    else:
        lengths = valid_len.reshape(valid_len.shape[0], *(1,) * (nd - 3), shape[-2], 1)
    return torch.arange(k) < lengths


def _output_for_unit_values(fn: Any, args: dict[str, Any], values: str) -> Tensor:
    """The attention's output when every value is 1: the sum of each query's weights over the keys."""
    ones = torch.ones(*args[values].shape[:-1], 1, dtype=DTYPE)
    return as_tensor(fn(**{**args, values: ones})).detach()


# ---- masked softmax -------------------------------------------------------------------------------

def _masked_softmax_case(name: str, shape: tuple[int, ...], lengths: tuple[int, ...] | None,
                         low: int = 1, zeros: tuple[tuple[int, ...], ...] = ()) -> Case:
    """Scores of ``shape``; lengths of shape ``lengths`` in ``low … k − 1`` (every row masks a key),
    with 0 at the indices ``zeros``."""
    def make(g: torch.Generator) -> dict[str, Any]:
        valid_len = None if lengths is None else _lengths(g, low, shape[-1], *lengths)
        for index in zeros:
            valid_len[index] = 0
        return {"scores": randn(g, *shape, scale=2.0), "valid_len": valid_len}
    return Case(name, make)


def _masked_softmax_cases() -> list[Case]:
    return [_masked_softmax_case("no valid_len: the plain softmax, scores (2, 3, 5)", (2, 3, 5), None),
            _masked_softmax_case("valid_len (B,), scores (B, q, k) = (3, 4, 6)", (3, 4, 6), (3,)),
            _masked_softmax_case("scores (B, k) = (4, 7), valid_len (B,): one query per example", (4, 7), (4,)),
            _masked_softmax_case("valid_len (B, q): one length per query, scores (2, 3, 6)", (2, 3, 6), (2, 3)),
            _masked_softmax_case("head axis: scores (B, h, q, k) = (2, 3, 4, 5), valid_len (B,)",
                                 (2, 3, 4, 5), (2,)),
            _masked_softmax_case("head axis: scores (2, 2, 3, 5), valid_len (B, q) per query", (2, 2, 3, 5), (2, 3)),
            _masked_softmax_case("length-0 rows: valid_len (B, q) = (2, 3) with zeros", (2, 3, 5), (2, 3),
                                 low=0, zeros=((0, 0), (1, 2)))]


def _masked_softmax_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The weights on the masked keys (all 0), the row sums (1, or 0 for a length-0 row), then the
    weights themselves and the gradient of the scores."""
    found = outputs_and_grads(fn, args, grad_of=["scores"])
    out, scores, valid_len = found.pop("output"), args["scores"], args["valid_len"]
    if out.shape != scores.shape:
        return {"weights of the masked keys (j ≥ valid_len)": out}
    keep = (torch.ones_like(scores, dtype=torch.bool) if valid_len is None
            else _keep_from_lengths(valid_len, scores.shape))
    return {"weights of the masked keys (j ≥ valid_len)": out.masked_fill(keep, 0.0),
            "row sums of the weights": out.sum(dim=-1), "output": out, **found}


def _masked_softmax_reference(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    """F.scaled_dot_product_attention with identity keys and values and scale 1 is softmax(scores + mask)
    itself, and gives 0 (with gradient 0) to a row that may attend to nothing."""
    k = scores.shape[-1]
    eye = torch.eye(k, dtype=scores.dtype)
    keep = None if valid_len is None else _keep_from_lengths(valid_len, scores.shape)
    return F.scaled_dot_product_attention(scores, eye, eye, attn_mask=keep, scale=1.0)


MASKED_SOFTMAX = Exercise(
    name="masked-softmax", chapter=7, title="softmax over the first valid_len keys only", difficulty="easy",
    entry="masked_softmax",
    signature="def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:",
    task='''Softmax over the last axis in which only the first valid_len keys count (d2l's masked_softmax).

    α[b, …, i, j] = exp(s_ij) / Σ_{j' < n} exp(s_ij')   for j < n,     α[b, …, i, j] = 0   for j ≥ n

    where n = valid_len[b] (shape (B,): one length per example) or n = valid_len[b, i]
    (shape (B, q): one length per query) for scores of shape (B, …, q, k) — (B, k) scores
    take (B,) lengths. It lets a query ignore the padding at the end of a batch of sequences.
    valid_len=None: the plain softmax over the last axis. A row with n = 0 may attend to
    nothing: its weights are all 0 (not NaN, not uniform).

    scores: floating point; valid_len: int64. Returns a tensor of scores' shape and dtype.
    Allowed: torch.softmax / torch.exp, torch.arange, comparisons, masked_fill, torch.where.
    Not allowed: torch.nn.functional.scaled_dot_product_attention.''',
    solution="divelab.scratch.attention:masked_softmax",
    reference=_masked_softmax_reference,
    probe=_masked_softmax_probe, cases=_masked_softmax_cases,
    forbidden=("torch.nn.functional.scaled_dot_product_attention",),
    imports=IMPORTS,
    hints=(
        Hint("masked-softmax-empty", "a row with valid_len 0 has no key to attend to: all its weights must be 0 "
             "— softmax of a row that is all −∞ is NaN, and d2l's fill value −10⁶ makes it uniform; e.g. "
             "multiply the softmax of the scores filled with −10⁹ by the mask", case="length-0", kind=WRONG),
        Hint("masked-softmax-broadcast", "lay the lengths out to broadcast against scores (B, …, q, k): "
             "(B,) lengths as (B, 1, …, 1), (B, q) lengths as (B, 1, …, q, 1), then compare with "
             "torch.arange(k) along the last axis", case="per query|head axis|one query", kind=WRONG),
        Hint("masked-softmax-fill", "the keys at j ≥ valid_len must get weight exactly 0: set their scores to "
             "−∞ (or a very negative number such as −10⁹) before the softmax — a score of 0 still gets the "
             "weight exp(0)/Σ", key="masked keys", kind="values|nonfinite"),
        Hint("masked-softmax-normalise", "each row's weights must sum to 1 over its valid keys: mask the scores "
             "before the softmax; zeroing weights after the softmax leaves rows that sum to less than 1",
             key="row sums", kind="values"),
    ),
)


# ---- scaled dot-product attention ---------------------------------------------------------------------

def _sdpa_case(name: str, batch: tuple[int, ...], L: int, S: int, d: int, d_v: int,
               mask: str | None = None) -> Case:
    """``mask``: None, ``"LS"`` (random, each query keeps key 0), ``"padding"`` ((B, 1, 1, S) from
    lengths), ``"causal"`` (is_causal=True) or ``"empty row"`` (query 1 may attend to no key)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        args: dict[str, Any] = {"q": randn(g, *batch, L, d), "k": randn(g, *batch, S, d),
                                "v": randn(g, *batch, S, d_v), "attn_mask": None, "is_causal": False}
        if mask in ("LS", "empty row"):
            keep = torch.rand(L, S, generator=g) < 0.6
            keep[:, 0] = True
            if mask == "empty row":
                keep[1] = False
            args["attn_mask"] = keep
        elif mask == "padding":
            lengths = _lengths(g, 1, S, batch[0])
            args["attn_mask"] = (torch.arange(S) < lengths[:, None]).reshape(batch[0], 1, 1, S)
        elif mask == "causal":
            args["is_causal"] = True
        return args
    return Case(name, make)


def _sdpa_cases() -> list[Case]:
    return [_sdpa_case("no mask, batch (2, 3), L = 4, S = 6, d = 5, d_v = 3", (2, 3), 4, 6, 5, 3),
            _sdpa_case("unbatched: q (L, d) = (3, 4), k (5, 4), v (5, 2)", (), 3, 5, 4, 2),
            _sdpa_case("boolean mask (L, S) broadcast over batch (2,)", (2,), 4, 5, 3, 3, "LS"),
            _sdpa_case("boolean padding mask (B, 1, 1, S), batch (3, 2)", (3, 2), 3, 6, 4, 2, "padding"),
            _sdpa_case("is_causal with L = 3 < S = 5 (top-left aligned)", (2,), 3, 5, 4, 3, "causal"),
            _sdpa_case("a query with no allowed key (mask row all False)", (2,), 3, 4, 3, 2, "empty row")]


def _sdpa_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """First the output for values all 1 (each query's weights summed over the keys), then the output
    and the gradients of q, k and v."""
    sums = _output_for_unit_values(fn, args, "v")
    return {"weights summed over the keys (output for v = 1)": sums,
            **outputs_and_grads(fn, args, grad_of=["q", "k", "v"])}


DOT_PRODUCT_ATTENTION = Exercise(
    name="dot-product-attention", chapter=7, title="scaled dot-product attention with a boolean or causal mask",
    difficulty="easy",
    entry="scaled_dot_product_attention",
    signature="def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None, "
              "is_causal: bool = False) -> Tensor:",
    task='''Scaled dot-product attention: each query pools the values with softmax weights of its scores.

    attention(Q, K, V) = softmax(Q Kᵀ / √d + M) V,   softmax over the keys (the last axis)

    q (…, L, d), k (…, S, d), v (…, S, d_v) → (…, L, d_v), any leading axes (or none).
    Dividing by √d (d = q.shape[−1]) keeps the scores' variance near 1 whatever d, so the
    softmax does not saturate. attn_mask: boolean, True = the query may attend to the key
    (M = 0 there, −∞ elsewhere), broadcastable to (…, L, S). is_causal=True: query i may
    attend to keys j ≤ i (top-left aligned, as torch, also when L ≠ S; not together with
    attn_mask). A query that may attend to no key gets output 0 (not NaN), as in torch.

    Allowed: matmul (@), transpose, torch.softmax, masked_fill, torch.where, torch.tril.
    Not allowed: torch.nn.functional.scaled_dot_product_attention, nn.MultiheadAttention.''',
    solution="divelab.scratch.attention:scaled_dot_product_attention",
    reference=lambda q, k, v, attn_mask=None, is_causal=False: F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, is_causal=is_causal),
    probe=_sdpa_probe, cases=_sdpa_cases,
    forbidden=("torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward",
               "torch.nn.MultiheadAttention.forward"),
    imports=IMPORTS,
    hints=(
        Hint("sdpa-no-key", "a query whose mask row is all False may attend to nothing: its output must be 0 "
             "(softmax over a row of −∞ is NaN); zero the weights of such rows", case="no allowed key", kind=WRONG),
        Hint("sdpa-unbatched", "q, k and v may have no leading axes: transpose the last two axes "
             "(k.transpose(-2, -1)), not axes 1 and 2", case="unbatched", kind="error|shape"),
        Hint("sdpa-causal", "is_causal: query i may attend to keys j ≤ i — the mask "
             "torch.ones(L, S, dtype=torch.bool).tril(), aligned top-left as torch does, also when L ≠ S",
             case="is_causal", kind=WRONG),
        Hint("sdpa-mask", "a boolean attn_mask is True where the query MAY attend: set the scores to −∞ where "
             "it is False (scores.masked_fill(~attn_mask, -math.inf)) before the softmax; it broadcasts "
             "against the (…, L, S) scores", case="^boolean", kind=WRONG),
        Hint("sdpa-axis", "the softmax runs over the keys, the last axis of the (…, L, S) scores (dim=-1): "
             "each query's weights sum to 1", key="summed over the keys", kind="values"),
        Hint("sdpa-scale", "divide the scores by √d with d = q.shape[-1], the query/key size (not d_v, L or S): "
             "softmax(q @ k.transpose(-2, -1) / math.sqrt(d)) @ v", key="^output$", kind="values"),
    ),
)


# ---- additive attention -----------------------------------------------------------------------------

def _additive_case(name: str, B: int, q: int, k: int, query_size: int, key_size: int, h: int, d_v: int,
                   lengths: tuple[int, ...] | None = None) -> Case:
    """Weights of nn.Linear's scale; lengths of shape ``lengths`` in 1 … k − 1 (every row masks a key)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        return {"queries": randn(g, B, q, query_size), "keys": randn(g, B, k, key_size),
                "values": randn(g, B, k, d_v), "W_q": randn(g, h, query_size, scale=query_size ** -0.5),
                "W_k": randn(g, h, key_size, scale=key_size ** -0.5), "w_v": randn(g, 1, h, scale=h ** -0.5),
                "valid_len": None if lengths is None else _lengths(g, 1, k, *lengths)}
    return Case(name, make)


def _additive_cases() -> list[Case]:
    return [_additive_case("no valid_len: B = 2, 3 queries, 5 keys, query 4, key 3, hidden 6", 2, 3, 5, 4, 3, 6, 2),
            _additive_case("d2l's shapes: one query of size 20, 10 keys of size 2, hidden 8", 2, 1, 10, 20, 2, 8, 4),
            _additive_case("valid_len (B,): 3 queries, 6 keys, hidden 5", 3, 3, 6, 4, 4, 5, 3, lengths=(3,)),
            _additive_case("valid_len (B, q): one length per query, hidden 1", 2, 4, 5, 3, 2, 1, 2, lengths=(2, 4))]


def _additive_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    sums = _output_for_unit_values(fn, args, "values")
    grads = outputs_and_grads(fn, args, grad_of=["queries", "keys", "values", "W_q", "W_k", "w_v"])
    return {"weights summed over the keys (output for values = 1)": sums, **grads}


ADDITIVE_ATTENTION = Exercise(
    name="additive-attention", chapter=7, title="additive (Bahdanau) attention with given weights",
    difficulty="medium",
    entry="additive_attention",
    signature="def additive_attention(queries: Tensor, keys: Tensor, values: Tensor, W_q: Tensor, W_k: Tensor, "
              "w_v: Tensor, valid_len: Tensor | None = None) -> Tensor:",
    task='''Additive attention: a one-hidden-layer MLP scores every query–key pair (Bahdanau et al., 2015).

    a(q, k) = w_vᵀ tanh(W_q q + W_k k),   α = masked_softmax(a, valid_len),   out = α V

    For every query i and key j: score a(q_i, k_j); the weights α are the softmax of the
    scores over the keys j, with only the first valid_len keys counting (valid_len (B,) or
    (B, q), or None for all, exactly as in the masked-softmax exercise). It works for queries
    and keys of different sizes, where a dot product cannot.

    queries (B, q, query_size), keys (B, k, key_size), values (B, k, d_v) → (B, q, d_v).
    W_q (h, query_size), W_k (h, key_size), w_v (1, h): weights stored (out, in) as in
    nn.Linear, no biases, so W_q q is queries @ W_q.T.
    Allowed: matmul, broadcasting, torch.tanh, torch.softmax, masked_fill.
    Not allowed: torch.nn.functional.scaled_dot_product_attention.''',
    solution="divelab.exercises.solutions.attention:additive_attention",
    source=("divelab.scratch.attention:AdditiveAttention", "divelab.scratch.attention:masked_softmax"),
    probe=_additive_probe, cases=_additive_cases,
    forbidden=("torch.nn.functional.scaled_dot_product_attention",),
    imports=IMPORTS,
    hints=(
        Hint("additive-mask", "keys j ≥ valid_len must get weight 0: fill their scores with −∞ (or −10⁶) before "
             "the softmax over the keys, with (B,) lengths laid out as (B, 1, 1) and (B, q) ones as (B, q, 1)",
             case="valid_len \\(", kind=WRONG),
        Hint("additive-axis", "the softmax runs over the keys, the last axis of the (B, q, k) scores: each "
             "query's weights sum to 1", key="summed over the keys", kind="values"),
        Hint("additive-score", "score every (query, key) pair as w_vᵀ tanh(W_q q + W_k k): project first "
             "(queries @ W_q.T → (B, q, h), keys @ W_k.T → (B, k, h)), add them broadcast to (B, q, k, h), "
             "apply tanh, then @ w_v.T and drop the last axis → (B, q, k)", key="^output$", kind="values"),
    ),
)


# ---- multi-head attention -----------------------------------------------------------------------------

def _mha_case(name: str, B: int, L: int, S: int | None, E: int, h: int, padding: bool = False,
              bias: bool = True) -> Case:
    """``S=None``: self-attention (key and value equal to the query)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        query = randn(g, B, L, E)
        key, value = (query, query) if S is None else (randn(g, B, S, E), randn(g, B, S, E))
        S_ = key.shape[1]
        lengths = _lengths(g, 1, S_, B)  # every example has padding
        return {"query": query, "key": key, "value": value, "num_heads": h,
                "in_proj_weight": randn(g, 3 * E, E, scale=E ** -0.5),
                "in_proj_bias": randn(g, 3 * E, scale=0.1) if bias else None,
                "out_proj_weight": randn(g, E, E, scale=E ** -0.5),
                "out_proj_bias": randn(g, E, scale=0.1) if bias else None,
                "key_padding_mask": torch.arange(S_) >= lengths[:, None] if padding else None}
    return Case(name, make)


def _mha_cases() -> list[Case]:
    return [_mha_case("one head, self-attention, E = 6", 2, 4, None, 6, 1),
            _mha_case("3 heads, self-attention, E = 12", 2, 5, None, 12, 3),
            _mha_case("2 heads, cross-attention, L = 3, S = 6, E = 8", 2, 3, 6, 8, 2),
            _mha_case("4 heads, key padding mask (True = padding), E = 8", 3, 4, 5, 8, 4, padding=True),
            _mha_case("no biases (in_proj_bias = out_proj_bias = None), 2 heads, E = 6", 2, 3, 4, 6, 2, bias=False)]


def _mha_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """First the heads alone (the output with the output projection set to the identity), then the
    output and the gradients of every input and weight."""
    E = args["query"].shape[-1]
    identity = {**args, "out_proj_weight": torch.eye(E, dtype=DTYPE),
                "out_proj_bias": None if args["out_proj_bias"] is None else torch.zeros(E, dtype=DTYPE)}
    heads = as_tensor(fn(**identity)).detach()
    tensors = [name for name in ("query", "key", "value", "in_proj_weight", "in_proj_bias", "out_proj_weight",
                                 "out_proj_bias") if args[name] is not None]
    return {"concatenated heads (output with out_proj_weight = I, out_proj_bias = 0)": heads,
            **outputs_and_grads(fn, args, grad_of=tensors)}


def _mha_reference(query: Tensor, key: Tensor, value: Tensor, num_heads: int, in_proj_weight: Tensor,
                   in_proj_bias: Tensor | None, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                   key_padding_mask: Tensor | None = None) -> Tensor:
    """F.multi_head_attention_forward (what nn.MultiheadAttention calls), sequence-first inside."""
    out, _ = F.multi_head_attention_forward(
        query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), query.shape[-1], num_heads,
        in_proj_weight, in_proj_bias, None, None, False, 0.0, out_proj_weight, out_proj_bias,
        training=False, key_padding_mask=key_padding_mask, need_weights=False)
    return out.transpose(0, 1)


MULTI_HEAD_ATTENTION = Exercise(
    name="multi-head-attention", chapter=7, title="multi-head attention with nn.MultiheadAttention's weights",
    difficulty="hard",
    entry="multi_head_attention",
    signature="def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int, "
              "in_proj_weight: Tensor, in_proj_bias: Tensor | None, out_proj_weight: Tensor, "
              "out_proj_bias: Tensor | None, key_padding_mask: Tensor | None = None) -> Tensor:",
    task='''Multi-head attention: h scaled dot-product attentions on learned projections, concatenated.

    head_i = softmax(Q_i K_iᵀ / √d + M) V_i,   d = E / h
    Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v,   each (B, ·, E)
    out = concat(head_1, …, head_h) W_oᵀ + b_o

    Q_i, K_i, V_i are the i-th slices of d features (columns i·d … (i+1)·d − 1) of Q, K, V:
    each head attends in its own subspace. Batch first: query (B, L, E), key and value
    (B, S, E) → (B, L, E). Weights as nn.MultiheadAttention's: in_proj_weight (3E, E) =
    [W_q; W_k; W_v] (rows 0…E−1 for the queries), in_proj_bias (3E,) = [b_q; b_k; b_v],
    out_proj_weight W_o (E, E), out_proj_bias b_o (E,); the biases may be None (no bias).
    key_padding_mask (B, S), boolean, True = padding: that key gets weight 0 for every head
    and query (M = −∞ there, 0 elsewhere); None: no mask. No dropout.

    Allowed: matmul, reshape / view, transpose, torch.softmax, masked_fill.
    Not allowed: torch.nn.functional.multi_head_attention_forward, nn.MultiheadAttention,
    torch.nn.functional.scaled_dot_product_attention.''',
    solution="divelab.exercises.solutions.attention:multi_head_attention",
    source=("divelab.scratch.attention:MultiHeadAttention",),
    reference=_mha_reference,
    probe=_mha_probe, cases=_mha_cases,
    forbidden=("torch.nn.functional.multi_head_attention_forward", "torch.nn.MultiheadAttention.forward",
               "torch.nn.functional.scaled_dot_product_attention"),
    imports=IMPORTS,
    hints=(
        Hint("mha-padding", "key_padding_mask is True at padding: fill the scores of those keys with −∞ "
             "before the softmax, for every head and query (mask[:, None, None, :] against (B, h, L, S))",
             case="padding", kind=WRONG),
        Hint("mha-bias", "in_proj_bias and out_proj_bias may be None: then add no bias", case="no biases", kind=WRONG),
        Hint("mha-projection", "with one head this is plain attention on the projections: "
             "Q = query @ in_proj_weight[:E].T + in_proj_bias[:E], K with rows E…2E−1, V with rows 2E…3E−1; "
             "scores Q Kᵀ / √E, softmax over the keys", case="one head", key="concatenated heads", kind="values"),
        Hint("mha-heads", "split each projection into h heads along the feature axis: (B, L, E) → "
             "view (B, L, h, d) → transpose(1, 2) → (B, h, L, d) (a plain reshape to (B, h, L, d) mixes "
             "positions of different heads); scale by 1/√d with d = E/h; merge back with "
             "transpose(1, 2).reshape(B, L, E)", key="concatenated heads", kind="values"),
        Hint("mha-out-proj", "the heads are right (they pass with out_proj_weight = I) but the output is not: "
             "apply the output projection, out = concat(heads) @ out_proj_weight.T + out_proj_bias",
             key="^output$", kind="values"),
    ),
)


# ---- sinusoidal positional encoding ---------------------------------------------------------------

def _pe_case(name: str, max_len: int, num_hiddens: int) -> Case:
    return Case(name, lambda g: {"max_len": max_len, "num_hiddens": num_hiddens})


def _pe_cases() -> list[Case]:
    return [_pe_case("max_len 6, d = 4", 6, 4),
            _pe_case("max_len 50, d = 16 (low frequencies)", 50, 16),
            _pe_case("max_len 1: position 0 only, d = 8", 1, 8),
            _pe_case("d = 2: one sine–cosine pair, max_len 10", 10, 2),
            _pe_case("odd num_hiddens d = 5: the last column is a sine", 10, 5)]


def _pe_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    P = as_tensor(fn(args["max_len"], args["num_hiddens"]))
    first = P[0] if P.dim() >= 1 and P.shape[0] > 0 else P
    return {"P[0] (position 0: sin 0 = 0, cos 0 = 1)": first, "P": P}


POSITIONAL_ENCODING = Exercise(
    name="positional-encoding", chapter=7, title="the sinusoidal positional encoding of the Transformer",
    difficulty="easy",
    entry="sinusoidal_encoding",
    signature="def sinusoidal_encoding(max_len: int, num_hiddens: int) -> Tensor:",
    task='''The Transformer's sinusoidal position code, added to the embeddings so attention can tell order.

    P[t, 2i] = sin(t / 10000^{2i/d}),   P[t, 2i+1] = cos(t / 10000^{2i/d}),   d = num_hiddens

    for positions t = 0 … max_len − 1: column pair (2i, 2i+1) turns at the frequency
    ω_i = 1/10000^{2i/d}, from 1 (i = 0) down to about 1/10000, so every position gets its own
    code and P[t + k] is a rotation of P[t]. An odd d keeps a last sine column (⌈d/2⌉ sines,
    ⌊d/2⌋ cosines).

    Returns a float64 tensor (max_len, num_hiddens).
    Allowed: torch.arange, torch.pow / torch.exp, torch.sin, torch.cos, slicing.''',
    solution="divelab.scratch.attention:sinusoidal_encoding",
    probe=_pe_probe, cases=_pe_cases,
    imports=IMPORTS,
    hints=(
        Hint("pe-odd", "with an odd num_hiddens there are ⌈d/2⌉ sine columns (0, 2, …, d − 1) and ⌊d/2⌋ cosine "
             "columns: give the cosines only the first d // 2 angles", case="odd", kind=WRONG),
        Hint("pe-sin-cos", "even columns hold sines, odd columns cosines (P[:, 0::2] = sin, P[:, 1::2] = cos), "
             "so row 0 is [0, 1, 0, 1, …]", key="P\\[0\\]", kind="values"),
        Hint("pe-frequency", "column pair i uses the angle t / 10000^{2i/d}: the exponent is 2i/d, with 2i the "
             "even column index (the same for columns 2i and 2i + 1) and d = num_hiddens; divide t by the power "
             "(or multiply it by 10000^{−2i/d})", key="^P$", kind="values"),
    ),
)


# ---- corpus BLEU ------------------------------------------------------------------------------------

VOCABULARY = ("the a cat dog bird sat ran flew on under over mat house tree garden red blue green small big old "
              "young man woman child saw found took gave book apple river road slowly quickly and then").split()


def _sentence(g: torch.Generator, low: int, high: int) -> list[str]:
    """``low … high − 1`` distinct words of the vocabulary, in random order."""
    n = int(torch.randint(low, high, (), generator=g))
    return [VOCABULARY[i] for i in torch.randperm(len(VOCABULARY), generator=g)[:n].tolist()]


def _outside(g: torch.Generator, words: list[str]) -> str:
    """A vocabulary word not in ``words``."""
    others = [w for w in VOCABULARY if w not in words]
    return others[int(torch.randint(len(others), (), generator=g))]


def _perturb(g: torch.Generator, ref: list[str]) -> list[str]:
    """A hypothesis with typical errors: a replaced, a dropped and a swapped word (each with prob. 1/2)."""
    hyp = list(ref)
    if torch.rand((), generator=g) < 0.5:
        hyp[int(torch.randint(len(hyp), (), generator=g))] = _outside(g, ref)
    if torch.rand((), generator=g) < 0.5 and len(hyp) > 1:
        del hyp[int(torch.randint(len(hyp), (), generator=g))]
    if torch.rand((), generator=g) < 0.5 and len(hyp) > 1:
        i = int(torch.randint(len(hyp) - 1, (), generator=g))
        hyp[i], hyp[i + 1] = hyp[i + 1], hyp[i]
    return hyp


def _repeat_a_word(g: torch.Generator, ref: list[str]) -> list[str]:
    """The reference with one of its words said twice more at the end: longer, so BP = 1."""
    word = ref[int(torch.randint(len(ref), (), generator=g))]
    return ref + [word, word]


def _prefix(g: torch.Generator, ref: list[str]) -> list[str]:
    """The reference cut after 4 … len − 2 words: every n-gram matches, but it is short."""
    return ref[:int(torch.randint(4, len(ref) - 1, (), generator=g))]


def _every_fourth_replaced(g: torch.Generator, ref: list[str]) -> list[str]:
    """Words 3, 7, 11, … replaced by words not in the reference: every 4-gram holds one, so none matches."""
    return [_outside(g, ref) if i % 4 == 3 else w for i, w in enumerate(ref)]


def _bleu_case(name: str, n: int, low: int, high: int, hypothesis: Any) -> Case:
    """``n`` references of ``low … high − 1`` words, each hypothesis ``hypothesis(g, ref)`` (a word list)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        refs = [_sentence(g, low, high) for _ in range(n)]
        return {"hyps": [" ".join(hypothesis(g, r)) for r in refs], "refs": [" ".join(r) for r in refs]}
    return Case(name, make)


def _one_empty(g: torch.Generator) -> dict[str, Any]:
    refs = [_sentence(g, 5, 10) for _ in range(3)]
    hyps = [" ".join(_perturb(g, r)) for r in refs]
    hyps[1] = ""
    return {"hyps": hyps, "refs": [" ".join(r) for r in refs]}


def _bleu_cases() -> list[Case]:
    return [_bleu_case("identical hypotheses and references, 3 sentences (BLEU 100)", 3, 4, 10, lambda g, r: r),
            _bleu_case("repeated words (clipping), one sentence longer than its reference", 1, 6, 10,
                       _repeat_a_word),
            _bleu_case("short hypothesis (brevity penalty): a prefix of the reference", 1, 8, 13, _prefix),
            _bleu_case("no 4-gram matches (exp smoothing), one sentence", 1, 8, 13, _every_fourth_replaced),
            _bleu_case("too short for 4-grams: 2 sentences of 2–3 words (BLEU 0)", 2, 2, 4, lambda g, r: r),
            _bleu_case("several sentences: counts summed over the corpus", 5, 4, 12, _perturb),
            _bleu_case("the only hypothesis is empty (BLEU 0)", 1, 3, 8, lambda g, r: []),
            Case("an empty hypothesis among 3 sentences", _one_empty)]


def _bleu_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    return {"bleu": as_tensor(float(fn(list(args["hyps"]), list(args["refs"]))))}


def _sacrebleu(hyps: list[str], refs: list[str]) -> float:
    """sacrebleu's default corpus BLEU (13a tokenisation, which on these lower-case words without
    punctuation is str.split); sacrebleu is a test dependency, so without it the project's own
    implementation stands in."""
    try:
        import sacrebleu
    except ImportError:
        from divelab.scratch.bleu import corpus_bleu
        return corpus_bleu(hyps, refs)
    return sacrebleu.corpus_bleu(hyps, [refs]).score


CORPUS_BLEU = Exercise(
    name="corpus-bleu", chapter=7, title="corpus BLEU as sacrebleu computes it (0–100)", difficulty="medium",
    entry="corpus_bleu",
    signature="def corpus_bleu(hyps: list[str], refs: list[str]) -> float:",
    task='''Corpus BLEU: how many of a translation's n-grams (n = 1 … 4) occur in its reference, 0–100.

    BLEU = 100 · BP · exp((1/4) Σ_{n=1..4} log p_n),   p_n = Σ_s m_n(s) / Σ_s t_n(s)
    BP = exp(1 − R/H) if H < R, else 1

    hyps[s] is the system's translation of sentence s, refs[s] its one reference; tokens are
    text.split() (the checks use lower-case words without punctuation). For each sentence s
    and order n: t_n(s) = the number of n-grams (n consecutive tokens) of the hypothesis,
    m_n(s) = Σ_g min(count_hyp(g), count_ref(g)), the matches clipped so that an n-gram is
    credited at most as often as the reference has it. The counts are summed over the corpus
    before dividing; H, R = the total number of hypothesis and reference tokens. The brevity
    penalty BP punishes hypotheses shorter than their references (precision alone would not).
    Smoothing (sacrebleu's default "exp"): the j-th order (j = 1, 2, …, counted in order of n)
    with no match at all (Σ_s m_n = 0) gets p_n = 1 / (2^j · Σ_s t_n) instead of 0.
    BLEU = 0 when nothing matches at all, when some order has no n-grams (Σ_s t_n = 0),
    and when H = 0.

    Returns a float. Allowed: str.split, collections.Counter, math.
    Not allowed: sacrebleu, nltk's bleu_score.''',
    solution="divelab.scratch.bleu:corpus_bleu",
    reference=_sacrebleu,
    probe=_bleu_probe, cases=_bleu_cases,
    # (in the sandbox sacrebleu cannot even be imported: it probes the temporary directory by writing to it)
    forbidden=("sacrebleu.corpus_bleu", "sacrebleu.metrics.bleu.BLEU.corpus_score",
               "nltk.translate.bleu_score.corpus_bleu"),
    imports="import math\nfrom collections import Counter",
    hints=(
        Hint("bleu-scale", "BLEU is on a 0–100 scale here (as sacrebleu reports it): identical sentences of at "
             "least 4 words score 100", case="identical", kind=WRONG),
        Hint("bleu-clip", "clip the matches: a hypothesis n-gram counts at most as often as it occurs in the "
             "reference, m_n = Σ_g min(count_hyp(g), count_ref(g))", case="clipping", kind=WRONG),
        Hint("bleu-brevity", "apply the brevity penalty BP = exp(1 − R/H) when the hypotheses are shorter than "
             "the references (H < R, totals over the corpus), else 1", case="brevity", kind=WRONG),
        Hint("bleu-smoothing", "an order with no match gets p_n = 1/(2^j · Σ t_n) (j = 1 for the first such "
             "order, 2 for the next, …) instead of making BLEU 0 — sacrebleu's 'exp' smoothing",
             case="no 4-gram", kind=WRONG),
        Hint("bleu-no-ngrams", "when some order has no n-grams at all (every hypothesis shorter than n tokens) "
             "BLEU is 0: return 0.0 instead of dividing by Σ t_n = 0", case="too short", kind=WRONG),
        Hint("bleu-empty", "an empty hypothesis has no tokens and no n-grams: it adds 0 to H and to every t_n "
             "and its reference's length to R; if H = 0 the score is 0 (do not divide by 0)", case="empty", kind=WRONG),
        Hint("bleu-corpus", "sum m_n, t_n and the lengths over all sentences first and compute one BLEU from "
             "the totals; the average of sentence BLEUs is a different number", case="several", kind=WRONG),
    ),
)


# ---- one step of beam search --------------------------------------------------------------------------

def _log_probs(g: torch.Generator, *shape: int, scale: float = 1.5) -> Tensor:
    return torch.log_softmax(randn(g, *shape, scale=scale), dim=-1)


def _beam_scores(g: torch.Generator, B: int, k: int) -> Tensor:
    """Distinct cumulative log-probabilities of k beams, best first."""
    return -(torch.rand(B, k, generator=g, dtype=DTYPE) * 6).sort(dim=1).values


def _confident_first_beam(g: torch.Generator) -> dict[str, Any]:
    """All beams at 0; beam 0 puts almost all its mass on 3 tokens, the other beams are nearly uniform,
    so the 3 best candidates all continue beam 0."""
    B, k, V = 2, 3, 8
    logits = randn(g, B, k, V, scale=0.1)
    for b in range(B):
        logits[b, 0, torch.randperm(V, generator=g)[:k]] += 10 + randn(g, k)
    return {"beam_log_probs": torch.zeros(B, k, dtype=DTYPE), "log_probs": torch.log_softmax(logits, dim=-1)}


def _beam_case(name: str, B: int, k: int, V: int, dead: tuple[int, ...] = ()) -> Case:
    """Distinct beam scores; the slots in ``dead`` empty (−∞)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        beam = _beam_scores(g, B, k)
        beam[:, list(dead)] = -math.inf
        return {"beam_log_probs": beam, "log_probs": _log_probs(g, B, k, V)}
    return Case(name, make)


def _tied_beams(g: torch.Generator) -> dict[str, Any]:
    """Beams 0 and 1 identical (score and next-token log-probs), 2 and 3 far behind: the 4 best are two
    pairs of equal candidates."""
    B, k, V = 2, 4, 6
    log_probs = _log_probs(g, B, k, V)
    log_probs[:, 1] = log_probs[:, 0]
    beam = torch.tensor([[-1.0, -1.0, -20.0, -21.0]], dtype=DTYPE).expand(B, k).clone()
    return {"beam_log_probs": beam, "log_probs": log_probs}


def _beam_cases() -> list[Case]:
    return [Case("equal beam scores (all 0), B = 2, k = 3, V = 8: beam 0 holds the 3 best tokens",
                 _confident_first_beam),
            _beam_case("distinct beam scores, B = 2, k = 3, V = 7", 2, 3, 7),
            _beam_case("first step: only beam 0 live (the others −∞), B = 2, k = 4, V = 6", 2, 4, 6,
                       dead=(1, 2, 3)),
            _beam_case("an empty slot (−∞) among live beams, B = 3, k = 3, V = 5", 3, 3, 5, dead=(1,)),
            Case("tied candidates: beams 0 and 1 identical, B = 2, k = 4, V = 6", _tied_beams),
            _beam_case("k = 1 (greedy), B = 3, V = 9", 3, 1, 9),
            _beam_case("large vocabulary, B = 2, k = 5, V = 200", 2, 5, 200)]


def _beam_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The scores (best first), the chosen (beam, token) pairs as a set, then the beam and token of
    each score. Among candidates of equal score any order is accepted: the pairs are put in the
    order (score descending, beam · V + token ascending) before they are compared."""
    B, k, V = args["log_probs"].shape
    scores, beams, tokens = (as_tensor(t).detach() for t in fn(args["beam_log_probs"], args["log_probs"]))
    if not scores.shape == beams.shape == tokens.shape == (B, k):
        return {"scores": scores, "chosen (beam, token) pairs": beams, "beam of each score": beams,
                "token of each score": tokens}
    flat = beams.to(torch.int64) * V + tokens.to(torch.int64)
    by_flat = flat.argsort(dim=1, stable=True)
    by_score = scores.gather(1, by_flat).argsort(dim=1, descending=True, stable=True)
    order = by_flat.gather(1, by_score)
    chosen = flat.sort(dim=1).values
    return {"scores": scores, "chosen (beam, token) pairs": torch.stack([chosen // V, chosen % V], dim=-1),
            "beam of each score": beams.gather(1, order), "token of each score": tokens.gather(1, order)}


BEAM_SEARCH_STEP = Exercise(
    name="beam-search-step", chapter=7, title="one step of batched beam search", difficulty="medium",
    entry="beam_search_step",
    signature="def beam_search_step(beam_log_probs: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor, Tensor]:",
    task='''One step of beam search for a batch: extend k hypotheses by one token, keep the k best.

    candidate (j, v): score = beam_log_probs[b, j] + log_probs[b, j, v]
    new beams of sentence b = the k candidates of highest score among all k · V

    Beam search keeps, per sentence b, k partial translations ("beams") with their cumulative
    log-probabilities beam_log_probs (B, k) (−∞ marks an empty slot); log_probs (B, k, V) are
    the model's log p(v | beam j) for every next token v. A good beam may give all k of its
    extensions: the k best are chosen among the k · V candidates of the sentence together,
    not one per beam.

    Returns (scores, beams, tokens), each (B, k), best first: scores in the inputs' dtype,
    beams (the j each candidate extends) and tokens (its v) int64. Candidates of equal score
    may come in any order (the checks have no tie at the k-th place). Runs without gradients.
    Allowed: reshape / view, broadcasting, torch.topk / torch.sort, // and %.''',
    solution="divelab.exercises.solutions.attention:beam_search_step",
    source=("divelab.eval.decode:_expand",),
    probe=_beam_probe, cases=_beam_cases,
    imports=IMPORTS,
    hints=(
        Hint("beam-step-per-beam", "choose the k best of all k · V candidates of a sentence together: here the "
             "best beam holds all k best tokens. Flatten the (B, k, V) candidate scores to (B, k · V), take the "
             "top k, and recover beam = index // V, token = index % V — not the best tokens of each beam "
             "separately", case="equal beam scores", key="^scores$", kind="values"),
        Hint("beam-step-index", "the scores are right but not the (beam, token) they belong to: in the flattened "
             "(B, k · V) candidates, index = j · V + v, so beam = index // V and token = index % V",
             key="pairs|beam of|token of", kind="values"),
        Hint("beam-step-empty", "a slot whose score is −∞ is empty: its extensions score −∞ and must never "
             "be chosen while finite candidates remain", case="live", kind=WRONG),
        Hint("beam-step-add", "a candidate's score is its beam's cumulative log-probability plus the token's "
             "log-probability: beam_log_probs[:, :, None] + log_probs, before choosing the best, sorted best "
             "first", key="^scores$", kind="values"),
    ),
)

EXERCISES: list[Exercise] = [MASKED_SOFTMAX, DOT_PRODUCT_ATTENTION, ADDITIVE_ATTENTION, MULTI_HEAD_ATTENTION,
                             POSITIONAL_ENCODING, CORPUS_BLEU, BEAM_SEARCH_STEP]
