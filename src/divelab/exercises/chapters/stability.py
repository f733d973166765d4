"""Chapter 3 exercises — backpropagation and numerical stability: the backward pass of a
linear + ReLU layer by hand, Xavier and He initialisation, batch normalisation, gradient clipping.

One chapter's exercises, kept in one module like every chapter's; its length is the hand-built
cases and probes of its exercises.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, as_tensor, leaf, outputs_and_grads, randn

# ---- linear + ReLU backward -----------------------------------------------------------------------


def _backward_case(name: str, n: int, fan_in: int, fan_out: int, zeros: bool = False) -> Case:
    """``zeros``: every other example is 0 and every other bias too, so z = x Wᵀ + b is exactly 0 there."""
    def make(g: torch.Generator) -> dict[str, Any]:
        x, bias = randn(g, n, fan_in), randn(g, fan_out, scale=0.5)
        if zeros:
            x[::2], bias[::2] = 0.0, 0.0
        return {"x": x, "weight": randn(g, fan_out, fan_in, scale=fan_in ** -0.5), "bias": bias,
                "grad_out": randn(g, n, fan_out)}
    return Case(name, make)


def _backward_cases() -> list[Case]:
    return [_backward_case("batch of 8, 5 → 3 features", 8, 5, 3),
            _backward_case("a single example (n = 1), 6 → 4 features", 1, 6, 4),
            _backward_case("square layer 4 → 4 (a transposed matrix keeps its shape)", 6, 4, 4),
            _backward_case("one output unit, 7 → 1", 5, 7, 1),
            _backward_case("batch of 32, 20 → 10 features", 32, 20, 10),
            _backward_case("pre-activations exactly 0 in places (relu'(0) = 0)", 6, 5, 4, zeros=True)]


def _backward_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The three gradients, computed with autograd off and inputs that do not require grad."""
    with torch.no_grad():
        grads = fn(**args)
    if not isinstance(grads, tuple) or len(grads) != 3:
        raise TypeError("return the three gradients as a tuple (grad_x, grad_weight, grad_bias)")
    return {f"grad {name}": as_tensor(grad) for name, grad in zip(("x", "weight", "bias"), grads)}


def _autograd_linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor,
                                   grad_out: Tensor) -> tuple[Tensor, ...]:
    """The reference: autograd's vector-Jacobian product of relu(F.linear(x, W, b)) with grad_out."""
    with torch.enable_grad():
        inputs = [leaf(t) for t in (x, weight, bias)]
        return torch.autograd.grad(F.relu(F.linear(*inputs)), inputs, grad_out)


LINEAR_RELU_BACKWARD = Exercise(
    name="linear-relu-backward", chapter=3, title="the backward pass of a linear + ReLU layer, by hand",
    difficulty="medium", entry="linear_relu_backward",
    signature="def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) "
              "-> tuple[Tensor, Tensor, Tensor]:",
    task='''Backpropagation through y = relu(z), z = x Wᵀ + b, written out by hand (no autograd).

    Given the upstream gradient g = ∂L/∂y, the chain rule gives, one step at a time,

        δ = ∂L/∂z = g ⊙ 1[z > 0]        (ReLU lets the gradient through where z > 0; 0 at z = 0)
        ∂L/∂x = δ W                     (n, out) @ (out, in) → (n, in)
        ∂L/∂W = δᵀ x                    (out, n) @ (n, in) → (out, in): Σ_n of the outer products δ_n x_nᵀ
        ∂L/∂b = Σ_n δ_n                 (out,): the bias is added to every row, so its gradients add up

    x: (n, in); weight: (out, in) as in nn.Linear; bias: (out,); grad_out: (n, out).
    Returns (grad_x, grad_weight, grad_bias), shaped like x, weight and bias.

    The checker calls it under torch.no_grad() with inputs that do not require grad: recompute
    z from x, weight and bias. Not allowed: autograd (Tensor.backward, torch.autograd.grad,
    torch.autograd.backward, torch.func) — the point is to write the chain rule yourself.''',
    solution="divelab.exercises.solutions.stability:linear_relu_backward",
    source=("divelab.scratch.backprop:Linear", "divelab.scratch.backprop:ReLU",
            "divelab.exercises.solutions.stability:linear_relu_backward"),
    reference=_autograd_linear_relu_backward,
    probe=_backward_probe, cases=_backward_cases,
    forbidden=("torch.Tensor.backward", "torch.autograd.backward", "torch.autograd.grad",
               "torch.autograd.functional.vjp", "torch.autograd.functional.jacobian",
               "torch.func.grad", "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jacrev"),
    hints=(
        Hint("linear-relu-backward-relu-at-zero", "ReLU's derivative at exactly z = 0 is taken as 0 (as autograd "
             "does): the mask is 1[z > 0], not 1[z ≥ 0]", case="exactly 0"),
        Hint("linear-relu-backward-autograd", "compute the gradients with the chain rule by hand: autograd "
             "(.backward(), torch.autograd.grad, torch.func) is what this exercise replaces", kind="forbidden"),
        Hint("linear-relu-backward-weight-shape", "∂L/∂W = δᵀ x has the weight's shape (out_features, in_features): "
             "(out, n) @ (n, in) — not xᵀ δ, which is its transpose", key="grad weight", kind="shape"),
        Hint("linear-relu-backward-bias", "∂L/∂b = Σ_n δ_n: the bias is added to every row, so sum δ over the "
             "batch (dim 0) — not the mean — and use δ, the gradient after the ReLU mask", key="grad bias"),
        Hint("linear-relu-backward-mask", "backpropagate through the ReLU first: δ = g ⊙ 1[z > 0] with z = x Wᵀ + b "
             "the pre-activation (not x, not g itself); then ∂L/∂x = δ W and ∂L/∂W = δᵀ x",
             key="grad (x|weight)", kind="values"),
    ),
)

# ---- Xavier and He initialisation -------------------------------------------------------------


def _init_case(name: str, shape: tuple[int, ...], parameter: bool = False, **kwargs: Any) -> Case:
    """``kwargs``: the arguments given besides the tensor and the generator (the rest keep their defaults)."""
    return Case(name, lambda g: {"shape": shape, "parameter": parameter, "kwargs": kwargs,
                                 "seed": int(torch.randint(0, 2**31 - 1, (), generator=g))})


def _init_probe(uniform: bool) -> Any:
    """Fill a fresh float64 tensor (an nn.Parameter if the case says so) from a generator seeded
    alike for both sides. Statistics first (they name the formula's mistakes), then the weights
    themselves: the same generator must give nn.init's very numbers."""
    def probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
        tensor = torch.empty(args["shape"], dtype=DTYPE)
        if args["parameter"]:
            tensor = nn.Parameter(tensor)
        out = fn(tensor, **args["kwargs"], generator=torch.Generator().manual_seed(args["seed"]))
        w = as_tensor(out).detach()
        found = {"filled in place (returns the tensor it was given)": torch.tensor(out is tensor),
                 "mean / std": w.mean() / w.std()}
        if uniform:
            found["max |w|"] = w.abs().max()
        return {**found, "std": w.std(), "weights": w}
    return probe


# Every case fills ≥ 10 000 weights: the std of a different draw is then within ~1 % (so a
# learner's statistics are judged loosely, 5 %), while a wrong formula is off by ≥ 15 %.
INIT_TOLERANCE = {"mean / std": (0.1, 0.0), r"max \|w\|": (0.0, 0.01), "^std$": (0.0, 0.05)}
_NO_GRAD_HINT = ("an nn.Parameter requires grad, so autograd refuses in-place changes to it: fill it inside "
                 "`with torch.no_grad():` (as nn.init does)")
_IN_PLACE_HINT = ("fill the tensor you are given in place (tensor.{}(…)) and return that same tensor, as "
                  "nn.init does — not a new one")
_CONV_FANS_HINT = ("a convolution weight (out, in, k₁, k₂) connects each output to in·k₁·k₂ inputs: fan_in = "
                   "in·k₁·k₂ and fan_out = out·k₁·k₂ (both multiplied by the receptive field k₁·k₂)")


def _xavier_cases() -> list[Case]:
    return [_init_case("Linear weight (256, 128), default gain 1", (256, 128)),
            _init_case("Linear weight (100, 300), gain 5/3 (tanh)", (100, 300), gain=5 / 3),
            _init_case("conv weight (64, 32, 3, 3): fan_in = 32·3·3, fan_out = 64·3·3", (64, 32, 3, 3)),
            _init_case("conv weight (32, 16, 5, 5), gain √2", (32, 16, 5, 5), gain=2 ** 0.5),
            _init_case("Linear weight (1000, 10): fan_out ≫ fan_in", (1000, 10)),
            _init_case("an nn.Parameter (200, 100): fill it under torch.no_grad()", (200, 100), parameter=True)]


XAVIER_INIT = Exercise(
    name="xavier-init", chapter=3, title="Xavier / Glorot uniform initialisation", difficulty="easy",
    entry="xavier_uniform_",
    signature="def xavier_uniform_(tensor: Tensor, gain: float = 1.0, "
              "generator: torch.Generator | None = None) -> Tensor:",
    task='''Xavier / Glorot uniform initialisation (Glorot & Bengio, 2010), in place.

    A layer y = W x whose weights have variance σ² multiplies the variance of its signal by
    fan_in · σ² going forward and by fan_out · σ² going backward. Xavier keeps both near 1 by
    the compromise σ² = 2 / (fan_in + fan_out), times gain² for the nonlinearity that follows:

        σ = gain · √(2 / (fan_in + fan_out)),    W ~ U(−a, a),    a = √3 · σ = gain · √(6 / (fan_in + fan_out))

    (the uniform distribution on [−a, a] has variance a²/3). A Linear weight (out, in) has
    fan_in = in, fan_out = out; a convolution weight (out, in, k₁, k₂, …) has
    fan_in = in · k₁ · k₂ ⋯ and fan_out = out · k₁ · k₂ ⋯.

    tensor: ≥ 2 dimensions, floating point, possibly an nn.Parameter. Fill it in place and return
    it, like torch.nn.init.xavier_uniform_: draw once with tensor.uniform_(−a, a, generator=generator)
    (generator None: torch's global RNG), inside torch.no_grad(). The checker gives both your
    function and nn.init the same generator seed and expects the very same numbers.
    Not allowed: torch.nn.init (xavier_uniform_, xavier_normal_, _calculate_fan_in_and_fan_out).''',
    solution="divelab.scratch.init:xavier_uniform_",
    source=("divelab.scratch.init:fan_in_and_fan_out", "divelab.scratch.init:xavier_std",
            "divelab.scratch.init:_uniform", "divelab.scratch.init:xavier_uniform_"),
    experiments=("init",),
    reference=lambda tensor, gain=1.0, generator=None: nn.init.xavier_uniform_(tensor, gain, generator=generator),
    probe=_init_probe(uniform=True), cases=_xavier_cases,
    forbidden=("torch.nn.init.xavier_uniform_", "torch.nn.init.xavier_normal_",
               "torch.nn.init._calculate_fan_in_and_fan_out"),
    key_tolerance=INIT_TOLERANCE,
    hints=(
        Hint("xavier-init-no-grad", _NO_GRAD_HINT, case="nn.Parameter", kind="error"),
        Hint("xavier-init-in-place", _IN_PLACE_HINT.format("uniform_"), key="in place"),
        Hint("xavier-init-conv-fans", _CONV_FANS_HINT, case="conv weight"),
        Hint("xavier-init-gain", "multiply by the gain: a = gain · √(6 / (fan_in + fan_out))", case="gain 5/3"),
        Hint("xavier-init-symmetric", "draw from U(−a, a), symmetric around 0 (tensor.uniform_(−a, a)), "
             "not from U(0, a)", key="mean / std"),
        Hint("xavier-init-bound", "the bound of U(−a, a) is a = √3 · σ = gain · √(6 / (fan_in + fan_out)): "
             "σ = gain · √(2 / (fan_in + fan_out)) is the standard deviation, and U(−a, a) has variance a²/3",
             key=r"^(max \|w\||std)$"),
        Hint("xavier-init-generator", "the statistics are right but the numbers are not those nn.init draws from "
             "the same generator: draw once with tensor.uniform_(−a, a, generator=generator) (not torch.rand, "
             "not the global RNG when a generator is given)", key="^weights$"),
    ),
)


def _he_cases() -> list[Case]:
    return [_init_case("Linear weight (256, 128), defaults (fan_in, relu)", (256, 128)),
            _init_case("conv weight (64, 32, 3, 3), relu: fan_in = 32·3·3", (64, 32, 3, 3)),
            _init_case("mode fan_out, Linear weight (300, 100)", (300, 100), mode="fan_out"),
            _init_case("nonlinearity tanh (gain 5/3), Linear weight (200, 100)", (200, 100), nonlinearity="tanh"),
            _init_case("nonlinearity linear (gain 1), Linear weight (128, 256)", (128, 256), nonlinearity="linear"),
            _init_case("leaky_relu with negative_slope 0.2, Linear weight (256, 64)", (256, 64),
                       nonlinearity="leaky_relu", negative_slope=0.2),
            _init_case("an nn.Parameter (200, 100): fill it under torch.no_grad()", (200, 100), parameter=True)]


def _torch_kaiming_normal_(tensor: Tensor, mode: str = "fan_in", nonlinearity: str = "relu",
                           negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    """nn.init.kaiming_normal_ with the exercise's argument names (its ``a`` is ``negative_slope``)."""
    return nn.init.kaiming_normal_(tensor, a=negative_slope, mode=mode, nonlinearity=nonlinearity,
                                   generator=generator)


HE_INIT = Exercise(
    name="he-init", chapter=3, title="He / Kaiming normal initialisation", difficulty="easy",
    entry="kaiming_normal_",
    signature="def kaiming_normal_(tensor: Tensor, mode: str = \"fan_in\", nonlinearity: str = \"relu\", "
              "negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:",
    task='''He / Kaiming normal initialisation (He et al., 2015), in place.

    A ReLU zeroes half of its inputs and so halves the variance of the signal; He initialisation
    makes up for it with gain² = 2, and keeps either the forward pass (mode "fan_in") or the
    backward pass (mode "fan_out") at a steady scale:

        σ = gain / √fan,    W ~ N(0, σ²)

    gain by nonlinearity: "linear" and "sigmoid" 1, "tanh" 5/3, "relu" √2,
    "leaky_relu" √(2 / (1 + negative_slope²)). fan is fan_in or fan_out as mode says: a Linear
    weight (out, in) has fan_in = in, fan_out = out; a convolution weight (out, in, k₁, k₂, …)
    has fan_in = in · k₁ · k₂ ⋯ and fan_out = out · k₁ · k₂ ⋯.

    tensor: ≥ 2 dimensions, floating point, possibly an nn.Parameter. Fill it in place and return
    it, like torch.nn.init.kaiming_normal_ (whose `a` is negative_slope here): draw once with
    tensor.normal_(0, σ, generator=generator) (generator None: torch's global RNG), inside
    torch.no_grad(). The checker gives both your function and nn.init the same generator seed
    and expects the very same numbers.
    Not allowed: torch.nn.init (kaiming_normal_, kaiming_uniform_, calculate_gain, the fan helpers).''',
    solution="divelab.scratch.init:kaiming_normal_",
    source=("divelab.scratch.init:calculate_gain", "divelab.scratch.init:fan_in_and_fan_out",
            "divelab.scratch.init:kaiming_std", "divelab.scratch.init:kaiming_normal_"),
    experiments=("grad-flow",),  # "init" uses it too, but an experiment takes one exercise's piece: xavier-init's
    reference=_torch_kaiming_normal_,
    probe=_init_probe(uniform=False), cases=_he_cases,
    forbidden=("torch.nn.init.kaiming_normal_", "torch.nn.init.kaiming_uniform_", "torch.nn.init.calculate_gain",
               "torch.nn.init._calculate_fan_in_and_fan_out", "torch.nn.init._calculate_correct_fan"),
    key_tolerance=INIT_TOLERANCE,
    hints=(
        Hint("he-init-no-grad", _NO_GRAD_HINT, case="nn.Parameter", kind="error"),
        Hint("he-init-in-place", _IN_PLACE_HINT.format("normal_"), key="in place"),
        Hint("he-init-leaky", "for leaky_relu the gain is √(2 / (1 + negative_slope²)): its negative side keeps "
             "a fraction negative_slope of the signal, so less than half of the variance is lost", case="leaky_relu"),
        Hint("he-init-mode", "mode='fan_out' takes fan = fan_out (out·k₁·k₂⋯) instead of fan_in: σ = gain / √fan_out "
             "keeps the backward pass's gradients at a steady scale", case="fan_out"),
        Hint("he-init-conv-fans", _CONV_FANS_HINT, case="conv weight"),
        Hint("he-init-gain", "the gain depends on the nonlinearity: linear and sigmoid 1, tanh 5/3, relu √2, "
             "leaky_relu √(2 / (1 + negative_slope²))", case="tanh|linear"),
        Hint("he-init-std", "He normal draws N(0, σ²) with the standard deviation σ = gain / √fan — gain = √2 for "
             "ReLU, which zeroes half its inputs — not the variance gain² / fan", key="std"),
        Hint("he-init-generator", "the statistics are right but the numbers are not those nn.init draws from the "
             "same generator: draw once with tensor.normal_(0, σ, generator=generator) (not the global RNG when a "
             "generator is given)", key="^weights$"),
    ),
)

# ---- batch normalisation --------------------------------------------------------------------------


def _batch_norm_case(name: str, shape: tuple[int, ...], training: bool, scale: float = 100.0,
                     **kwargs: float) -> Case:
    """Inputs N(2, scale²): with the default scale 100 the variance (~10⁴) dwarfs ε, which then
    moves the output by ~1e-9 only; it matters in the case made for it (and in evaluation mode,
    where running_var ~ 1)."""
    def make(g: torch.Generator) -> dict[str, Any]:
        c = shape[1]
        return {"x": randn(g, *shape, scale=scale) + 2.0, "gamma": 1 + randn(g, c, scale=0.5),
                "beta": randn(g, c), "running_mean": randn(g, c),
                "running_var": 0.5 + torch.rand(c, generator=g, dtype=DTYPE), "training": training, **kwargs}
    return Case(name, make)


def _batch_norm_cases() -> list[Case]:
    return [_batch_norm_case("(N, C) = (16, 5), training", (16, 5), True),
            _batch_norm_case("(N, C, H, W) = (4, 3, 5, 5), training", (4, 3, 5, 5), True),
            _batch_norm_case("tiny variance, (N, C) = (8, 4), training: ε matters", (8, 4), True, scale=1e-3),
            _batch_norm_case("(N, C) = (16, 5), evaluation mode", (16, 5), False),
            _batch_norm_case("(N, C, H, W) = (4, 3, 5, 5), evaluation mode", (4, 3, 5, 5), False),
            _batch_norm_case("(N, C, H, W) = (2, 4, 3, 3), training, momentum 0.5, eps 1e-3", (2, 4, 3, 3), True,
                             momentum=0.5, eps=1e-3),
            _batch_norm_case("batch of 2, (N, C) = (2, 3), training", (2, 3), True),
            _batch_norm_case("one image, (N, C, H, W) = (1, 4, 2, 5), training", (1, 4, 2, 5), True)]


def _batch_norm_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """Output and gradients wrt x, γ, β; then the running buffers as the call left them."""
    buffers = {name: args[name].clone() for name in ("running_mean", "running_var")}
    found = outputs_and_grads(fn, {**args, **buffers}, grad_of=["x", "gamma", "beta"])
    return {**found, **buffers}


BATCH_NORM = Exercise(
    name="batch-norm", chapter=3, title="batch normalisation: train and eval mode, running statistics",
    difficulty="medium", entry="batch_norm",
    signature="def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, running_mean: Tensor, running_var: Tensor, "
              "training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:",
    task='''Batch normalisation (Ioffe & Szegedy, 2015): standardise each channel over the batch.

    For each channel c — a feature of (N, C) input, or a channel of (N, C, H, W) input pooled
    over N, H and W together — with m values per channel (N, or N·H·W):

        training:   μ = mean(x_c),   σ² = mean((x_c − μ)²)          (the batch's own, biased, variance)
                    y = γ_c (x_c − μ) / √(σ² + ε) + β_c
                    running_mean ← (1 − momentum) · running_mean + momentum · μ
                    running_var  ← (1 − momentum) · running_var  + momentum · σ² · m / (m − 1)
        evaluation: y = γ_c (x_c − running_mean) / √(running_var + ε) + β_c   (buffers unchanged)

    Normalising uses the biased σ²; the running estimate stores the unbiased σ² · m/(m − 1),
    exactly as PyTorch does.

    x: (N, C) or (N, C, H, W); gamma, beta, running_mean, running_var: (C,). Returns y, shaped like x.
    Update running_mean and running_var in place (the caller's tensors must change), outside
    autograd (torch.no_grad()); y must stay differentiable with respect to x, γ and β, through
    μ and σ² as well. Defaults as in PyTorch: momentum 0.1, ε = 1e-5.
    Not allowed: torch.nn.functional.batch_norm, torch.batch_norm, nn.BatchNorm1d/2d.''',
    solution="divelab.scratch.batchnorm:batch_norm",
    experiments=("batchnorm-scratch",),
    reference=lambda x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5: F.batch_norm(
        x, running_mean, running_var, gamma, beta, training, momentum, eps),
    probe=_batch_norm_probe, cases=_batch_norm_cases,
    forbidden=("torch.nn.functional.batch_norm", "torch.batch_norm", "torch.native_batch_norm",
               "torch.nn.modules.batchnorm._BatchNorm.forward"),
    hints=(
        Hint("batch-norm-eps", "add ε inside the square root: x̂ = (x − μ) / √(σ² + ε); for a channel of tiny "
             "variance it is what keeps the division in check", case="ε matters"),
        Hint("batch-norm-eval", "in evaluation mode normalise with running_mean and running_var (not the batch's "
             "statistics), √(running_var + ε), and leave both buffers unchanged", case="evaluation"),
        Hint("batch-norm-channel-axis", "for (N, C, H, W) input the statistics are per channel over N, H and W "
             "together (dims 0, 2, 3), broadcast back as (1, C, 1, 1); x.reshape(-1, C) mixes channels up, "
             "since C is not the last axis", case=r"\(N, C, H, W\)", key="^(output|grad )"),
        Hint("batch-norm-detached-statistics", "in training mode μ and σ² are functions of x: let the gradient flow "
             "through them (no .detach() and no torch.no_grad() around the batch statistics — only around the "
             "running-buffer update)", key="^grad x$"),
        Hint("batch-norm-running-var", "running_var must store the UNBIASED batch variance σ² · m / (m − 1) "
             "(m values per channel), while normalising uses the biased σ²: storing the biased variance is the "
             "mistake", key="running_var"),
        Hint("batch-norm-running-mean", "update the caller's buffers in place: running_mean.mul_(1 − momentum)"
             ".add_(momentum · μ) — `running_mean = …` only rebinds your local name", key="running_mean"),
    ),
)

# ---- gradient norm clipping -----------------------------------------------------------------------

_CLIP_SHAPES = ((3, 4), (4,), (2, 3, 5), (1,))


def _clip_case(name: str, scale: float, max_norm: float, form: str = "list",
               shapes: tuple[tuple[int, ...], ...] = _CLIP_SHAPES, without_grad: int | None = None) -> Case:
    """Parameters of ``shapes`` with N(0, scale²) gradients (but ``without_grad``), given as ``form``."""
    def make(g: torch.Generator) -> dict[str, Any]:
        grads = [None if i == without_grad else randn(g, *shape, scale=scale) for i, shape in enumerate(shapes)]
        return {"shapes": shapes, "grads": grads, "max_norm": max_norm, "form": form}
    return Case(name, make)


def _clip_cases() -> list[Case]:
    return [_clip_case("above max_norm: 4 parameters, ‖g‖ ≈ 5, max_norm 1", 1.0, 1.0),
            _clip_case("below max_norm: left untouched (‖g‖ ≈ 0.05, max_norm 5)", 0.01, 5.0),
            _clip_case("large gradients (‖g‖ ≈ 5000), max_norm 0.01", 1e3, 0.01),
            _clip_case("small norm, the + 1e-6 matters (‖g‖ ≈ 5e-4, max_norm 1e-5)", 1e-4, 1e-5),
            _clip_case("all gradients zero: nothing to clip", 0.0, 1.0),
            _clip_case("a parameter without .grad is skipped", 1.0, 1.0, without_grad=1),
            _clip_case("a single tensor, not a list", 1.0, 0.5, form="tensor", shapes=((4, 4),)),
            _clip_case("parameters given as a generator (like model.parameters())", 1.0, 1.0, form="generator")]


def _clip_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """The returned norm, then every gradient after clipping (and that a missing one stays missing)."""
    params = []
    for shape, grad in zip(args["shapes"], args["grads"]):
        p = torch.zeros(shape, dtype=DTYPE, requires_grad=True)
        p.grad = None if grad is None else grad.clone()
        params.append(p)
    given = {"list": params, "tensor": params[0], "generator": (p for p in params)}[args["form"]]
    found = {"total norm": as_tensor(fn(given, args["max_norm"]))}
    for i, p in enumerate(params):
        if args["grads"][i] is None:
            found[f"parameter {i} still has no .grad"] = torch.tensor(p.grad is None)
        elif p.grad is not None:
            found[f"grad of parameter {i}"] = p.grad.detach().clone()
    return found


GRAD_CLIP = Exercise(
    name="grad-clip", chapter=3, title="gradient norm clipping", difficulty="easy", entry="clip_grad_norm",
    signature="def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float) -> Tensor:",
    task='''Gradient norm clipping: cap the length of the whole gradient vector before a step.

    All gradients together are one long vector g. If its L2 norm exceeds max_norm, every
    gradient is scaled by the same factor, so the direction is kept and only the length shrinks:

        ‖g‖ = √(Σ_p ‖g_p‖²),    g_p ← g_p · min(1, max_norm / (‖g‖ + 1e-6))    for every p

    (the 1e-6 guards against a zero norm, as in PyTorch). A step of SGD then moves the
    parameters by at most lr · max_norm, however steep the loss is where it stands.

    parameters: tensors whose .grad is clipped in place (parameters whose .grad is None are
    skipped) — a list, a generator such as model.parameters() (which can be iterated only
    once), or a single tensor. Returns the total norm ‖g‖ *before* clipping, a 0-dim tensor.
    Not allowed: torch.nn.utils.clip_grad_norm_ (and its helpers get_total_norm, clip_grads_with_norm_).''',
    solution="divelab.scratch.clip:clip_grad_norm",
    experiments=("grad-clip",),
    reference=lambda parameters, max_norm: torch.nn.utils.clip_grad_norm_(parameters, max_norm),
    probe=_clip_probe, cases=_clip_cases,
    # clipped gradients as small as ~1e-6 (the "+ 1e-6 matters" case): an absolute 1e-7 would accept
    # anything there. Relative 1e-6 stays: where ‖g‖ ≥ 1, leaving out the 1e-6 changes less than that.
    tolerance=(1e-12, 1e-6),
    imports="from collections.abc import Iterable\n\nimport torch\nfrom torch import Tensor",
    forbidden=("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
               "torch.nn.utils.clip_grad.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm",
               "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm"),
    hints=(
        Hint("grad-clip-no-grad", "skip parameters whose .grad is None (frozen or unused ones): they have nothing "
             "to clip and add nothing to the norm", case="without .grad"),
        Hint("grad-clip-single-tensor", "parameters may be one tensor: treat it as [parameters] (iterating over a "
             "tensor walks its rows, which have no .grad)", case="single tensor"),
        Hint("grad-clip-generator", "parameters may be a generator such as model.parameters(), which can be "
             "iterated only once: make a list of it first (list(parameters))", case="generator"),
        Hint("grad-clip-epsilon", "the factor is max_norm / (‖g‖ + 1e-6): add 1e-6 to the norm, as PyTorch does",
             case="1e-6 matters"),
        Hint("grad-clip-zero", "with every gradient 0 the norm is 0: max_norm / (0 + 1e-6) keeps the factor finite, "
             "and min(1, ·) leaves the gradients at 0", case="zero"),
        Hint("grad-clip-below", "clip only when the norm is above max_norm: scale by min(1, max_norm / (‖g‖ + 1e-6)); "
             "below the threshold the gradients stay as they are", case="below max_norm"),
        Hint("grad-clip-total-norm", "return the total norm of all gradients *before* clipping: "
             "‖g‖ = √(Σ_p ‖g_p‖²) over every parameter, as a 0-dim tensor", key="total norm"),
        Hint("grad-clip-global", "all gradients form one vector: compute one global norm over every parameter and "
             "scale every .grad in place by the same factor (p.grad.mul_(factor)) — not each tensor by its own "
             "norm", key="^grad of"),
    ),
)

EXERCISES: list[Exercise] = [LINEAR_RELU_BACKWARD, XAVIER_INIT, HE_INIT, BATCH_NORM, GRAD_CLIP]
