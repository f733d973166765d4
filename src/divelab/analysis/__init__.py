"""Tools that look inside training: per-layer gradient flow and activation statistics."""

from divelab.analysis.layer_stats import (
    LayerStats,
    activation_stats,
    gradient_norms,
    weight_layers,
)

__all__ = [
    "LayerStats",
    "activation_stats",
    "gradient_norms",
    "weight_layers",
]
