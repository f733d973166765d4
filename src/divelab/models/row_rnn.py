"""A vanilla RNN that classifies an image read row by row: the ``grad-clip`` experiment's model.

Each of the image's 28 rows is one time step of 28 pixels; the class is read off the last
hidden state. Backpropagating through the 28 steps multiplies 28 recurrent Jacobians, the
long product where gradients explode (Pascanu et al., 2013, "On the difficulty of training
recurrent neural networks") and where gradient-norm clipping was introduced.
"""

from __future__ import annotations

from torch import Tensor, nn


class RowRNN(nn.Module):
    """``nn.RNN`` (tanh) over the rows of (N, 1, 28, 28) images, then ``Linear(hidden → num_classes)``
    on the last step's hidden state."""

    def __init__(self, hidden: int = 128, num_classes: int = 10):
        super().__init__()
        self.rnn = nn.RNN(28, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        rows = x.flatten(1, 2)    # (N, 1, 28, 28) -> (N, 28 steps, 28 pixels)
        _, h = self.rnn(rows)     # h: (1, N, hidden), the last step's state
        return self.out(h[-1])
