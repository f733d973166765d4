"""Chapter 1 exercises — basics: the linear layer, the squared loss, one SGD step, softmax,
log-softmax, log-sum-exp, the cross-entropy loss, and the activations relu, sigmoid, tanh
with their derivatives.

One chapter's exercises, kept in one module like every chapter's; it is long because the chapter
has the most exercises, each a few hand-built cases and a probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, leaf, outputs_and_grads, randn

# ---- the linear layer -----------------------------------------------------------------------------


def _linear_case(name: str, batch: tuple[int, ...], n_in: int, n_out: int, bias: bool = True) -> Case:
    def make(g: torch.Generator) -> dict[str, Any]:
        args = {"x": randn(g, *batch, n_in), "weight": randn(g, n_out, n_in)}
        return {**args, "bias": randn(g, n_out)} if bias else args
    return Case(name, make)


def _linear_cases() -> list[Case]:
    return [_linear_case("square weight: batch of 4, 5 → 5 features", (4,), 5, 5),
            _linear_case("batch of 6, 3 → 2 features", (6,), 3, 2),
            _linear_case("leading dimensions: x of shape (2, 3, 4), 4 → 3 features", (2, 3), 4, 3),
            _linear_case("no bias (bias left at its default None), 3 → 4 features", (5,), 3, 4, bias=False),
            _linear_case("batch of 1, 1 → 1 feature", (1,), 1, 1)]


def _linear_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    return outputs_and_grads(fn, args, grad_of=[k for k in ("x", "weight", "bias") if k in args])


LINEAR = Exercise(
    name="linear", chapter=1, title="the fully connected (affine) layer y = x Wᵀ + b", difficulty="easy",
    entry="linear",
    signature="def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:",
    task='''The affine map of linear regression and of every fully connected layer.

    linear(x, W, b) = x Wᵀ + b,   i.e.  y_{n,o} = Σ_i x_{n,i} W_{o,i} + b_o

    weight W has shape (out_features, in_features), as in PyTorch's nn.Linear; bias b has
    shape (out_features,) or is None (no bias). x may have any leading dimensions (..., in);
    the result has shape (..., out) and x's dtype.
    Allowed: matrix products (@, torch.matmul) and arithmetic. Not allowed:
    torch.nn.functional.linear, nn.Linear (the thing itself).''',
    solution="divelab.scratch.linear:linear",
    reference=lambda x, weight, bias=None: F.linear(x, weight, bias),
    probe=_linear_probe, cases=_linear_cases,
    experiments=("linreg-scratch",),
    forbidden=("torch.nn.functional.linear", "torch.nn.Linear.forward"),
    hints=(
        Hint("linear-no-bias", "bias is optional: when it is None there is nothing to add (None + a tensor "
             "raises); return x @ weight.T alone", case="no bias", kind="error"),
        Hint("linear-leading-dims", "x may have leading dimensions (..., in_features): use @ / torch.matmul, "
             "which broadcasts over them, not torch.mm or a formula written for 2-D x only",
             case="leading dimensions", kind="error|shape"),
        Hint("linear-transposed", "weight is stored (out_features, in_features): the output is x @ weight.T; "
             "x @ weight only has the right shape when the weight is square, and then the wrong values",
             case="square weight", key="output"),
    ),
)

# ---- the squared loss -----------------------------------------------------------------------------


def _squared_loss_case(name: str, shape: tuple[int, ...], equal: bool = False) -> Case:
    def make(g: torch.Generator) -> dict[str, Any]:
        y_hat = randn(g, *shape)
        return {"y_hat": y_hat, "y": y_hat.clone() if equal else randn(g, *shape)}
    return Case(name, make)


def _squared_loss_cases() -> list[Case]:
    return [_squared_loss_case("one example, shape (1,)", (1,)),
            _squared_loss_case("batch of 7, shape (7,)", (7,)),
            _squared_loss_case("shape (4, 3): the mean over all 12 elements", (4, 3)),
            _squared_loss_case("batch of 50, shape (50,)", (50,)),
            _squared_loss_case("perfect prediction ŷ = y: loss 0", (6,), equal=True)]


SQUARED_LOSS = Exercise(
    name="squared-loss", chapter=1, title="the halved mean squared error of linear regression",
    difficulty="easy", entry="squared_loss",
    signature="def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:",
    task='''The regression loss of the course: half the mean squared error.

    l = 1/n Σ_i ½ (ŷ_i − y_i)²

    the mean over all n elements; the ½ makes the gradient with respect to ŷ_i equal to
    (ŷ_i − y_i) / n. y_hat and y have the same shape (any); returns a 0-dim tensor of their dtype.
    Allowed: arithmetic, .sum(), .mean(). Not allowed: torch.nn.functional.mse_loss, nn.MSELoss.''',
    solution="divelab.scratch.losses:squared_loss",
    reference=lambda y_hat, y: 0.5 * F.mse_loss(y_hat, y),
    probe=lambda fn, args: outputs_and_grads(fn, args, grad_of=["y_hat", "y"]),
    cases=_squared_loss_cases,
    experiments=("polyfit",),
    forbidden=("torch.nn.functional.mse_loss", "torch.nn.MSELoss.forward"),
    hints=(
        Hint("squared-loss-scalar", "the loss is one number: reduce over every element with .mean() "
             "(a 0-dim tensor), not over one axis, and do not return the per-element losses", kind="shape"),
        Hint("squared-loss-half", "each squared error is halved: ½ (ŷ − y)², so that the gradient is ŷ − y "
             "(without the ½ the loss and its gradient are twice too large)", case="one example"),
        Hint("squared-loss-mean", "average over all elements: divide the sum by y.numel() (or use .mean()), "
             "not by len(y) (the rows only) and not at all (.sum())", key="output|grad"),
    ),
)

# ---- one SGD step ---------------------------------------------------------------------------------


def _sgd_case(name: str, shapes: tuple[tuple[int, ...], ...], lr: float, weight_decay: float | None = None,
              without_grad: int | None = None) -> Case:
    """Parameters of the given shapes with random gradients (``without_grad``: that one has none)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        params = [randn(g, *s) for s in shapes]
        grads = [None if i == without_grad else randn(g, *s) for i, s in enumerate(shapes)]
        args = {"params": params, "grads": grads, "lr": lr}
        return args if weight_decay is None else {**args, "weight_decay": weight_decay}
    return Case(name, make)


def _sgd_cases() -> list[Case]:
    return [_sgd_case("a (3, 4) weight and a (3,) bias, lr = 0.1", ((3, 4), (3,)), 0.1),
            _sgd_case("one 0-dim parameter, lr = 0.5", ((),), 0.5),
            _sgd_case("three parameters, lr = 0.03", ((2, 5), (5,), (4, 1)), 0.03),
            _sgd_case("the second of three parameters has no gradient (.grad is None): it stays put",
                      ((3,), (2, 2), (4,)), 0.1, without_grad=1),
            _sgd_case("weight decay λ = 0.1, lr = 0.2", ((3, 4), (3,)), 0.2, weight_decay=0.1),
            _sgd_case("weight decay λ = 0.5, lr = 1, the first parameter has no gradient", ((2,), (3, 2)), 1.0,
                      weight_decay=0.5, without_grad=0)]


def _sgd_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """Give fresh leaves the case's gradients, take the step, and compare which parameters the
    step changed (in place, on the caller's tensors) and their new values."""
    params = [leaf(p) for p in args["params"]]
    for p, grad in zip(params, args["grads"]):
        p.grad = None if grad is None else grad.clone()
    before = [p.detach().clone() for p in params]
    options = {"weight_decay": args["weight_decay"]} if "weight_decay" in args else {}
    fn(params, args["lr"], **options)
    changed = torch.tensor([not torch.equal(p.detach(), b) for p, b in zip(params, before)])
    return {"parameters changed in place": changed, **{f"param {i}": p.detach() for i, p in enumerate(params)}}


def _torch_sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    torch.optim.SGD(params, lr=lr, weight_decay=weight_decay).step()


SGD_STEP = Exercise(
    name="sgd-step", chapter=1, title="one step of minibatch stochastic gradient descent, in place",
    difficulty="easy", entry="sgd_step",
    signature="def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:",
    task='''One update of minibatch SGD, after loss.backward() has filled every p.grad.

    θ ← θ − lr · (g + λ θ),   g = p.grad, λ = weight_decay (0 by default)

    g is the gradient of the minibatch *mean* loss, so lr does not depend on the batch size
    (do not divide by it). Update each tensor of params in place (the caller's tensors must
    move), inside torch.no_grad() so that autograd neither refuses nor records the update.
    A parameter whose .grad is None is skipped; leave every .grad as it is. Returns None.
    Allowed: in-place arithmetic (p -= …, p.sub_, p.add_). Not allowed: torch.optim.SGD.''',
    solution="divelab.exercises.solutions.basics:sgd_step",
    source=("divelab.scratch.optim:SGD",),
    reference=_torch_sgd_step,
    probe=_sgd_probe, cases=_sgd_cases,
    forbidden=("torch.optim.SGD.step", "torch.optim.sgd.sgd"),
    hints=(
        Hint("sgd-step-skip-none", "a parameter that got no gradient has .grad None: skip it "
             "(if p.grad is None: continue) instead of computing with None", case="no gradient", kind="error"),
        Hint("sgd-step-no-grad", "autograd refuses an in-place change of a leaf that requires grad: put the "
             "update inside `with torch.no_grad():`", kind="error"),
        Hint("sgd-step-in-place", "change each parameter in place (p -= lr * p.grad, or p.sub_(…)): "
             "p = p - lr * p.grad makes a new tensor and rebinds the name, the caller's parameter does not move",
             key="changed in place"),
        Hint("sgd-step-weight-decay", "with weight decay the step uses g + λ θ: θ ← θ − lr · (p.grad + "
             "weight_decay · p), the decay scaled by lr too", case="weight decay", key="^param"),
        Hint("sgd-step-direction", "θ ← θ − lr · g: step against the gradient, by lr times it — the loss is "
             "already a minibatch mean, so do not divide by the batch size", key="^param"),
    ),
)

# ---- softmax, log-softmax, log-sum-exp ------------------------------------------------------------

# Rows that break a naive implementation: overflow, underflow, ties, huge next to tiny (the twin tests' rows).
EXTREME_LOGITS = ((1e4, -1e4, 0.0, 1.0), (-1e4, -1e4, -1e4, -1e4), (1e4, 1e4, 1e4, 1e4),
                  (1e4, 1e-4, -1e-4, -1e4), (0.0, 0.0, 0.0, 0.0), (3.0, 3.0, 3.0, 3.0), (-1e4, 2.0, -1e4, 1e4))
EXTREME_TARGETS = (1, 0, 3, 3, 2, 0, 0)

SOFTMAX_FAMILY = ("torch.softmax", "torch.Tensor.softmax", "torch.nn.functional.softmax", "torch.special.softmax",
                  "torch.nn.Softmax.forward", "torch.log_softmax", "torch.Tensor.log_softmax",
                  "torch.nn.functional.log_softmax", "torch.special.log_softmax", "torch.nn.LogSoftmax.forward",
                  "torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp")


def _extreme_logits(g: torch.Generator) -> Tensor:
    return torch.tensor(EXTREME_LOGITS, dtype=DTYPE)


def _logits_case(name: str, shape: tuple[int, ...], dim: int | None = None, scale: float = 1.0,
                 offset: float = 0.0, keepdim: bool | None = None) -> Case:
    """Logits ``offset + N(0, scale²)``; ``dim`` / ``keepdim`` None: left at the function's default."""
    def make(g: torch.Generator) -> dict[str, Any]:
        args: dict[str, Any] = {"x": offset + randn(g, *shape, scale=scale)}
        if dim is not None:
            args["dim"] = dim
        return args if keepdim is None else {**args, "keepdim": keepdim}
    return Case(name, make)


def _normalising_cases() -> list[Case]:
    """What softmax and log-softmax are checked on: shapes and axes, then the numerically hard slices."""
    return [_logits_case("one row of 6 logits, shape (6,)", (6,)),
            _logits_case("4 rows of 5 logits, dim = -1 (default)", (4, 5), scale=3.0),
            _logits_case("shape (4, 3), dim = 0", (4, 3), dim=0),
            _logits_case("shape (2, 3, 4), dim = 1", (2, 3, 4), dim=1, scale=2.0),
            _logits_case("logits around 1000, shape (3, 5): exp overflows without the max shift", (3, 5),
                         offset=1000.0),
            Case("rows far apart (±1e4, ties), shape (7, 4)", lambda g: {"x": _extreme_logits(g)}),
            _logits_case("a single class (slices of length 1), shape (3, 1)", (3, 1))]


SOFTMAX = Exercise(
    name="softmax", chapter=1, title="softmax along an axis, with the max shift", difficulty="medium",
    entry="softmax",
    signature="def softmax(x: Tensor, dim: int = -1) -> Tensor:",
    task='''Turn scores into probabilities along dim: every slice along dim is positive and sums to 1.

    softmax(x)_i = exp(x_i − m) / Σ_j exp(x_j − m),   m = max_j x_j  (the max of the slice)

    Subtracting m changes nothing mathematically but keeps every exp argument ≤ 0, so logits
    like 1000 do not overflow (exp(1000) = inf, and inf / inf = NaN).
    x: any shape, floating point; dim: the axis to normalise (negative counts from the end).
    Returns a tensor of x's shape and dtype.
    Allowed: torch.exp, .amax / .max, .sum, arithmetic. Not allowed: torch.softmax,
    torch.nn.functional.softmax / log_softmax, torch.logsumexp (the thing itself).''',
    solution="divelab.scratch.softmax:softmax",
    reference=lambda x, dim=-1: F.softmax(x, dim),
    probe=lambda fn, args: outputs_and_grads(fn, args, grad_of=["x"]),
    cases=_normalising_cases,
    forbidden=SOFTMAX_FAMILY,
    hints=(
        Hint("softmax-overflow", "exp(1000) overflows to inf, and inf / inf is NaN: subtract each slice's "
             "maximum before exp (softmax does not change when every logit moves by the same amount)",
             case="around 1000", kind="nonfinite"),
        Hint("softmax-slice-max", "subtract each slice's own maximum, x.amax(dim=dim, keepdim=True), not the "
             "maximum of the whole tensor: a slice far below it underflows to exp = 0 everywhere and gives 0/0",
             case="far apart"),
        Hint("softmax-dim", "normalise along dim only: e / e.sum(dim=dim, keepdim=True) (keepdim so it "
             "broadcasts), with the max taken along the same dim — not over the whole tensor or always the "
             "last axis", case="dim"),
    ),
)

LOG_SOFTMAX = Exercise(
    name="log-softmax", chapter=1, title="log-softmax without taking the log of a tiny number",
    difficulty="medium", entry="log_softmax",
    signature="def log_softmax(x: Tensor, dim: int = -1) -> Tensor:",
    task='''The logarithm of the softmax along dim, the log-probabilities a classifier's loss needs.

    log_softmax(x)_i = (x_i − m) − log Σ_j exp(x_j − m),   m = max_j x_j  (the max of the slice)

    Computed in this form, logits like ±1e4 give finite values (−2e4) where log(softmax(x))
    gives log 0 = −inf, and logits like 1000 do not overflow.
    x: any shape, floating point; dim: the axis (negative counts from the end).
    Returns a tensor of x's shape and dtype.
    Allowed: torch.exp, torch.log, .amax / .max, .sum, arithmetic. Not allowed: torch.log_softmax,
    torch.nn.functional.log_softmax / softmax, torch.logsumexp (the thing itself).''',
    solution="divelab.scratch.softmax:log_softmax",
    reference=lambda x, dim=-1: F.log_softmax(x, dim),
    probe=lambda fn, args: outputs_and_grads(fn, args, grad_of=["x"]),
    cases=_normalising_cases,
    forbidden=SOFTMAX_FAMILY,
    hints=(
        Hint("log-softmax-overflow", "exp(1000) overflows to inf: subtract each slice's maximum m first, "
             "log_softmax(x) = (x − m) − log Σ exp(x − m)", case="around 1000", kind="nonfinite"),
        Hint("log-softmax-log-of-softmax", "log(softmax(x)) is log 0 = −inf for a probability that underflows "
             "(a logit 2e4 below the max): never take the log of the probabilities, compute "
             "(x − m) − log Σ exp(x − m) with m each slice's own maximum", case="far apart"),
        Hint("log-softmax-dim", "reduce along dim only, with keepdim=True so that the result broadcasts "
             "against x — not over the whole tensor or always the last axis", case="dim"),
    ),
)


def _logsumexp_cases() -> list[Case]:
    minus_inf = Case("a slice of all −inf (logsumexp −inf), shape (3, 4)", lambda g: {
        "x": torch.cat([torch.full((1, 4), float("-inf"), dtype=DTYPE), randn(g, 2, 4)])})
    return [_logits_case("one row of 6 logits, shape (6,)", (6,)),
            _logits_case("4 rows of 5 logits, dim = -1 (default)", (4, 5), scale=3.0),
            _logits_case("shape (4, 3), dim = 0", (4, 3), dim=0),
            _logits_case("shape (2, 3, 4), dim = 1, keepdim=True", (2, 3, 4), dim=1, keepdim=True),
            _logits_case("shape (3, 2), dim = 0, keepdim=False", (3, 2), dim=0, keepdim=False),
            _logits_case("logits around 1000, shape (3, 5): exp overflows without the max shift", (3, 5),
                         offset=1000.0),
            Case("rows far apart (±1e4, ties), shape (7, 4)", lambda g: {"x": _extreme_logits(g)}),
            minus_inf]


LOGSUMEXP = Exercise(
    name="logsumexp", chapter=1, title="log-sum-exp without overflow", difficulty="medium",
    entry="logsumexp",
    signature="def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:",
    task='''log Σ_j exp(x_j) along dim, the normaliser of the softmax, computed without overflow.

    logsumexp(x) = m + log Σ_j exp(x_j − m),   m = max_j x_j  (the max of the slice)

    A slice of all −inf has logsumexp −inf; there m = −inf and x − m = NaN, so shift such a
    slice by 0 instead of by m.
    x: any shape, floating point; dim: the axis reduced; keepdim: keep it with size 1 (as in
    torch.sum). Returns x's shape without dim (with dim of size 1 if keepdim), x's dtype.
    Allowed: torch.exp, torch.log, .amax / .max, .sum, torch.isfinite, torch.where, arithmetic.
    Not allowed: torch.logsumexp, softmax / log_softmax (the thing itself).''',
    solution="divelab.scratch.softmax:logsumexp",
    reference=lambda x, dim=-1, keepdim=False: torch.logsumexp(x, dim, keepdim),
    probe=lambda fn, args: outputs_and_grads(fn, args, grad_of=["x"]),
    cases=_logsumexp_cases,
    forbidden=SOFTMAX_FAMILY,
    hints=(
        Hint("logsumexp-overflow", "exp(1000) overflows to inf: subtract the slice's maximum m before exp and "
             "add it back after the log, m + log Σ exp(x − m)", case="around 1000", kind="nonfinite"),
        Hint("logsumexp-keepdim", "keepdim=True keeps the reduced axis with size 1 (take the max and the sum "
             "with keepdim=True, and squeeze dim only when keepdim is False)", case="keepdim"),
        Hint("logsumexp-minus-inf", "a slice of all −inf has maximum m = −inf, and −inf − (−inf) is NaN: shift "
             "such a slice by 0 (torch.where(torch.isfinite(m), m, 0)); log Σ exp(−inf) = log 0 = −inf is right",
             case="−inf"),
        Hint("logsumexp-dim", "reduce along dim only — not over the whole tensor or always the last axis", case="dim"),
        Hint("logsumexp-add-back", "log Σ exp(x − m) is logsumexp(x) − m: add the shift m back", key="output"),
    ),
)

# ---- cross-entropy --------------------------------------------------------------------------------


def _ce_case(name: str, n: int, classes: int, reduction: str | None = None) -> Case:
    """Logits N(0, 5²) of shape (n, classes) and random targets; reduction None: the default."""
    def make(g: torch.Generator) -> dict[str, Any]:
        args = {"logits": randn(g, n, classes, scale=5.0), "target": torch.randint(classes, (n,), generator=g)}
        return args if reduction is None else {**args, "reduction": reduction}
    return Case(name, make)


def _ce_cases() -> list[Case]:
    extreme = Case("logits of ±1e4 (log of the softmax gives −inf), reduction='none'", lambda g: {
        "logits": _extreme_logits(g), "target": torch.tensor(EXTREME_TARGETS), "reduction": "none"})
    return [_ce_case("mean (default) over 4 rows of 5 classes", 4, 5),
            _ce_case("reduction='sum', 6 rows of 3 classes", 6, 3, "sum"),
            _ce_case("reduction='none', 5 rows of 4 classes", 5, 4, "none"),
            _ce_case("a single row of 7 classes, mean", 1, 7),
            _ce_case("a single class (loss 0), 3 rows, mean", 3, 1),
            extreme]


CROSS_ENTROPY = Exercise(
    name="cross-entropy", chapter=1, title="the cross-entropy loss from logits, via log-sum-exp",
    difficulty="medium", entry="cross_entropy",
    signature='def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:',
    task='''The classification loss: minus the log-probability the model gives the true class.

    loss_i = logsumexp(z_i) − z_{i, y_i} = −log_softmax(z_i)_{y_i},
    logsumexp(z_i) = m_i + log Σ_c exp(z_{i,c} − m_i),   m_i = max_c z_{i,c}

    logits z: shape (n, C); target y: class indices, int64, shape (n,). reduction "mean"
    (default): the mean of the n losses; "sum": their sum; "none": the (n,) vector itself.
    Logits like ±1e4 must give large but finite losses (log of a softmax that underflows gives inf).
    Allowed: torch.exp, torch.log, .amax, .gather / indexing, arithmetic. Not allowed:
    torch.nn.functional.cross_entropy / nll_loss / log_softmax / softmax, torch.logsumexp.''',
    solution="divelab.scratch.softmax:cross_entropy",
    reference=lambda logits, target, reduction="mean": F.cross_entropy(logits, target, reduction=reduction),
    probe=lambda fn, args: outputs_and_grads(fn, args, grad_of=["logits"]),
    cases=_ce_cases,
    experiments=("softmax-scratch",),
    forbidden=(*SOFTMAX_FAMILY, "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
               "torch.nn.CrossEntropyLoss.forward", "torch.nn.NLLLoss.forward"),
    hints=(
        Hint("cross-entropy-stable", "a true class 2e4 below the row's max has softmax probability 0, and "
             "−log 0 = inf: never take the log of the probabilities, compute logsumexp(z_i) − z_{i,y_i} "
             "with the max shift", case="1e4"),
        Hint("cross-entropy-reduction", "reduction='sum' adds the n per-row losses, 'none' returns them as an "
             "(n,) vector, only 'mean' (the default) averages", case="reduction='(sum|none)'"),
        Hint("cross-entropy-true-class", "loss_i = logsumexp(z_i) − z_{i,y_i}: take each row's own target "
             "column (z[torch.arange(n), y], or gather), and 'mean' averages over the n rows, not over n·C "
             "entries", key="output|grad"),
    ),
)

# ---- activations and their derivatives ------------------------------------------------------------

# Zero, huge (where exp overflows) and tiny values, as in the twin tests; each case adds random ones.
LARGE = (20.0, -20.0, 50.0, -50.0, 700.0, -700.0, 800.0, -800.0, 1e4, -1e4)
TINY = (1e-12, -1e-12, 1e-300, -1e-300, 1e-9, -1e-6, 3e-8)
NAMES = {"random": "random values, shape (50,)", "3d": "shape (3, 4, 5), values of scale 5",
         "zero": "x = 0 exactly (and a few random values)", "large": "large |x| (±20 … ±1e4): exp overflows there",
         "tiny": "tiny |x| (1e-300 … 1e-6), judged relative to x"}


def _activation_cases(kinds: tuple[str, ...] = ("random", "3d", "zero", "large")) -> list[Case]:
    makers: dict[str, Callable[[torch.Generator], dict[str, Any]]] = {
        "random": lambda g: {"x": randn(g, 50)},
        "3d": lambda g: {"x": randn(g, 3, 4, 5, scale=5.0)},
        "zero": lambda g: {"x": torch.cat([torch.zeros(3, dtype=DTYPE), randn(g, 5)])},
        "large": lambda g: {"x": torch.cat([torch.tensor(LARGE, dtype=DTYPE), randn(g, 6, scale=30.0)])},
        "tiny": lambda g: {"x": torch.tensor(TINY, dtype=DTYPE) * (1 + torch.rand(len(TINY), generator=g,
                                                                                   dtype=DTYPE)),
                           "relative": True},
    }
    return [Case(NAMES[k], makers[k]) for k in kinds]


def _activation_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The output and its gradient; with ``relative``, also output / x, which a formula that loses
    digits near 0 gets wrong although the output itself is within the absolute tolerance."""
    found = outputs_and_grads(fn, {"x": args["x"]}, grad_of=["x"])
    if args.get("relative"):
        found["output / x (relative precision near 0)"] = found["output"] / args["x"]
    return found


def _output_only_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    return outputs_and_grads(fn, {"x": args["x"]}, grad_of=[])


def _relu_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """Output and gradient; on the NaN case the output only (torch's gradient at NaN is a convention)."""
    return _output_only_probe(fn, args) if args.get("nan") else _activation_probe(fn, args)


def _relu_cases() -> list[Case]:
    nan = Case("NaN passes through, as in torch.relu", lambda g: {
        "x": torch.cat([torch.tensor([float("nan")], dtype=DTYPE), randn(g, 5)]), "nan": True})
    return [*_activation_cases(), nan]


def _autograd_derivative(f: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``f'(x)`` elementwise by autograd; differentiable again when ``x`` requires grad."""
    def derivative(x: Tensor) -> Tensor:
        x_in = x if x.requires_grad else x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x_in).sum(), x_in, create_graph=x.requires_grad)
        return grad
    return derivative


RELU_FORBIDDEN = ("torch.relu", "torch.relu_", "torch.Tensor.relu", "torch.Tensor.relu_", "torch.nn.functional.relu",
                  "torch.nn.functional.relu_", "torch.nn.ReLU.forward", "torch.nn.functional.threshold",
                  "torch.threshold")
SIGMOID_FORBIDDEN = ("torch.sigmoid", "torch.Tensor.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit",
                     "torch.nn.Sigmoid.forward")
TANH_FORBIDDEN = ("torch.tanh", "torch.Tensor.tanh", "torch.nn.functional.tanh", "torch.nn.Tanh.forward")
DERIVATIVE_FORBIDDEN = ("torch.autograd.grad", "torch.Tensor.backward")

RELU = Exercise(
    name="relu", chapter=1, title="the rectified linear unit", difficulty="easy", entry="relu",
    signature="def relu(x: Tensor) -> Tensor:",
    task='''The rectified linear unit, the hidden activation of the course's MLPs.

    relu(x) = max(x, 0),  elementwise

    Its gradient (by autograd of your formula) must be torch's: 1 where x > 0, 0 where x ≤ 0 —
    including x = 0 exactly. NaN stays NaN, as in torch.relu.
    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: comparisons, torch.where, arithmetic. Not allowed: torch.relu,
    torch.nn.functional.relu, nn.ReLU (the thing itself).''',
    solution="divelab.scratch.activations:relu",
    reference=torch.relu,
    probe=_relu_probe, cases=_relu_cases,
    experiments=("mlp-scratch",),
    forbidden=RELU_FORBIDDEN,
    hints=(
        Hint("relu-gradient-at-zero", "at x = 0 torch's relu has gradient 0: write it so that x ≤ 0 takes the "
             "constant branch, torch.where(x <= 0, 0, x) or x * (x > 0); torch.where(x >= 0, x, 0), "
             "x.clamp(min=0) and (x + |x|) / 2 give gradient 1 or ½ there", case="x = 0", key="grad x"),
        Hint("relu-nan", "relu(NaN) is NaN in torch: NaN > 0 is False, so torch.where(x > 0, x, 0) turns it "
             "into 0; test the other way round, torch.where(x <= 0, 0, x)", case="NaN"),
        Hint("relu-formula", "relu(x) = max(x, 0): negative values become 0, positive ones stay as they are",
             key="output"),
    ),
)

RELU_GRAD = Exercise(
    name="relu-grad", chapter=1, title="the derivative of relu, by hand", difficulty="easy", entry="relu_grad",
    signature="def relu_grad(x: Tensor) -> Tensor:",
    task='''The derivative of relu, elementwise, for a backward pass written by hand.

    relu′(x) = 1 if x > 0 else 0   (0 at x = 0 exactly, the convention of torch's autograd)

    x: any shape, floating point. Returns a tensor of x's shape and dtype (not bool).
    Allowed: comparisons, .to(x.dtype), arithmetic. Not allowed: torch.relu, torch.heaviside,
    autograd (torch.autograd.grad, .backward()).''',
    solution="divelab.scratch.activations:relu_grad",
    reference=_autograd_derivative(torch.relu),
    probe=_output_only_probe, cases=_activation_cases,
    forbidden=(*RELU_FORBIDDEN, "torch.heaviside", "torch.Tensor.heaviside", *DERIVATIVE_FORBIDDEN),
    hints=(
        Hint("relu-grad-dtype", "a comparison gives a bool tensor: convert it to x's dtype, (x > 0).to(x.dtype)",
             kind="dtype"),
        Hint("relu-grad-at-zero", "relu′(0) is 0 by torch's convention: the derivative is x > 0, not x >= 0",
             case="x = 0"),
        Hint("relu-grad-formula", "relu′(x) is 1 where x > 0 and 0 elsewhere: a 0/1 tensor, not relu(x) itself",
             key="output"),
    ),
)

SIGMOID = Exercise(
    name="sigmoid", chapter=1, title="the logistic sigmoid, without overflow", difficulty="medium",
    entry="sigmoid",
    signature="def sigmoid(x: Tensor) -> Tensor:",
    task='''The logistic function, squashing any real number into (0, 1).

    σ(x) = 1 / (1 + exp(−x)) = exp(x) / (1 + exp(x))

    exp(−x) overflows for x ≪ 0 (exp(800) = inf; the value survives but its gradient becomes
    inf · 0 = NaN), and exp(x) for x ≫ 0: evaluate it through e = exp(−|x|) ∈ (0, 1] instead,
    σ(x) = 1 / (1 + e) for x ≥ 0 and e / (1 + e) for x < 0. Its gradient (by autograd of your
    formula) must be σ(x)(1 − σ(x)) everywhere, x = 0 included (σ′(0) = ¼).
    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: torch.exp, torch.where, arithmetic. Not allowed: torch.sigmoid,
    torch.nn.functional.sigmoid, torch.special.expit, nn.Sigmoid (the thing itself).''',
    solution="divelab.scratch.activations:sigmoid",
    reference=torch.sigmoid,
    probe=_activation_probe, cases=_activation_cases,
    experiments=("activations",),
    forbidden=SIGMOID_FORBIDDEN,
    hints=(
        Hint("sigmoid-abs-at-zero", "at x = 0 the gradient must be σ′(0) = ¼: torch gives |x| the derivative 0 "
             "at 0, so write −|x| as torch.where(x >= 0, -x, x) rather than -x.abs()", case="x = 0", key="grad x"),
        Hint("sigmoid-overflow", "exp(−x) overflows for x ≪ 0 (and exp(x) for x ≫ 0), which gives NaN in the value "
             "or its gradient: compute e = exp(−|x|) ≤ 1 and use 1 / (1 + e) for x ≥ 0, e / (1 + e) for x < 0",
             case="large", kind="nonfinite"),
        Hint("sigmoid-formula", "σ(x) = 1 / (1 + exp(−x)): σ(0) = ½ and σ grows with x — check the sign of the "
             "exponent and which branch goes with x ≥ 0", key="output|grad"),
    ),
)

SIGMOID_GRAD = Exercise(
    name="sigmoid-grad", chapter=1, title="the derivative of the sigmoid, by hand", difficulty="easy",
    entry="sigmoid_grad",
    signature="def sigmoid_grad(x: Tensor) -> Tensor:",
    task='''The derivative of the sigmoid, elementwise, for a backward pass written by hand.

    σ′(x) = σ(x) (1 − σ(x)),   σ(x) = 1 / (1 + exp(−x))

    It must stay finite for large |x| (σ′(±800) = 0, not NaN), and be differentiable again: the
    second derivative, by autograd of your formula, is compared too.
    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: your own sigmoid, torch.sigmoid, arithmetic. Not allowed: autograd
    (torch.autograd.grad, .backward()).''',
    solution="divelab.scratch.activations:sigmoid_grad",
    reference=_autograd_derivative(torch.sigmoid),
    probe=_activation_probe, cases=_activation_cases,
    forbidden=DERIVATIVE_FORBIDDEN,
    hints=(
        Hint("sigmoid-grad-overflow", "exp(−x) / (1 + exp(−x))² is inf / inf = NaN for x ≪ 0: compute σ(x) "
             "without overflow (or use torch.sigmoid) and return σ(x) (1 − σ(x))", case="large", kind="nonfinite"),
        Hint("sigmoid-grad-of-output", "σ′(x) = σ(x)(1 − σ(x)): apply the formula to σ(x), not to x — x(1 − x) is "
             "the derivative written in terms of the output y = σ(x)", key="output"),
    ),
)


def _tanh_cases() -> list[Case]:
    return _activation_cases(("random", "3d", "zero", "large", "tiny"))


TANH = Exercise(
    name="tanh", chapter=1, title="the hyperbolic tangent, without overflow or cancellation", difficulty="hard",
    entry="tanh",
    signature="def tanh(x: Tensor) -> Tensor:",
    task='''The hyperbolic tangent, squashing any real number into (−1, 1).

    tanh(x) = (exp(x) − exp(−x)) / (exp(x) + exp(−x)) = (1 − exp(−2x)) / (1 + exp(−2x))

    exp(±x) overflows for large |x| (inf / inf = NaN): evaluate it for |x| through
    e = exp(−2|x|) ∈ (0, 1] and give it the sign of x. For tiny |x|, 1 − e cancels and keeps only
    a few digits of tanh(1e-12) ≈ 1e-12: torch.expm1(z) = exp(z) − 1 keeps them, and
    (1 − e) / (1 + e) = −expm1(z) / (2 + expm1(z)) with z = −2|x|. The result is judged relative to x
    near 0, and its gradient (by autograd of your formula) must be 1 − tanh(x)², x = 0 included.
    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: torch.exp, torch.expm1, torch.where, arithmetic. Not allowed: torch.tanh,
    torch.nn.functional.tanh, nn.Tanh (the thing itself).''',
    solution="divelab.scratch.activations:tanh",
    reference=torch.tanh,
    probe=_activation_probe, cases=_tanh_cases,
    forbidden=TANH_FORBIDDEN,
    hints=(
        Hint("tanh-abs-at-zero", "at x = 0 the gradient must be tanh′(0) = 1: torch gives |x| the derivative 0 "
             "at 0, so write −2|x| as torch.where(x >= 0, -2 * x, 2 * x) rather than with x.abs()",
             case="x = 0", key="grad x"),
        Hint("tanh-overflow", "exp(x) or exp(−2x) overflows for large |x| and gives inf / inf = NaN: compute "
             "e = exp(−2|x|) ≤ 1, tanh(|x|) = (1 − e) / (1 + e), then give it the sign of x",
             case="large", kind="nonfinite"),
        Hint("tanh-cancellation", "near 0, 1 − exp(−2|x|) (or 2σ(2x) − 1) cancels and keeps only a few digits of "
             "tanh(x) ≈ x: use em1 = torch.expm1(−2|x|) and tanh(|x|) = −em1 / (2 + em1)", key="relative"),
        Hint("tanh-formula", "tanh(x) = (1 − exp(−2x)) / (1 + exp(−2x)): tanh(0) = 0, tanh is odd and grows "
             "with x — check the signs", key="output|grad"),
    ),
)

TANH_GRAD = Exercise(
    name="tanh-grad", chapter=1, title="the derivative of tanh, by hand", difficulty="easy", entry="tanh_grad",
    signature="def tanh_grad(x: Tensor) -> Tensor:",
    task='''The derivative of tanh, elementwise, for a backward pass written by hand.

    tanh′(x) = 1 − tanh(x)²

    It must stay finite for large |x| (tanh′(±800) = 0, not NaN), and be differentiable again: the
    second derivative, by autograd of your formula, is compared too.
    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: your own tanh, torch.tanh, arithmetic. Not allowed: autograd
    (torch.autograd.grad, .backward()).''',
    solution="divelab.scratch.activations:tanh_grad",
    reference=_autograd_derivative(torch.tanh),
    probe=_activation_probe, cases=_activation_cases,
    forbidden=DERIVATIVE_FORBIDDEN,
    hints=(
        Hint("tanh-grad-overflow", "a tanh computed from exp(x) and exp(−x) is inf / inf = NaN for large |x|: "
             "compute tanh without overflow (or use torch.tanh) and return 1 − tanh(x)²",
             case="large", kind="nonfinite"),
        Hint("tanh-grad-of-output", "tanh′(x) = 1 − tanh(x)²: square tanh(x), not x — 1 − x² is the derivative "
             "written in terms of the output y = tanh(x)", key="output"),
    ),
)

EXERCISES: list[Exercise] = [LINEAR, SQUARED_LOSS, SGD_STEP, SOFTMAX, LOG_SOFTMAX, LOGSUMEXP, CROSS_ENTROPY,
                             RELU, RELU_GRAD, SIGMOID, SIGMOID_GRAD, TANH, TANH_GRAD]
