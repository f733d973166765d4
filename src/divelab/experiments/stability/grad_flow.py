"""``grad-flow``: per-layer gradient norms of a 20-layer MLP at initialisation in vanishing
(sigmoid), exploding (large tanh) and healthy (Xavier, He, batch norm) regimes, then a short
training run of each.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import nn

from divelab.analysis.layer_stats import LayerStats, gradient_norms, weight_layers
from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.experiments.stability.common import InitFn, deep_mlp, fit_or_diverge, normal
from divelab.report.figures import new_figure
from divelab.report.layer_figures import draw_per_layer
import divelab.scratch.init as scratch_init


# regime → (label, activation, weight init, batch norm?)
REGIMES: dict[str, tuple[str, type[nn.Module], InitFn, bool]] = {
    "sigmoid_normal": ("sigmoid, N(0, 1)", nn.Sigmoid, normal(1.0), False),
    "tanh_normal": ("tanh, N(0, 1) (large)", nn.Tanh, normal(1.0), False),
    "tanh_xavier": ("tanh, Xavier", nn.Tanh, lambda w, g: scratch_init.xavier_normal_(w, 5 / 3, generator=g), False),
    "relu_he": ("ReLU, He", nn.ReLU, lambda w, g: scratch_init.kaiming_normal_(w, generator=g), False),
    "sigmoid_normal_bn": ("sigmoid, N(0, 1) + batch norm", nn.Sigmoid, normal(1.0), True),
}


@dataclass
class GradFlowConfig(FashionConfig):
    """A ``depth``-layer MLP of ``width`` units per regime. Gradient norms are measured at
    initialisation on ``probe_batches`` training batches (averaged); then each regime trains
    for ``epochs`` epochs (SGD, ``lr``). Width 32 keeps it cheap (about 5 s per epoch for all
    five regimes on 2 CPU cores) and makes sigmoid's vanishing plain: the backward gain per
    layer grows with width, and at width ≥ 256 sigmoid with N(0, 1) weights stops vanishing.
    """

    min_epochs: ClassVar[int] = 0  # epochs = 0: the networks at their initial weights

    epochs: int = 3
    lr: float = 0.1
    depth: int = setting(20, ge=4, note="two hidden-to-hidden layers to compare")
    width: int = setting(32, ge=1)
    probe_batches: int = setting(4, ge=1)


def _regime_model(key: str, cfg: GradFlowConfig, seed: int) -> nn.Sequential:
    _, activation, init_fn, batch_norm = REGIMES[key]
    model = deep_mlp(cfg.depth, cfg.width, activation, nn.BatchNorm1d if batch_norm else None)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in weight_layers(model).values():
            init_fn(layer.weight, generator)
            layer.bias.zero_()
    return model


def _norms_at_init(model: nn.Module, loader: TensorLoader, batches: int) -> list[float]:
    """‖∂loss/∂W_l‖ per weight layer, averaged over the first ``batches`` batches (train mode).

    The model's state (batch norm's running statistics) is put back afterwards, so training
    starts from the initialisation itself.
    """
    state = copy.deepcopy(model.state_dict())
    per_batch = [list(gradient_norms(model, F.cross_entropy(model(x), y)).values())
                 for x, y in itertools.islice(loader.batches(0), batches)]
    model.load_state_dict(state)
    return torch.tensor(per_batch).mean(0).tolist()  # (batches, layers) -> (layers,)


def _hidden_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The hidden-to-hidden Linear layers: every weight layer but the first and the last."""
    return dict(list(weight_layers(model).items())[1:-1])


def hidden_ratio(norms: list[float]) -> float:
    """‖∇W₂‖ / ‖∇W_{L−1}‖: the first over the last hidden-to-hidden layer.

    Both are width × width, so the ratio measures depth alone; the input layer (784 inputs)
    and the output layer (10 outputs) differ in shape and would add their own factor.
    """
    return norms[1] / norms[-2]


def grad_flow(cfg: GradFlowConfig, ctx: RunContext) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    norms: dict[str, list[float]] = {}
    histories: dict[str, list[dict[str, Any]]] = {}
    summary: dict[str, Any] = {"depth": cfg.depth, "width": cfg.width}
    for key in REGIMES:
        model = _regime_model(key, cfg, cfg.seed).to(ctx.device)
        norms[key] = _norms_at_init(model, train, cfg.probe_batches)
        summary[f"{key}_grad_ratio"] = hidden_ratio(norms[key])
        stats = LayerStats(model, layers=_hidden_layers(model), activations={})  # records keep the same ratio
        trainer = ctx.trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=cfg.lr), train, test,
                              name=key.replace("_", "-"), callbacks=[stats])
        histories[key], diverged_epoch = fit_or_diverge(ctx, trainer)
        last = histories[key][-1] if histories[key] else {}
        summary[f"{key}_test_acc"] = last.get("test_acc")
        summary[f"{key}_diverged_epoch"] = diverged_epoch
    _grad_flow_figure(ctx, norms, histories, cfg)
    summary["data"] = str(data.source)
    return summary


def _grad_flow_figure(ctx: RunContext, norms: dict[str, list[float]], histories: dict[str, list[dict[str, Any]]],
                      cfg: GradFlowConfig) -> None:
    fig, axes = new_figure(ncols=2, size=(5.5, 4.2))
    labels = {key: f"{REGIMES[key][0]}: ratio {hidden_ratio(n):.1e}" for key, n in norms.items()}
    draw_per_layer(axes[0][0], {labels[k]: n for k, n in norms.items()}, "‖∂loss/∂W‖ at initialisation (log scale)")
    axes[0][0].set_title(f"gradient norm per layer, {cfg.depth}-layer MLP (ratio: layer 2 / layer {cfg.depth - 1})",
                         fontsize=9)
    ax = axes[0][1]
    for key, history in histories.items():
        ax.plot([0] + [r["epoch"] for r in history], [0.1] + [r["test_acc"] for r in history],
                marker="o", markersize=3, label=REGIMES[key][0])
    ax.axhline(0.1, color="gray", linestyle=":", linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (0: chance level)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"what each regime learns (SGD, lr {cfg.lr})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "gradient-flow")


EXPERIMENTS = [
    Experiment("grad-flow", "stability",
               "per-layer gradient norms of a 20-layer MLP: vanishing, exploding and healthy regimes",
               GradFlowConfig, grad_flow,
               headline=("sigmoid_normal_grad_ratio", "tanh_normal_grad_ratio", "relu_he_grad_ratio",
                         "sigmoid_normal_bn_grad_ratio")),
]
