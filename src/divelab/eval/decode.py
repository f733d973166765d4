"""Decoding a sequence-to-sequence model: batched greedy search and batched beam search.

A translation model is driven through two calls (the :class:`StepModel` protocol):
``encode(src, src_len) -> state`` once per batch, then ``step(prev, state) -> (log_probs,
state)`` once per target position. The decoders never look inside ``state``; they only
select rows of it with :func:`reorder_state` — to follow the beams a hypothesis came from,
and to drop sentences that are finished, so the batch shrinks as decoding goes on.

Lengths: ``max_len`` counts generated tokens, eos included. Decoding a sentence stops after
``max_len`` steps at the latest; a hypothesis without eos by then is cut there and keeps
its ``max_len`` tokens ("unfinished"). Returned token lists never contain bos or eos.

Twin: none in PyTorch; beam search follows fairseq's ``SequenceGenerator`` and OpenNMT-py's
``BeamSearch`` in spirit (see :func:`beam_search` for the exact rules).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor


class StepModel(Protocol):
    """What the decoders need from a translation model (``divelab.models.seq2seq.Seq2Seq``).

    ``encode(src (B, S) int64, src_len (B,) int64) -> state``: ``state`` is any nest of
    dicts, lists and tuples whose tensor leaves have the batch first (encoder memory,
    masks, RNN hidden state, per-layer key/value caches), plus non-tensor leaves (ints).

    ``step(prev (B,) int64, state) -> (log_probs (B, V), state)``: one target token in per
    row, the log-probabilities ``log p(y_t | y_<t, x)`` of the next token out (real
    log-probabilities, ≤ 0: beam search's stopping rule relies on scores only falling).
    """

    def encode(self, src: Tensor, src_len: Tensor) -> Any: ...

    def step(self, prev: Tensor, state: Any) -> tuple[Tensor, Any]: ...


@dataclass(frozen=True)
class Hypothesis:
    """One output of beam search.

    ``tokens`` without bos and eos; ``log_prob = Σ_t log p(y_t | y_<t, x)`` over the
    generated tokens, eos included when the hypothesis ended with it; ``score = log_prob /
    len^α`` with ``len`` the number of generated tokens *counting eos*; ``finished`` is
    False for a hypothesis cut at the maximum length (it has no eos; ``len = max_len``).
    """

    tokens: list[int]
    score: float
    log_prob: float
    finished: bool = True


def reorder_state(state: Any, index: Tensor) -> Any:
    """Select rows of every tensor in a decoder state: ``leaf.index_select(0, index)``.

    ``state`` is a nest of dicts (any mapping that ``copy.copy`` can copy), lists, tuples
    and named tuples; the nest is rebuilt with the same types, tensor leaves replaced by
    their rows ``index`` (``(B',)`` int64, moved to each leaf's device), other leaves (ints,
    None, strings) and 0-dim tensors (no batch axis) kept as they are.
    """
    if isinstance(state, Tensor):
        return state if state.dim() == 0 else state.index_select(0, index.to(state.device))
    if isinstance(state, dict):
        out = copy.copy(state)
        for key, value in state.items():
            out[key] = reorder_state(value, index)
        return out
    if isinstance(state, tuple):
        items = [reorder_state(value, index) for value in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    if isinstance(state, list):
        return [reorder_state(value, index) for value in state]
    return state


def max_len_for(src_len: Tensor | int, a: float, b: float) -> Tensor | int:
    """Maximum target length from the source length: ``max_len = max(1, ⌊a·src_len + b⌋)``.

    Works on one length (int in, int out) or on a batch (``(B,)`` tensor in, int64 out).
    """
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"max_len_a and max_len_b must be finite, got {a} and {b}")
    if isinstance(src_len, Tensor):
        return (src_len.to(torch.float64) * a + b).floor().clamp(min=1).to(torch.int64)
    return max(1, math.floor(a * src_len + b))


def _check_inputs(src: Tensor, src_len: Tensor) -> None:
    if src.dim() != 2:
        raise ValueError(f"src must be (batch, src_steps), got shape {tuple(src.shape)}")
    if src_len.shape != src.shape[:1]:
        raise ValueError(f"src_len must have shape ({src.shape[0]},), got {tuple(src_len.shape)}")


def _limits(max_len: int | Tensor, batch: int, device: torch.device) -> Tensor:
    """The per-sentence maximum length as an int64 ``(B,)`` tensor."""
    limit = torch.as_tensor(max_len, dtype=torch.int64, device=device).expand(batch)
    if limit.numel() and int(limit.min()) < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    return limit.clone()


def _top_tokens(log_probs: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` most probable next tokens of each row: ``(values, ids)``, each ``(rows, k)``.

    Greedy search and beam search both choose through this one function, so that beam
    size 1 breaks ties exactly as greedy does.
    """
    return log_probs.topk(min(k, log_probs.shape[-1]), dim=-1)


def _strip_eos(tokens: list[int], eos: int) -> list[int]:
    return tokens[:-1] if tokens and tokens[-1] == eos else tokens


@torch.no_grad()
def greedy_decode(model: StepModel, src: Tensor, src_len: Tensor, *, bos: int, eos: int,
                  max_len: int | Tensor) -> list[list[int]]:
    """Greedy search for a batch: ``y_t = argmax_v log p(v | y_<t, x)`` until eos or ``max_len``.

    ``max_len`` is one int for all sentences or a ``(B,)`` tensor (e.g. from
    :func:`max_len_for`); it counts generated tokens, eos included. All sentences advance
    together one token per step; a sentence leaves the batch (its rows are dropped from
    the state) once it has produced eos or reached its maximum length. Returns, per
    sentence, the token ids without bos and eos. Runs without gradients; put the model in
    evaluation mode first (``model.eval()``), the decoder does not change its mode.
    """
    _check_inputs(src, src_len)
    batch, device = src.shape[0], src.device
    limit = _limits(max_len, batch, device)
    results: list[list[int]] = [[] for _ in range(batch)]
    if batch == 0:
        return results
    state = model.encode(src, src_len)
    alive = torch.arange(batch, device=device)  # the sentence each row belongs to
    prev = torch.full((batch,), bos, dtype=torch.int64, device=device)
    out = torch.empty((batch, 0), dtype=torch.int64, device=device)  # (rows, t) tokens so far
    for t in range(1, int(limit.max()) + 1):
        log_probs, state = model.step(prev, state)  # (rows, V)
        prev = _top_tokens(log_probs, 1)[1][:, 0]
        out = torch.cat([out, prev[:, None]], dim=1)
        done = (prev == eos) | (limit <= t)
        if not bool(done.any()):
            continue
        for sentence, tokens in zip(alive[done].tolist(), out[done].tolist()):
            results[sentence] = _strip_eos(tokens, eos)
        keep = (~done).nonzero().squeeze(1)
        if keep.numel() == 0:
            break
        state = reorder_state(state, keep)
        alive, prev, out, limit = alive[keep], prev[keep], out[keep], limit[keep]
    return results


def _check_beam_args(beam_size: int, n_best: int, length_penalty: float) -> None:
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be between 1 and beam_size={beam_size}, got {n_best}")
    if not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be finite, got {length_penalty}")


def _expand(beam_lp: Tensor, log_probs: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The ``k`` best one-token extensions of each sentence's live hypotheses.

    ``beam_lp`` (A, K) cumulative log-probabilities (−∞ for an empty slot), ``log_probs``
    (A·K, V). Candidate score ``beam_lp[a, j] + log p(v | slot j)``. Two stages, both
    batched: a slot's best extensions are among its ``k`` most probable tokens, so the
    ``k`` best of a sentence are found among ``K·k`` candidates instead of ``K·V``.
    Returns ``(log_prob, parent slot, token)``, each (A, K).
    """
    groups = beam_lp.shape[0]
    top_lp, top_ids = _top_tokens(log_probs, k)  # (A·K, k1)
    k1 = top_lp.shape[-1]
    slot_lp = beam_lp.reshape(-1, 1)  # (A·K, 1)
    candidates = torch.where(slot_lp.isfinite(), slot_lp + top_lp.to(torch.float64), -math.inf)
    cand_lp, pos = candidates.reshape(groups, k * k1).topk(k, dim=1)  # (A, K)
    token = top_ids.reshape(groups, k * k1).gather(1, pos)
    return cand_lp, torch.div(pos, k1, rounding_mode="floor"), token


def _upper_bound(beam_lp: Tensor, t: int, limit: Tensor, alpha: float) -> Tensor:
    """The best score any continuation of a sentence's live hypotheses can still reach, (A,).

    A continuation of a hypothesis with log-probability ``lp`` (≤ 0) at length ``t`` ends
    with ``lp' ≤ lp`` at a length ``ℓ`` in ``[t+1, L]``, so its score ``lp'/ℓ^α ≤ lp/ℓ^α``,
    which is largest at one end of the range: ``max(lp/(t+1)^α, lp/L^α)`` (−∞ if none live).
    """
    best = beam_lp.max(dim=1).values
    return torch.maximum(best / (t + 1) ** alpha, best / limit.to(torch.float64) ** alpha)


def _record(ends: Tensor, cand_lp: Tensor, token: Tensor, tokens: Tensor, alive: Tensor, t: int,
            eos: int, alpha: float, finished: list[list[Hypothesis]]) -> Tensor:
    """Move the hypotheses marked in ``ends`` (A, K) to ``finished``; returns their scores (A, K), −∞ elsewhere."""
    rows, slots = ends.nonzero(as_tuple=True)
    log_prob = cand_lp[rows, slots]
    score = log_prob / t ** alpha  # len = t generated tokens, eos included
    new_scores = torch.full_like(cand_lp, -math.inf)
    new_scores[rows, slots] = score
    ended_by_eos = (token[rows, slots] == eos).tolist()
    for sentence, toks, lp, sc, by_eos in zip(alive[rows].tolist(), tokens[rows, slots].tolist(),
                                              log_prob.tolist(), score.tolist(), ended_by_eos):
        finished[sentence].append(Hypothesis(toks[:-1] if by_eos else toks, sc, lp, by_eos))
    return new_scores


@torch.no_grad()
def beam_search(model: StepModel, src: Tensor, src_len: Tensor, *, bos: int, eos: int, beam_size: int = 4,
                max_len_a: float = 1.5, max_len_b: float = 10, length_penalty: float = 1.0, n_best: int = 1,
                stop_early: bool = True) -> list[list[Hypothesis]]:
    """Beam search for a batch, all sentences and all beams in one ``(B·K, …)`` step.

    Each sentence keeps ``K = beam_size`` slots. At step ``t`` every live slot is extended
    by every token, and the ``K`` best candidates of the sentence (by cumulative log-prob
    ``Σ log p``) fill the slots. A candidate ending in eos is *finished*: it moves to the
    sentence's finished list, scored ``score = log_prob / len^α`` (``α = length_penalty``,
    ``len`` = generated tokens counting eos; ``α = 0``: no normalisation), and its slot is
    left empty for this step; the other hypotheses go on, and the next step refills the
    slots from their extensions. At the sentence's maximum length
    ``max_len = max(1, ⌊a·src_len + b⌋)`` the live hypotheses are finished as they stand
    (``len = max_len``, no eos, ``Hypothesis.finished`` False).

    A sentence stops when it has no live hypothesis, at its maximum length, or (with
    ``stop_early``) when it holds ``K`` finished hypotheses and the ``K``-th best score
    cannot be beaten by any continuation of the live ones (bound: :func:`_upper_bound`);
    so stopping early never changes the ``K`` best. Stopped sentences leave the batch.
    With ``K = 1`` the single slot follows the most probable token and the sentence ends
    at its first eos: exactly :func:`greedy_decode` with ``max_len = max_len_for(...)``.

    Returns per sentence its ``n_best`` best hypotheses, best score first (fewer if fewer
    were found). Runs without gradients; call ``model.eval()`` first.
    """
    _check_inputs(src, src_len)
    _check_beam_args(beam_size, n_best, length_penalty)
    batch, k, device, alpha = src.shape[0], beam_size, src.device, length_penalty
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    if batch == 0:
        return finished
    limit = max_len_for(src_len.to(device), max_len_a, max_len_b)  # (A,)
    state = reorder_state(model.encode(src, src_len), torch.arange(batch, device=device).repeat_interleave(k))
    alive = torch.arange(batch, device=device)  # the sentence of each active group of K rows
    beam_lp = torch.full((batch, k), -math.inf, dtype=torch.float64, device=device)  # (A, K), −∞: empty
    beam_lp[:, 0] = 0.0  # the search starts from one hypothesis: bos
    tokens = torch.empty((batch, k, 0), dtype=torch.int64, device=device)  # (A, K, t)
    kept_scores = torch.full((batch, k), -math.inf, dtype=torch.float64, device=device)  # K best finished
    prev = torch.full((batch * k,), bos, dtype=torch.int64, device=device)
    for t in range(1, int(limit.max()) + 1):
        log_probs, state = model.step(prev, state)  # (A·K, V)
        beam_lp, parent, token = _expand(beam_lp, log_probs, k)  # (A, K) each
        history = tokens.gather(1, parent[..., None].expand(-1, -1, t - 1))
        tokens = torch.cat([history, token[..., None]], dim=2)  # (A, K, t)
        ends = beam_lp.isfinite() & ((token == eos) | (limit[:, None] <= t))
        if bool(ends.any()):
            new_scores = _record(ends, beam_lp, token, tokens, alive, t, eos, alpha, finished)
            kept_scores = torch.cat([kept_scores, new_scores], dim=1).topk(k, dim=1).values
            beam_lp = beam_lp.masked_fill(ends, -math.inf)
        done = ~beam_lp.isfinite().any(dim=1)
        if stop_early:
            done |= kept_scores[:, -1] >= _upper_bound(beam_lp, t, limit, alpha)
        keep = (~done).nonzero().squeeze(1)  # (A',)
        if keep.numel() == 0:
            break
        rows = (keep[:, None] * k + parent[keep]).reshape(-1)  # state row each kept slot continues
        state = reorder_state(state, rows)
        alive, beam_lp, tokens, kept_scores = alive[keep], beam_lp[keep], tokens[keep], kept_scores[keep]
        limit, prev = limit[keep], token[keep].reshape(-1)
    return [sorted(hyps, key=lambda h: h.score, reverse=True)[:n_best] for hyps in finished]
