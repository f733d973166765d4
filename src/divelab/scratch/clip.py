"""Gradient norm clipping: cap the length of the whole gradient vector before a step.

All gradients together are treated as one long vector ``g``. If its L2 norm exceeds
``max_norm`` every gradient is scaled by the same factor, so the direction is kept and only
the length shrinks:

    ‖g‖ = √(Σ_p ‖g_p‖²),    g ← g · min(1, max_norm / (‖g‖ + 1e-6))

(the 1e-6 guards against a zero norm, as in PyTorch). A step of SGD then moves the
parameters by at most ``lr · max_norm``, however steep the loss is where it stands.

Twin: torch.nn.utils.clip_grad_norm_
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


@torch.no_grad()
def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float) -> Tensor:
    """Scale the ``.grad`` of ``parameters`` in place so their global L2 norm is at most ``max_norm``.

    Parameters without a gradient are skipped. Returns the total norm *before* clipping
    (a 0-dim tensor; ``tensor(0.)`` when no parameter has a gradient). A norm that overflows
    to inf zeroes the gradients, as in PyTorch. Fits
    ``divelab.train.callbacks.GradClip(max_norm, clip_fn=clip_grad_norm)``.

    Twin: torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    # the norm of the per-tensor norms is the norm of all entries together (computed as torch does)
    per_tensor = torch.stack([torch.linalg.vector_norm(g).to(grads[0].device) for g in grads])
    total = torch.linalg.vector_norm(per_tensor)
    # min(1, ·) by clamp rather than an `if`: no device-to-host sync, and scaling by exactly 1 changes nothing
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale.to(g.device))
    return total
