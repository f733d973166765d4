"""Per-layer gradient norms and activation statistics: where a deep network's signal fades or blows up.

Backpropagation multiplies one Jacobian per layer, so in a deep network the gradient that
reaches the first layers can be many orders of magnitude smaller (vanishing) or larger
(exploding) than the one at the output. These tools measure that, layer by layer:

- :func:`weight_layers` — the layers with a weight matrix or kernel, input to output;
- :func:`gradient_norms` — ``‖∂loss/∂W_l‖`` of every such layer for one backward pass;
- :func:`activation_stats` — mean and standard deviation of chosen modules' outputs for one
  forward pass (forward hooks);
- :class:`LayerStats` — the same two during training, as a trainer callback.

Their figures (a quantity against layer depth) are in :mod:`divelab.report.layer_figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from divelab.train.callbacks import Callback

if TYPE_CHECKING:
    from divelab.train.trainer import Trainer


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Modules with a weight of ≥ 2 dimensions (Linear, Conv…), by name, in registration order.

    For an ``nn.Sequential`` that order is input to output. Normalisation layers (1-D
    weights) are left out: they are not where the signal is multiplied.
    """
    return {name: m for name, m in model.named_modules()
            if isinstance(getattr(m, "weight", None), Tensor) and m.weight.dim() >= 2}


def gradient_norms(model: nn.Module, loss: Tensor, layers: Mapping[str, nn.Module] | None = None) -> dict[str, float]:
    """``‖∂loss/∂W_l‖₂`` for each weight layer ``l`` (default: :func:`weight_layers`), from one backward pass.

    Uses ``torch.autograd.grad``, so the parameters' ``.grad`` are left as they were. A
    layer the loss does not depend on gets 0.
    """
    layers = weight_layers(model) if layers is None else layers
    weights = [m.weight for m in layers.values()]
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return {name: 0.0 if g is None else torch.linalg.vector_norm(g).item() for name, g in zip(layers, grads)}


@torch.no_grad()
def activation_stats(model: nn.Module, x: Tensor, modules: Mapping[str, nn.Module]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each of ``modules``' outputs when ``model(x)`` runs once."""
    stats: dict[str, dict[str, float]] = {}

    def hook_for(name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Tensor) -> None:
            stats[name] = {"mean": output.float().mean().item(), "std": output.float().std().item()}
        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in modules.items()]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: stats[name] for name in modules if name in stats}


class LayerStats(Callback):
    """Trainer callback: per-layer gradient norms and activation statistics, per epoch.

    After each backward pass it reads the ``.grad`` of the weight of each of ``layers``
    (default: :func:`weight_layers`) — as left by the callbacks before it in the list, so put
    it before a ``GradClip`` to see unclipped norms; during each training forward pass, hooks on
    ``activations`` (default: the same layers) take the mean and std of their outputs. Sums
    stay on the device (no sync per batch).

    At each epoch's end the record gains ``grad_norm_first`` and ``grad_norm_last`` (epoch
    means for the first and last watched layer), ``grad_norm_ratio`` (first / last) and
    ``act_std_first`` / ``act_std_last``; the full per-layer lists of every epoch are kept
    in ``self.history``. Call :meth:`remove` (done at the end of training) to drop the hooks.
    """

    def __init__(self, model: nn.Module, layers: Mapping[str, nn.Module] | None = None,
                 activations: Mapping[str, nn.Module] | None = None):
        self.layers = dict(weight_layers(model) if layers is None else layers)
        if not self.layers:
            raise ValueError("no layer with a weight to watch")
        self.activations = dict(self.layers if activations is None else activations)
        self.history: list[dict[str, Any]] = []
        self._reset()
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.activations.values())]

    def _reset(self) -> None:
        self._grad_sum: Tensor | None = None  # (layers,) sum of gradient norms over the epoch's steps
        self._steps = 0
        self._act_sum: Tensor | None = None   # (activations, 2): sums of (mean, std)
        self._act_count = 0

    def _hook(self, index: int) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Tensor) -> None:
            if not module.training:  # evaluation passes are not part of the training signal
                return
            out = output.detach().float()
            if self._act_sum is None:
                self._act_sum = torch.zeros(len(self.activations), 2, device=out.device)
            self._act_sum = self._act_sum.to(out.device)  # a no-op, except after resuming on another device
            self._act_sum[index, 0] += out.mean()
            self._act_sum[index, 1] += out.std()
            if index == 0:
                self._act_count += 1
        return hook

    def after_backward(self, trainer: Trainer) -> None:
        norms = torch.stack([torch.linalg.vector_norm(m.weight.grad) if m.weight.grad is not None
                             else m.weight.new_zeros(()) for m in self.layers.values()]).detach().float()
        self._grad_sum = norms if self._grad_sum is None else self._grad_sum.to(norms.device) + norms
        self._steps += 1

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"epoch": record["epoch"], "layers": list(self.layers)}
        if self._grad_sum is not None:
            grad = (self._grad_sum / self._steps).tolist()
            entry["grad_norm"] = grad
            record.update(grad_norm_first=grad[0], grad_norm_last=grad[-1],
                          grad_norm_ratio=grad[0] / grad[-1] if grad[-1] > 0 else None)
        if self._act_sum is not None and self._act_count:
            act = (self._act_sum / self._act_count).tolist()
            entry["act_mean"] = [a[0] for a in act]
            entry["act_std"] = [a[1] for a in act]
            record.update(act_std_first=act[0][1], act_std_last=act[-1][1])
        self.history.append(entry)
        self._reset()

    def on_train_end(self, trainer: Trainer) -> None:
        self.remove()

    def remove(self) -> None:
        """Detach the forward hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "grad_sum": self._grad_sum, "steps": self._steps,
                "act_sum": self._act_sum, "act_count": self._act_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self._grad_sum, self._steps = state["grad_sum"], int(state["steps"])
        self._act_sum, self._act_count = state["act_sum"], int(state["act_count"])
