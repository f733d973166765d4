"""Chapter 4 exercises — optimisation: the update steps of SGD with momentum, Adagrad, RMSProp
and Adam (checked over several steps against torch.optim), a warm-up + cosine learning-rate
schedule, and classifying a critical point from its Hessian's eigenvalues.

One chapter's exercises, kept in one module like every chapter's; its length is the hand-built
cases, probes and torch.optim references of its exercises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import lr_scheduler

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, Probe

# ---- one update step, over several steps ----------------------------------------------------------

STEPS = 6


def _gradients(g: torch.Generator, shape: tuple[int, ...], scale: float) -> Tensor:
    """Magnitudes scale · (1 … 2) with random signs: none near 0, so ε only matters where a case
    makes it (small gradients, large ε)."""
    sign = torch.randint(0, 2, shape, generator=g).to(DTYPE) * 2 - 1
    return scale * (1 + torch.rand(shape, generator=g, dtype=DTYPE)) * sign


def _update_case(name: str, lr: float | list[float], shape: tuple[int, ...] = (4, 3), steps: int = STEPS,
                 grad_scale: float = 1.0, **hyperparameters: Any) -> Case:
    """A start θ₀ ~ N(0, 1) and a fixed sequence of gradients; ``lr`` one number or one per step
    (a schedule). ``hyperparameters`` are passed by name; the others keep their defaults."""
    lrs = lr if isinstance(lr, list) else [lr] * steps

    def make(g: torch.Generator) -> dict[str, Any]:
        return {"param": torch.randn(shape, generator=g, dtype=DTYPE),
                "grads": [_gradients(g, shape, grad_scale) for _ in range(len(lrs))],
                "lrs": lrs, "hyperparameters": hyperparameters}
    return Case(name, make)


def _update_probe(buffers: tuple[str, ...], counts_steps: bool) -> Probe:
    """Call the update once per gradient, with one state dict throughout (empty at first).

    After each step t: the state's buffers (those in ``buffers`` that the reference keeps, by
    PyTorch's names), then the parameter. Before all that: whether step 1 changed the
    parameter in place at all."""
    def probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
        param, state, found = args["param"].clone(), {}, {}
        for t, (grad, lr) in enumerate(zip(args["grads"], args["lrs"]), start=1):
            before = param.clone()
            step = {"step": t} if counts_steps else {}
            fn(param, grad.clone(), state, **step, lr=lr, **args["hyperparameters"])
            if t == 1:
                found["param changed in place by step 1"] = torch.tensor(not torch.equal(param, before))
            for name in buffers:
                if isinstance(state.get(name), Tensor):
                    found[f"step {t}: state['{name}']"] = state[name].clone()
            found[f"step {t}: param"] = param.clone()
        return found
    return probe


def _torch_update(optimizer: type[torch.optim.Optimizer], param: Tensor, grad: Tensor, state: dict[str, Any],
                  step: int | None = None, **hyperparameters: Any) -> None:
    """One ``optimizer.step()`` of torch.optim on ``param`` with gradient ``grad``, its per-parameter
    state kept in the plain dict ``state`` (with torch's own step counter, set to ``step − 1``)."""
    opt = optimizer([param], foreach=False, **hyperparameters)
    opt.state[param] = state
    if step is not None and "step" in state:
        state["step"].fill_(step - 1)
    param.grad = grad
    opt.step()
    param.grad = None


_STATE_DOC = '''state: a dict, empty at the first call and handed back at every later call. Keep the
    buffers in it, created at the first call, under PyTorch's names:
        {names}
    Update param in place (param.sub_(…), param -= …): the checker keeps its tensor and reads
    it after every step. Everything is float64; no autograd is involved.'''
_IN_PLACE_TEXT = ("update the caller's tensor in place (param.sub_(…), param -= …, param.add_(…, alpha=−lr)): "
                  "`param = param − …` only rebinds your local name")
_STATE_TEXT = ("keep the buffer in state under PyTorch's name ({names}), created at the first call and "
               "updated (or replaced) at every call")


def _in_place_hint(exercise: str) -> Hint:
    return Hint(f"{exercise}-in-place", _IN_PLACE_TEXT, key="in place")


def _state_hint(exercise: str, names: str) -> Hint:
    return Hint(f"{exercise}-state", _STATE_TEXT.format(names=names), key="state", kind="missing")


def _torch_sgd(param: Tensor, grad: Tensor, state: dict[str, Any], lr: float, momentum: float = 0.0,
               dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    _torch_update(torch.optim.SGD, param, grad, state, lr=lr, momentum=momentum, dampening=dampening,
                  weight_decay=weight_decay, nesterov=nesterov)


def _sgd_cases() -> list[Case]:
    return [_update_case("momentum 0.9, lr 0.1", 0.1, momentum=0.9),
            _update_case("momentum 0.9, dampening 0.5: the buffer starts at g, undamped", 0.1, momentum=0.9,
                         dampening=0.5),
            _update_case("momentum 0.8, weight decay 0.1", 0.05, momentum=0.8, weight_decay=0.1),
            _update_case("nesterov, momentum 0.9", 0.1, momentum=0.9, nesterov=True),
            _update_case("momentum 0 (plain SGD)", 0.1),
            _update_case("lr changes every step (a schedule), momentum 0.9, shape (2, 3, 4)",
                         [0.1, 0.05, 0.2, 0.08, 0.01, 0.15], shape=(2, 3, 4), momentum=0.9)]


SGD_MOMENTUM = Exercise(
    name="sgd-momentum", chapter=4, title="one step of SGD with momentum (PyTorch's convention)",
    difficulty="medium", entry="sgd_momentum_update",
    signature="def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0, "
              "dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:",
    task=f'''One update of SGD with momentum, exactly as torch.optim.SGD does it.

        g ← g + λ θ                                        (L2 weight decay, added to the gradient)
        b ← g  at the first step,   then   b ← μ b + (1 − τ) g     (momentum μ, dampening τ)
        d ← g + μ b  (nesterov)   or   d ← b   (μ > 0)   or   d ← g   (μ = 0: plain SGD)
        θ ← θ − lr · d

    The buffer b accumulates raw gradients (no lr and no (1 − μ) factor inside it) and starts
    at the first gradient itself, undamped. Nesterov needs μ > 0 and τ = 0.

    param: θ; grad: g, shaped like param.
    {_STATE_DOC.format(names="'momentum_buffer' (b)")}
    Not allowed: torch.optim.SGD (the thing itself).''',
    solution="divelab.exercises.solutions.optimization:sgd_momentum_update",
    source=("divelab.scratch.optim:SGD", "divelab.exercises.solutions.optimization:sgd_momentum_update"),
    reference=_torch_sgd,
    probe=_update_probe(("momentum_buffer",), counts_steps=False), cases=_sgd_cases,
    forbidden=("torch.optim.SGD", "torch.optim.sgd.SGD", "torch.optim.sgd.sgd"),
    hints=(
        _in_place_hint("sgd-momentum"),
        _state_hint("sgd-momentum", "state['momentum_buffer']"),
        Hint("sgd-momentum-dampening", "PyTorch starts the buffer at the first gradient itself, b ← g (undamped, "
             "not (1 − τ) g); only from the second step on is b ← μ b + (1 − τ) g", case="dampening"),
        Hint("sgd-momentum-weight-decay", "weight decay is L2 added to the gradient first, g ← g + λ θ, and this "
             "g then enters the buffer (and the nesterov step)", case="weight decay"),
        Hint("sgd-momentum-nesterov", "with nesterov=True the step is d = g + μ b (the gradient plus μ times the "
             "updated buffer), not b", case="nesterov"),
        Hint("sgd-momentum-buffer", "PyTorch's buffer is b ← μ b + (1 − τ) g over the raw gradients — no lr inside "
             "it and no (1 − μ) factor (that is an exponential average, another convention) — started at b = g",
             key="momentum_buffer"),
        Hint("sgd-momentum-step", "the step is θ ← θ − lr · b (the updated buffer) when μ > 0, and θ ← θ − lr · g "
             "when μ = 0", key="param"),
    ),
)


def _torch_adagrad(param: Tensor, grad: Tensor, state: dict[str, Any], step: int, lr: float = 0.01,
                   lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                   eps: float = 1e-10) -> None:
    _torch_update(torch.optim.Adagrad, param, grad, state, step, lr=lr, lr_decay=lr_decay,
                  weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value, eps=eps)


def _adagrad_cases() -> list[Case]:
    return [_update_case("lr 0.1, defaults otherwise", 0.1),
            _update_case("eps 0.1 with small gradients (~0.01): ε is added outside the root", 0.1,
                         grad_scale=0.01, eps=0.1),
            _update_case("initial_accumulator_value 0.5", 0.1, initial_accumulator_value=0.5),
            _update_case("lr_decay 0.1", 0.1, lr_decay=0.1),
            _update_case("weight decay 0.1 (added to the gradient)", 0.1, weight_decay=0.1),
            _update_case("lr changes every step (a schedule), shape (2, 3, 4)",
                         [0.1, 0.05, 0.2, 0.08, 0.01, 0.15], shape=(2, 3, 4))]


ADAGRAD = Exercise(
    name="adagrad", chapter=4, title="one step of Adagrad", difficulty="easy", entry="adagrad_update",
    signature="def adagrad_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 0.01, "
              "lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, "
              "eps: float = 1e-10) -> None:",
    task=f'''One update of Adagrad, exactly as torch.optim.Adagrad does it: each coordinate's step is
    divided by the root of the sum of its squared gradients so far.

        g ← g + λ θ                                        (L2 weight decay)
        s ← s + g²                                         (s starts at initial_accumulator_value)
        θ ← θ − lr_t · g / (√s + ε),    lr_t = lr / (1 + (t − 1) · lr_decay)

    Coordinates with large past gradients take small steps, rarely-updated ones large steps.
    (The course writes η_t / σ_t with η_t = η / √t and the root *mean* square σ_t = √(s / t): the
    two √t cancel, leaving PyTorch's η / √s.) ε is added outside the root.

    param: θ; grad: g, shaped like param; step: t, 1 at the first call.
    {_STATE_DOC.format(names="'sum' (s)")}
    Not allowed: torch.optim.Adagrad (the thing itself).''',
    solution="divelab.exercises.solutions.optimization:adagrad_update",
    source=("divelab.scratch.optim:Adagrad", "divelab.exercises.solutions.optimization:adagrad_update"),
    reference=_torch_adagrad,
    probe=_update_probe(("sum",), counts_steps=True), cases=_adagrad_cases,
    forbidden=("torch.optim.Adagrad", "torch.optim.adagrad.Adagrad", "torch.optim.adagrad.adagrad"),
    hints=(
        _in_place_hint("adagrad"),
        _state_hint("adagrad", "state['sum']"),
        Hint("adagrad-eps", "ε is added outside the square root: g / (√s + ε), not g / √(s + ε)", case="ε"),
        Hint("adagrad-initial-accumulator", "the sum starts at initial_accumulator_value, not at 0: "
             "s = torch.full_like(param, initial_accumulator_value) at the first call", case="initial_accumulator"),
        Hint("adagrad-lr-decay", "lr_t = lr / (1 + (t − 1) · lr_decay) with t = 1 at the first call: the first "
             "step uses lr itself (mind the off-by-one)", case="lr_decay"),
        Hint("adagrad-weight-decay", "weight decay is L2 added to the gradient first, g ← g + λ θ, and this g is "
             "what is squared into s", case="weight decay"),
        Hint("adagrad-sum", "s ← s + g²: the running *sum* of squared gradients (elementwise), not their mean or "
             "a leaky average", key="sum"),
        Hint("adagrad-step", "θ ← θ − lr_t · g / (√s + ε) with s the sum including this step's g² — its root, not "
             "the root mean square √(s / t) (with a constant lr the course's √t factors cancel)", key="param"),
    ),
)


_RMSPROP_BUFFERS = "'square_avg' (v); 'grad_avg' (ḡ) when centered; 'momentum_buffer' (b) when μ > 0"


def _torch_rmsprop(param: Tensor, grad: Tensor, state: dict[str, Any], lr: float = 0.01, alpha: float = 0.99,
                   eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
    _torch_update(torch.optim.RMSprop, param, grad, state, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                  momentum=momentum, centered=centered)


def _rmsprop_cases() -> list[Case]:
    return [_update_case("lr 0.01, defaults otherwise (α = 0.99)", 0.01),
            _update_case("eps 0.1 with small gradients (~0.01): ε is added outside the root", 0.01,
                         grad_scale=0.01, eps=0.1),
            _update_case("α 0.9, weight decay 0.1", 0.01, alpha=0.9, weight_decay=0.1),
            _update_case("momentum 0.9", 0.01, momentum=0.9),
            _update_case("centered, α 0.9", 0.01, alpha=0.9, centered=True),
            _update_case("lr changes every step (a schedule), shape (2, 3, 4)",
                         [0.01, 0.005, 0.02, 0.008, 0.001, 0.015], shape=(2, 3, 4))]


RMSPROP = Exercise(
    name="rmsprop", chapter=4, title="one step of RMSProp (with momentum and centering)", difficulty="medium",
    entry="rmsprop_update",
    signature="def rmsprop_update(param: Tensor, grad: Tensor, state: dict, lr: float = 0.01, alpha: float = 0.99, "
              "eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:",
    task=f'''One update of RMSProp, exactly as torch.optim.RMSprop does it: Adagrad with a leaky
    average of squared gradients, so that old gradients are forgotten.

        g ← g + λ θ                                        (L2 weight decay)
        v ← α v + (1 − α) g²                               (v starts at 0; no bias correction)
        d ← √(v − ḡ²) + ε  with  ḡ ← α ḡ + (1 − α) g  (centered)    or    d ← √v + ε
        b ← μ b + g / d,   θ ← θ − lr · b                  (momentum μ > 0; b starts at 0)
        θ ← θ − lr · g / d                                 (μ = 0)

    centered divides by an estimate of the gradient's standard deviation instead of its root
    mean square. ε is added outside the root.

    param: θ; grad: g, shaped like param.
    {_STATE_DOC.format(names=_RMSPROP_BUFFERS)}
    Not allowed: torch.optim.RMSprop (the thing itself).''',
    solution="divelab.exercises.solutions.optimization:rmsprop_update",
    source=("divelab.scratch.optim:RMSProp", "divelab.exercises.solutions.optimization:rmsprop_update"),
    reference=_torch_rmsprop,
    probe=_update_probe(("square_avg", "grad_avg", "momentum_buffer"), counts_steps=False), cases=_rmsprop_cases,
    forbidden=("torch.optim.RMSprop", "torch.optim.rmsprop.RMSprop", "torch.optim.rmsprop.rmsprop"),
    hints=(
        _in_place_hint("rmsprop"),
        _state_hint("rmsprop", "state['square_avg'], and state['grad_avg'] when centered, state['momentum_buffer'] "
                    "when momentum > 0"),
        Hint("rmsprop-eps", "ε is added outside the square root: g / (√v + ε), not g / √(v + ε)", case="ε"),
        Hint("rmsprop-momentum", "with momentum μ > 0 the buffer collects the scaled gradients, b ← μ b + g / d "
             "(starting from 0), and the step is θ ← θ − lr · b", case="momentum"),
        Hint("rmsprop-centered", "centered: keep ḡ ← α ḡ + (1 − α) g in state['grad_avg'] and divide by "
             "d = √(v − ḡ²) + ε, the root of the gradient's variance estimate", case="centered"),
        Hint("rmsprop-weight-decay", "weight decay is L2 added to the gradient first, g ← g + λ θ, and this g is "
             "what enters v", case="weight decay"),
        Hint("rmsprop-square-avg", "v ← α v + (1 − α) g²: α (0.99 by default) weights the old average, 1 − α the "
             "new squared gradient", key="square_avg"),
        Hint("rmsprop-step", "θ ← θ − lr · g / (√v + ε): RMSProp has no bias correction (PyTorch divides by √v "
             "itself, although v starts at 0)", key="param"),
    ),
)


def _torch_adam(param: Tensor, grad: Tensor, state: dict[str, Any], step: int, lr: float = 1e-3,
                beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    _torch_update(torch.optim.Adam, param, grad, state, step, lr=lr, betas=(beta1, beta2), eps=eps,
                  weight_decay=weight_decay)


def _adam_cases() -> list[Case]:
    return [_update_case("lr 0.01, defaults otherwise", 0.01),
            _update_case("eps 0.1 with small gradients (~0.01): ε is added outside the root, after the "
                         "bias correction", 0.01, grad_scale=0.01, eps=0.1),
            _update_case("betas (0.8, 0.99)", 0.01, beta1=0.8, beta2=0.99),
            _update_case("weight decay 0.1 (L2 added to the gradient, not AdamW)", 0.01, weight_decay=0.1),
            _update_case("lr changes every step (a schedule), shape (2, 3, 4)",
                         [0.01, 0.005, 0.02, 0.008, 0.001, 0.015], shape=(2, 3, 4)),
            _update_case("10 steps, betas (0.5, 0.9)", 0.05, steps=10, beta1=0.5, beta2=0.9)]


ADAM = Exercise(
    name="adam", chapter=4, title="one step of Adam, bias correction included", difficulty="medium",
    entry="adam_update",
    signature="def adam_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 1e-3, "
              "beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:",
    task=f'''One update of Adam, exactly as torch.optim.Adam does it: momentum on the gradient and
    RMSProp scaling, both corrected for their start at zero.

        g ← g + λ θ                                        (L2 weight decay, added to the gradient)
        m ← β₁ m + (1 − β₁) g,    v ← β₂ v + (1 − β₂) g²   (m and v start at 0)
        m̂ = m / (1 − β₁ᵗ),        v̂ = v / (1 − β₂ᵗ)         (bias correction, t = step)
        θ ← θ − lr · m̂ / (√v̂ + ε)

    Without the correction the first steps would be far too small (m and v start at 0 and
    grow slowly). ε is added outside the root, after the bias correction. Adam's weight_decay
    is L2 in the gradient (AdamW, which decays θ directly, is another optimiser).

    param: θ; grad: g, shaped like param; step: t, 1 at the first call.
    {_STATE_DOC.format(names="'exp_avg' for m, 'exp_avg_sq' for v")}
    Not allowed: torch.optim.Adam, torch.optim.AdamW (the thing itself).''',
    solution="divelab.exercises.solutions.optimization:adam_update",
    source=("divelab.scratch.optim:Adam", "divelab.exercises.solutions.optimization:adam_update"),
    reference=_torch_adam,
    probe=_update_probe(("exp_avg", "exp_avg_sq"), counts_steps=True), cases=_adam_cases,
    forbidden=("torch.optim.Adam", "torch.optim.adam.Adam", "torch.optim.adam.adam",
               "torch.optim.AdamW", "torch.optim.adamw.AdamW", "torch.optim.adamw.adamw"),
    hints=(
        _in_place_hint("adam"),
        _state_hint("adam", "state['exp_avg'] for m, state['exp_avg_sq'] for v"),
        Hint("adam-eps", "ε is added outside the square root and after the bias correction: m̂ / (√v̂ + ε), "
             "not m̂ / √(v̂ + ε)", case="ε"),
        Hint("adam-betas", "β₁ belongs to the first moment m and β₂ to the second v — in their updates and in "
             "the corrections 1 − β₁ᵗ and 1 − β₂ᵗ alike; use the arguments, not fixed 0.9 and 0.999",
             case="betas"),
        Hint("adam-weight-decay", "Adam's weight decay is L2 added to the gradient first, g ← g + λ θ, before m "
             "and v — not AdamW's θ ← θ (1 − lr λ)", case="weight decay"),
        Hint("adam-first-moment", "m ← β₁ m + (1 − β₁) g, starting from m = 0", key="exp_avg'"),
        Hint("adam-second-moment", "v ← β₂ v + (1 − β₂) g², the elementwise square of the gradient, starting "
             "from v = 0", key="exp_avg_sq"),
        Hint("adam-bias-correction", "correct both moments before the step: m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ) "
             "with t = step (1 at the first call), then θ ← θ − lr · m̂ / (√v̂ + ε); the first step is then "
             "about lr · sign(g)", key="param"),
    ),
)

# ---- warm-up + cosine schedule --------------------------------------------------------------------


def _schedule_case(name: str, base_lr: float, warmup_steps: int, total_steps: int, **kwargs: float) -> Case:
    return Case(name, lambda g: {"base_lr": base_lr, "warmup_steps": warmup_steps, "total_steps": total_steps,
                                 **kwargs})


def _schedule_cases() -> list[Case]:
    return [_schedule_case("W = 4, T = 20, min_lr 0, default start_factor", 0.1, 4, 20),
            _schedule_case("W = 5, T = 30, min_lr 0.01, start_factor 0.1", 0.5, 5, 30, min_lr=0.01,
                           start_factor=0.1),
            _schedule_case("W = 10, T = 12, min_lr 1e-3, start_factor 0.5: a short cosine", 1.0, 10, 12,
                           min_lr=1e-3, start_factor=0.5),
            _schedule_case("W = 1, T = 10, default start_factor", 0.2, 1, 10),
            _schedule_case("W = 0: no warm-up, plain cosine annealing", 0.1, 0, 15, min_lr=0.001),
            _schedule_case("W = T = 6: warm-up for the whole run", 0.3, 6, 6, min_lr=0.01)]


def _schedule_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The schedule's three parts: the warm-up, the cosine, and after the end."""
    lr_at = fn(**args)
    w, t = args["warmup_steps"], args["total_steps"]

    def lrs(steps: range) -> Tensor:
        return torch.tensor([float(lr_at(step)) for step in steps], dtype=DTYPE)
    return {"warm-up: lr(t) for 0 ≤ t < W": lrs(range(w)), "decay: lr(t) for W ≤ t ≤ T": lrs(range(w, t + 1)),
            "after the end: lr(t) for T < t ≤ T + 5": lrs(range(t + 1, t + 6))}


def _torch_warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                         start_factor: float | None = None) -> Callable[[int], float]:
    """SequentialLR([LinearLR(s, W), CosineAnnealingLR(T − W, min_lr)], milestones=[W]), stepped T
    times; lr(t) is what it set after t updates, and min_lr from t = T on (where torch's cosine
    would climb back)."""
    s = 1 / (warmup_steps + 1) if start_factor is None else start_factor
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    parts: list[lr_scheduler.LRScheduler] = []
    if warmup_steps:
        parts.append(lr_scheduler.LinearLR(opt, start_factor=s, total_iters=warmup_steps))
    if total_steps > warmup_steps:
        parts.append(lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps - warmup_steps, eta_min=min_lr))
    schedule = parts[0] if len(parts) == 1 else lr_scheduler.SequentialLR(opt, parts, milestones=[warmup_steps])
    trace = []
    for _ in range(total_steps):
        trace.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: nothing moves, but torch wants it before schedule.step()
        schedule.step()
    return lambda t: trace[t] if t < total_steps else min_lr


WARMUP_COSINE = Exercise(
    name="warmup-cosine", chapter=4, title="linear warm-up, then cosine annealing", difficulty="easy",
    entry="warmup_cosine",
    signature="def warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0, "
              "start_factor: float | None = None) -> Callable[[int], float]:",
    task='''A learning-rate schedule: linear warm-up for W updates, then cosine annealing down to
    min_lr at T. Returns the function lr_at(t), t = the number of updates done so far (0 before
    the first). With W = warmup_steps, T = total_steps, s = start_factor:

        lr(t) = base_lr · (s + (1 − s) · t / W)                                    0 ≤ t < W
        lr(t) = min_lr + (base_lr − min_lr) · (1 + cos(π (t − W) / (T − W))) / 2   W ≤ t ≤ T
        lr(t) = min_lr                                                             t > T

    The warm-up starts at s · base_lr and reaches base_lr at t = W, the first value of the
    cosine. start_factor=None means s = 1 / (W + 1): the ramp is then base_lr · (t + 1) / (W + 1),
    equal increments, and no update is wasted with lr = 0. W = 0 is plain cosine annealing;
    W = T has no cosine part. Past T the lr stays at min_lr.

    Same as torch's SequentialLR([LinearLR(start_factor=s, total_iters=W),
    CosineAnnealingLR(T_max=T − W, eta_min=min_lr)], milestones=[W]) for t ≤ T — which the checker
    compares with, together with min_lr past T. 0 ≤ W ≤ T, T ≥ 1, 0 ≤ min_lr ≤ base_lr.
    Allowed: math. Not allowed: torch.optim.lr_scheduler (the thing itself).''',
    solution="divelab.scratch.schedules:warmup_cosine",
    source=("divelab.scratch.schedules:_warmup", "divelab.scratch.schedules:_cosine",
            "divelab.scratch.schedules:warmup_cosine"),
    experiments=("lr-schedules",),
    reference=_torch_warmup_cosine,
    probe=_schedule_probe, cases=_schedule_cases,
    imports="import math\nfrom collections.abc import Callable",
    forbidden=("torch.optim.lr_scheduler.LinearLR", "torch.optim.lr_scheduler.CosineAnnealingLR",
               "torch.optim.lr_scheduler.SequentialLR", "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts"),
    hints=(
        Hint("warmup-cosine-no-warmup", "with W = 0 there is no warm-up: the schedule is plain cosine annealing "
             "from t = 0 (and nothing may divide by W)", case="W = 0"),
        Hint("warmup-cosine-whole-run", "with W = T the warm-up fills the whole run: there is no cosine part "
             "(nothing may divide by T − W = 0), and lr = min_lr from t = T on", case="W = T"),
        Hint("warmup-cosine-warm-up", "for 0 ≤ t < W, lr(t) = base_lr · (s + (1 − s) · t / W): s · base_lr at "
             "t = 0, rising in equal steps to reach base_lr at t = W, the first cosine value (not already at "
             "t = W − 1); start_factor=None means s = 1 / (W + 1)", key="^warm-up"),
        Hint("warmup-cosine-decay", "for W ≤ t ≤ T, lr = min_lr + (base_lr − min_lr) · (1 + cos(π (t − W) / "
             "(T − W))) / 2: the cosine's phase counts from the end of the warm-up and reaches π at t = T",
             key="^decay"),
        Hint("warmup-cosine-after", "past total_steps the lr stays at min_lr: do not let the cosine run on (it "
             "would climb back to base_lr at t = 2T − W)", key="^after"),
    ),
)

# ---- classifying a critical point -----------------------------------------------------------------

KINDS = ("local minimum", "local maximum", "saddle point", "degenerate")


def _values(g: torch.Generator, fixed: list[float], positive: int = 0, negative: int = 0,
            dtype: torch.dtype = DTYPE) -> Tensor:
    """``fixed`` values, ``positive`` in (0.5, 3), ``negative`` in (−3, −0.5), in a random order."""
    spread = 0.5 + 2.5 * torch.rand(positive + negative, generator=g, dtype=DTYPE)
    values = torch.cat([torch.tensor(fixed, dtype=DTYPE), spread[:positive], -spread[positive:]])
    return values[torch.randperm(values.numel(), generator=g)].to(dtype)


def _critical_case(name: str, fixed: list[float], positive: int = 0, negative: int = 0,
                   dtype: torch.dtype = DTYPE, **tol: float) -> Case:
    """``tol``: ``tol=…`` to pass a tolerance; without it the default (None) is used."""
    return Case(name, lambda g: {"eigenvalues": _values(g, fixed, positive, negative, dtype), **tol})


def _critical_cases() -> list[Case]:
    return [_critical_case("all eigenvalues positive: local minimum", [], positive=5),
            _critical_case("all eigenvalues negative: local maximum", [], negative=4),
            _critical_case("both signs: saddle point", [], positive=3, negative=3),
            _critical_case("both signs and an exact 0: still a saddle point", [0.0], positive=2, negative=2),
            _critical_case("tol = None: 1e-20 next to λ ~ 1 is below the rounding level n·ε·max|λ|", [1e-20],
                           positive=3),
            _critical_case("float32 eigenvalues, tol = None: ε is float32's", [1e-8], positive=3,
                           dtype=torch.float32),
            _critical_case("tol = 0.01 given: λ = −0.01 is not < −tol", [-0.01], negative=3, tol=0.01),
            _critical_case("tol = 0 given: 1e-20 counts as positive", [1e-20], positive=3, tol=0.0)]


def _critical_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """One yes/no per kind, so that a wrong answer names both kinds involved."""
    kind = fn(args["eigenvalues"].clone(), **({"tol": args["tol"]} if "tol" in args else {}))
    if kind not in KINDS:
        raise ValueError(f"returned {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    return {f"is it a {k}?": torch.tensor(kind == k) for k in KINDS}


CRITICAL_POINT = Exercise(
    name="critical-point", chapter=4, title="minimum, maximum or saddle point: the Hessian's eigenvalues",
    difficulty="easy", entry="classify",
    signature="def classify(eigenvalues: Tensor, tol: float | None = None) -> str:",
    task='''What a critical point θ₀ (where ∇L(θ₀) = 0) is, from the eigenvalues of its Hessian H.

    There L(θ) ≈ L(θ₀) + ½ (θ − θ₀)ᵀ H (θ − θ₀), so the signs of H's eigenvalues λ decide. An
    eigenvalue counts as positive if λ > tol, negative if λ < −tol, and undecided otherwise
    (|λ| ≤ tol: too small for its sign to be trusted). Then:

        some positive and some negative          → "saddle point"  (undecided ones do not matter)
        all positive                             → "local minimum"
        all negative                             → "local maximum"
        otherwise (some undecided, the rest of one sign) → "degenerate" (second order cannot tell)

    tol=None means the rounding level of a symmetric eigensolver, n · ε · max|λ|, with n the
    number of eigenvalues and ε = torch.finfo(eigenvalues.dtype).eps; tol = 0 is a tolerance too.

    eigenvalues: a non-empty vector, in any order (float64 or float32). Returns one of the four
    strings exactly as written above.''',
    solution="divelab.analysis.hessian:classify",
    source=("divelab.analysis.hessian:default_tol", "divelab.analysis.hessian:_signs",
            "divelab.analysis.hessian:classify"),
    experiments=("critical-points",),
    probe=_critical_probe, cases=_critical_cases,
    hints=(
        Hint("critical-point-saddle-first", "one strictly positive and one strictly negative eigenvalue already make "
             "a saddle point, whatever the others are: test for a saddle before 'degenerate'", case="still a saddle"),
        Hint("critical-point-default-tol", "tol=None means the rounding level n · ε · max|λ| (n eigenvalues, "
             "ε = torch.finfo(eigenvalues.dtype).eps, the dtype's own): eigenvalues that small have no reliable "
             "sign and count as undecided", case="tol = None"),
        Hint("critical-point-strict", "λ counts as negative only if λ < −tol (and positive only if λ > tol): "
             "|λ| = tol, equality included, is undecided", case="not < −tol"),
        Hint("critical-point-tol-zero", "tol = 0 is a tolerance too: only tol=None means the default (test "
             "`tol is None`, not `if not tol` or `tol or …`)", case="tol = 0 given"),
        Hint("critical-point-kinds", "all positive → 'local minimum', all negative → 'local maximum', both signs → "
             "'saddle point', otherwise (some |λ| ≤ tol, the rest of one sign) → 'degenerate'; the eigenvalues "
             "come in any order", key="^is it"),
    ),
)

EXERCISES: list[Exercise] = [SGD_MOMENTUM, ADAGRAD, RMSPROP, ADAM, WARMUP_COSINE, CRITICAL_POINT]
