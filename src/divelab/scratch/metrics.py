"""Classification accuracy: how often the highest score belongs to the true class."""

from __future__ import annotations

from torch import Tensor


def correct(output: Tensor, target: Tensor) -> Tensor:
    """Count the rows whose predicted class is the true one.

    ``correct = Σ_i [argmax_j output_{i,j} = target_i]``, returned as a 0-dim int64
    tensor on ``output``'s device, so a training loop can add these up without
    waiting for the device (no ``.item()``).

    Twin: (output.argmax(-1) == target).sum()
    """
    predicted = output.argmax(dim=-1)
    if predicted.shape != target.shape:
        raise ValueError(f"target must have shape {tuple(predicted.shape)}, got {tuple(target.shape)}")
    return (predicted == target).sum()


def accuracy(output: Tensor, target: Tensor) -> float:
    """Fraction of rows classified correctly.

    ``accuracy = correct(output, target) / n`` with ``n`` the number of rows.

    Twin: (output.argmax(-1) == target).float().mean().item()
    """
    n = target.numel()
    if n == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return correct(output, target).item() / n
