"""The experiment registry: every experiment of every chapter, listed explicitly."""

from divelab.experiment import Experiment
from divelab.experiments import augmentation, backprop, basics, generalization, regularization, stability

_MODULES = [basics, generalization, regularization, augmentation, backprop, stability]

EXPERIMENTS: dict[str, Experiment] = {e.name: e for module in _MODULES for e in module.EXPERIMENTS}

__all__ = ["EXPERIMENTS"]
