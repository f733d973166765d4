"""Models built from PyTorch's layers (``nn.Module``), the library side of each twin."""

from divelab.models.linear import LinearRegression, SoftmaxRegression
from divelab.models.mlp import MLP

__all__ = ["LinearRegression", "MLP", "SoftmaxRegression"]
