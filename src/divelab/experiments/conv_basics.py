"""Chapter "convolutional networks" — the basics of convolution and pooling, on tiny arrays.

``conv-basics`` walks through the course's first convolution sections with the scratch
functions of :mod:`divelab.scratch.conv` and checks each step against PyTorch:

1. cross-correlation on the course's example (``X = arange(9)``, ``K = [[0, 1], [2, 3]]``);
2. edge detection: a 6×8 image with a vertical dark bar, the kernel ``[1, −1]``;
3. learning that kernel back from (X, Y) by gradient descent on a ``Conv2dScratch``
   (squared error summed, lr 3e-2, plain updates — the course's experiment), beside an
   ``nn.Conv2d`` trained the same way from the same start;
4. output shapes under padding and stride, multi-channel inputs and outputs, and a 1×1
   convolution as a matmul over channels;
5. max and average pooling on the course's examples;
6. scratch against torch (values and gradients, float64) on random shapes.

It uses no data set and runs in about a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import RunConfig, setting
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure
from divelab.scratch.conv import Conv2dScratch, avg_pool2d, conv2d, corr2d, max_pool2d, output_size

EDGE_KERNEL = (1.0, -1.0)


@dataclass
class ConvBasicsConfig(RunConfig):
    """``epochs`` is the number of gradient steps that learn the edge kernel back (the course
    calls each full pass over its one (X, Y) pair an epoch; it takes 10); ``lr`` their step
    size (the course's 3e-2; below 2/60 the loss falls at every step, 60 being the largest
    curvature of this problem). ``random_trials`` random shapes compare scratch and torch.
    ``batch_size`` is unused."""

    epochs: int = 10
    lr: float = 0.03
    random_trials: int = setting(20, ge=1)


# ---- the course's examples ------------------------------------------------------------------

def edge_image(device: torch.device | str = "cpu") -> Tensor:
    """The course's 6×8 image: ones with a black (zero) vertical bar in columns 2–5."""
    X = torch.ones(6, 8, device=device)
    X[:, 2:6] = 0
    return X


def learn_kernel(X: Tensor, Y: Tensor, conv: nn.Module, steps: int, lr: float) -> list[dict[str, float]]:
    """Gradient descent on ``Σ (conv(X) − Y)²`` for ``conv.weight``; the weights and loss at every step.

    ``w ← w − lr · ∇_w Σ (conv(X) − Y)²``, the course's plain update (no optimiser object).
    Record 0 is the starting point; record ``k`` holds the weights after ``k`` steps and
    the loss they give.
    """
    x, y = X.reshape(1, 1, *X.shape), Y.reshape(1, 1, *Y.shape)   # (1, 1, H, W): batch and channel axes

    def loss() -> Tensor:
        return ((conv(x) - y) ** 2).sum()

    def record(step: int, value: Tensor) -> dict[str, float]:
        w = conv.weight.detach().reshape(-1).tolist()
        return {"step": step, "loss": value.item(), "w1": w[0], "w2": w[1]}

    history = [record(0, loss().detach())]
    for step in range(1, steps + 1):
        (grad,) = torch.autograd.grad(loss(), conv.weight)
        with torch.no_grad():
            conv.weight -= lr * grad
        history.append(record(step, loss().detach()))
    return history


def _shape_examples() -> list[dict[str, Any]]:
    """The course's padding / stride examples on an 8×8 input: scratch shape, torch shape and the formula."""
    cases = [(3, 1, 1), ((5, 3), (2, 1), 1), (3, 1, 2), ((3, 5), (0, 1), (3, 4))]  # kernel, padding, stride
    x = torch.randn(1, 1, 8, 8)
    records = []
    for kernel, padding, stride in cases:
        layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
        ours = conv2d(x, layer.weight, layer.bias, stride, padding).shape[2:]
        k, p, s = (layer.kernel_size, layer.padding, layer.stride)
        formula = [output_size(8, k[i], s[i], p[i]) for i in range(2)]
        records.append({"kernel": list(k), "padding": list(p), "stride": list(s), "output": list(ours),
                        "torch": list(layer(x).shape[2:]), "formula": formula})
    return records


def _channel_examples(device: torch.device) -> dict[str, Any]:
    """Several input channels summed, several output channels stacked, and 1×1 = matmul over channels."""
    X0 = torch.arange(9.0, device=device).reshape(3, 3)
    X = torch.stack([X0, X0 + 1])                                          # (2, 3, 3)
    K0 = torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
    K = torch.stack([K0, K0 + 1])                                          # (2, 2, 2): one kernel per input channel
    multi_in = conv2d(X[None], K[None])[0, 0]
    expected = torch.tensor([[56.0, 72.0], [104.0, 120.0]], device=device)
    K_out = torch.stack([K, K + 1, K + 2])                                 # (3, 2, 2, 2): three output channels
    multi_out = conv2d(X[None], K_out)[0]
    g = torch.Generator().manual_seed(0)
    X1, K1 = torch.randn(3, 3, 3, generator=g).to(device), torch.randn(2, 3, 1, 1, generator=g).to(device)
    as_matmul = (K1.reshape(2, 3) @ X1.reshape(3, 9)).reshape(2, 3, 3)    # (c_o, c_i) @ (c_i, h·w)
    return {"multi_in_example": multi_in.tolist(), "multi_in_example_error": (multi_in - expected).abs().max().item(),
            "multi_out_shape": list(multi_out.shape),
            "multi_out_channel0_equals_multi_in": bool(torch.equal(multi_out[0], multi_in)),
            "conv1x1_matmul_max_diff": (conv2d(X1[None], K1)[0] - as_matmul).abs().max().item()}


def _pool_examples(device: torch.device) -> dict[str, Tensor]:
    X = torch.arange(9.0, device=device).reshape(1, 3, 3)
    X16 = torch.arange(16.0, device=device).reshape(1, 1, 4, 4)
    return {"max 2×2 of arange(9)": max_pool2d(X, 2, 1)[0], "avg 2×2 of arange(9)": avg_pool2d(X, 2, 1)[0],
            "max 3×3 of arange(16)": max_pool2d(X16, 3)[0, 0],
            "max 3×3, pad 1, stride 2": max_pool2d(X16, 3, 2, 1)[0, 0],
            "max (2,3), pad (0,1), stride (2,3)": max_pool2d(X16, (2, 3), (2, 3), (0, 1))[0, 0]}


# ---- scratch against torch on random shapes ---------------------------------------------------

def _random_case(rng: random.Random, pooling: bool) -> dict[str, Any]:
    """A random call: non-square kernels, strides 1–3, padding (≤ kernel//2 for pooling), batch 1–3."""
    kh, kw = rng.randint(1, 4), rng.randint(1, 4)
    ph, pw = (rng.randint(0, kh // 2), rng.randint(0, kw // 2)) if pooling else (rng.randint(0, 2), rng.randint(0, 2))
    return {"n": rng.randint(1, 3), "c_in": rng.randint(1, 4), "c_out": rng.randint(1, 4),
            "h": rng.randint(max(1, kh - 2 * ph), kh + 8), "w": rng.randint(max(1, kw - 2 * pw), kw + 8),
            "kernel": (kh, kw), "stride": (rng.randint(1, 3), rng.randint(1, 3)), "padding": (ph, pw)}


def _differences(scratch_fn: Any, torch_fn: Any, inputs: list[Tensor], seed: int) -> tuple[float, float]:
    """Max |scratch − torch| of the outputs and of the gradients of every input, for one random upstream gradient."""
    leaves = [[t.clone().requires_grad_(True) for t in inputs] for _ in range(2)]
    outs = [fn(*ls) for fn, ls in zip((scratch_fn, torch_fn), leaves)]
    upstream = torch.randn(outs[1].shape, generator=torch.Generator().manual_seed(seed), dtype=outs[1].dtype)
    grads = [torch.autograd.grad(out, ls, upstream.to(out.device)) for out, ls in zip(outs, leaves)]
    grad_diff = max((a - b).abs().max().item() for a, b in zip(*grads))
    return (outs[0] - outs[1]).abs().max().item(), grad_diff


def twin_differences(trials: int, seed: int, device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    """Largest scratch-vs-torch differences over ``trials`` random conv, max-pool and avg-pool calls."""
    rng, g = random.Random(seed), torch.Generator().manual_seed(seed)
    worst = {key: 0.0 for key in ("conv", "conv_grad", "pool", "pool_grad")}

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=g, dtype=dtype).to(device)

    for trial in range(trials):
        c = _random_case(rng, pooling=False)
        inputs = [randn(c["n"], c["c_in"], c["h"], c["w"]), randn(c["c_out"], c["c_in"], *c["kernel"]),
                  randn(c["c_out"])]
        diffs = _differences(lambda x, w, b: conv2d(x, w, b, c["stride"], c["padding"]),
                             lambda x, w, b: F.conv2d(x, w, b, c["stride"], c["padding"]), inputs, trial)
        worst["conv"], worst["conv_grad"] = max(worst["conv"], diffs[0]), max(worst["conv_grad"], diffs[1])
        p = _random_case(rng, pooling=True)
        x = [randn(p["n"], p["c_in"], p["h"], p["w"])]
        args = (p["kernel"], p["stride"], p["padding"])
        for mine, theirs in ((max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)):
            diffs = _differences(lambda x: mine(x, *args), lambda x: theirs(x, *args), x, trial)
            worst["pool"], worst["pool_grad"] = max(worst["pool"], diffs[0]), max(worst["pool_grad"], diffs[1])
    return worst


# ---- figures -----------------------------------------------------------------------------------

def _heatmap(ax: Any, array: Tensor, title: str, diverging: bool = False, vmax: float | None = None) -> None:
    """A small array drawn cell by cell with its values written in (gray 0…vmax, or blue−red ±vmax)."""
    values = array.detach().cpu().numpy()
    limit = vmax if vmax is not None else max(float(np.abs(values).max()), 1e-12)
    ax.imshow(values, cmap="RdBu_r" if diverging else "gray", vmin=-limit if diverging else 0, vmax=limit)
    for (i, j), v in np.ndenumerate(values):
        dark = abs(v) > limit / 2 if diverging else v < limit / 2
        ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _edge_figure(ctx: RunContext, X: Tensor, Y: Tensor, learned: Tensor) -> None:
    fig, axes = new_figure(ncols=4, size=(3.2, 2.8))
    _heatmap(axes[0][0], X, "image X (6×8)")
    _heatmap(axes[0][1], Y, "corr2d(X, [1, −1])", diverging=True)
    _heatmap(axes[0][2], learned, "with the learned kernel", diverging=True)
    _heatmap(axes[0][3], corr2d(X.T, torch.tensor([EDGE_KERNEL], device=X.device)), "corr2d(Xᵀ, [1, −1])",
             diverging=True)
    fig.suptitle("vertical edges: +1 where white turns black, −1 where black turns white")
    ctx.save_figure(fig, "edge-detection")


def _learning_figure(ctx: RunContext, history: list[dict[str, float]], lr: float) -> None:
    fig, axes = new_figure(ncols=2)
    steps = [r["step"] for r in history]
    axes[0][0].plot(steps, [r["loss"] for r in history], marker="o")
    if all(r["loss"] > 0 for r in history):
        axes[0][0].set_yscale("log")
    axes[0][0].set_ylabel("Σ (conv(X) − Y)²")
    axes[0][0].set_title(f"loss, gradient descent with lr {lr:g}")
    for key, true in zip(("w1", "w2"), EDGE_KERNEL):
        line = axes[0][1].plot(steps, [r[key] for r in history], marker="o", label=f"learned {key}")[0]
        axes[0][1].axhline(true, linestyle="--", color=line.get_color(), alpha=0.6)
    axes[0][1].set_ylabel("kernel weight (dashed: [1, −1])")
    axes[0][1].set_title("the kernel is learned back")
    axes[0][1].legend()
    for ax in axes[0]:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ctx.save_figure(fig, "kernel-learning")


def _pool_figure(ctx: RunContext, pools: dict[str, Tensor]) -> None:
    fig, axes = new_figure(ncols=len(pools) + 1, size=(2.6, 2.6))
    _heatmap(axes[0][0], torch.arange(16.0).reshape(4, 4), "X = arange(16)", vmax=15)
    for ax, (name, out) in zip(axes[0][1:], pools.items()):
        _heatmap(ax, out, name, vmax=15)
    ctx.save_figure(fig, "pooling")


# ---- the experiment -----------------------------------------------------------------------------

def conv_basics(cfg: ConvBasicsConfig, ctx: RunContext) -> dict[str, Any]:
    device = ctx.device
    X0, K0 = torch.arange(9.0, device=device).reshape(3, 3), torch.tensor([[0.0, 1.0], [2.0, 3.0]], device=device)
    example = corr2d(X0, K0)
    example_error = (example - torch.tensor([[19.0, 25.0], [37.0, 43.0]], device=device)).abs().max().item()

    X = edge_image(device)
    Y = corr2d(X, torch.tensor([EDGE_KERNEL], device=device))
    conv = Conv2dScratch(1, 1, kernel_size=(1, 2), bias=False).to(device)  # seeded by the runner
    twin = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(device)
    twin.load_state_dict(conv.state_dict())
    history = learn_kernel(X, Y, conv, cfg.epochs, cfg.lr)
    twin_history = learn_kernel(X, Y, twin, cfg.epochs, cfg.lr)
    learned = conv.weight.detach().reshape(-1)
    true = torch.tensor(EDGE_KERNEL, device=device)

    dtype64_device = device if device.type != "mps" else torch.device("cpu")  # MPS has no float64
    exact = twin_differences(cfg.random_trials, cfg.seed, dtype64_device, torch.float64)
    single = twin_differences(cfg.random_trials, cfg.seed, device, torch.float32)
    pools = _pool_examples(device)
    shapes = _shape_examples()

    _edge_figure(ctx, X, Y, corr2d(X, learned.reshape(1, 2)))
    _learning_figure(ctx, history, cfg.lr)
    _pool_figure(ctx, {k: v for k, v in pools.items() if "arange(16)" in k or "stride" in k})
    return {
        "corr2d_example": example.tolist(), "corr2d_example_error": example_error,
        "edge_map_row": Y[0].tolist(), "edge_map_transposed_max_abs":
            corr2d(X.T, true.reshape(1, 2)).abs().max().item(),
        "kernel_steps": cfg.epochs, "initial_kernel": [history[0]["w1"], history[0]["w2"]],
        "learned_kernel": learned.tolist(), "learned_kernel_error": (learned - true).abs().max().item(),
        "kernel_loss_first": history[0]["loss"], "kernel_loss_last": history[-1]["loss"],
        "kernel_loss_history": [r["loss"] for r in history],
        "twin_kernel_max_diff": max(abs(a[k] - b[k]) for a, b in zip(history, twin_history) for k in ("w1", "w2")),
        "shape_examples": shapes,
        "shapes_match_formula": all(s["output"] == s["torch"] == s["formula"] for s in shapes),
        **_channel_examples(device),
        "pool_examples": {name: out.tolist() for name, out in pools.items()},
        "random_trials": cfg.random_trials,
        "conv_max_diff": exact["conv"], "conv_grad_max_diff": exact["conv_grad"],
        "pool_max_diff": exact["pool"], "pool_grad_max_diff": exact["pool_grad"],
        "conv_max_diff_float32": single["conv"], "pool_max_diff_float32": single["pool"],
    }


EXPERIMENTS = [
    Experiment("conv-basics", "cnn",
               "cross-correlation, edge detection, learning a kernel, padding/stride, channels, 1×1 conv and "
               "pooling, from scratch vs torch", ConvBasicsConfig, conv_basics,
               headline=("learned_kernel_error", "conv_max_diff", "pool_max_diff", "conv1x1_matmul_max_diff")),
]
