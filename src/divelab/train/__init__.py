"""The trainer, its checkpoints and its progress display."""

from divelab.train.trainer import Interrupted, Trainer, TrainingDiverged, evaluate

__all__ = ["Interrupted", "Trainer", "TrainingDiverged", "evaluate"]
