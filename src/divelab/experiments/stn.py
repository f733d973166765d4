"""Chapter 3 — spatial transformer networks (``stn``).

Fashion-MNIST images are warped once each by a random rotation (± ``degrees``; positive
turns clockwise on screen, where y points down), zoom
(``scale_min`` … ``scale_max``) and shift (± ``translate`` pixels per axis), the same
way for training and test images. The warps are drawn from a seeded generator and applied
once, before training, so every image keeps its one distortion for the whole run (the
task is a fixed data set, a resumed run sees the same images, and both models see exactly
the same ones).

The same small CNN (:mod:`divelab.models.stn`) learns to classify them twice, from the same
initial classifier weights and the same batches: once on its own (sub-run ``plain``) and
once behind a spatial transformer (sub-run ``stn``), which starts as the identity and
learns per image an affine map that makes the classifier's job easier. The summary gives
both test accuracies, and how well the rotation the transformer applies follows the
rotation the image was given (``angle_corr``, the Pearson correlation over the test set;
1 would mean it learned to undo every rotation). The figure ``transformed`` shows test
images as they were, as distorted, and as the transformer re-sampled them; ``curves``
the loss and accuracy of both runs per epoch.

Sizes are chosen for a laptop CPU: 20,000 training images, 4 epochs; both runs, with
test accuracy on all 10,000 test images after every epoch, take about 1–2 minutes on
2 CPU cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.data.augment import affine, affine_matrices
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models.stn import STNClassifier
from divelab.report.figures import new_figure
from divelab.train.trainer import evaluate

@dataclass
class STNConfig(FashionConfig):
    """``train_size`` / ``test_size`` images (chosen at random), distorted once each; both
    models trained with Adam at ``lr``. ``width`` is the classifier's first conv width;
    ``scratch`` puts the hand-written ``affine_grid``/``grid_sample`` inside the transformer."""

    min_epochs: ClassVar[int] = 0  # epochs = 0: the networks at their initial weights

    epochs: int = 4
    batch_size: int = 64
    lr: float = 0.001
    train_size: int = setting(20000, ge=1)
    test_size: int = setting(10000, ge=1)
    width: int = setting(8, ge=1)
    degrees: float = setting(45.0, ge=0, le=180)
    scale_min: float = 0.7
    scale_max: float = 1.0
    translate: float = setting(3.0, ge=0, note="pixels")
    scratch: bool = False

    def validate(self) -> None:
        super().validate()
        if not 0 < self.scale_min <= self.scale_max:
            raise UserError(f"need 0 < scale_min ≤ scale_max, got {self.scale_min} and {self.scale_max}")

    def describe_distortion(self) -> str:
        """The distortion settings in words, for titles and the summary."""
        return (f"rotation ±{self.degrees:g}°, scale {self.scale_min:g}–{self.scale_max:g}, "
                f"shift ±{self.translate:g} px")


# ---- the distorted data set -------------------------------------------------------------------

def draw_distortions(n: int, cfg: STNConfig, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Per image: angle ~ U(−degrees, degrees) (radians), scale ~ U(scale_min, scale_max),
    shift ~ U(−translate, translate)² pixels (x, y); float64, drawn on the CPU."""
    u = torch.rand(4, n, generator=generator, dtype=torch.float64)
    angle = torch.deg2rad((2 * u[0] - 1) * cfg.degrees)
    scale = cfg.scale_min + (cfg.scale_max - cfg.scale_min) * u[1]
    shift = (2 * u[2:].T - 1) * cfg.translate  # (N, 2)
    return angle, scale, shift


def distort(images: Tensor, angle: Tensor, scale: Tensor, shift: Tensor, chunk: int = 4096) -> Tensor:
    """Warp image ``n`` (N, 1, H, W) by its own rotation, scale and shift (:func:`divelab.data.augment.affine`),
    ``chunk`` images at a time to bound the memory of the sampling grid."""
    h, w = images.shape[-2:]
    parts = [affine(images[i:i + chunk], affine_matrices(angle[i:i + chunk], scale[i:i + chunk],
                                                         shift[i:i + chunk], h, w))
             for i in range(0, len(images), chunk)]
    return torch.cat(parts)


def _distorted_subset(images: Tensor, labels: Tensor, size: int, cfg: STNConfig,
                      seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``size`` images chosen at random, as float (N, 1, 28, 28) originals and distorted copies,
    their labels and rotation angles; everything depends on ``seed`` only."""
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(images), generator=generator)[:size]
    originals = fashion_mnist.to_float(images[pick])
    angle, scale, shift = draw_distortions(len(pick), cfg, generator)
    return originals, distort(originals, angle, scale, shift), labels[pick], angle


# ---- what the transformer learned -------------------------------------------------------------

@torch.inference_mode()
def stn_angles(model: STNClassifier, loader: TensorLoader) -> Tensor:
    """Rotation angle of the θ the transformer predicts for each image, ``atan2(θ₁₀, θ₀₀)``.

    θ maps output to input coordinates, so a transformer that undoes a rotation by ``α``
    predicts a rotation by ``α`` (on square images normalisation does not change angles).
    """
    assert model.stn is not None
    model.eval()
    thetas = torch.cat([model.stn.theta(x) for x, _y in loader]).double().cpu()
    return torch.atan2(thetas[:, 1, 0], thetas[:, 0, 0])


def correlation(a: Tensor, b: Tensor) -> float | None:
    """Pearson correlation of two 1-D tensors; None if either is constant."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    norm = a.norm() * b.norm()
    return (a @ b / norm).item() if norm > 0 else None


# ---- figures ----------------------------------------------------------------------------------

def strip(images: Tensor, gap: int = 2) -> Tensor:
    """Gray images (K, H, W) side by side as one (H, K·(W + gap) − gap) image, separated by NaN (blank)."""
    k, h, w = images.shape
    out = torch.full((h, k * (w + gap) - gap), float("nan"))
    for i, image in enumerate(images):
        out[:, i * (w + gap):i * (w + gap) + w] = image
    return out


@torch.inference_mode()
def _transformed_figure(ctx: RunContext, model: STNClassifier, originals: Tensor, distorted: Tensor,
                        labels: Tensor, angle: Tensor) -> None:
    """One test image per class (columns): the original, its distortion, what the transformer made of it.

    Each row is one strip image on one axes (30 small axes take matplotlib seconds to lay out).
    """
    columns = [int((labels == c).nonzero()[0]) for c in range(10) if (labels == c).any()]
    model.eval()
    transformed = model.transform(distorted[columns].to(ctx.device)).cpu()
    rows = {"original": (originals[columns], [fashion_mnist.CLASS_NAMES[int(labels[c])] for c in columns]),
            "distorted (input)": (distorted[columns], [f"{math.degrees(angle[c]):+.0f}°" for c in columns]),
            "after the transformer": (transformed, [])}
    width = originals.shape[-1]
    fig, axes = new_figure(nrows=3, size=(1.1 * len(columns), 1.45))
    for ax, (title, (images, ticks)) in zip(axes[:, 0], rows.items()):
        ax.imshow(strip(images.squeeze(1).clamp(0, 1)).numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([i * (width + 2) + width / 2 - 0.5 for i in range(len(ticks))], ticks, fontsize=7)
        ax.set_yticks([])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    ctx.save_figure(fig, "transformed")


def _curves_figure(ctx: RunContext, histories: dict[str, list[dict[str, Any]]], distortion: str) -> None:
    """Loss and accuracy per epoch of both runs: training (dashed: the running mean over each
    epoch's batches) and test (solid)."""
    fig, axes = new_figure(ncols=2)
    for color, (name, history) in zip(("C0", "C1"), histories.items()):
        epochs = [r["epoch"] for r in history]
        for ax, metric in zip(axes[0], ("loss", "acc")):
            ax.plot(epochs, [r[f"train_{metric}"] for r in history], color=color, linestyle="--",
                    label=f"{name}: train")
            ax.plot(epochs, [r[f"test_{metric}"] for r in history], color=color, marker="o", markersize=3,
                    label=f"{name}: test")
    for ax, label in zip(axes[0], ("cross-entropy loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(distortion)
    ctx.save_figure(fig, "curves")


# ---- the experiment ---------------------------------------------------------------------------

def stn(cfg: STNConfig, ctx: RunContext) -> dict[str, Any]:
    data = fashion_mnist.load(cfg.data_dir)
    _x, x_train, y_train, _angle = _distorted_subset(data.train_images, data.train_labels, cfg.train_size, cfg,
                                                     cfg.seed)
    originals, x_test, y_test, test_angle = _distorted_subset(data.test_images, data.test_labels, cfg.test_size,
                                                              cfg, cfg.seed + 1)
    train = TensorLoader(x_train, y_train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    test = TensorLoader(x_test, y_test, batch_size=1000, device=ctx.device)

    plain = STNClassifier(transformer=False, width=cfg.width).to(ctx.device)
    with_stn = STNClassifier(transformer=True, width=cfg.width, use_scratch=cfg.scratch).to(ctx.device)
    with_stn.classifier.load_state_dict(plain.classifier.state_dict())  # the same initial classifier
    models = {"plain": plain, "stn": with_stn}

    histories = {}
    for name, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        histories[name] = ctx.fit(ctx.trainer(model, F.cross_entropy, optimizer, train, test, name=name),
                                  curves=False)  # both runs in one figure below
    _transformed_figure(ctx, with_stn, originals, x_test, y_test, test_angle)
    if all(histories.values()):
        _curves_figure(ctx, histories, cfg.describe_distortion())

    summary: dict[str, Any] = {"train_size": len(x_train), "test_size": len(x_test)}
    for name, model in models.items():
        summary[f"test_acc_{name}"] = evaluate(model, test, F.cross_entropy, classification=True)["acc"]
        summary[f"parameters_{name}"] = sum(p.numel() for p in model.parameters())
    summary["stn_gain"] = summary["test_acc_stn"] - summary["test_acc_plain"]
    summary["angle_corr"] = correlation(stn_angles(with_stn, test), test_angle)
    return summary | {"distortion": cfg.describe_distortion(), "data": str(data.source)}


EXPERIMENTS = [
    Experiment("stn", "cnn",
               "randomly rotated/zoomed/shifted Fashion-MNIST: a CNN with and without a spatial transformer",
               STNConfig, stn, headline=("test_acc_plain", "test_acc_stn")),
]
