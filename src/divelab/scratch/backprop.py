"""Backpropagation written by hand: an MLP whose backward pass is ours, not autograd's.

Every layer is a small object with two methods:

- ``forward(x)`` computes its output and keeps what the backward pass will need
  (its input, or its output, or a mask);
- ``backward(g)`` receives ``g = ∂L/∂(its output)`` and returns ``∂L/∂(its input)``,
  filling ``grad_weight`` / ``grad_bias`` on the way if the layer has parameters.

Chaining them in reverse order is the chain rule: for ``L = ℓ(f_k(… f_1(x)))``,
``∂L/∂h_{i-1} = ∂L/∂h_i · ∂h_i/∂h_{i-1}``, one layer at a time. Nothing here records a
graph for autograd: every ``forward`` and ``backward`` runs under ``torch.no_grad()``,
and the parameters are plain tensors (no ``requires_grad``).

Twin: the same network made of ``nn.Flatten``, ``nn.Linear``, ``nn.ReLU`` / ``nn.Sigmoid`` /
``nn.Tanh`` and ``F.cross_entropy``, differentiated by autograd (``loss.backward()``), and
``torch.optim.SGD`` for the update.

One idea in one module: the layers, the loss and the MLP that chains them are read together as
the chain rule, each layer's derivative in its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import torch
from torch import Tensor

from divelab.scratch.activations import relu, sigmoid, tanh
from divelab.scratch.linear import init_linear
from divelab.scratch.softmax import log_softmax

Activation = Literal["relu", "sigmoid", "tanh"]


class Layer(Protocol):
    """What the :class:`MLP` container needs of a layer."""

    def forward(self, x: Tensor) -> Tensor: ...

    def backward(self, grad_out: Tensor) -> Tensor: ...

    def describe(self) -> str: ...


def _no_input_yet(layer: object) -> RuntimeError:
    return RuntimeError(f"{type(layer).__name__}.backward called before forward")


# ---- layers ---------------------------------------------------------------------------------

class Flatten:
    """Turn each example into a row vector: ``(n, d1, d2, …) → (n, d1·d2·…)``.

    Backward only undoes the reshape: ``∂L/∂x = reshape(∂L/∂y, shape of x)``.

    Twin: torch.nn.Flatten
    """

    def __init__(self) -> None:
        self._shape: torch.Size | None = None

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)  # (n, ...) -> (n, d)

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> Tensor:
        if self._shape is None:
            raise _no_input_yet(self)
        return grad_out.reshape(self._shape)  # (n, d) -> (n, ...)

    def describe(self) -> str:
        return "Flatten"


class Linear:
    """Fully connected layer ``y = x Wᵀ + b`` with ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``.

    For ``x`` of shape ``(n, in)`` and upstream gradient ``g = ∂L/∂y`` of shape ``(n, out)``:

    - ``∂L/∂W = gᵀ x``   (``(out, n) @ (n, in)``: each example adds its outer product ``g_n x_nᵀ``),
    - ``∂L/∂b = Σ_n g_n`` (the bias is added to every row, so its gradients add up),
    - ``∂L/∂x = g W``    (``(n, out) @ (out, in)``).

    Weights start as ``N(0, std²)``, biases at 0 (the course's init, :func:`init_linear`).

    Twin: torch.nn.Linear
    """

    def __init__(self, in_features: int, out_features: int, *, std: float = 0.01,
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> None:
        self.weight, self.bias = init_linear(in_features, out_features, std=std, generator=generator,
                                             dtype=dtype, device=device)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self._x: Tensor | None = None

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        self._x = x
        return x @ self.weight.T + self.bias

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> Tensor:
        if self._x is None:
            raise _no_input_yet(self)
        self.grad_weight = grad_out.T @ self._x  # (out, n) @ (n, in) -> (out, in)
        self.grad_bias = grad_out.sum(dim=0)     # (n, out) -> (out,)
        return grad_out @ self.weight            # (n, out) @ (out, in) -> (n, in)

    def describe(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"


class ReLU:
    """``y = max(x, 0)``; backward lets the gradient through where the input was positive.

    ``∂L/∂x = g · 1[x > 0]`` (0 at ``x = 0``, as torch's autograd does).

    Twin: torch.nn.ReLU
    """

    def __init__(self) -> None:
        self._mask: Tensor | None = None

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        self._mask = x > 0
        return relu(x)

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> Tensor:
        if self._mask is None:
            raise _no_input_yet(self)
        return grad_out * self._mask

    def describe(self) -> str:
        return "ReLU"


class Sigmoid:
    """``y = σ(x) = 1 / (1 + exp(−x))``; its derivative is written with the cached output.

    ``∂L/∂x = g · y (1 − y)``.

    Twin: torch.nn.Sigmoid
    """

    def __init__(self) -> None:
        self._y: Tensor | None = None

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        self._y = sigmoid(x)
        return self._y

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> Tensor:
        if self._y is None:
            raise _no_input_yet(self)
        return grad_out * self._y * (1 - self._y)

    def describe(self) -> str:
        return "Sigmoid"


class Tanh:
    """``y = tanh(x)``; its derivative is written with the cached output.

    ``∂L/∂x = g · (1 − y²)``.

    Twin: torch.nn.Tanh
    """

    def __init__(self) -> None:
        self._y: Tensor | None = None

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        self._y = tanh(x)
        return self._y

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> Tensor:
        if self._y is None:
            raise _no_input_yet(self)
        return grad_out * (1 - self._y * self._y)

    def describe(self) -> str:
        return "Tanh"


class SoftmaxCrossEntropy:
    """Mean softmax cross-entropy of logits ``z`` (n, C) against class indices ``y`` (n,).

    Forward: ``L = (1/n) Σ_i [logsumexp(z_i) − z_{i, y_i}]``, computed stably through
    ``log_softmax`` (the largest logit is subtracted first).

    Backward: ``∂L/∂z = (softmax(z) − onehot(y)) / n`` — the derivative of ``logsumexp`` is
    the softmax, that of ``−z_{i,y_i}`` is ``−onehot(y_i)``, and the mean divides by ``n``.
    ``backward(grad_out)`` multiplies by ``grad_out = ∂(final)/∂L`` (1 when ``L`` is the objective).

    Twin: torch.nn.functional.cross_entropy
    """

    def __init__(self) -> None:
        self._probs: Tensor | None = None
        self._target: Tensor | None = None

    @torch.no_grad()
    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.dim() != 2 or target.shape != logits.shape[:1]:
            raise ValueError(f"expected logits (n, C) and target (n,), got {tuple(logits.shape)} "
                             f"and {tuple(target.shape)}")
        log_probs = log_softmax(logits, dim=1)
        self._probs = log_probs.exp()
        self._target = target
        return -log_probs.gather(1, target.unsqueeze(1)).mean()  # (n, 1) -> scalar

    @torch.no_grad()
    def backward(self, grad_out: Tensor | float = 1.0) -> Tensor:
        if self._probs is None or self._target is None:
            raise _no_input_yet(self)
        n = self._probs.shape[0]
        grad = self._probs.clone()
        grad[torch.arange(n, device=grad.device), self._target] -= 1  # softmax(z) − onehot(y)
        return grad * (grad_out / n)

    def describe(self) -> str:
        return "softmax-CE(y)"


# ---- the container --------------------------------------------------------------------------

class MLP:
    """A chain of layers ending in :class:`SoftmaxCrossEntropy`, trained by hand-written backprop.

    One training step::

        logits = model.forward(x)      # each layer caches what its backward needs
        loss = model.loss(logits, y)
        model.backward()               # ∂L/∂(every parameter), last layer first
        model.sgd_step(lr)             # θ ← θ − lr · ∂L/∂θ

    Twin: nn.Sequential of the same layers + F.cross_entropy + loss.backward() + torch.optim.SGD
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = list(layers)
        self.criterion = SoftmaxCrossEntropy()

    def forward(self, x: Tensor) -> Tensor:
        """Logits for a batch ``x``; every layer keeps its cache for :meth:`backward`."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy of the last logits; remembers what ``backward`` needs."""
        return self.criterion.forward(logits, target)

    def backward(self) -> Tensor:
        """Backpropagate ``∂L/∂L = 1`` from the loss to the input; returns ``∂L/∂x``.

        ``g ← layer.backward(g)`` for the loss and then each layer in reverse order: the
        chain rule, applied one layer at a time.
        """
        grad = self.criterion.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def linear_layers(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def parameters_and_grads(self) -> list[tuple[str, Tensor, Tensor]]:
        """``(name, parameter, gradient)`` for every parameter, named like ``nn.Sequential``'s
        ``state_dict`` keys (``"1.weight"`` is the weight of layer 1)."""
        out = []
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Linear):
                out.append((f"{index}.weight", layer.weight, layer.grad_weight))
                out.append((f"{index}.bias", layer.bias, layer.grad_bias))
        return out

    @torch.no_grad()
    def sgd_step(self, lr: float) -> None:
        """Plain minibatch SGD on the gradients of the last :meth:`backward`: ``θ ← θ − lr · ∂L/∂θ``.

        Twin: torch.optim.SGD(lr=lr) without momentum or weight decay
        """
        for _name, param, grad in self.parameters_and_grads():
            param.sub_(grad, alpha=lr)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> MLP:
        """Move (and cast) every parameter and gradient, in place; returns ``self``."""
        for layer in self.linear_layers():
            for attr in ("weight", "bias", "grad_weight", "grad_bias"):
                setattr(layer, attr, getattr(layer, attr).to(dtype=dtype, device=device))
        return self

    def num_parameters(self) -> int:
        return sum(param.numel() for _name, param, _grad in self.parameters_and_grads())

    def describe_graph(self) -> str:
        """The computational graph in one line, e.g.
        ``x → Flatten → Linear(784→256) → ReLU → Linear(256→10) → softmax-CE(y) → loss``;
        backward runs the same chain right to left."""
        return " → ".join(["x", *(layer.describe() for layer in self.layers), self.criterion.describe(), "loss"])


ACTIVATIONS: dict[str, Callable[[], Layer]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def build_mlp(sizes: Sequence[int], activation: Activation = "relu", *, std: float = 0.01,
              generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
              device: torch.device | str | None = None) -> MLP:
    """``Flatten → Linear(sizes[0]→sizes[1]) → act → … → Linear(sizes[-2]→sizes[-1])``.

    ``build_mlp([784, 256, 10])`` is the course's one-hidden-layer network. Weights are
    drawn layer by layer from ``generator`` (torch's global RNG if ``None``).
    """
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"sizes must hold ≥ 2 positive widths, got {list(sizes)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if not (std >= 0 and math.isfinite(std)):
        raise ValueError(f"std must be a finite number ≥ 0, got {std}")
    layers: list[Layer] = [Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out, std=std, generator=generator, dtype=dtype, device=device))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return MLP(layers)
