"""Figures of a run, drawn with matplotlib's object API on the Agg canvas.

No pyplot: nothing here touches global matplotlib state, so importing divelab in a
notebook leaves its inline backend alone.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from divelab.files import atomic_write_bytes


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (4.5, 3.5)) -> tuple[Figure, Any]:
    """A figure with a grid of axes, each ``size`` inches."""
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically and return its path."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def training_curves(history: Sequence[dict[str, Any]], title: str = "") -> Figure:
    """Loss (and accuracy, if recorded) per epoch: train, validation and test curves."""
    epochs = [r["epoch"] for r in history]
    panels = [("loss", ("train_loss", "val_loss", "test_loss"))]
    if any("train_acc" in r or "test_acc" in r for r in history):
        panels.append(("accuracy", ("train_acc", "val_acc", "test_acc")))
    fig, axes = new_figure(ncols=len(panels))
    for ax, (label, keys) in zip(axes[0], panels):
        for key in keys:
            points = [(e, r[key]) for e, r in zip(epochs, history) if key in r]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if all(r.get(k, 1) > 0 for r in history for k in ("train_loss", "val_loss", "test_loss")):
        axes[0][0].set_yscale("log")  # losses span orders of magnitude
    if title:
        fig.suptitle(title)
    return fig


def image_grid(images: Any, titles: Sequence[str], ncols: int = 8, title: str = "") -> Figure:
    """Gray images (N, H, W) in a grid, each with a caption (e.g. "true / predicted")."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = new_figure(ncols=ncols, nrows=nrows, size=(1.5, 1.75))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
