"""Twin tests for the scratch optimisers against torch.optim, and their optimizer interface.

Each twin trains the same tiny float64 MLP on the same minibatches with a scratch optimizer
and its torch.optim twin (``foreach=False``, torch's plain per-tensor loop) for 100 steps and
compares every parameter after every step to ``atol=1e-12, rtol=0`` (the differences seen are
at the last bit, ~1e-16), then the state buffers.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from divelab.scratch import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp
from divelab.train import checkpoint

pytestmark = pytest.mark.twin

TOL = {"atol": 1e-12, "rtol": 0.0}
STEPS = 100
TWIN = {SGD: torch.optim.SGD, Adagrad: torch.optim.Adagrad, RMSProp: torch.optim.RMSprop,
        Adam: torch.optim.Adam, AdamW: torch.optim.AdamW}

CASES = [
    (SGD, {"lr": 0.05}),
    (SGD, {"lr": 0.05, "weight_decay": 0.1}),
    (SGD, {"lr": 0.02, "momentum": 0.9}),
    (SGD, {"lr": 0.02, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
    (SGD, {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    (Adagrad, {}),
    (Adagrad, {"lr": 0.1, "weight_decay": 0.1}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.05}),
    (Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    (RMSProp, {}),
    (RMSProp, {"weight_decay": 0.1, "alpha": 0.9}),
    (RMSProp, {"lr": 0.001, "momentum": 0.9}),
    (RMSProp, {"centered": True}),
    (Adam, {}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, {"lr": 0.01, "amsgrad": True}),
    (AdamW, {}),
    (AdamW, {"lr": 0.01, "weight_decay": 0.5}),
]
# one case per class with its richest state (all options together), for the other twins and interface tests
RICH = {SGD: {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        Adagrad: {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
        RMSProp: {"lr": 0.001, "momentum": 0.8, "centered": True, "weight_decay": 0.01},
        Adam: {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
        AdamW: {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}}


def case_id(case: tuple[type[Optimizer], dict[str, Any]]) -> str:
    cls, kwargs = case
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in kwargs.items())


# ---- the problem ---------------------------------------------------------------------------

def make_problem(seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """A tiny tanh MLP 4 → 8 → 3 on a noisy linear target: initial params, inputs X, targets Y (float64)."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    params = [0.5 * randn(8, 4), 0.1 * randn(8), 0.5 * randn(3, 8), 0.1 * randn(3)]
    X = randn(64, 4)
    Y = X @ randn(4, 3) + 0.1 * randn(64, 3)
    return params, X, Y


def batch_loss(params: list[torch.Tensor], X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2 = params
    return ((torch.tanh(X @ w1.T + b1) @ w2.T + b2 - Y) ** 2).mean()


def leaves(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t.clone().requires_grad_(True) for t in tensors]


def train_step(params: list[torch.Tensor], opt: Any, X: torch.Tensor, Y: torch.Tensor, step: int,
               drop_last_grad: bool = False) -> None:
    """One minibatch step (batches of 16 in turn); ``drop_last_grad`` leaves the last parameter without a grad."""
    rows = slice(16 * (step % 4), 16 * (step % 4) + 16)
    opt.zero_grad()
    batch_loss(params, X[rows], Y[rows]).backward()
    if drop_last_grad:
        params[-1].grad = None
    opt.step()


def theirs_for(cls: type[Optimizer], params: list[torch.Tensor], kwargs: dict[str, Any]) -> torch.optim.Optimizer:
    return TWIN[cls](params, **kwargs, foreach=False)


def flat(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in params])


def run_twins(cls: type[Optimizer], kwargs: dict[str, Any], steps: int = STEPS,
              lr_at: Callable[[int], float] | None = None,
              drop_grad: Callable[[int], bool] = lambda step: False) -> tuple[Optimizer, torch.optim.Optimizer]:
    """Train with ``cls`` and its torch twin side by side; assert equal parameters after every step."""
    initial, X, Y = make_problem()
    mine, theirs = leaves(initial), leaves(initial)
    opt_mine, opt_theirs = cls(mine, **kwargs), theirs_for(cls, theirs, kwargs)
    path_mine: list[torch.Tensor] = []  # all parameters after each step, one row per step
    path_theirs: list[torch.Tensor] = []
    for step in range(steps):
        for params, opt, path in ((mine, opt_mine, path_mine), (theirs, opt_theirs, path_theirs)):
            if lr_at is not None:
                opt.param_groups[0]["lr"] = lr_at(step)  # what an LR schedule does
            train_step(params, opt, X, Y, step, drop_last_grad=drop_grad(step))
            path.append(flat(params))
    got, want = torch.stack(path_mine), torch.stack(path_theirs)
    first = int(((got - want).abs() > TOL["atol"]).any(dim=1).float().argmax())
    torch.testing.assert_close(got, want, **TOL, msg=lambda m: f"first differs after step {first}: {m}")
    for p, p0 in zip(mine, initial):
        assert not torch.equal(p.detach(), p0)  # every parameter moved, so the comparison means something
    return opt_mine, opt_theirs


def assert_same_state(opt_mine: Optimizer, opt_theirs: torch.optim.Optimizer) -> None:
    """Same buffers, equal within TOL, and the same step counts (torch also counts steps in RMSprop)."""
    for i, (state, p) in enumerate(zip(opt_mine.state, opt_theirs.param_groups[0]["params"])):
        theirs = opt_theirs.state[p]
        assert set(state) - {"step"} == set(theirs) - {"step"}, f"parameter {i}"
        for key, value in state.items():
            if key == "step":
                assert value == int(theirs["step"]), f"parameter {i}"
            else:
                torch.testing.assert_close(value, theirs[key], **TOL, msg=lambda m, k=key: f"{k}: {m}")


# ---- twins ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_follows_torch_step_by_step(case: tuple[type[Optimizer], dict[str, Any]]) -> None:
    opt_mine, opt_theirs = run_twins(*case)
    assert_same_state(opt_mine, opt_theirs)


@pytest.mark.parametrize("cls", list(RICH), ids=lambda c: c.__name__)
def test_lr_changed_between_steps_and_missing_gradients_like_torch(cls: type[Optimizer]) -> None:
    """A schedule writing ``param_groups[0]["lr"]`` before every step is honoured as torch does; a
    parameter left without a gradient (every third step) neither moves nor advances its state."""
    base = RICH[cls]["lr"]
    opt_mine, opt_theirs = run_twins(cls, RICH[cls], lr_at=lambda step: base * (0.55 + 0.45 * math.cos(step / 7)),
                                     drop_grad=lambda step: step % 3 == 0)
    assert_same_state(opt_mine, opt_theirs)
    if "step" in cls.counters:
        kept = sum(1 for step in range(STEPS) if step % 3)
        assert opt_mine.state[-1]["step"] == kept and opt_mine.state[0]["step"] == STEPS


def test_sgd_one_step_by_hand() -> None:
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (3 * p).sum().backward()  # gradient (3, 3)
    SGD([p], lr=0.5).step()
    assert torch.equal(p.detach(), torch.tensor([-0.5, 0.5], dtype=torch.float64))


def test_adam_first_step_moves_every_coordinate_by_about_lr() -> None:
    """After bias correction m̂ = g and v̂ = g², so the first step is lr · g / (|g| + ε) ≈ lr · sign(g)."""
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (torch.tensor([2.0, -0.001, 50.0], dtype=torch.float64) * p).sum().backward()
    Adam([p], lr=0.1, eps=0.0).step()
    torch.testing.assert_close(p.detach(), torch.tensor([-0.1, 0.1, -0.1], dtype=torch.float64), atol=1e-15, rtol=0)


def test_gradients_accumulate_without_zero_grad_like_torch() -> None:
    initial, X, Y = make_problem(1)
    mine, theirs = leaves(initial), leaves(initial)
    for params, opt in ((mine, SGD(mine, lr=0.05)), (theirs, torch.optim.SGD(theirs, lr=0.05))):
        for _ in range(3):
            batch_loss(params, X, Y).backward()
            opt.step()
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b, **TOL)


# ---- defaults and registry -----------------------------------------------------------------

@pytest.mark.parametrize("cls", list(TWIN), ids=lambda c: c.__name__)
def test_defaults_equal_torch(cls: type[Optimizer]) -> None:
    theirs = inspect.signature(TWIN[cls]).parameters
    for name, parameter in inspect.signature(cls).parameters.items():
        if name == "params":
            continue
        assert name in theirs, f"{cls.__name__}({name}=...) has no torch counterpart"
        if parameter.default is not inspect.Parameter.empty:
            assert parameter.default == theirs[name].default, name
    if cls is not SGD:  # SGD's lr is required, as before; torch defaults it to 1e-3
        p = torch.zeros(2, requires_grad=True)
        group = cls([p]).param_groups[0]
        reference = TWIN[cls]([p]).param_groups[0]
        assert all(group[k] == reference[k] for k in group if k != "params")


def test_registry_names_every_optimizer() -> None:
    assert list(OPTIMIZERS) == ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
    for name, cls in OPTIMIZERS.items():
        assert issubclass(cls, Optimizer) and cls.__name__.lower() == name
        assert not issubclass(cls, torch.optim.Optimizer)


# ---- the optimizer interface ---------------------------------------------------------------

@pytest.mark.parametrize("cls", list(RICH), ids=lambda c: c.__name__)
def test_step_skips_parameters_without_gradient(cls: type[Optimizer]) -> None:
    used = torch.ones(2, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    opt = cls([used, unused], **RICH[cls])  # all with weight decay, which would move a parameter if applied
    for _ in range(3):
        opt.zero_grad()
        (used**2).sum().backward()
        opt.step()
    assert not torch.equal(used.detach(), torch.ones(2))
    assert torch.equal(unused.detach(), torch.ones(2)) and unused.grad is None
    assert opt.state[1] == {}
    assert used.is_leaf and used.grad_fn is None  # the update is not recorded by autograd


def test_zero_grad_set_to_none() -> None:
    p = torch.ones(3, requires_grad=True)
    p.sum().backward()
    opt = Adam([p])
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad()  # no gradient: nothing to do
    assert p.grad is None


def test_zero_grad_keeps_a_zeroed_tensor() -> None:
    p = torch.ones(3, requires_grad=True)
    p.sum().backward()
    grad = p.grad
    SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is grad
    assert torch.equal(p.grad, torch.zeros(3))


def test_param_groups_look_like_torch_and_drive_the_step() -> None:
    p = torch.zeros(2, requires_grad=True)
    opt = SGD([p], lr=0.1)
    reference = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    assert len(opt.param_groups) == len(reference.param_groups) == 1
    assert opt.param_groups[0]["params"] == [p]
    assert opt.param_groups[0]["lr"] == reference.param_groups[0]["lr"]

    opt.param_groups[0]["lr"] = 0.5  # what an LR scheduler does
    p.sum().backward()
    opt.step()
    assert torch.equal(p.detach(), torch.full((2,), -0.5))
    assert opt.lr == 0.5 and opt.state_dict()["param_groups"][0]["lr"] == 0.5


def test_accepts_a_generator_of_parameters() -> None:
    model = torch.nn.Linear(2, 1)
    opt = Adam(model.parameters())
    assert len(opt.param_groups[0]["params"]) == 2 and len(opt.state) == 2


# ---- state dict ----------------------------------------------------------------------------

def assert_checkpointable(obj: Any, where: str = "state_dict") -> None:
    """Only str-keyed dicts, lists, tensors and JSON scalars (what our checkpoints store)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str), f"{where} has key {k!r}"
            assert_checkpointable(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_checkpointable(v, f"{where}[{i}]")
    else:
        assert obj is None or isinstance(obj, (torch.Tensor, bool, int, float, str)), f"{where} is {type(obj)}"


def through_checkpoint_format(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Split into tensors + JSON text and back, as the trainer's checkpoints do."""
    tensors: dict[str, torch.Tensor] = {}
    text = json.dumps(checkpoint.flatten(state_dict, "optimizer", tensors))
    return checkpoint.unflatten(json.loads(text), tensors)


@pytest.mark.parametrize("cls", list(RICH), ids=lambda c: c.__name__)
def test_state_dict_round_trip_resumes_exactly(cls: type[Optimizer]) -> None:
    initial, X, Y = make_problem()
    straight, resumed = leaves(initial), leaves(initial)
    opt = cls(straight, **RICH[cls])
    for step in range(20):
        if step == 5:
            opt.param_groups[0]["lr"] /= 2  # a changed lr must be saved and restored too
        train_step(straight, opt, X, Y, step)
        if step == 8:
            saved = opt.state_dict()
            assert_checkpointable(saved)
            saved = through_checkpoint_format(saved)
            with torch.no_grad():
                for a, b in zip(resumed, straight):
                    a.copy_(b)
    assert all(saved["state"])  # there is state to restore

    fresh = cls(resumed, lr=1.0)  # default settings and a wrong lr: all must come from the state dict
    fresh.load_state_dict(saved)
    assert {k: v for k, v in fresh.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    for step in range(9, 20):
        train_step(resumed, fresh, X, Y, step)
    for a, b in zip(resumed, straight):
        assert torch.equal(a, b)
    for mine, theirs in zip(fresh.state, opt.state):
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) if k in cls.buffers else mine[k] == theirs[k] for k in mine)


def test_state_dict_is_a_snapshot_and_loading_copies() -> None:
    p = torch.ones(2, requires_grad=True)
    opt = Adam([p])
    p.sum().backward()
    opt.step()
    saved = opt.state_dict()
    opt.step()
    assert saved["state"][0]["step"] == 1 and opt.state[0]["step"] == 2
    assert not torch.equal(saved["state"][0]["exp_avg_sq"], opt.state[0]["exp_avg_sq"])
    opt.load_state_dict(saved)
    saved["state"][0]["exp_avg"].add_(1.0)
    assert torch.equal(opt.state[0]["exp_avg"], torch.full((2,), 0.1))  # 0.1 · g after one step, g = 1


def test_plain_sgd_state_dict_is_hyperparameters_and_empty_states() -> None:
    p = torch.zeros(2, requires_grad=True)
    saved = SGD([p], lr=0.25).state_dict()
    assert json.loads(json.dumps(saved)) == {
        "optimizer": "SGD", "param_shapes": [[2]], "state": [{}],
        "param_groups": [{"lr": 0.25, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}]}
    restored = SGD([p], lr=1.0)
    restored.load_state_dict(saved)
    assert restored.lr == 0.25
    p.sum().backward()
    restored.step()
    assert torch.equal(p.detach(), torch.full((2,), -0.25))


def test_load_puts_buffers_on_each_parameters_device_and_dtype() -> None:
    source = [torch.ones(2, 3, dtype=torch.float64, requires_grad=True), torch.ones(3, requires_grad=True)]
    opt = Adam(source, amsgrad=True)
    sum(p.sum() for p in source).backward()
    opt.step()
    saved = opt.state_dict()  # buffers on the CPU in float64 and float32
    targets = [torch.zeros(2, 3, dtype=torch.float32, requires_grad=True),
               torch.zeros(3, dtype=torch.float64, device="meta", requires_grad=True)]
    fresh = Adam(targets, amsgrad=True)
    fresh.load_state_dict(saved)
    for p, state in zip(targets, fresh.state):
        assert set(state) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        assert all(state[k].device == p.device and state[k].dtype == p.dtype for k in Adam.buffers)
    torch.testing.assert_close(fresh.state[0]["exp_avg"], torch.full((2, 3), 0.1, dtype=torch.float32))


def _saved(cls: type[Optimizer] = AdamW) -> dict[str, Any]:
    """The state dict of ``cls`` after one step over two parameters, shapes (2, 3) and (3,)."""
    params = [torch.ones(2, 3, requires_grad=True), torch.ones(3, requires_grad=True)]
    opt = cls(params)
    sum(p.sum() for p in params).backward()
    opt.step()
    return opt.state_dict()


def _edited(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    saved = _saved()
    change(saved)
    return saved


REJECTED = {
    "other class": (lambda: _saved(Adam), "for Adam, not AdamW"),
    "fewer parameters": (lambda: _edited(lambda s: (s["param_shapes"].pop(), s["state"].pop())), "holds 1 param"),
    "other shape": (lambda: _edited(lambda s: s["param_shapes"].__setitem__(1, [4])), "shape"),
    "old format": (lambda: {"lr": 0.1}, "expected keys"),
    "not a dict": (lambda: [1, 2], "not a state dict"),
    "bad lr": (lambda: _edited(lambda s: s["param_groups"][0].update(lr=-1.0)), "learning rate"),
    "bad betas": (lambda: _edited(lambda s: s["param_groups"][0].update(betas=[0.9])), "betas"),
    "missing hyperparameter": (lambda: _edited(lambda s: s["param_groups"][0].pop("amsgrad")), "hyperparameters"),
    "two groups": (lambda: _edited(lambda s: s["param_groups"].append({})), "one parameter group"),
    "buffer shape": (lambda: _edited(lambda s: s["state"][1].update(exp_avg=torch.zeros(4))), "exp_avg"),
    "unknown buffer": (lambda: _edited(lambda s: s["state"][1].update(momentum_buffer=torch.zeros(3))),
                       "momentum_buffer"),
    "bad step": (lambda: _edited(lambda s: s["state"][0].update(step=-1)), "'step'"),
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_load_state_dict_rejects_mismatches_and_changes_nothing(name: str) -> None:
    make, match = REJECTED[name]
    opt = AdamW([torch.ones(2, 3, requires_grad=True), torch.ones(3, requires_grad=True)], lr=0.5)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(make())
    assert opt.state_dict() == before and opt.state == [{}, {}]


# ---- invalid arguments ---------------------------------------------------------------------

INVALID = [
    (SGD, {"lr": -0.1}, "learning rate"),
    (SGD, {"lr": float("nan")}, "learning rate"),
    (SGD, {"lr": "fast"}, "learning rate"),
    (SGD, {"lr": 0.1, "momentum": -0.9}, "momentum"),
    (SGD, {"lr": 0.1, "weight_decay": -1e-4}, "weight decay"),
    (SGD, {"lr": 0.1, "dampening": 1.5}, "dampening"),
    (SGD, {"lr": 0.1, "nesterov": True}, "nesterov"),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "nesterov"),
    (Adagrad, {"lr": -1.0}, "learning rate"),
    (Adagrad, {"lr_decay": -0.1}, "lr_decay"),
    (Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    (Adagrad, {"eps": -1e-10}, "eps"),
    (Adagrad, {"weight_decay": -1.0}, "weight decay"),
    (RMSProp, {"alpha": 1.0}, "alpha"),
    (RMSProp, {"alpha": -0.1}, "alpha"),
    (RMSProp, {"eps": -1.0}, "eps"),
    (RMSProp, {"momentum": -0.5}, "momentum"),
    (RMSProp, {"weight_decay": -1.0}, "weight decay"),
    (Adam, {"lr": -1e-3}, "learning rate"),
    (Adam, {"betas": (1.0, 0.999)}, r"betas\[0\]"),
    (Adam, {"betas": (0.9, -0.1)}, r"betas\[1\]"),
    (Adam, {"betas": 0.9}, "pair"),
    (Adam, {"eps": -1e-8}, "eps"),
    (Adam, {"weight_decay": float("inf")}, "weight decay"),
    (AdamW, {"weight_decay": -0.01}, "weight decay"),
    (AdamW, {"betas": (0.9, 1.0)}, r"betas\[1\]"),
]


@pytest.mark.parametrize(("cls", "kwargs", "match"), INVALID, ids=lambda x: str(x)[:30])
def test_rejects_invalid_hyperparameters(cls: type[Optimizer], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls([torch.zeros(1, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("cls", list(RICH), ids=lambda c: c.__name__)
def test_rejects_bad_parameter_lists(cls: type[Optimizer]) -> None:
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="not a tensor"):
        cls([{"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        cls([p, p], lr=0.1)
    with pytest.raises(ValueError, match="leaf"):
        cls([p * 2], lr=0.1)


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSProp, Adam, AdamW])
def test_lr_zero_is_allowed_as_in_torch(cls: type[Optimizer]) -> None:
    """A schedule may end at lr 0 (cosine, linear decay): its checkpoint must load back."""
    p = torch.ones(2, requires_grad=True)
    opt = cls([p], lr=0.0)
    p.sum().backward()
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before)  # (AdamW's decay is lr·λ·θ: also 0)
    fresh = cls([torch.ones(2, requires_grad=True)], lr=0.5)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.lr == 0.0
