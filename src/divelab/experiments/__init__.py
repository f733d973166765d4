"""The experiment registry: every experiment of every chapter, listed explicitly."""

from divelab.experiment import Experiment
from divelab.experiments import (attention, augmentation, backprop, basics, batch_size, cnn, conv_basics,
                                 critical_points, distribution_shift, generalization, language_model, mt_data, optimizers,
                                 regularization, slot_filling, speedrun, stability, stn, translation)

# in the course's order: foundations, optimisation, CNNs, RNNs, translation and attention, shift
_MODULES = [basics, generalization, regularization, augmentation, backprop, stability,
            critical_points, batch_size, optimizers,
            conv_basics, cnn, stn, speedrun,
            language_model, slot_filling,
            mt_data, attention, translation,
            distribution_shift]

EXPERIMENTS: dict[str, Experiment] = {e.name: e for module in _MODULES for e in module.EXPERIMENTS}

__all__ = ["EXPERIMENTS"]
