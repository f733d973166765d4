"""Chapter 5 — convolutional networks trained on Fashion-MNIST.

- ``lenet``: the course's LeNet-5 with the course's settings (sigmoid, average pooling,
  Xavier init, SGD lr 0.9, batch 256, 10 epochs); d2l reports ≈ 0.80–0.82 test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from divelab.config import FashionOptimConfig
from divelab.experiment import Experiment, RunContext
from divelab.experiments.classify import train_classifier
from divelab.models.lenet import LeNet


@dataclass
class LeNetConfig(FashionOptimConfig):
    """The course's LeNet training: SGD with lr 0.9 (sigmoids learn slowly), batch 256, 10 epochs."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.9


def lenet(cfg: LeNetConfig, ctx: RunContext) -> dict[str, Any]:
    return train_classifier(cfg, ctx, LeNet())


EXPERIMENTS = [
    Experiment("lenet", "cnn", "the course's LeNet-5 (sigmoid, avg-pool, SGD lr 0.9) on Fashion-MNIST",
               LeNetConfig, lenet),
]
