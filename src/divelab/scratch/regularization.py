"""The L2 penalty (weight decay), written as a term of the loss.

Weight decay keeps the weights small by adding their squared norm to what is minimised::

    L(w) = l(w) + λ · l2_penalty(w),     l2_penalty(w) = ½ ‖w‖² = ½ Σ_j w_j²

Its gradient is ``∇L = ∇l + λ w``, so one SGD step is ``w ← (1 − ηλ) w − η ∇l``: every step
first shrinks ("decays") the weights by the factor ``1 − ηλ``. That ``+ λ w`` is exactly
what ``torch.optim.SGD(..., weight_decay=λ)`` adds to each gradient, so the penalty in the
loss and the optimizer option take the same steps (also with momentum, which sees the
same sum). The ½ is there to make the gradient ``λ w`` rather than ``2 λ w``. Usually only
weights are penalised, not biases.

Twin: ``torch.optim.SGD(params, lr, weight_decay=λ)`` (same updates), and
``0.5 * torch.linalg.vector_norm(w) ** 2`` (same value).
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor


def l2_penalty(params: Tensor | Iterable[Tensor]) -> Tensor:
    """``½ Σ_p Σ_j p_j²`` over one tensor or several (e.g. every weight matrix of a model).

    Add ``λ · l2_penalty(weights)`` to the batch-mean loss; its gradient with respect to each
    ``p`` is ``λ p``, the term ``weight_decay=λ`` adds in ``torch.optim.SGD``.
    """
    tensors = [params] if isinstance(params, Tensor) else list(params)
    if not tensors:
        raise ValueError("l2_penalty needs at least one tensor, got none")
    total = (tensors[0] ** 2).sum()
    for p in tensors[1:]:
        total = total + (p ** 2).sum()
    return total / 2
