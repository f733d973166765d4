"""Chapter 5 — convolutional networks trained on Fashion-MNIST.

- ``lenet``: the course's LeNet-5 with the course's settings (sigmoid, average pooling,
  Xavier init, SGD lr 0.9, batch 256, 10 epochs); d2l reports ≈ 0.80–0.82 test accuracy.
- ``lenet-modern``, ``alexnet``, ``vgg``, ``nin``, ``googlenet``, ``resnet``, ``densenet``: the
  architectures of ``divelab.models.registry``. The course trains the big ones on images
  upscaled to 224 or 96 px on a GPU; the default here is each model's CPU preset (28 or
  32 px, a fraction of the channels, a small stem where the course's would shrink 28 px to
  nothing) so a run takes minutes on two cores. ``--set preset=course`` gives the course's
  input size and width (bilinear upscaling of each batch on the device, as the course's
  ``Resize``); ``input_size`` and ``width`` override either preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis.flops import count_flops
from divelab.config import FashionOptimConfig, OptimizerName, ScheduleName, setting
from divelab.data.augment import Augment
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.classify import train_classifier
from divelab.models.lenet import LeNet
from divelab.models.registry import MODELS, ModelSpec

IMAGE_SIZE = 28  # Fashion-MNIST


@dataclass
class LeNetConfig(FashionOptimConfig):
    """The course's LeNet training: SGD with lr 0.9 (sigmoids learn slowly), batch 256, 10 epochs."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.9


def lenet(cfg: LeNetConfig, ctx: RunContext) -> dict[str, Any]:
    return train_classifier(cfg, ctx, LeNet())


# ---- the architectures of the registry --------------------------------------------------------

class Resized(nn.Module):
    """``model`` applied to each batch resized to ``size × size`` (bilinear), when that differs
    from the images' size: upscaling happens per batch on the device, never for the whole set."""

    def __init__(self, model: nn.Module, size: int):
        super().__init__()
        self.model, self.size = model, size

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.model(x)


@dataclass
class ArchitectureConfig(FashionOptimConfig):
    """Which size of the network to train: ``preset`` cpu (default) or course; ``input_size``
    and ``width`` override the preset's when > 0. Training defaults: 5 epochs of SGD with
    momentum 0.9 and a cosine schedule, batch 128 (the course: 10 epochs of plain SGD —
    ``--epochs 10 --set optimizer=sgd --set schedule=constant`` with its lr)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.05
    optimizer: OptimizerName = "momentum"
    schedule: ScheduleName = "cosine"
    preset: Literal["cpu", "course"] = "cpu"
    input_size: int = setting(0, ge=0, note="0: the preset's")
    width: float = setting(0.0, ge=0, note="0: the preset's")
    augment: bool = False  # random crop (2 px padding) and horizontal flip of each training image


@dataclass
class ResNetConfig(ArchitectureConfig):
    """ResNet trains 10 epochs as in the course, at width 1/4 with weight decay 5e-4: the
    CPU preset's width 1/8 stops at ≈ 0.919 after 10 epochs (0.915 after 5), with or without
    the decay, and crop + flip augmentation does not help within 10 epochs (0.914)."""

    epochs: int = 10
    width: float = 0.25
    weight_decay: float = 5e-4


def _build(spec: ModelSpec, cfg: ArchitectureConfig) -> tuple[nn.Module, dict[str, Any]]:
    """The network of ``spec`` at ``cfg``'s size, behind a resize to its input size; and that size."""
    kwargs = spec.kwargs(cfg.preset)
    if cfg.input_size:
        kwargs["input_size"] = cfg.input_size
    if cfg.width:
        kwargs["width"] = cfg.width
    try:
        model = spec.build(**kwargs)
    except ValueError as exc:
        raise UserError(f"{spec.name}: {exc}") from None
    return Resized(model, kwargs["input_size"]), kwargs


def _architecture(name: str, config: type[ArchitectureConfig] = ArchitectureConfig) -> Experiment:
    """The experiment that trains registry model ``name`` and reports its size and cost with its accuracy."""
    spec = MODELS[name]

    def run(cfg: ArchitectureConfig, ctx: RunContext) -> dict[str, Any]:
        model, kwargs = _build(spec, cfg)
        flops = count_flops(model.model, (1, kwargs["input_size"], kwargs["input_size"])).flops
        augment = Augment(padding=2, flip_p=0.5, degrees=0.0, scale=(1.0, 1.0)) if cfg.augment else None
        summary = train_classifier(cfg, ctx, model, augment=augment)
        return {**summary, "input_size": kwargs["input_size"], "width": kwargs["width"], "mflops_per_image": flops / 1e6}

    return Experiment(name, "cnn", f"{spec.description}; {spec.section}", config, run)


EXPERIMENTS = [
    Experiment("lenet", "cnn", "the course's LeNet-5 (sigmoid, avg-pool, SGD lr 0.9) on Fashion-MNIST",
               LeNetConfig, lenet),
    *(_architecture(name) for name in ("lenet-modern", "alexnet", "vgg", "nin", "googlenet")),
    _architecture("resnet", ResNetConfig),
    _architecture("densenet"),
]
