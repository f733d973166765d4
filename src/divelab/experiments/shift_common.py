"""Helpers shared by the distribution-shift experiments (:mod:`~divelab.experiments.covariate_shift`,
:mod:`~divelab.experiments.label_shift`, :mod:`~divelab.experiments.concept_shift`): Fashion-MNIST
made to shift in a known way, with the shift detected and corrected.

A model's softmax probabilities in batches, mean ± std over repeats, and the check of a
fraction setting.
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.data import fashion_mnist

EVAL_BATCH = 2048
NUM_CLASSES = len(fashion_mnist.CLASS_NAMES)


@torch.inference_mode()
def predict_proba(model: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """Softmax probabilities of ``model`` for float images (N, 1, 28, 28), in batches; (N, k) on the CPU."""
    model.eval()
    parts = [F.softmax(model(images[i:i + EVAL_BATCH].to(device)), -1).cpu()
             for i in range(0, len(images), EVAL_BATCH)]
    return torch.cat(parts) if parts else torch.zeros(0, NUM_CLASSES)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
