"""``init``: the activation scale through a deep stack under naive and principled
initialisation — ``N(0, 1)`` explodes, ``N(0, 0.01²)`` vanishes, Xavier and He keep it — and
the scratch Xavier / He inits against ``nn.init``: the same draws from one seed, and the same
distribution over independent draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.ticker import MaxNLocator
from torch import Tensor, nn

from divelab.analysis.layer_stats import activation_stats, weight_layers
from divelab.config import FashionConfig, setting
from divelab.data import fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.experiments.stability.common import InitFn, deep_mlp, normal
from divelab.report.figures import new_figure
from divelab.report.layer_figures import draw_per_layer
import divelab.scratch.init as scratch_init


def _first_images(data_dir: str | None, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` Fashion-MNIST training images as floats (n, 1, 28, 28) and their labels."""
    data = fashion_mnist.load(data_dir)
    return fashion_mnist.to_float(data.train_images[:n]), data.train_labels[:n]


# scheme → (activation, scratch init, nn.init twin); the naive schemes have no twin to compare
INIT_SCHEMES: dict[str, tuple[type[nn.Module], InitFn, InitFn]] = {
    "ReLU, N(0, 1)": (nn.ReLU, normal(1.0), normal(1.0)),
    "ReLU, N(0, 0.01²)": (nn.ReLU, normal(0.01), normal(0.01)),
    "ReLU, He normal": (nn.ReLU, lambda w, g: scratch_init.kaiming_normal_(w, generator=g),
                        lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)),
    "ReLU, He uniform": (nn.ReLU, lambda w, g: scratch_init.kaiming_uniform_(w, generator=g),
                         lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)),
    "tanh, Xavier normal": (nn.Tanh, lambda w, g: scratch_init.xavier_normal_(w, 5 / 3, generator=g),
                            lambda w, g: nn.init.xavier_normal_(w, nn.init.calculate_gain("tanh"), generator=g)),
    "tanh, Xavier uniform": (nn.Tanh, lambda w, g: scratch_init.xavier_uniform_(w, 5 / 3, generator=g),
                             lambda w, g: nn.init.xavier_uniform_(w, nn.init.calculate_gain("tanh"), generator=g)),
}
TWINNED = ("ReLU, He normal", "ReLU, He uniform", "tanh, Xavier normal", "tanh, Xavier uniform")


@dataclass
class InitConfig(FashionConfig):
    """``samples`` Fashion-MNIST images through ``depth`` layers of ``width`` units (no training).

    Each scheme is drawn ``draws`` times with the scratch init and ``draws`` times with
    ``nn.init`` (independent seeds); per layer, the geometric mean of the std over the draws
    is plotted and compared. 100 forward passes of 256 images through width 128: about a
    second on an idle CPU core. ``N(0, 1)`` grows the activations ×√(width/2) per layer, so
    beyond ~40 layers of width 128 they overflow float32 (and ``N(0, 0.01²)`` underflows).
    """

    depth: int = setting(20, ge=2)
    width: int = setting(128, ge=1)
    samples: int = setting(256, ge=2)
    draws: int = setting(10, ge=2)


def _activation_stds(x: Tensor, depth: int, width: int, activation: type[nn.Module], init_fn: InitFn,
                     seed: int) -> list[float]:
    """Std of each layer's activation output when ``x`` passes a fresh ``depth``-layer stack."""
    model = deep_mlp(depth + 1, width, activation).to(x.device)[:-1]  # drop the output layer
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in weight_layers(model).values():
            # drawn on the CPU and moved, so a seed gives the same weights on every device
            layer.weight.copy_(init_fn(torch.empty(layer.weight.shape), generator))
            layer.bias.zero_()
    acts = {str(i): m for i, m in enumerate(model) if isinstance(m, activation)}
    return [s["std"] for s in activation_stats(model, x, acts).values()]


def _std_over_draws(x: Tensor, cfg: InitConfig, activation: type[nn.Module], init_fn: InitFn,
                    first_seed: int) -> Tensor:
    """Per-layer activation std of ``cfg.draws`` networks (seeds ``first_seed``, ``first_seed + 1``, …): (draws, depth)."""
    return torch.tensor([_activation_stds(x, cfg.depth, cfg.width, activation, init_fn, first_seed + k)
                         for k in range(cfg.draws)], dtype=torch.float64)


def _geometric_mean(draws: Tensor) -> list[float]:
    """Per-layer geometric mean over draws of a (draws, depth) tensor."""
    return draws.log().mean(0).exp().tolist()


def _compare_draws(mine: Tensor, theirs: Tensor) -> tuple[float, float]:
    """Per layer, compare the typical std of two independent sets of draws (each (draws, depth)).

    A deep layer's std is a product of one random factor per layer below it, so it is
    compared on a log scale: ``m = mean(log std)`` over the draws (the log of the geometric
    mean). Returns the largest relative difference of the geometric means,
    ``|exp(m₁ − m₂) − 1|``, and the largest ``z = |m₁ − m₂| / √(se₁² + se₂²)`` (``se``: standard
    error of ``m``). The std varies a lot from draw to draw, so the relative difference alone
    cannot tell a wrong scale from noise: with 10 draws a side, the largest ``z`` of the 80
    (scheme, layer) pairs is typically 2–4 when both sides draw from the same distribution,
    while a wrong scale (e.g. He without its √2 gain, 1/√2 per layer) gives z in the tens.
    """
    log1, log2 = mine.log(), theirs.log()
    m1, m2 = log1.mean(0), log2.mean(0)
    rel = ((m1 - m2).exp() - 1).abs().max().item()
    se = (log1.var(0) / len(log1) + log2.var(0) / len(log2)).sqrt()
    return rel, ((m1 - m2).abs() / se).max().item()


def _same_seed_difference(shape: tuple[int, int], seed: int) -> float:
    """Largest |scratch − nn.init| over the twinned schemes when both draw from the same seed (0 if bitwise equal)."""
    worst = 0.0
    for name in TWINNED:
        _, mine, theirs = INIT_SCHEMES[name]
        a = mine(torch.empty(shape), torch.Generator().manual_seed(seed))
        b = theirs(torch.empty(shape), torch.Generator().manual_seed(seed))
        worst = max(worst, (a - b).abs().max().item())
    return worst


def init(cfg: InitConfig, ctx: RunContext) -> dict[str, Any]:
    x, _ = _first_images(cfg.data_dir, cfg.samples)
    x = x.to(ctx.device)
    scratch_draws: dict[str, Tensor] = {}
    torch_draws: dict[str, Tensor] = {}
    for name, (activation, mine, theirs) in INIT_SCHEMES.items():
        scratch_draws[name] = _std_over_draws(x, cfg, activation, mine, first_seed=cfg.seed)
        if name in TWINNED:  # independent draws on the nn.init side, so this compares distributions
            torch_draws[name] = _std_over_draws(x, cfg, activation, theirs, first_seed=cfg.seed + cfg.draws)
    typical = {n: _geometric_mean(d) for n, d in scratch_draws.items()}
    _init_figure(ctx, typical, {n: _geometric_mean(d) for n, d in torch_draws.items()}, cfg)

    summary: dict[str, Any] = {"depth": cfg.depth, "width": cfg.width, "draws": cfg.draws}
    for name, stds in typical.items():  # None where float32 overflowed (very deep N(0, 1) stacks)
        summary[f"{_key(name)}_std_first"] = stds[0] if math.isfinite(stds[0]) else None
        summary[f"{_key(name)}_std_last"] = stds[-1] if math.isfinite(stds[-1]) else None
    for name in TWINNED:
        rel_diff, z = _compare_draws(scratch_draws[name], torch_draws[name])
        summary[f"{_key(name)}_max_rel_diff"] = rel_diff
        summary[f"{_key(name)}_max_z"] = z
    summary["max_rel_diff"] = max(summary[f"{_key(n)}_max_rel_diff"] for n in TWINNED)
    summary["max_z"] = max(summary[f"{_key(n)}_max_z"] for n in TWINNED)
    summary["same_seed_max_abs_diff"] = _same_seed_difference((cfg.width, 28 * 28), cfg.seed)
    return summary


def _key(label: str) -> str:
    """``"ReLU, He normal"`` → ``"relu_he_normal"``; ``"ReLU, N(0, 0.01²)"`` → ``"relu_n_0_0_01"``."""
    cleaned = "".join(c if c.isalnum() else " " for c in label.lower().replace("²", ""))
    return "_".join(cleaned.split())


def _init_figure(ctx: RunContext, scratch_stds: dict[str, list[float]], torch_stds: dict[str, list[float]],
                 cfg: InitConfig) -> None:
    """Left: every scheme on a log scale. Right: the principled ones up close, scratch (solid) vs nn.init (dotted)."""
    fig, axes = new_figure(ncols=2, size=(5.2, 4.2))
    draw_per_layer(axes[0][0], scratch_stds, "activation std (log scale)")
    axes[0][0].set_title(f"{cfg.depth} layers of width {cfg.width}, scratch inits", fontsize=9)
    ax = axes[0][1]
    colors = {name: line.get_color() for name, line in zip(scratch_stds, axes[0][0].get_lines())}
    for name, theirs in torch_stds.items():
        layers = range(1, len(theirs) + 1)
        ax.plot(layers, scratch_stds[name], color=colors[name], marker="o", markersize=3, label=f"{name} (scratch)")
        ax.plot(layers, theirs, color=colors[name], linestyle=":", linewidth=2.5, label=f"{name} (nn.init)")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("activation std")
    ax.set_title(f"Xavier and He up close (geometric mean of {cfg.draws} draws each)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ctx.save_figure(fig, "activation-std")


EXPERIMENTS = [
    Experiment("init", "stability",
               "activation std through 20 layers: N(0,1) explodes, N(0,0.01²) vanishes, Xavier/He keep it; "
               "scratch inits vs nn.init", InitConfig, init,
               headline=("relu_he_normal_std_last", "max_rel_diff", "same_seed_max_abs_diff")),
]
