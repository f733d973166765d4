"""The course's dropout network computed with the scratch functions only.

Like the models in ``divelab.scratch.models`` it subclasses ``torch.nn.Module`` just to
hold its parameters; ``self.training`` (set by ``.train()`` / ``.eval()``) decides
whether dropout is applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from divelab.scratch.activations import relu
from divelab.scratch.dropout import apply_dropout_mask, dropout
from divelab.scratch.linear import init_linear, linear


class DropoutMLPScratch(nn.Module):
    """MLP with inverted dropout after every hidden layer.

    ``h_0 = flatten(x)``, ``h_k = dropout(relu(h_{k−1} W_kᵀ + b_k), p_k)`` for each hidden
    layer ``k``, ``o = h_K W_outᵀ + b_out``; ``forward`` returns the logits ``o``. The
    defaults are d2l's: hidden (256, 256), dropouts (0.2, 0.5), weights ~ N(0, std²).
    Hidden weights live in ``weights[k]`` / ``biases[k]``, the output layer's last.

    Twin: divelab.models.MLP with dropouts (nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout)
    """

    def __init__(self, num_inputs: int = 784, hidden: Sequence[int] = (256, 256), num_outputs: int = 10,
                 dropouts: Sequence[float] = (0.2, 0.5), std: float = 0.01) -> None:
        super().__init__()
        if len(hidden) != len(dropouts):
            raise ValueError(f"need one dropout probability per hidden layer: {len(hidden)} layers, "
                             f"{len(dropouts)} probabilities")
        self.dropouts = tuple(float(p) for p in dropouts)
        widths = [num_inputs, *hidden, num_outputs]
        layers = [init_linear(n_in, n_out, std=std) for n_in, n_out in zip(widths[:-1], widths[1:])]
        self.weights = nn.ParameterList(nn.Parameter(w) for w, _ in layers)
        self.biases = nn.ParameterList(nn.Parameter(b) for _, b in layers)

    def forward(self, x: Tensor, masks: Sequence[Tensor] | None = None) -> Tensor:
        """Logits of shape ``(n, num_outputs)`` for inputs of shape ``(n, ...)``.

        In training mode each hidden layer draws a fresh dropout mask, unless ``masks``
        gives one per hidden layer (0.0 / 1.0, shape ``(n, hidden[k])``) — that lets a
        test replay the masks another implementation drew.
        """
        h = x.flatten(start_dim=1)  # (n, ...) -> (n, num_inputs)
        # indexed rather than sliced: a slice of a ParameterList is a new ParameterList,
        # which would re-wrap tensors passed in by torch.func.functional_call
        for k, p in enumerate(self.dropouts):
            h = relu(linear(h, self.weights[k], self.biases[k]))
            if masks is not None and self.training:
                h = apply_dropout_mask(h, masks[k], p)
            else:
                h = dropout(h, p, training=self.training)
        return linear(h, self.weights[-1], self.biases[-1])
