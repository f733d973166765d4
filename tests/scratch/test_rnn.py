"""Twin tests for the scratch RNN, GRU and LSTM cells and layers against torch.nn's.

Weights are copied from the torch layer (``load_state_dict(torch_layer.state_dict())``)
and both sides run in float64. One twin call compares the output and the final states
(flattened into one vector), then backpropagates a random upstream gradient through that
vector and compares the gradients w.r.t. the input, the initial states and every
parameter (the parameters go in through ``torch.func.functional_call``). Tolerance:
``atol=1e-8, rtol=0`` (real differences are ~1e-15; a wrong gate order, a missing
reversal or a dropped bias moves results by O(0.1)).

Covered: the full grid num_layers ∈ {1, 2, 3} × bidirectional × batch_first × with/without
``hx`` for RNN (tanh, relu), GRU and LSTM, at random small sizes, plus hypothesis-drawn
cases (bias on/off, inter-layer dropout in eval mode); train-mode dropout separately.
"""

from __future__ import annotations

import itertools
from typing import Any
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.func import functional_call

from divelab.scratch.rnn import GRUScratch, LSTMScratch, RNNScratch, gru_cell, lstm_cell, rnn_cell
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

ATOL, RTOL = 1e-8, 0.0
KINDS: dict[str, tuple[type[nn.Module], type[nn.Module], dict]] = {
    "rnn_tanh": (RNNScratch, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNScratch, nn.RNN, {"nonlinearity": "relu"}),
    "gru": (GRUScratch, nn.GRU, {}),
    "lstm": (LSTMScratch, nn.LSTM, {}),
}


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _layers(kind: str, input_size: int, hidden_size: int, num_layers: int, **options) -> tuple[nn.Module, nn.Module]:
    """(scratch, torch) float64 layers of one kind with the torch layer's weights copied into the scratch one."""
    scratch_cls, torch_cls, extra = KINDS[kind]
    reference = torch_cls(input_size, hidden_size, num_layers, **extra, **options).double()
    scratch = scratch_cls(input_size, hidden_size, num_layers, **extra, **options).double()
    scratch.load_state_dict(reference.state_dict())
    return scratch, reference


def _flat_call(module: nn.Module, names: list[str]):
    """``(x, h0, c0, *weights) → [output, h_n(, c_n)]`` flattened, the weights swapped in by name."""
    def call(x: Tensor, h0: Tensor | None, c0: Tensor | None, *weights: Tensor) -> Tensor:
        hx = None if h0 is None else h0 if c0 is None else (h0, c0)
        output, state = functional_call(module, dict(zip(names, weights)), (x, hx))
        states = state if isinstance(state, tuple) else (state,)
        return torch.cat([output.flatten(), *(s.flatten() for s in states)])
    return call


def _assert_layer_twin(kind: str, scratch: nn.Module, reference: nn.Module, steps: int, batch: int,
                       with_hx: bool, seed: int) -> Tensor:
    """Outputs, final states and all gradients (input, h0, c0, every weight) of the two layers agree."""
    x_shape = (batch, steps, reference.input_size) if reference.batch_first else (steps, batch, reference.input_size)
    state_shape = (reference.num_layers * (2 if reference.bidirectional else 1), batch, reference.hidden_size)
    h0 = _randn(*state_shape, seed=seed + 1) if with_hx else None
    c0 = _randn(*state_shape, seed=seed + 2) if with_hx and kind == "lstm" else None
    names = [name for name, _ in reference.named_parameters()]
    assert names == [name for name, _ in scratch.named_parameters()]
    weights = [p.detach() for p in reference.parameters()]
    return assert_twin(_flat_call(scratch, names), _flat_call(reference, names), _randn(*x_shape, seed=seed),
                       h0, c0, *weights, atol=ATOL, rtol=RTOL)


# ---- the layers: the full grid, then hypothesis --------------------------------------------------

GRID = list(itertools.product(KINDS, (1, 2, 3), (False, True), (False, True), (False, True)))


@pytest.mark.parametrize("kind, num_layers, bidirectional, batch_first, with_hx", GRID)
def test_layer_matches_torch(kind: str, num_layers: int, bidirectional: bool, batch_first: bool,
                             with_hx: bool) -> None:
    seed = GRID.index((kind, num_layers, bidirectional, batch_first, with_hx))
    sizes = torch.randint(1, 5, (4,), generator=torch.Generator().manual_seed(seed)).tolist()  # T, B, I, H
    scratch, reference = _layers(kind, sizes[2], sizes[3], num_layers, bidirectional=bidirectional,
                                 batch_first=batch_first)
    _assert_layer_twin(kind, scratch, reference, sizes[0], sizes[1], with_hx, seed)


@st.composite
def layer_cases(draw: st.DrawFn) -> dict:
    num_layers = draw(st.integers(1, 3))
    return {"kind": draw(st.sampled_from(list(KINDS))), "steps": draw(st.integers(1, 7)),
            "batch": draw(st.integers(1, 4)), "input_size": draw(st.integers(1, 6)),
            "hidden_size": draw(st.integers(1, 6)), "num_layers": num_layers,
            "bias": draw(st.booleans()), "bidirectional": draw(st.booleans()), "batch_first": draw(st.booleans()),
            "dropout": draw(st.sampled_from([0.0, 0.3, 0.9])) if num_layers > 1 else 0.0,
            "with_hx": draw(st.booleans()), "seed": draw(st.integers(0, 2**16))}


@settings(max_examples=40, deadline=None)
@given(layer_cases())
def test_layer_matches_torch_random_sizes(case: dict) -> None:
    """Bias on/off and dropout > 0 (compared in eval mode, where it must be the identity) too."""
    scratch, reference = _layers(case["kind"], case["input_size"], case["hidden_size"], case["num_layers"],
                                 bias=case["bias"], bidirectional=case["bidirectional"],
                                 batch_first=case["batch_first"], dropout=case["dropout"])
    scratch.eval(), reference.eval()
    _assert_layer_twin(case["kind"], scratch, reference, case["steps"], case["batch"], case["with_hx"], case["seed"])


@pytest.mark.parametrize("kind", KINDS)
def test_output_shapes_and_last_step(kind: str) -> None:
    """output (T, B, 2H); h_n's forward half is output's last step, its reverse half output's first step."""
    scratch, _ = _layers(kind, 3, 4, 2, bidirectional=True)
    output, state = scratch(_randn(5, 2, 3, seed=0))
    h_n = state[0] if kind == "lstm" else state
    assert output.shape == (5, 2, 8) and h_n.shape == (4, 2, 4)
    torch.testing.assert_close(h_n[2], output[-1, :, :4], atol=0, rtol=0)   # last layer, forward
    torch.testing.assert_close(h_n[3], output[0, :, 4:], atol=0, rtol=0)    # last layer, reverse


def test_batch_first_is_a_transpose() -> None:
    seq_first, _ = _layers("lstm", 3, 4, 2, bidirectional=True)
    batch_first = LSTMScratch(3, 4, 2, bidirectional=True, batch_first=True).double()
    batch_first.load_state_dict(seq_first.state_dict())
    x = _randn(6, 2, 3, seed=1)
    out_t, (h_t, c_t) = seq_first(x)
    out_b, (h_b, c_b) = batch_first(x.transpose(0, 1))
    torch.testing.assert_close(out_b, out_t.transpose(0, 1), atol=0, rtol=0)
    torch.testing.assert_close((h_b, c_b), (h_t, c_t), atol=0, rtol=0)


# ---- dropout between layers ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_train_mode_dropout_one_matches_torch(kind: str) -> None:
    """p = 1 drops the whole input of layers ≥ 1 (deterministic, so twinnable in train mode) and
    nothing after the last layer — else the output would be all zeros."""
    scratch, reference = _layers(kind, 3, 4, 3, bidirectional=True, dropout=1.0)
    scratch.train(), reference.train()
    _assert_layer_twin(kind, scratch, reference, steps=4, batch=2, with_hx=True, seed=7)
    assert scratch(_randn(4, 2, 3, seed=8))[0].abs().max() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_train_mode_dropout_changes_the_output(kind: str) -> None:
    scratch, _ = _layers(kind, 3, 8, 2, dropout=0.5)
    x = _randn(5, 3, 3, seed=2)
    scratch.eval()
    eval_a, eval_b = scratch(x)[0], scratch(x)[0]
    scratch.train()
    torch.manual_seed(0)
    train_a, train_b = scratch(x)[0], scratch(x)[0]
    assert torch.equal(eval_a, eval_b)
    assert not torch.allclose(train_a, eval_a) and not torch.allclose(train_a, train_b)


def test_single_layer_dropout_warns_and_does_nothing() -> None:
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        scratch = GRUScratch(3, 4, dropout=0.5).double()
    x = _randn(5, 2, 3, seed=3)
    out_train = scratch.train()(x)[0]
    torch.testing.assert_close(out_train, scratch.eval()(x)[0], atol=0, rtol=0)


# ---- cells ---------------------------------------------------------------------------------------

# each scratch side takes (x, state tuple, *weights) and returns one tensor (the LSTM's h' and c' side by side)
CELLS = {
    "rnn_tanh": (lambda x, s, *w: rnn_cell(x, s[0], *w, nonlinearity="tanh"), nn.RNNCell, {"nonlinearity": "tanh"}, 1),
    "rnn_relu": (lambda x, s, *w: rnn_cell(x, s[0], *w, nonlinearity="relu"), nn.RNNCell, {"nonlinearity": "relu"}, 1),
    "gru": (lambda x, s, *w: gru_cell(x, s[0], *w), nn.GRUCell, {}, 3),
    "lstm": (lambda x, s, *w: torch.cat(lstm_cell(x, s, *w), dim=1), nn.LSTMCell, {}, 4),
}


@pytest.mark.parametrize("kind, bias", list(itertools.product(CELLS, (True, False))))
@pytest.mark.parametrize("batch, input_size, hidden_size", [(1, 1, 1), (3, 5, 4), (2, 3, 7)])
def test_cell_matches_torch(kind: str, bias: bool, batch: int, input_size: int, hidden_size: int) -> None:
    cell_fn, torch_cls, extra, gates = CELLS[kind]
    reference = torch_cls(input_size, hidden_size, bias=bias, **extra).double()
    names = [name for name, _ in reference.named_parameters()]
    weights = [_randn(*p.shape, seed=3 + i) for i, p in enumerate(reference.parameters())]
    assert weights[0].shape == (gates * hidden_size, input_size)
    state = tuple(_randn(batch, hidden_size, seed=1 + i) for i in range(2 if kind == "lstm" else 1))
    n = len(state)

    def theirs(x: Tensor, *rest: Tensor) -> Tensor:
        out = functional_call(reference, dict(zip(names, rest[n:])), (x, rest[:n] if n == 2 else rest[0]))
        return torch.cat(out, dim=1) if n == 2 else out

    def mine(x: Tensor, *rest: Tensor) -> Tensor:
        return cell_fn(x, rest[:n], *rest[n:], *(() if bias else (None, None)))

    assert_twin(mine, theirs, _randn(batch, input_size, seed=0), *state, *weights, atol=ATOL, rtol=RTOL)


def test_cells_reject_mismatched_shapes() -> None:
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    with pytest.raises(ValueError, match="weight_ih"):
        gru_cell(x, h, torch.randn(8, 3), torch.randn(8, 4))       # 2 gates' rows, a GRU has 3
    with pytest.raises(ValueError, match="same B"):
        rnn_cell(x, torch.randn(3, 4), torch.randn(4, 3), torch.randn(4, 4))
    with pytest.raises(ValueError, match="h and c"):
        lstm_cell(x, (h, torch.randn(2, 5)), torch.randn(16, 3), torch.randn(16, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_cell(x, h, torch.randn(4, 3), torch.randn(4, 4), nonlinearity="sigmoid")


# ---- parameters, initialisation, speed structure, errors -----------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_same_parameters_and_init_as_torch(kind: str) -> None:
    """Names, shapes and — after the same seed — the very numbers of ``nn.RNNBase.reset_parameters``."""
    scratch_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(5)
    reference = torch_cls(3, 6, 2, bidirectional=True, **extra)
    torch.manual_seed(5)
    scratch = scratch_cls(3, 6, 2, bidirectional=True, **extra)
    mine, theirs = scratch.state_dict(), reference.state_dict()
    assert list(mine) == list(theirs)
    for name in theirs:
        assert torch.equal(mine[name], theirs[name]), name
    assert all(p.abs().max() <= 6 ** -0.5 for p in scratch.parameters())


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_one_matmul_per_step(bias: bool) -> None:
    """Per layer and direction: one matmul for the input projection of all steps, then ONE per step."""
    steps, layers, directions = 6, 2, 2
    lstm = LSTMScratch(3, 4, layers, bias=bias, bidirectional=True)
    with torch.no_grad(), torch.profiler.profile() as profile:
        lstm(torch.randn(steps, 2, 3))
    names = [event.name for event in profile.events()]
    matmuls = sum(names.count(op) for op in ("aten::mm", "aten::addmm", "aten::bmm"))
    assert matmuls == layers * directions * (1 + steps)


def test_keeps_float32_and_matches_torch() -> None:
    torch.manual_seed(0)
    reference = nn.LSTM(5, 8, 2, bidirectional=True)
    scratch = LSTMScratch(5, 8, 2, bidirectional=True)
    scratch.load_state_dict(reference.state_dict())
    x = torch.randn(7, 3, 5)
    out, (h, c) = scratch(x)
    assert out.dtype == h.dtype == c.dtype == torch.float32
    torch.testing.assert_close((out, h, c), (lambda o: (o[0], *o[1]))(reference(x)), atol=1e-5, rtol=1e-5)


def test_bad_arguments_raise_value_error() -> None:
    for kwargs in ({"hidden_size": 0}, {"num_layers": 0}, {"dropout": 1.5}, {"dropout": -0.1}, {"input_size": 2.0}):
        with pytest.raises(ValueError):
            GRUScratch(**{"input_size": 3, "hidden_size": 4, "num_layers": 2, **kwargs})
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNScratch(3, 4, nonlinearity="sigmoid")
    lstm = LSTMScratch(3, 4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no warning for a valid call
        lstm(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="I = 3"):
        lstm(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"\(T, B, I\)"):
        lstm(torch.randn(5, 3))
    with pytest.raises(ValueError, match="≥ 1"):
        lstm(torch.randn(0, 2, 3))
    with pytest.raises(ValueError, match=r"\(2, 2, 4\)"):
        lstm(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="h_0, c_0"):
        lstm(torch.randn(5, 2, 3), torch.zeros(2, 2, 4))        # an LSTM needs (h_0, c_0)
    with pytest.raises(ValueError, match=r"\(4, 2, 4\)"):
        RNNScratch(3, 4, 2, bidirectional=True)(torch.randn(5, 2, 3), torch.zeros(2, 2, 4))


@pytest.mark.parametrize("cls, cell", [(LSTMScratch, lstm_cell), (GRUScratch, gru_cell)])
def test_a_whole_cell_function_runs_the_layer_like_the_fused_path(cls: type, cell: Any) -> None:
    """``cell`` set (how a learner's cell trains in an experiment): same outputs and gradients."""
    torch.manual_seed(0)
    layer = cls(3, 5, num_layers=2, bidirectional=True).double()
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    fused, _ = layer(x)
    fused_grad, = torch.autograd.grad(fused.sum(), x)
    layer.cell = cell  # an instance attribute: not bound as a method
    stepped, _ = layer(x)
    stepped_grad, = torch.autograd.grad(stepped.sum(), x)
    torch.testing.assert_close(stepped, fused, atol=1e-12, rtol=0)
    torch.testing.assert_close(stepped_grad, fused_grad, atol=1e-12, rtol=0)


@pytest.mark.parametrize("state, got", [
    (torch.zeros(2, 4), "one Tensor"),                         # B = 2 would unpack into two rows
    ((torch.zeros(2, 4),), "a tuple of 1: (Tensor)"),
    ([torch.zeros(2, 4), None], "a list of 2: (Tensor, NoneType)"),
    (None, "NoneType"),
])
def test_lstm_cell_refuses_a_state_that_is_not_a_pair_of_tensors(state, got) -> None:
    x, weight_ih, weight_hh = torch.zeros(2, 3), torch.zeros(16, 3), torch.zeros(16, 4)
    with pytest.raises(TypeError) as error:
        lstm_cell(x, state, weight_ih, weight_hh)
    assert str(error.value) == f"lstm_cell(): argument 'state' must be a pair (h, c) of two Tensors, not {got}"


def test_cells_refuse_inputs_that_are_not_tensors() -> None:
    with pytest.raises(TypeError, match=r"^rnn_cell\(\): argument 'x' must be a Tensor, not list$"):
        rnn_cell([[0.0, 0.0, 0.0]], torch.zeros(1, 4), torch.zeros(4, 3), torch.zeros(4, 4))
    with pytest.raises(TypeError, match=r"^gru_cell\(\): argument 'h' must be a Tensor, not float$"):
        gru_cell(torch.zeros(1, 3), 0.0, torch.zeros(12, 3), torch.zeros(12, 4))
