"""Data sources (one module each), the IDX reader and the tensor-resident batch loader."""

from divelab.data.loader import TensorLoader, split

__all__ = ["TensorLoader", "split"]
