"""Recurrent networks written by hand: RNN, GRU and LSTM cells, and layers that stack and run them.

A *cell* maps one time step's input ``x`` ``(B, I)`` and the previous state to the next
state (weights ``W_ih`` ``(G·H, I)``, ``W_hh`` ``(G·H, H)``, biases ``b_ih``, ``b_hh``
``(G·H,)``, with ``G`` gates of ``H`` units each, stacked in PyTorch's row order):

``rnn_cell``   ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (or ReLU), ``G = 1``
``gru_cell``   gates r, z, n (``G = 3``), ``h' = (1 − z) ⊙ n + z ⊙ h``
``lstm_cell``  gates i, f, g, o (``G = 4``), ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``

A *layer* (``RNNScratch``, ``GRUScratch``, ``LSTMScratch``) runs a cell over a sequence,
``num_layers`` deep, optionally in both directions, as a drop-in twin of ``nn.RNN``,
``nn.GRU``, ``nn.LSTM`` (same parameter names and shapes, same ``forward`` contract).

How it is made fast without leaving Python: the input half ``x_t W_ihᵀ + b_ih`` of every
gate does not depend on the state, so for one layer and direction it is computed for
*all* time steps in one matrix product before the time loop; each step then needs one
product ``h W_hhᵀ`` that yields all gates at once (the LSTM's four gates from one
``(B, 4H)`` result), split afterwards. For the RNN and LSTM ``b_hh`` joins ``b_ih`` in the
input projection, so a step is one ``addmm`` (the GRU keeps ``b_hn`` inside ``r ⊙ (…)``). Steps are read with one ``unbind`` and the outputs
joined with one ``stack`` (indexing ``x[t]`` per step would make autograd add a full-size
zero tensor per step in the backward pass).

Not covered (the torch twins have them): ``proj_size``, packed sequences, unbatched 2-D
input, cuDNN/oneDNN fused kernels.

One family kept in one module because the three cells share the input projection, the step loop
and the layer class that stacks them and runs them in both directions.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from divelab.scratch.checks import check_tensor, check_tensor_pair
from divelab.scratch.dropout import dropout as dropout_fn

Nonlinearity = Literal["tanh", "relu"]
State = tuple[Tensor, ...]   # (h,) for RNN and GRU, (h, c) for LSTM
_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def _input_projection(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x W_ihᵀ + b`` for every leading index at once: ``(..., I)`` → ``(..., G·H)``, one matmul.

    With a bias it is one fused ``addmm`` on ``x`` flattened to ``(N, I)`` (no separate pass
    to add ``b``).
    """
    if bias is None:
        return x @ weight_ih.t()
    flat = torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight_ih.t())   # (N, G·H)
    return flat.view(*x.shape[:-1], flat.shape[-1])


def _hidden_projection(xp: Tensor, h: Tensor, weight_hh_t: Tensor) -> Tensor:
    """``xp + h W_hhᵀ`` as one fused ``addmm`` (``xp`` already holds the input part of the gates)."""
    return torch.addmm(xp, h, weight_hh_t)


def _rnn_step(xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None,
              nonlinearity: Nonlinearity = "tanh") -> State:
    """One RNN step given ``xp = x W_ihᵀ + b_ih``: ``h' = φ(xp + h W_hhᵀ + b_hh)``."""
    if bias_hh is not None:
        xp = xp + bias_hh
    return (_ACTIVATIONS[nonlinearity](_hidden_projection(xp, state[0], weight_hh_t)),)


def _gru_step(xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
    """One GRU step given ``xp = x W_ihᵀ + b_ih`` (see :func:`gru_cell` for the formulas)."""
    h = state[0]
    hp = h @ weight_hh_t if bias_hh is None else torch.addmm(bias_hh, h, weight_hh_t)  # (B, 3H): all gates
    x_rz, x_n = xp.tensor_split([2 * h.shape[1]], dim=1)
    h_rz, h_n = hp.tensor_split([2 * h.shape[1]], dim=1)
    r, z = torch.sigmoid(x_rz + h_rz).chunk(2, dim=1)
    n = torch.tanh(x_n + r * h_n)
    return (n + z * (h - n),)   # = (1 − z) ⊙ n + z ⊙ h, written as torch's kernel writes it


def _lstm_step(xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
    """One LSTM step given ``xp = x W_ihᵀ + b_ih`` (see :func:`lstm_cell` for the formulas)."""
    h, c = state
    if bias_hh is not None:
        xp = xp + bias_hh
    i, f, g, o = _hidden_projection(xp, h, weight_hh_t).chunk(4, dim=1)  # ONE (B, 4H) product
    c_next = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def _check_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, gates: int, what: str) -> None:
    """A ValueError unless ``x`` ``(B, I)``, ``h`` ``(B, H)`` and the weights fit together (a TypeError
    unless they are tensors)."""
    for name, value in (("x", x), ("h", h), ("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        check_tensor(what, name, value)
    hidden = weight_hh.shape[-1]
    if x.dim() != 2 or h.dim() != 2 or x.shape[0] != h.shape[0]:
        raise ValueError(f"{what} takes x (B, I) and h (B, H) with the same B, "
                         f"got shapes {tuple(x.shape)} and {tuple(h.shape)}")
    expected_ih, expected_hh = (gates * hidden, x.shape[1]), (gates * hidden, h.shape[1])
    if tuple(weight_ih.shape) != expected_ih or tuple(weight_hh.shape) != expected_hh:
        raise ValueError(f"{what} needs weight_ih {expected_ih} and weight_hh {expected_hh} ({gates} gate(s) of "
                         f"{hidden} units), got {tuple(weight_ih.shape)} and {tuple(weight_hh.shape)}")


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None, nonlinearity: Nonlinearity = "tanh") -> Tensor:
    """One step of an Elman RNN: ``h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, ``φ`` = tanh or ReLU.

    ``x`` ``(B, I)``, ``h`` ``(B, H)``, ``weight_ih`` ``(H, I)``, ``weight_hh`` ``(H, H)``,
    biases ``(H,)`` or None. Returns ``h'`` ``(B, H)``.

    Twin: torch.nn.RNNCell (nonlinearity="tanh" | "relu")
    """
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _check_cell(x, h, weight_ih, weight_hh, 1, "rnn_cell")
    return _rnn_step(_input_projection(x, weight_ih, bias_ih), (h,), weight_hh.t(), bias_hh, nonlinearity)[0]


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None) -> Tensor:
    """One step of a gated recurrent unit (Cho et al. 2014), in PyTorch's convention::

        r  = σ(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z  = σ(W_iz x + b_iz + W_hz h + b_hz)          update gate
        n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))  candidate state
        h' = (1 − z) ⊙ n + z ⊙ h

    The reset gate multiplies ``W_hn h + b_hn`` *after* the product (d2l and the paper
    reset ``h`` before it: ``W_hn (r ⊙ h)``). ``weight_ih`` ``(3H, I)`` and ``weight_hh``
    ``(3H, H)`` stack the r, z, n rows in that order; biases ``(3H,)`` or None.

    Twin: torch.nn.GRUCell
    """
    _check_cell(x, h, weight_ih, weight_hh, 3, "gru_cell")
    return _gru_step(_input_projection(x, weight_ih, bias_ih), (h,), weight_hh.t(), bias_hh)[0]


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One step of a long short-term memory cell (Hochreiter & Schmidhuber 1997, with forget gate)::

        [a_i, a_f, a_g, a_o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh    ONE (B, 4H) product per term
        i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)     input, forget, cell, output gates
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    ``state`` is ``(h, c)``, both ``(B, H)``; ``weight_ih`` ``(4H, I)`` and ``weight_hh``
    ``(4H, H)`` stack the i, f, g, o rows in that order; biases ``(4H,)`` or None.
    Returns ``(h', c')``.

    Twin: torch.nn.LSTMCell
    """
    check_tensor_pair("lstm_cell", "state", state, "(h, c)")
    h, c = state
    _check_cell(x, h, weight_ih, weight_hh, 4, "lstm_cell")
    if c.shape != h.shape:
        raise ValueError(f"lstm_cell needs h and c of the same shape, got {tuple(h.shape)} and {tuple(c.shape)}")
    h_next, c_next = _lstm_step(_input_projection(x, weight_ih, bias_ih), (h, c), weight_hh.t(), bias_hh)
    return h_next, c_next


class _RecurrentScratch(nn.Module):
    """What the three layers share: parameters as ``nn.RNNBase`` names them, stacking, directions.

    Subclasses set ``gates`` (G), ``state_size`` (1 for ``(h,)``, 2 for ``(h, c)``) and
    ``_step``; ``fold_hidden_bias`` says whether ``b_hh`` may be added once to the input
    projection (true unless a gate multiplies it, as the GRU's reset gate does).
    """

    gates = 1
    state_size = 1
    fold_hidden_bias = True
    # A whole-cell function ``(x_t, state, W_ih, W_hh, b_ih, b_hh) → state`` (``state`` is ``h``,
    # or ``(h, c)`` for the LSTM) used step by step instead of the fused path below when set:
    # how a learner's cell trains in an experiment (``divelab run lstm-scratch --set impl=FILE``).
    cell: Callable[..., Any] | None = None

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1] (the probability of dropping a unit), "
                             f"got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout={dropout} has no effect with num_layers=1: it acts between stacked layers, "
                          "not after the last one", stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        # registration order = nn.RNNBase's (layer, direction, w_ih, w_hh, b_ih, b_hh): same init stream
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                rows = self.gates * hidden_size
                setattr(self, f"weight_ih{suffix}", nn.Parameter(torch.empty(rows, layer_input)))
                setattr(self, f"weight_hh{suffix}", nn.Parameter(torch.empty(rows, hidden_size)))
                if bias:
                    setattr(self, f"bias_ih{suffix}", nn.Parameter(torch.empty(rows)))
                    setattr(self, f"bias_hh{suffix}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        """Parameter name suffixes of one layer: ``_l0`` and, if bidirectional, ``_l0_reverse``."""
        return [f"_l{layer}", f"_l{layer}_reverse"][:self.num_directions]

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√H, 1/√H), drawn in ``nn.RNNBase``'s order (same numbers after a seed)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            parameter.uniform_(-bound, bound)

    def _weights(self, suffix: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(W_ih, W_hh, b_ih, b_hh)`` of one layer and direction (biases None without ``bias``)."""
        weight_ih, weight_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        if not self.bias:
            return weight_ih, weight_hh, None, None
        return weight_ih, weight_hh, getattr(self, f"bias_ih{suffix}"), getattr(self, f"bias_hh{suffix}")

    def _step(self, xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
        raise NotImplementedError

    def _initial_states(self, hx: Tensor | tuple[Tensor, ...] | None, x: Tensor, batch: int) -> list[State]:
        """``hx`` (``(L·D, B, H)`` tensors) as one state tuple per (layer, direction); zeros if None."""
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            parts = tuple(x.new_zeros(shape) for _ in range(self.state_size))
        else:
            parts = hx if isinstance(hx, (tuple, list)) else (hx,)
            if len(parts) != self.state_size or any(not isinstance(p, Tensor) or tuple(p.shape) != shape
                                                    for p in parts):
                got = [tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__ for p in parts]
                what = "(h_0, c_0), each" if self.state_size == 2 else "h_0"
                raise ValueError(f"{type(self).__name__} expects {what} of shape {shape} "
                                 f"(num_layers·num_directions, batch, hidden_size), got {got}")
        return [tuple(part[k] for part in parts) for k in range(shape[0])]

    def _final_states(self, states: list[State]) -> Tensor | tuple[Tensor, ...]:
        """The last state of every (layer, direction), stacked as ``h_n`` (LSTM: ``(h_n, c_n)``)."""
        parts = tuple(torch.stack([state[i] for state in states]) for i in range(self.state_size))
        return parts[0] if self.state_size == 1 else parts

    def _run_direction(self, x: Tensor, state: State, suffix: str, reverse: bool) -> tuple[Tensor, State]:
        """One layer in one direction over the whole sequence: outputs ``h_t`` for every t, last state.

        ``x`` is ``(T, B, I)`` (``(B, T, I)`` if batch_first). The reverse direction reads the
        steps backwards; writing its ``h_t`` back at position t re-reverses its outputs.
        """
        time_dim = 1 if self.batch_first else 0
        weight_ih, weight_hh, bias_ih, bias_hh = self._weights(suffix)
        if self.cell is not None:
            return self._run_cell(x.unbind(time_dim), state, (weight_ih, weight_hh, bias_ih, bias_hh), reverse,
                                  time_dim)
        if self.fold_hidden_bias and bias_hh is not None:
            bias_ih, bias_hh = bias_ih + bias_hh, None
        steps = _input_projection(x, weight_ih, bias_ih).unbind(time_dim)   # T × (B, G·H): ONE matmul
        weight_hh_t = weight_hh.t()
        outputs: list[Tensor] = [x] * len(steps)   # placeholders, every one overwritten
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        for t in order:
            state = self._step(steps[t], state, weight_hh_t, bias_hh)
            outputs[t] = state[0]
        return torch.stack(outputs, dim=time_dim), state

    def _run_cell(self, xs: tuple[Tensor, ...], state: State, weights: tuple[Tensor | None, ...], reverse: bool,
                  time_dim: int) -> tuple[Tensor, State]:
        """:meth:`_run_direction` through ``self.cell``, one call per step on the raw weights."""
        assert self.cell is not None
        outputs: list[Tensor] = list(xs)   # placeholders, every one overwritten
        order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
        for t in order:
            result = self.cell(xs[t], state if self.state_size > 1 else state[0], *weights)
            state = tuple(result) if self.state_size > 1 else (result,)
            outputs[t] = state[0]
        return torch.stack(outputs, dim=time_dim), state

    def forward(self, x: Tensor, hx: Tensor | tuple[Tensor, ...] | None = None) -> tuple[Tensor, Tensor | tuple]:
        """``x`` ``(T, B, I)`` (``(B, T, I)`` if batch_first) → ``(output, h_n)``.

        ``output`` ``(T, B, D·H)`` holds the last layer's ``h_t`` (both directions
        concatenated, forward first); ``h_n`` ``(L·D, B, H)`` the final state of each layer
        and direction (index ``layer·D + direction``), as do ``hx``'s tensors for the
        initial state. Layer ``l > 0`` reads layer ``l − 1``'s output, through dropout
        while training.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"{type(self).__name__} expects input {layout} with I = {self.input_size}, "
                             f"got shape {tuple(x.shape)}")
        batch, length = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        if length == 0 or batch == 0:
            raise ValueError(f"{type(self).__name__} needs a sequence length and batch size ≥ 1, "
                             f"got shape {tuple(x.shape)}")
        initial = self._initial_states(hx, x, batch)
        finals: list[State] = []
        for layer in range(self.num_layers):
            if layer > 0:
                x = dropout_fn(x, self.dropout, self.training)
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                out, state = self._run_direction(x, initial[layer * self.num_directions + direction], suffix,
                                                 reverse=direction == 1)
                outputs.append(out)
                finals.append(state)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
        return x, self._final_states(finals)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNNScratch(_RecurrentScratch):
    """A stacked Elman RNN: ``h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)``, ``φ`` = tanh or ReLU.

    Same arguments, parameters (names, shapes, initialisation) and ``forward`` as the twin.

    Twin: torch.nn.RNN
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, nonlinearity: Nonlinearity = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional)
        self.nonlinearity = nonlinearity

    def _step(self, xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
        return _rnn_step(xp, state, weight_hh_t, bias_hh, self.nonlinearity)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")


class GRUScratch(_RecurrentScratch):
    """A stacked GRU; each step is :func:`gru_cell`, in torch's convention
    ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` (the reset gate acts after the product).

    Twin: torch.nn.GRU
    """

    gates = 3
    fold_hidden_bias = False   # b_hn sits inside r ⊙ (…), so it cannot join the input projection

    def _step(self, xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
        return _gru_step(xp, state, weight_hh_t, bias_hh)


class LSTMScratch(_RecurrentScratch):
    """A stacked LSTM; each step is :func:`lstm_cell`, all four gates from one ``(B, 4H)`` product.

    ``forward(x, (h_0, c_0))`` returns ``(output, (h_n, c_n))`` as the twin does.

    Twin: torch.nn.LSTM (proj_size=0)
    """

    gates = 4
    state_size = 2

    def _step(self, xp: Tensor, state: State, weight_hh_t: Tensor, bias_hh: Tensor | None) -> State:
        return _lstm_step(xp, state, weight_hh_t, bias_hh)
