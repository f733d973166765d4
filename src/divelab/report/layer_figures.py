"""Figures of per-layer statistics (:mod:`divelab.analysis.layer_stats`): a quantity against
layer depth, one line per setting — where a deep network's gradient fades or its activations
shrink."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from divelab.report.figures import new_figure


def draw_per_layer(ax: Axes, series: Mapping[str, Sequence[float]], ylabel: str, log: bool = True) -> None:
    """One line per entry of ``series`` (label → value per layer) against layer depth 1, 2, …"""
    for label, values in series.items():
        ax.plot(range(1, len(values) + 1), list(values), marker="o", markersize=3, label=label)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def plot_per_layer(series: Mapping[str, Sequence[float]], ylabel: str, title: str = "", log: bool = True) -> Figure:
    """A figure of :func:`draw_per_layer`, e.g. gradient norm or activation std per layer."""
    fig, axes = new_figure(size=(6.0, 4.0))
    draw_per_layer(axes[0][0], series, ylabel, log)
    if title:
        axes[0][0].set_title(title)
    return fig


def plot_gradient_norms(norms: Mapping[str, Sequence[float]], title: str = "gradient norm per layer") -> Figure:
    """``‖∂loss/∂W_l‖`` against depth ``l`` (log scale), one line per setting."""
    return plot_per_layer(norms, "‖∂loss/∂W‖ (log scale)", title)


def plot_activation_std(stds: Mapping[str, Sequence[float]], title: str = "activation std per layer") -> Figure:
    """Standard deviation of each layer's output against depth (log scale), one line per setting."""
    return plot_per_layer(stds, "activation std (log scale)", title)
