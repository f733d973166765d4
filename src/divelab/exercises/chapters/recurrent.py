"""Chapter 6 exercises — recurrent networks: one step of an RNN, a GRU and an LSTM cell.

Each cell is checked on single steps (with and without biases, batch 1) and unrolled over
sequences of 1 and 5 steps with its own state fed back, so that errors compounding over time
show; every case compares the new state(s) and the gradients with respect to the input, the
state(s) and all four weights and biases. A few cases are built to tell typical mistakes apart:
the RNN's first case has no biases and a square ``weight_ih``, so transposed weights give wrong
values instead of an error; the GRU's first case ties the reset rows to the update rows and
starts from ``h = 0`` with ``b_hn = 0``, where a wrong gate order, a reset applied before the
product and a swapped update mix each fail on a different tensor.

One chapter's exercises, kept in one module like every chapter's: the three cells share their
inputs, probes and hints, and most of the length is the hand-built cases above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from divelab.exercises.spec import Case, Exercise, Hint, Probe, as_tensor, outputs_and_grads, randn

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
Step = Callable[[Callable[..., Any], Tensor, tuple[Tensor, ...], tuple[Tensor | None, ...], dict[str, Any]],
                tuple[Tensor, ...]]


# ---- what the three exercises share: inputs, the unrolled probe ---------------------------------

def _cell_inputs(g: torch.Generator, gates: int, batch: int, inputs: int, hidden: int, state: Sequence[str],
                 bias: bool, steps: int, zero_state: bool) -> dict[str, Any]:
    """x (B, I) — or (T, B, I) for a sequence of T steps — the state(s) (B, H), weights
    ``(G·H, I)``, ``(G·H, H)`` and biases ``(G·H,)`` (None without bias), at torch's init scale."""
    rows = gates * hidden
    x = randn(g, *((steps,) if steps else ()), batch, inputs)
    args: dict[str, Any] = {"x": x}
    for name in state:
        args[name] = randn(g, batch, hidden, scale=0.5) * (0 if zero_state else 1)
    args["weight_ih"] = randn(g, rows, inputs, scale=0.5)
    args["weight_hh"] = randn(g, rows, hidden, scale=0.5)
    args["bias_ih"] = randn(g, rows, scale=0.5) if bias else None
    args["bias_hh"] = randn(g, rows, scale=0.5) if bias else None
    return args


def _output_key(state: str, sequence: bool) -> str:
    return f"{state}_1…{state}_T" if sequence else f"{state}'"


def _cell_probe(step: Step, state: Sequence[str]) -> Probe:
    """Run the cell once, or over every step of ``x`` (T, B, I) feeding its state back; compare
    the new state(s) — the LSTM's c before h, since h' is made from c' — then the gradients of a
    fixed upstream with respect to x, the initial state(s) and every weight and bias."""
    shown = tuple(reversed(state))

    def probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
        sequence = args["x"].dim() == 3
        names = ("x", *state, *WEIGHTS)

        def run(**t: Any) -> tuple[Tensor, ...]:
            current = tuple(t[name] for name in state)
            weights = tuple(t[name] for name in WEIGHTS)
            history = []
            for x in (t["x"].unbind(0) if sequence else (t["x"],)):
                current = step(fn, x, current, weights, args)
                history.append(dict(zip(state, current)))
            return tuple(torch.stack([h[name] for h in history]) if sequence else history[0][name]
                         for name in shown)

        return outputs_and_grads(run, {n: args[n] for n in names}, [n for n in names if args[n] is not None],
                                 [_output_key(name, sequence) for name in shown])

    return probe


def _case(name: str, gates: int, state: Sequence[str], batch: int, inputs: int, hidden: int, *,
          bias: bool = True, steps: int = 0, zero_state: bool = False, **extra: Any) -> Case:
    return Case(name, lambda g: {**_cell_inputs(g, gates, batch, inputs, hidden, state, bias, steps, zero_state),
                                 **extra})


# ---- rnn-cell -------------------------------------------------------------------------------------

def _rnn_step(fn: Any, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...],
              args: dict[str, Any]) -> tuple[Tensor, ...]:
    return (as_tensor(fn(x, state[0], *weights, args["nonlinearity"])),)


def _rnn_cases() -> list[Case]:
    def case(name: str, *shape: int, nonlinearity: str = "tanh", **kw: Any) -> Case:
        return _case(name, 1, ("h",), *shape, nonlinearity=nonlinearity, **kw)

    return [case("no bias, I = H = 4, batch 3", 3, 4, 4, bias=False),
            case("with bias, I = 5, H = 4, batch 3", 3, 5, 4),
            case("relu, with bias, I = 3, H = 6, batch 2", 2, 3, 6, nonlinearity="relu"),
            case("batch 1, I = H = 1, with bias", 1, 1, 1),
            case("sequence of 1 step, with bias, batch 2", 2, 3, 4, steps=1),
            case("sequence of 5 steps, h fed back, with bias", 2, 3, 4, steps=5),
            case("sequence of 5 steps, relu, no bias", 3, 2, 5, steps=5, bias=False, nonlinearity="relu")]


def _rnn_reference(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
                   bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
    cell = torch.rnn_tanh_cell if nonlinearity == "tanh" else torch.rnn_relu_cell
    return cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)


def _sequence_hint(exercise: str, state: str) -> Hint:
    return Hint(f"{exercise}-sequence", f"single steps are right but the unrolled sequence is not: return new "
                f"tensors for {state} (do not modify x or the state in place) and keep nothing between calls — "
                "each step must depend only on its arguments", case="^sequence", kind="values|nonfinite")


def _none_bias_hint(exercise: str) -> Hint:
    return Hint(f"{exercise}-none-bias", "without biases bias_ih and bias_hh are None: add each bias only when "
                "it is not None (None + tensor raises)", case="no bias", kind="error")


def _batch1_hint(exercise: str) -> Hint:
    return Hint(f"{exercise}-batch1", "with batch 1 and I = H = 1 every tensor is (1, 1): keep them 2-D "
                "(no .squeeze(), no .item()) and split the gates along dim 1", case="^batch 1")


RNN_CELL = Exercise(
    name="rnn-cell", chapter=6, title="one step of an Elman RNN cell (tanh or ReLU)", difficulty="easy",
    entry="rnn_cell",
    signature="def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, "
              "bias_ih: Tensor | None = None, bias_hh: Tensor | None = None, nonlinearity: str = \"tanh\") -> Tensor:",
    task='''One step of an Elman RNN: the new hidden state from this step's input and the previous state.

    h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh),   φ = tanh (nonlinearity="tanh", the default) or ReLU ("relu")

    x: (B, I), this step's input; h: (B, H), the previous hidden state; weight_ih: (H, I) and
    weight_hh: (H, H), stored (out_features, in_features) as nn.RNNCell stores them; bias_ih,
    bias_hh: (H,) or None (a cell built with bias=False: leave those terms out). Returns h' (B, H).
    Over a sequence the cell runs once per step, its output fed back as the next step's h; the
    checker compares h' and the gradients with respect to x, h and all four weights and biases,
    for single steps and for sequences of 1 and 5 steps.

    Allowed: matrix products (@), torch.tanh, torch.relu, arithmetic. Not allowed: nn.RNNCell,
    nn.RNN, torch.rnn_tanh_cell, torch.rnn_relu_cell (the thing itself).''',
    solution="divelab.scratch.rnn:rnn_cell",
    reference=_rnn_reference,
    probe=_cell_probe(_rnn_step, ("h",)), cases=_rnn_cases,
    forbidden=("torch.rnn_tanh_cell", "torch.rnn_relu_cell", "torch._VF.rnn_tanh_cell", "torch._VF.rnn_relu_cell",
               "torch.rnn_tanh", "torch.rnn_relu", "torch.nn.RNNCell.forward", "torch.nn.RNN.forward"),
    hints=(
        _sequence_hint("rnn-cell", "h'"),
        _none_bias_hint("rnn-cell"),
        Hint("rnn-cell-transposed", "here there are no biases, so h' = tanh(x W_ihᵀ + h W_hhᵀ): multiply by "
             "the TRANSPOSED weights, x @ weight_ih.T and h @ weight_hh.T (weights are stored "
             "(out_features, in_features)), and apply tanh", case="^no bias", kind="values"),
        Hint("rnn-cell-relu", "nonlinearity='relu' means φ = ReLU, max(0, ·), instead of tanh: read the argument",
             case="relu"),
        _batch1_hint("rnn-cell"),
        Hint("rnn-cell-bias", "with biases h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh): add BOTH biases, each once "
             "(b_hh too, though it could be folded into b_ih)", case="with bias", kind="values"),
    ),
)


# ---- gru-cell -------------------------------------------------------------------------------------

def _gru_step(fn: Any, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...],
              args: dict[str, Any]) -> tuple[Tensor, ...]:
    return (as_tensor(fn(x, state[0], *weights)),)


def _tied_gru_case(name: str) -> Case:
    """r's rows copied to z's (so r = z), h = 0 and b_hn = 0: the values cannot tell the gate order
    nor where the reset acts, only h' = (1 − z) ⊙ n; the gradients then tell the rest apart."""
    hidden = 4

    def make(g: torch.Generator) -> dict[str, Any]:
        args = _cell_inputs(g, 3, 3, 5, hidden, ("h",), True, 0, zero_state=True)
        for weight in WEIGHTS:
            args[weight][hidden:2 * hidden] = args[weight][:hidden]
        args["bias_hh"][2 * hidden:] = 0
        return args

    return Case(name, make)


def _gru_cases() -> list[Case]:
    def case(name: str, *shape: int, **kw: Any) -> Case:
        return _case(name, 3, ("h",), *shape, **kw)

    return [_tied_gru_case("tied: r rows = z rows, h = 0, b_hn = 0, I = 5, H = 4, batch 3"),
            case("with bias, I = 5, H = 4, batch 3", 3, 5, 4),
            case("no bias, I = 3, H = 6, batch 2", 2, 3, 6, bias=False),
            case("batch 1, I = H = 1, with bias", 1, 1, 1),
            case("sequence of 1 step, with bias, batch 2", 2, 3, 4, steps=1),
            case("sequence of 5 steps, h fed back, with bias", 2, 3, 4, steps=5),
            case("sequence of 5 steps, no bias, from h = 0", 3, 2, 5, steps=5, bias=False, zero_state=True)]


GRU_CELL = Exercise(
    name="gru-cell", chapter=6, title="one step of a GRU cell, in PyTorch's convention", difficulty="medium",
    entry="gru_cell",
    signature="def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, "
              "bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> Tensor:",
    task='''One step of a gated recurrent unit (Cho et al. 2014), as torch.nn.GRUCell computes it:

        r  = σ(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z  = σ(W_iz x + b_iz + W_hz h + b_hz)          update gate
        n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))  candidate state
        h' = (1 − z) ⊙ n + z ⊙ h

    The reset gate multiplies W_hn h + b_hn AFTER the product (d2l and the paper reset h before
    it: W_hn (r ⊙ h)). weight_ih (3H, I) and weight_hh (3H, H) stack the rows of the r, z, n
    gates in that order (W_ir = weight_ih[:H], W_iz = weight_ih[H:2H], W_in = weight_ih[2H:]),
    so x @ weight_ih.T gives all three gates' input parts at once; bias_ih and bias_hh (3H,)
    are stacked alike, or None (then leave them out). x: (B, I), h: (B, H); returns h' (B, H).
    The checker compares h' and the gradients with respect to x, h and all four weights and
    biases, for single steps and for sequences of 1 and 5 steps fed back.

    Allowed: matrix products, torch.sigmoid, torch.tanh, slicing / Tensor.chunk, arithmetic.
    Not allowed: nn.GRUCell, nn.GRU, torch.gru_cell (the thing itself).''',
    solution="divelab.scratch.rnn:gru_cell",
    experiments=("gru-scratch",), swap_target="divelab.scratch.rnn:GRUScratch.cell",
    reference=lambda x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None: torch.gru_cell(
        x, h, weight_ih, weight_hh, bias_ih, bias_hh),
    probe=_cell_probe(_gru_step, ("h",)), cases=_gru_cases,
    forbidden=("torch.gru_cell", "torch._VF.gru_cell", "torch.gru", "torch.nn.GRUCell.forward",
               "torch.nn.GRU.forward"),
    hints=(
        _sequence_hint("gru-cell", "h'"),
        _none_bias_hint("gru-cell"),
        Hint("gru-cell-update", "here r = z, so the gate order cannot matter, yet h' differs: h' = (1 − z) ⊙ n + "
             "z ⊙ h — z is the share of the OLD state kept (not z ⊙ n + (1 − z) ⊙ h); r and z use σ, n uses tanh",
             key="^h'$", case="^tied"),
        Hint("gru-cell-reset-after", "torch applies the reset gate AFTER the hidden product, bias included: "
             "n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) — not W_hn (r ⊙ h) + b_hn (d2l's form) nor "
             "r ⊙ (W_hn h) + b_hn", key="^grad (h|bias_hh)$", case="h = 0"),
        Hint("gru-cell-gate-order", "the values agree where r = z but the weights' gradients do not: the rows "
             "are stacked r, z, n as in torch — r from rows 0…H−1, z from rows H…2H−1, n from rows 2H…3H−1 "
             "(of weight_ih, weight_hh and both biases)", key="^grad weight_ih$", case="^tied"),
        _batch1_hint("gru-cell"),
        Hint("gru-cell-formula", "compare with the formulas term by term: gate rows r, z, n; n = tanh(W_in x + "
             "b_in + r ⊙ (W_hn h + b_hn)); h' = (1 − z) ⊙ n + z ⊙ h", kind="values"),
    ),
)


# ---- lstm-cell ------------------------------------------------------------------------------------

def _lstm_step(fn: Any, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor | None, ...],
               args: dict[str, Any]) -> tuple[Tensor, ...]:
    result = fn(x, state, *weights)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"lstm_cell returned {type(result).__name__}, expected the tuple (h', c')")
    return as_tensor(result[0]), as_tensor(result[1])


def _lstm_cases() -> list[Case]:
    def case(name: str, *shape: int, **kw: Any) -> Case:
        return _case(name, 4, ("h", "c"), *shape, **kw)

    return [case("with bias, I = 5, H = 4, batch 3", 3, 5, 4),
            case("first step: h = c = 0, with bias, I = 3, H = 5", 2, 3, 5, zero_state=True),
            case("no bias, I = 3, H = 6, batch 2", 2, 3, 6, bias=False),
            case("batch 1, I = H = 1, with bias", 1, 1, 1),
            case("sequence of 1 step, with bias, batch 2", 2, 3, 4, steps=1),
            case("sequence of 5 steps, (h, c) fed back, with bias", 2, 3, 4, steps=5),
            case("sequence of 5 steps, no bias", 3, 2, 5, steps=5, bias=False)]


LSTM_CELL = Exercise(
    name="lstm-cell", chapter=6, title="one step of an LSTM cell", difficulty="medium",
    entry="lstm_cell",
    signature="def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], weight_ih: Tensor, weight_hh: Tensor, "
              "bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:",
    task='''One step of a long short-term memory cell (Hochreiter & Schmidhuber 1997, with forget gate),
    as torch.nn.LSTMCell computes it:

        [a_i, a_f, a_g, a_o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh    one (B, 4H) product per term
        i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)     input, forget, cell, output gates
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    state is (h, c), both (B, H); x: (B, I). weight_ih (4H, I) and weight_hh (4H, H) stack the
    rows of the i, f, g, o gates in that order (a_i from rows 0…H−1, a_f from H…2H−1, …);
    bias_ih and bias_hh (4H,) are stacked alike, or None (then leave them out).
    Returns (h', c'), in that order. The checker compares c', h' and the gradients with respect
    to x, h, c and all four weights and biases, for single steps and for sequences of 1 and 5
    steps with (h', c') fed back.

    Allowed: matrix products, torch.sigmoid, torch.tanh, slicing / Tensor.chunk, arithmetic.
    Not allowed: nn.LSTMCell, nn.LSTM, torch.lstm_cell (the thing itself).''',
    solution="divelab.scratch.rnn:lstm_cell",
    experiments=("lstm-scratch",), swap_target="divelab.scratch.rnn:LSTMScratch.cell",
    reference=lambda x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None: torch.lstm_cell(
        x, state, weight_ih, weight_hh, bias_ih, bias_hh),
    probe=_cell_probe(_lstm_step, ("h", "c")), cases=_lstm_cases,
    forbidden=("torch.lstm_cell", "torch._VF.lstm_cell", "torch.lstm", "torch.nn.LSTMCell.forward",
               "torch.nn.LSTM.forward"),
    hints=(
        _sequence_hint("lstm-cell", "(h', c')"),
        _none_bias_hint("lstm-cell"),
        _batch1_hint("lstm-cell"),
        Hint("lstm-cell-gate-order", "c' is wrong: c' = f ⊙ c + i ⊙ g with the rows stacked i, f, g, o as in torch "
             "(i = σ(rows 0…H−1), f = σ(rows H…2H−1), g = tanh(rows 2H…3H−1), o = σ(rows 3H…4H−1)), "
             "both biases added; and return (h', c') in that order", key="^c", kind="values"),
        Hint("lstm-cell-output-tanh", "c' is right but h' is not: h' = o ⊙ tanh(c') — squash the NEW cell "
             "state with tanh, then gate it by o = σ(a_o)", key="^h", kind="values"),
    ),
)

EXERCISES: list[Exercise] = [RNN_CELL, GRU_CELL, LSTM_CELL]
