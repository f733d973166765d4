"""Chapter 3 — numerical stability: initialisation, gradient flow, batch norm, gradient clipping.

- ``init``: activation scale through a deep stack under naive and principled initialisation;
  the scratch Xavier / He inits against ``nn.init``.
- ``grad-flow``: per-layer gradient norms of a 20-layer MLP in vanishing, exploding and
  healthy regimes, then a short training run of each.
- ``batchnorm-scratch`` / ``batchnorm``: LeNet with and without batch norm (scratch BN or
  ``nn.BatchNorm``): epochs to a target test accuracy.
- ``grad-clip``: a vanilla RNN whose unclipped training blows up, made stable by clipping.

Sizes are chosen so each experiment's default run takes at most about two minutes on 2
CPU cores (see each config's docstring).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import Tensor, nn

from divelab.analysis.layer_stats import LayerStats, activation_stats, draw_per_layer, gradient_norms, weight_layers
from divelab.config import FashionConfig
from divelab.data import TensorLoader, fashion_mnist
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models.lenet import LeNet
from divelab.report.figures import new_figure
import divelab.scratch.init as scratch_init
from divelab.scratch.batchnorm import BatchNormScratch
from divelab.scratch.clip import clip_grad_norm
from divelab.train.callbacks import GradClip
from divelab.train.trainer import Trainer, TrainingDiverged


def _first_images(data_dir: str | None, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` Fashion-MNIST training images as floats (n, 1, 28, 28) and their labels."""
    data = fashion_mnist.load(data_dir)
    return fashion_mnist.to_float(data.train_images[:n]), data.train_labels[:n]


def _fit_or_diverge(ctx: RunContext, trainer: Trainer) -> tuple[list[dict[str, Any]], int | None]:
    """Train; if the loss turns NaN/inf, return the epochs completed before and the epoch it happened in."""
    try:
        return ctx.fit(trainer, curves=False), None
    except TrainingDiverged:
        ctx.seconds = (ctx.seconds or 0.0) + trainer.seconds
        return trainer.history, trainer.epoch


def _deep_mlp(depth: int, width: int, activation: Callable[[], nn.Module],
              norm: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """Flatten, then ``depth − 1`` blocks ``Linear → [norm] → activation`` of ``width`` units, then Linear(width → 10)."""
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = 28 * 28
    for _ in range(depth - 1):
        layers += [nn.Linear(fan_in, width), *([norm(width)] if norm else []), activation()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 10))
    return nn.Sequential(*layers)


# ---- init: activation scale through a deep stack ----------------------------------------------

InitFn = Callable[[Tensor, torch.Generator], Tensor]


def _normal(std: float) -> InitFn:
    return lambda w, g: w.normal_(0.0, std, generator=g)


# scheme → (activation, scratch init, nn.init twin); the naive schemes have no twin to compare
INIT_SCHEMES: dict[str, tuple[type[nn.Module], InitFn, InitFn]] = {
    "ReLU, N(0, 1)": (nn.ReLU, _normal(1.0), _normal(1.0)),
    "ReLU, N(0, 0.01²)": (nn.ReLU, _normal(0.01), _normal(0.01)),
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

    depth: int = 20
    width: int = 128
    samples: int = 256
    draws: int = 10

    def validate(self) -> None:
        super().validate()
        if self.depth < 2 or self.width < 1 or self.samples < 2 or self.draws < 2:
            raise UserError("need depth ≥ 2, width ≥ 1, samples ≥ 2 and draws ≥ 2")


def _activation_stds(x: Tensor, depth: int, width: int, activation: type[nn.Module], init_fn: InitFn,
                     seed: int) -> list[float]:
    """Std of each layer's activation output when ``x`` passes a fresh ``depth``-layer stack."""
    model = _deep_mlp(depth + 1, width, activation).to(x.device)[:-1]  # drop the output layer
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


# ---- grad-flow: vanishing, exploding and healthy gradients ------------------------------------

# regime → (label, activation, weight init, batch norm?)
REGIMES: dict[str, tuple[str, type[nn.Module], InitFn, bool]] = {
    "sigmoid_normal": ("sigmoid, N(0, 1)", nn.Sigmoid, _normal(1.0), False),
    "tanh_normal": ("tanh, N(0, 1) (large)", nn.Tanh, _normal(1.0), False),
    "tanh_xavier": ("tanh, Xavier", nn.Tanh, lambda w, g: scratch_init.xavier_normal_(w, 5 / 3, generator=g), False),
    "relu_he": ("ReLU, He", nn.ReLU, lambda w, g: scratch_init.kaiming_normal_(w, generator=g), False),
    "sigmoid_normal_bn": ("sigmoid, N(0, 1) + batch norm", nn.Sigmoid, _normal(1.0), True),
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
    depth: int = 20
    width: int = 32
    probe_batches: int = 4

    def validate(self) -> None:
        super().validate()
        if self.depth < 4 or self.width < 1 or self.probe_batches < 1:
            raise UserError("need depth ≥ 4 (two hidden-to-hidden layers to compare), width ≥ 1, probe_batches ≥ 1")


def _regime_model(key: str, cfg: GradFlowConfig, seed: int) -> nn.Sequential:
    _, activation, init_fn, batch_norm = REGIMES[key]
    model = _deep_mlp(cfg.depth, cfg.width, activation, nn.BatchNorm1d if batch_norm else None)
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
        histories[key], diverged_epoch = _fit_or_diverge(ctx, trainer)
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


# ---- batch norm: LeNet with and without ------------------------------------------------------

@dataclass
class BatchNormConfig(FashionConfig):
    """LeNet on Fashion-MNIST, as d2l: batch 256, SGD with ``lr`` 1.0 with batch norm and
    ``lr_no_bn`` 0.9 without, 10 epochs, both from the same conv and Linear weights.
    ``target_acc`` is the test accuracy whose first epoch is reported. One epoch takes ~3 s
    without BN, ~5 s with ``nn.BatchNorm`` and ~7 s with the scratch BN on 2 idle CPU cores,
    so both runs take ≲ 2 minutes.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1.0
    lr_no_bn: float = 0.9
    target_acc: float = 0.80

    def validate(self) -> None:
        super().validate()
        if not self.lr_no_bn > 0:
            raise UserError(f"lr_no_bn must be > 0, got {self.lr_no_bn}")
        if not 0 < self.target_acc <= 1:
            raise UserError(f"target_acc must be in (0, 1], got {self.target_acc}")


def epochs_to_target(history: list[dict[str, Any]], target: float, key: str = "test_acc") -> int | None:
    """The first epoch whose ``key`` reaches ``target``, or None if none does."""
    return next((r["epoch"] for r in history if r[key] >= target), None)


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` right after seeding: LeNets with and without batch norm get the same conv and
    Linear weights (batch norm's own start, γ = 1 and β = 0, draws nothing)."""
    torch.manual_seed(seed)
    return build()


def _batchnorm(cfg: BatchNormConfig, ctx: RunContext, norm_layer: Callable[..., nn.Module] | None) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    runs = {"bn": (_seeded(cfg.seed, lambda: LeNet(batch_norm=True, norm_layer=norm_layer)), cfg.lr),
            "no-bn": (_seeded(cfg.seed, LeNet), cfg.lr_no_bn)}
    summary: dict[str, Any] = {"target_acc": cfg.target_acc}
    histories = {}
    for name, (model, lr) in runs.items():
        model.to(ctx.device)
        trainer = ctx.trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=lr), train, test, name=name)
        histories[name] = ctx.fit(trainer, curves=False)
        last = histories[name][-1] if histories[name] else {}
        prefix = name.replace("-", "_")
        summary |= {f"{prefix}_{k}": last.get(k) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        summary[f"{prefix}_epochs_to_target"] = epochs_to_target(histories[name], cfg.target_acc)
        summary[f"{prefix}_seconds"] = round(trainer.seconds, 3)
    reached = summary["bn_epochs_to_target"], summary["no_bn_epochs_to_target"]
    summary["epochs_saved"] = reached[1] - reached[0] if None not in reached else None
    _batchnorm_figure(ctx, histories, cfg)
    summary["data"] = str(data.source)
    return summary


def _batchnorm_figure(ctx: RunContext, histories: dict[str, list[dict[str, Any]]], cfg: BatchNormConfig) -> None:
    fig, axes = new_figure(ncols=2, size=(4.8, 3.8))
    labels = {"bn": f"with batch norm (lr {cfg.lr})", "no-bn": f"without (lr {cfg.lr_no_bn})"}
    for name, history in histories.items():
        epochs = [r["epoch"] for r in history]
        reached = epochs_to_target(history, cfg.target_acc)
        note = f", target at epoch {reached}" if reached else ", target not reached"
        axes[0][0].plot(epochs, [r["test_acc"] for r in history], marker="o", markersize=3, label=labels[name] + note)
        axes[0][1].plot(epochs, [r["train_loss"] for r in history], marker="o", markersize=3, label=labels[name])
    axes[0][0].axhline(cfg.target_acc, color="gray", linestyle="--", linewidth=1, label=f"target {cfg.target_acc:.2f}")
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].set_title("LeNet on Fashion-MNIST")
    axes[0][1].set_ylabel("train loss")
    axes[0][1].set_yscale("log")
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "accuracy")


def batchnorm_scratch(cfg: BatchNormConfig, ctx: RunContext) -> dict[str, Any]:
    return _batchnorm(cfg, ctx, BatchNormScratch)


def batchnorm(cfg: BatchNormConfig, ctx: RunContext) -> dict[str, Any]:
    return _batchnorm(cfg, ctx, None)


# ---- grad-clip: an exploding recurrent network made stable -----------------------------------

class RowRNN(nn.Module):
    """A vanilla tanh RNN that reads an image row by row (28 steps of 28 pixels) and classifies
    it from its last hidden state: a long product of recurrent Jacobians, where gradients
    explode (Pascanu et al., 2013) and clipping was introduced."""

    def __init__(self, hidden: int = 128, num_classes: int = 10):
        super().__init__()
        self.rnn = nn.RNN(28, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        rows = x.flatten(1, 2)    # (N, 1, 28, 28) -> (N, 28 steps, 28 pixels)
        _, h = self.rnn(rows)     # h: (1, N, hidden), the last step's state
        return self.out(h[-1])


@dataclass
class GradClipConfig(FashionConfig):
    """``RowRNN`` with ``hidden`` units trained by SGD at ``lr`` 0.5, twice from the same
    initial weights: gradients clipped to global norm ``max_norm`` (scratch clip) and not.
    ~4 s per epoch and run on 2 CPU cores: 3 epochs of both take about 30 s.
    """

    epochs: int = 3
    batch_size: int = 256
    lr: float = 0.5
    hidden: int = 128
    max_norm: float = 1.0

    def validate(self) -> None:
        super().validate()
        if self.hidden < 1:
            raise UserError(f"hidden must be ≥ 1, got {self.hidden}")
        if not self.max_norm > 0:
            raise UserError(f"max_norm must be > 0, got {self.max_norm}")


class StepLog:
    """Cross-entropy that also keeps every training batch's loss, plus a clip function that
    keeps every step's gradient norm (before clipping). Evaluation runs without autograd
    and is not logged. Covers the steps run in this process (not restored on --resume)."""

    def __init__(self) -> None:
        self.losses: list[Tensor] = []
        self.grad_norms: list[Tensor] = []

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        value = F.cross_entropy(out, y)
        if torch.is_grad_enabled():
            self.losses.append(value.detach())
        return value

    def clip(self, parameters: Any, max_norm: float) -> Tensor:
        norm = clip_grad_norm(parameters, max_norm)
        self.grad_norms.append(norm)
        return norm

    def values(self) -> tuple[list[float], list[float]]:
        return ([v.item() for v in self.losses], [v.item() for v in self.grad_norms])


def _finite_max(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def grad_clip(cfg: GradClipConfig, ctx: RunContext) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    initial = RowRNN(cfg.hidden).state_dict()
    # max_norm = ∞ never clips but still measures the norm, so both runs are logged alike
    runs = {"clipped": cfg.max_norm, "unclipped": math.inf}
    summary: dict[str, Any] = {"max_norm": cfg.max_norm}
    logs: dict[str, StepLog] = {}
    for name, max_norm in runs.items():
        model = RowRNN(cfg.hidden)
        model.load_state_dict(initial)
        model.to(ctx.device)
        logs[name] = log = StepLog()
        trainer = ctx.trainer(model, log.loss, torch.optim.SGD(model.parameters(), lr=cfg.lr), train, test,
                              name=name, callbacks=[GradClip(max_norm, clip_fn=log.clip)])
        history, diverged_epoch = _fit_or_diverge(ctx, trainer)
        losses, norms = log.values()
        last = history[-1] if history and diverged_epoch is None else {}
        prefix = "" if name == "clipped" else "unclipped_"
        summary |= {f"{prefix}{k}": last.get(k) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        summary[f"{prefix}diverged"] = diverged_epoch is not None
        summary[f"{prefix}diverged_epoch"] = diverged_epoch
        summary[f"{prefix}peak_loss"] = _finite_max(losses)
        summary[f"{prefix}grad_norm_max"] = _finite_max(norms)
        summary[f"{prefix}grad_norm_mean_per_epoch"] = [round(r["grad_norm_mean"], 4) for r in history]
        # clipped run: the share of steps clipped; unclipped run: the share that would have been
        summary[f"{prefix}above_max_norm_fraction"] = (sum(n > cfg.max_norm for n in norms) / len(norms)
                                                       if norms else None)
    _grad_clip_figure(ctx, logs, cfg)
    summary["data"] = str(data.source)
    return summary


def _grad_clip_figure(ctx: RunContext, logs: dict[str, StepLog], cfg: GradClipConfig) -> None:
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    for name, log in logs.items():
        losses, norms = log.values()
        label = f"clipped to {cfg.max_norm:g}" if name == "clipped" else "unclipped"
        axes[0][0].plot(range(1, len(losses) + 1), losses, linewidth=0.8, label=label)
        axes[0][1].plot(range(1, len(norms) + 1), norms, linewidth=0.8, label=f"{label} (norm before clipping)")
    axes[0][0].set_ylabel("training loss per batch (log scale)")
    axes[0][0].set_title(f"row-by-row RNN, SGD lr {cfg.lr}")
    axes[0][1].axhline(cfg.max_norm, color="k", linestyle="--", linewidth=1, label=f"max_norm {cfg.max_norm:g}")
    axes[0][1].set_ylabel("global gradient norm (log scale)")
    axes[0][1].set_title("gradient norm per step")
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "clipping")


EXPERIMENTS = [
    Experiment("init", "stability",
               "activation std through 20 layers: N(0,1) explodes, N(0,0.01²) vanishes, Xavier/He keep it; "
               "scratch inits vs nn.init", InitConfig, init,
               headline=("relu_he_normal_std_last", "max_rel_diff", "same_seed_max_abs_diff")),
    Experiment("grad-flow", "stability",
               "per-layer gradient norms of a 20-layer MLP: vanishing, exploding and healthy regimes",
               GradFlowConfig, grad_flow,
               headline=("sigmoid_normal_grad_ratio", "tanh_normal_grad_ratio", "relu_he_grad_ratio",
                         "sigmoid_normal_bn_grad_ratio")),
    Experiment("batchnorm-scratch", "stability",
               "LeNet with scratch batch norm vs without: epochs to a target test accuracy",
               BatchNormConfig, batchnorm_scratch, headline=("bn_test_acc", "no_bn_test_acc")),
    Experiment("batchnorm", "stability",
               "LeNet with nn.BatchNorm vs without: epochs to a target test accuracy",
               BatchNormConfig, batchnorm, headline=("bn_test_acc", "no_bn_test_acc")),
    Experiment("grad-clip", "stability",
               "row-by-row RNN: unclipped SGD blows up, gradient norm clipping (scratch) keeps it stable",
               GradClipConfig, grad_clip, headline=("test_acc", "train_loss", "peak_loss", "unclipped_peak_loss")),
]
