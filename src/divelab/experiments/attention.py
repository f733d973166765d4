"""Chapter "attention" — attention pooling, scoring functions, multi-head attention, positional encoding.

Three small experiments on synthetic inputs (no data set, a few seconds each), built on
:mod:`divelab.scratch.attention` and checked against PyTorch:

``attention-pooling``
    Nadaraya–Watson kernel regression as attention (the course's first attention model):
    the prediction at a query ``x`` pools the training targets ``y_i`` with weights
    ``α(x, x_i) = softmax_i(−((x − x_i) w)² / 2)``. Average pooling (``α = 1/n``), the
    non-parametric Gaussian kernel (``w = 1``) and the parametric one (``w`` learned by
    gradient descent on leave-one-out predictions of the training set) are fitted to
    noisy samples of ``f(x) = 2 sin x + x^0.8`` and scored on a held-out grid.
``attention-scoring``
    masked softmax; additive and scaled dot-product attention on the course's toy inputs;
    scratch against ``F.scaled_dot_product_attention`` and a hand-masked softmax on random
    shapes and masks, values and gradients in float64.
``multihead-attention``
    scratch multi-head attention against ``nn.MultiheadAttention`` with copied weights;
    self-attention shapes; incremental decoding with a key/value cache; the sinusoidal
    positional encoding plotted as the course does, and its relative-position property
    ``P[t + k] = P[t] M_k`` checked numerically.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import RunConfig
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure
from divelab.scratch.attention import (AdditiveAttention, DotProductAttention, MultiHeadAttention, causal_mask,
                                       masked_softmax, scaled_dot_product_attention, sinusoidal_encoding)


def _float64_device(device: torch.device) -> torch.device:
    """MPS has no float64: exact checks run on the CPU there."""
    return torch.device("cpu") if device.type == "mps" else device


def _heatmap(fig: Any, ax: Any, weights: Tensor, title: str, xlabel: str = "keys", ylabel: str = "queries",
             extent: tuple[float, float, float, float] | None = None, colorbar: bool = True,
             vmax: float | None = None) -> None:
    """Attention weights (queries × keys) as an image with a colour bar (the course's ``show_heatmaps``)."""
    image = ax.imshow(weights.detach().cpu().numpy(), cmap="Reds", aspect="auto", extent=extent,
                      origin="upper" if extent is None else "lower", vmin=0, vmax=vmax)
    if extent is None:
        ax.set_yticks(range(weights.shape[0]))
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _max_diff(a: Tensor | list[Tensor], b: Tensor | list[Tensor]) -> float:
    pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
    return max((x - y).abs().max().item() for x, y in pairs)


# ==== attention-pooling =============================================================================

@dataclass
class AttentionPoolingConfig(RunConfig):
    """``n_train`` noisy samples ``y = f(x) + ε``, ``x ~ U(0, 5)``, ``ε ~ N(0, noise²)``; the
    held-out queries are the grid ``0, 0.1, …, 4.9``. ``epochs`` full-batch gradient steps
    with step size ``lr`` learn the kernel's ``w`` (the course: 5 steps of 0.5 on the summed
    squared error). ``batch_size`` is unused."""

    epochs: int = 5
    lr: float = 0.5
    n_train: int = 50
    noise: float = 0.5

    def validate(self) -> None:
        super().validate()
        if self.n_train < 3:
            raise UserError(f"n_train must be ≥ 3 (leave-one-out needs two other points), got {self.n_train}")
        if not (self.noise >= 0 and math.isfinite(self.noise)):
            raise UserError(f"noise must be a finite number ≥ 0, got {self.noise}")


def target_function(x: Tensor) -> Tensor:
    """The course's ``f(x) = 2 sin(x) + x^0.8``."""
    return 2 * torch.sin(x) + x ** 0.8


def nadaraya_watson(queries: Tensor, keys: Tensor, values: Tensor, w: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """Gaussian-kernel attention pooling: ``f̂(x) = Σ_i softmax_i(−((x − x_i) w)²/2) y_i``.

    ``queries`` ``(q,)``; ``keys`` and ``values`` ``(n,)`` shared by every query, or
    ``(q, n)`` one set per query (leave-one-out). Returns the predictions ``(q,)`` and the
    weights ``(q, n)``.
    """
    keys = keys.expand(queries.shape[0], -1) if keys.dim() == 1 else keys
    values = values.expand(queries.shape[0], -1) if values.dim() == 1 else values
    scores = -((queries[:, None] - keys) * w) ** 2 / 2                   # (q, n)
    weights = masked_softmax(scores)
    return (weights * values).sum(-1), weights


def leave_one_out(x: Tensor) -> Tensor:
    """``(n,)`` → ``(n, n − 1)``: row ``i`` holds every entry but ``x_i`` (the course's training keys)."""
    n = x.shape[0]
    return x.expand(n, n)[~torch.eye(n, dtype=torch.bool, device=x.device)].reshape(n, n - 1)


def train_kernel_width(x: Tensor, y: Tensor, w0: float, epochs: int, lr: float) -> tuple[Tensor, list[float]]:
    """Gradient descent ``w ← w − lr ∂L/∂w`` on ``L(w) = Σ_i (f̂_{−i}(x_i) − y_i)²`` (f̂ without point ``i``).

    Returns the learned ``w`` and ``L`` before each step and after the last.
    """
    w = torch.tensor(w0, dtype=x.dtype, device=x.device, requires_grad=True)
    keys, values = leave_one_out(x), leave_one_out(y)

    def loss() -> Tensor:
        return ((nadaraya_watson(x, keys, values, w)[0] - y) ** 2).sum()

    history = []
    for _ in range(epochs):
        value = loss()
        history.append(value.item())
        (grad,) = torch.autograd.grad(value, w)
        with torch.no_grad():
            w -= lr * grad
    history.append(loss().item())
    return w.detach(), history


def _pooling_figures(ctx: RunContext, data: dict[str, Tensor], fits: dict[str, Tensor],
                     weights: dict[str, Tensor]) -> None:
    fig, axes = new_figure(ncols=1, size=(6.0, 4.0))
    ax = axes[0][0]
    x_test = data["x_test"].cpu()
    ax.plot(x_test, data["y_truth"].cpu(), color="black", label="truth f(x)")
    ax.plot(data["x_train"].cpu(), data["y_train"].cpu(), "o", alpha=0.5, markersize=4, label="training samples")
    for name, pred in fits.items():
        ax.plot(x_test, pred.cpu(), label=name)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Nadaraya–Watson attention pooling")
    ctx.save_figure(fig, "pooling-fits")

    fig, axes = new_figure(ncols=len(weights), size=(4.2, 3.6))
    n = data["x_train"].shape[0]
    for ax, (name, w) in zip(axes[0], weights.items()):
        _heatmap(fig, ax, w, name, xlabel="training points, sorted by x (keys)", ylabel="test input x (queries)",
                 extent=(-0.5, n - 0.5, 0.0, 5.0))
    ctx.save_figure(fig, "pooling-weights")


def attention_pooling(cfg: AttentionPoolingConfig, ctx: RunContext) -> dict[str, Any]:
    device = _float64_device(ctx.device)
    g = torch.Generator().manual_seed(cfg.seed)
    x_train = torch.sort(torch.rand(cfg.n_train, generator=g, dtype=torch.float64) * 5).values
    y_train = target_function(x_train) + cfg.noise * torch.randn(cfg.n_train, generator=g, dtype=torch.float64)
    w0 = torch.rand(1, generator=g, dtype=torch.float64).item()           # the course: w ~ U(0, 1)
    x_test = torch.arange(0, 5, 0.1, dtype=torch.float64)
    data = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_truth": target_function(x_test)}
    data = {k: v.to(device) for k, v in data.items()}

    average = data["y_train"].mean().expand_as(data["x_test"])
    nonparametric, w_np = nadaraya_watson(data["x_test"], data["x_train"], data["y_train"])
    w, history = train_kernel_width(data["x_train"], data["y_train"], w0, cfg.epochs, cfg.lr)
    parametric, w_p = nadaraya_watson(data["x_test"], data["x_train"], data["y_train"], w)

    fits = {"average pooling": average, "non-parametric (w = 1)": nonparametric,
            f"parametric (w = {w.item():.2f})": parametric}
    _pooling_figures(ctx, data, fits, {"non-parametric weights": w_np, "parametric weights": w_p})

    def mse(pred: Tensor) -> float:
        return ((pred - data["y_truth"]) ** 2).mean().item()

    def entropy(weights: Tensor) -> float:
        return -(weights * weights.clamp_min(1e-300).log()).sum(-1).mean().item()

    return {
        "mse_average": mse(average), "mse_nonparametric": mse(nonparametric), "mse_parametric": mse(parametric),
        "initial_w": w0, "learned_w": w.item(), "train_loss_history": history,
        "train_loss_first": history[0], "train_loss_last": history[-1],
        # how spread out each query's weights are: log n for averages, lower for sharper kernels
        "weight_entropy_nonparametric": entropy(w_np), "weight_entropy_parametric": entropy(w_p),
        "weight_entropy_average": math.log(cfg.n_train),
        "n_train": cfg.n_train, "n_test": int(x_test.numel()), "noise_variance": cfg.noise ** 2,
    }


# ==== attention-scoring ============================================================================

@dataclass
class AttentionScoringConfig(RunConfig):
    """``random_trials`` random shapes and masks compare scratch attention with torch's.
    ``epochs``, ``lr`` and ``batch_size`` are unused."""

    min_epochs: ClassVar[int] = 0  # nothing is trained

    epochs: int = 0
    random_trials: int = 20

    def validate(self) -> None:
        super().validate()
        if self.random_trials < 1:
            raise UserError(f"random_trials must be ≥ 1, got {self.random_trials}")


def toy_inputs(device: torch.device) -> dict[str, Tensor]:
    """The course's example: 2 sequences of 10 identical keys (2-d), values ``0 … 39`` as 10 × 4, lengths 2 and 6."""
    g = torch.Generator().manual_seed(0)
    return {"queries_additive": torch.randn(2, 1, 20, generator=g).to(device),
            "queries_dot": torch.randn(2, 1, 2, generator=g).to(device),
            "keys": torch.ones(2, 10, 2, device=device),
            "values": torch.arange(40.0, device=device).reshape(1, 10, 4).repeat(2, 1, 1),
            "valid_len": torch.tensor([2, 6], device=device)}


def _grads_of(fn: Any, inputs: list[Tensor], upstream_seed: int) -> tuple[Tensor, list[Tensor]]:
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(upstream_seed), dtype=out.dtype)
    return out.detach(), list(torch.autograd.grad(out, leaves, upstream.to(out.device)))


def _compare(mine: Any, theirs: Any, inputs: list[Tensor], seed: int) -> tuple[float, float]:
    """Max |scratch − torch| of the outputs and of every input's gradient."""
    out_a, grads_a = _grads_of(mine, inputs, seed)
    out_b, grads_b = _grads_of(theirs, inputs, seed)
    return _max_diff(out_a, out_b), _max_diff(grads_a, grads_b)


def _random_sdpa_case(rng: random.Random, g: torch.Generator, device: torch.device) -> dict[str, Any]:
    B, h, L, S, d = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 7), rng.randint(1, 7), rng.randint(1, 8)
    kind = rng.choice(["none", "bool", "float", "causal"])
    mask = None
    if kind == "bool":
        mask = torch.rand(B, 1 if rng.random() < 0.5 else h, L, S, generator=g) < 0.7
    elif kind == "float":
        mask = torch.randn(L, S, generator=g, dtype=torch.float64)
    inputs = [torch.randn(B, h, n, d, generator=g, dtype=torch.float64) for n in (L, S, S)]
    return {"inputs": [t.to(device) for t in inputs], "mask": None if mask is None else mask.to(device),
            "causal": kind == "causal", "kind": kind}


def twin_differences(trials: int, seed: int, device: torch.device) -> dict[str, float]:
    """Largest scratch-vs-torch differences (float64) of masked softmax, sdpa and DotProductAttention."""
    rng, g = random.Random(seed), torch.Generator().manual_seed(seed)
    worst = dict.fromkeys(("masked_softmax", "sdpa", "dot_product", "grad"), 0.0)
    dot = DotProductAttention().eval()
    for trial in range(trials):
        case = _random_sdpa_case(rng, g, device)
        mask, causal = case["mask"], case["causal"]
        out, grad = _compare(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask, is_causal=causal),
                             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask, is_causal=causal),
                             case["inputs"], trial)
        worst["sdpa"], worst["grad"] = max(worst["sdpa"], out), max(worst["grad"], grad)

        q, k, v = (t[:, 0] for t in case["inputs"])                        # (B, n, d): one head
        lengths = torch.randint(1, k.shape[1] + 1, (q.shape[0],), generator=g).to(device)
        keep = torch.arange(k.shape[1], device=device) < lengths[:, None, None]
        out, grad = _compare(lambda q, k, v: dot(q, k, v, lengths),
                             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, keep), [q, k, v], trial)
        worst["dot_product"], worst["grad"] = max(worst["dot_product"], out), max(worst["grad"], grad)

        scores = q @ k.transpose(1, 2)
        out, grad = _compare(lambda s: masked_softmax(s, lengths),
                             lambda s: torch.softmax(s.masked_fill(~keep, -math.inf), dim=-1), [scores], trial)
        worst["masked_softmax"], worst["grad"] = max(worst["masked_softmax"], out), max(worst["grad"], grad)
    return worst


def _scoring_figure(ctx: RunContext, panels: dict[str, Tensor]) -> None:
    fig, axes = new_figure(ncols=len(panels), size=(3.4, 2.8))
    for ax, (title, weights) in zip(axes[0], panels.items()):
        _heatmap(fig, ax, weights, title, ylabel="queries (toy: one per sequence)" if "toy" in title else "queries")
    ctx.save_figure(fig, "attention-weights")


def attention_scoring(cfg: AttentionScoringConfig, ctx: RunContext) -> dict[str, Any]:
    device = ctx.device
    g = torch.Generator().manual_seed(cfg.seed)
    example = masked_softmax(torch.rand(2, 2, 4, generator=g).to(device), torch.tensor([2, 3], device=device))
    per_query = masked_softmax(torch.rand(2, 2, 4, generator=g).to(device),
                               torch.tensor([[1, 3], [2, 4]], device=device))

    toy = toy_inputs(device)
    additive = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8, dropout=0.1).to(device).eval()
    dot = DotProductAttention(dropout=0.5).eval()
    out_additive = additive(toy["queries_additive"], toy["keys"], toy["values"], toy["valid_len"])
    toy_additive_weights = additive.attention_weights.detach()
    out_dot = dot(toy["queries_dot"], toy["keys"], toy["values"], toy["valid_len"])
    # identical keys → uniform weights over the first valid_len keys → the mean of those value rows
    expected = torch.stack([toy["values"][0, :2].mean(0), toy["values"][1, :6].mean(0)]).unsqueeze(1)

    random_keys = torch.randn(2, 10, 2, generator=g).to(device)
    additive(toy["queries_additive"].expand(2, 3, 20), random_keys, toy["values"], toy["valid_len"])
    random_weights = additive.attention_weights.detach()

    diffs = twin_differences(cfg.random_trials, cfg.seed, _float64_device(device))
    _scoring_figure(ctx, {"masked_softmax, lengths 2 and 3": example.reshape(4, 4),
                          "additive (toy keys)": toy_additive_weights.squeeze(1),
                          "dot product (toy keys)": dot.attention_weights.squeeze(1),
                          "additive, random keys": random_weights.reshape(6, 10)})
    return {
        "masked_softmax_example": example.tolist(), "masked_softmax_per_query": per_query.tolist(),
        "masked_weight_outside_length": (example[0, :, 2:].abs().sum() + example[1, :, 3:].abs().sum()).item(),
        "additive_output": out_additive.tolist(), "dot_output": out_dot.tolist(),
        "additive_uniform_error": _max_diff(out_additive, expected),
        "dot_uniform_error": _max_diff(out_dot, expected),
        "random_trials": cfg.random_trials,
        "masked_softmax_max_diff": diffs["masked_softmax"], "sdpa_max_diff": diffs["sdpa"],
        "dot_product_max_diff": diffs["dot_product"],
        "max_abs_diff": max(diffs["masked_softmax"], diffs["sdpa"], diffs["dot_product"]),
        "max_grad_diff": diffs["grad"],
    }


# ==== multihead-attention ============================================================================

@dataclass
class MultiheadConfig(RunConfig):
    """``encoding_dim`` and ``num_steps``: the positional encoding plotted (the course: 32 × 60);
    ``max_len`` positions are used to check ``P[t + k] = P[t] M_k``. ``epochs``, ``lr`` and
    ``batch_size`` are unused."""

    min_epochs: ClassVar[int] = 0  # nothing is trained

    epochs: int = 0
    encoding_dim: int = 32
    num_steps: int = 60
    max_len: int = 10_000

    def validate(self) -> None:
        super().validate()
        if self.encoding_dim < 2 or self.encoding_dim % 2:
            raise UserError(f"encoding_dim must be an even number ≥ 2, got {self.encoding_dim}")
        if self.num_steps < 1:
            raise UserError(f"num_steps must be ≥ 1, got {self.num_steps}")
        if self.max_len < 100:
            raise UserError(f"max_len must be ≥ 100, got {self.max_len}")


def _mha_pair(E: int, h: int, seed: int, device: torch.device) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    """An ``nn.MultiheadAttention`` (biases made non-zero) and its scratch copy, float64."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, h, batch_first=True).double().to(device)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return MultiHeadAttention.from_torch(theirs), theirs


def mha_twin_differences(seed: int, device: torch.device) -> dict[str, float]:
    """Scratch vs ``nn.MultiheadAttention`` (copied weights, float64) on self- and cross-attention with masks."""
    E, h, B, L, S = 16, 4, 3, 5, 7
    mine, theirs = _mha_pair(E, h, seed, device)
    g = torch.Generator().manual_seed(seed)
    x, memory = (torch.randn(B, n, E, generator=g, dtype=torch.float64).to(device) for n in (L, S))
    padding = torch.arange(S, device=device) >= torch.tensor([S, 3, 5], device=device)[:, None]
    keep = causal_mask(L, L, device=device)
    cases = [  # (inputs, scratch kwargs, torch kwargs); torch's boolean attn_mask is True = blocked
        (lambda a: (a, a, a), {"attn_mask": keep}, {"attn_mask": ~keep}, [x]),
        (lambda a: (a, a, a), {"key_padding_mask": padding[:, :L], "attn_mask": keep},
         {"key_padding_mask": padding[:, :L], "attn_mask": ~keep}, [x]),
        (lambda a, m: (a, m, m), {"key_padding_mask": padding}, {"key_padding_mask": padding}, [x, memory]),
    ]
    worst = dict.fromkeys(("output", "weights", "grad"), 0.0)
    for average in (True, False):
        for make, mine_kw, torch_kw, inputs in cases:
            results = []
            for module, kw in ((mine, mine_kw), (theirs, torch_kw)):
                module.zero_grad()
                leaves = [t.clone().requires_grad_(True) for t in inputs]
                out, weights = module(*make(*leaves), need_weights=True, average_attn_weights=average, **kw)
                (out.sum() + (weights * weights).sum()).backward()
                results.append((out, weights, [t.grad for t in leaves] + [p.grad for p in module.parameters()]))
            (o1, w1, g1), (o2, w2, g2) = results
            worst["output"] = max(worst["output"], _max_diff(o1, o2))
            worst["weights"] = max(worst["weights"], _max_diff(w1, w2))
            worst["grad"] = max(worst["grad"], _max_diff(g1, g2))
    return worst


def course_shapes(device: torch.device) -> dict[str, list[int]]:
    """The course's check: 100 hidden units, 5 heads, 2 sequences of 4 queries and 6 key–value pairs, lengths 3, 2."""
    attention = MultiHeadAttention(100, 5).to(device).eval()
    X, Y = torch.ones(2, 4, 100, device=device), torch.ones(2, 6, 100, device=device)
    padding = torch.arange(6, device=device) >= torch.tensor([3, 2], device=device)[:, None]
    out, weights = attention(X, Y, Y, key_padding_mask=padding, need_weights=True, average_attn_weights=False)
    self_out, self_weights = attention(X, X, X, need_weights=True)
    return {"cross_output_shape": list(out.shape), "cross_weights_shape": list(weights.shape),
            "self_output_shape": list(self_out.shape), "self_weights_shape": list(self_weights.shape)}


def cache_difference(seed: int, device: torch.device) -> float:
    """Max |step-by-step with a key/value cache − full causal self-attention| over 8 positions (float64)."""
    mine, _ = _mha_pair(16, 4, seed, device)
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)
    with torch.no_grad():
        full, _ = mine(x, x, x, is_causal=True)
        cache: dict = {}
        steps = [mine(x[:, t: t + 1], x[:, t: t + 1], x[:, t: t + 1], cache=cache)[0] for t in range(8)]
    return _max_diff(torch.cat(steps, dim=1), full)


def shift_matrix(k: int, d: int) -> Tensor:
    """``M_k``: a rotation by ``k ω_i`` in each plane ``(2i, 2i+1)``, so that ``P[t + k] = P[t] M_k``."""
    omega = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    M = torch.zeros(d, d, dtype=torch.float64)
    for i, w in enumerate(omega.tolist()):
        c, s = math.cos(k * w), math.sin(k * w)
        # a row vector times M: [sin a, cos a] M = [sin(a + kω), cos(a + kω)]
        M[2 * i, 2 * i], M[2 * i, 2 * i + 1], M[2 * i + 1, 2 * i], M[2 * i + 1, 2 * i + 1] = c, -s, s, c
    return M


def relative_position_check(d: int, max_len: int, shifts: tuple[int, ...] = (1, 5, 20)) -> dict[str, float]:
    """``max_t |P[t] M_k − P[t + k]|`` over all positions, and ``M_k`` fitted by least squares on the
    first half of the positions, applied to the second half (it does not depend on ``t``)."""
    P = sinusoidal_encoding(max_len, d)
    half = max_len // 2
    exact = fitted = matrix = 0.0
    for k in shifts:
        M = shift_matrix(k, d)
        exact = max(exact, _max_diff(P[:-k] @ M, P[k:]))
        fit = torch.linalg.lstsq(P[:half], P[k: half + k]).solution
        fitted = max(fitted, _max_diff(P[half:-k] @ fit, P[half + k:]))
        matrix = max(matrix, _max_diff(fit, M))
    return {"relative_position_max_error": exact, "relative_position_fit_error": fitted,
            "relative_position_fit_matrix_diff": matrix}


def _encoding_figure(ctx: RunContext, P: Tensor) -> None:
    fig, axes = new_figure(ncols=2, size=(5.0, 3.6))
    steps = np.arange(P.shape[0])
    for column in range(6, min(10, P.shape[1])):
        axes[0][0].plot(steps, P[:, column].cpu().numpy(), label=f"col {column}")
    axes[0][0].set_xlabel("row (position)")
    axes[0][0].set_title("sinusoidal positional encoding, columns 6–9")
    axes[0][0].legend(fontsize=8)
    axes[0][0].grid(alpha=0.3)
    image = axes[0][1].imshow(P.cpu().numpy(), cmap="Blues", aspect="auto")
    fig.colorbar(image, ax=axes[0][1], shrink=0.8)
    axes[0][1].set_xlabel("column (encoding dimension)")
    axes[0][1].set_ylabel("row (position)")
    axes[0][1].set_title("P: frequency falls along the columns")
    ctx.save_figure(fig, "positional-encoding")


def _heads_figure(ctx: RunContext, device: torch.device, seed: int) -> None:
    mine, _ = _mha_pair(16, 4, seed, device)
    x = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(device)
    padding = torch.arange(8, device=device) >= 6
    with torch.no_grad():
        _, weights = mine(x, x, x, key_padding_mask=padding[None], need_weights=True, average_attn_weights=False,
                          is_causal=True)
    fig, axes = new_figure(ncols=4, size=(3.0, 2.7))
    for head, ax in enumerate(axes[0]):
        _heatmap(fig, ax, weights[0, head], f"head {head + 1}", colorbar=head == 3, vmax=1.0)
    fig.suptitle("causal self-attention per head (last 2 positions padding)")
    ctx.save_figure(fig, "heads")


def multihead_attention(cfg: MultiheadConfig, ctx: RunContext) -> dict[str, Any]:
    exact_device = _float64_device(ctx.device)
    diffs = mha_twin_differences(cfg.seed, exact_device)
    P = sinusoidal_encoding(cfg.num_steps, cfg.encoding_dim)
    _encoding_figure(ctx, P)
    _heads_figure(ctx, exact_device, cfg.seed)
    return {
        "max_abs_diff": max(diffs["output"], diffs["weights"]), "output_max_diff": diffs["output"],
        "weights_max_diff": diffs["weights"], "max_grad_diff": diffs["grad"],
        **course_shapes(ctx.device),
        "cache_max_diff": cache_difference(cfg.seed, exact_device),
        **relative_position_check(cfg.encoding_dim, cfg.max_len),
        "encoding_shape": list(P.shape),
    }


EXPERIMENTS = [
    Experiment("attention-pooling", "attention",
               "Nadaraya–Watson kernel regression as attention pooling: average, non-parametric and parametric "
               "Gaussian kernels; fits and attention-weight heatmaps", AttentionPoolingConfig, attention_pooling,
               headline=("mse_average", "mse_nonparametric", "mse_parametric", "learned_w")),
    Experiment("attention-scoring", "attention",
               "masked softmax, additive and scaled dot-product attention on the course's toy inputs, scratch vs "
               "F.scaled_dot_product_attention", AttentionScoringConfig, attention_scoring,
               headline=("max_abs_diff", "max_grad_diff", "additive_uniform_error", "dot_uniform_error")),
    Experiment("multihead-attention", "attention",
               "scratch multi-head attention vs nn.MultiheadAttention, self-attention, key/value cache, sinusoidal "
               "positional encoding and its relative-position property", MultiheadConfig, multihead_attention,
               headline=("max_abs_diff", "max_grad_diff", "cache_max_diff", "relative_position_max_error")),
]
