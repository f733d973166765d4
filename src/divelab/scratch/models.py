"""The course's first models, computed with the scratch functions only.

They subclass ``torch.nn.Module`` just to hold their parameters, so ``.to(device)``,
``.double()``, ``parameters()`` and ``state_dict()`` work as for any torch model.
Weights follow torch's layout ``(out_features, in_features)`` and are drawn with
``init_linear`` from torch's global RNG (``torch.manual_seed`` makes them reproducible).
"""

from __future__ import annotations

from torch import Tensor, nn

from divelab.scratch.activations import relu
from divelab.scratch.linear import init_linear, linear


class LinearRegressionScratch(nn.Module):
    """Linear regression: one real number per example.

    ``ŷ = x wᵀ + b`` with ``w`` of shape ``(1, num_inputs)`` and ``b`` of shape ``(1,)``;
    ``forward`` returns shape ``(n,)``.

    Twin: torch.nn.Linear(num_inputs, 1), output squeezed on the last dimension
    """

    def __init__(self, num_inputs: int, std: float = 0.01) -> None:
        super().__init__()
        weight, bias = init_linear(num_inputs, 1, std=std)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    def forward(self, x: Tensor) -> Tensor:
        """Predict one value per row of ``x`` (shape ``(n, num_inputs)``)."""
        return linear(x, self.weight, self.bias).squeeze(-1)


class SoftmaxRegressionScratch(nn.Module):
    """Softmax regression: a linear map from the flattened input to one score per class.

    ``o = flatten(x) Wᵀ + b``; ``forward`` returns the logits ``o`` (the softmax is
    left to the loss, which computes it stably).

    Twin: torch.nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
    """

    def __init__(self, num_inputs: int = 784, num_outputs: int = 10, std: float = 0.01) -> None:
        super().__init__()
        weight, bias = init_linear(num_inputs, num_outputs, std=std)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape ``(n, num_outputs)`` for inputs of shape ``(n, ...)``."""
        return linear(x.flatten(start_dim=1), self.weight, self.bias)


class MLPScratch(nn.Module):
    """Multilayer perceptron with one hidden layer of ReLU units.

    ``h = relu(flatten(x) W1ᵀ + b1)``, ``o = h W2ᵀ + b2``; ``forward`` returns the logits ``o``.

    Twin: torch.nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
    nn.Linear(num_hiddens, num_outputs))
    """

    def __init__(
        self, num_inputs: int = 784, num_hiddens: int = 256, num_outputs: int = 10, std: float = 0.01
    ) -> None:
        super().__init__()
        w1, b1 = init_linear(num_inputs, num_hiddens, std=std)
        w2, b2 = init_linear(num_hiddens, num_outputs, std=std)
        self.w1 = nn.Parameter(w1)
        self.b1 = nn.Parameter(b1)
        self.w2 = nn.Parameter(w2)
        self.b2 = nn.Parameter(b2)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape ``(n, num_outputs)`` for inputs of shape ``(n, ...)``."""
        hidden = relu(linear(x.flatten(start_dim=1), self.w1, self.b1))
        return linear(hidden, self.w2, self.b2)
