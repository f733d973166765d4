"""The experiment registry: every experiment of every chapter, listed explicitly."""

from divelab.experiment import Experiment
from divelab.experiments import (attention, augmentation, backprop, basics, batch_size, char_transformer, cnn,
                                 concept_shift, conv_basics, covariate_shift, critical_points, deep_vs_shallow,
                                 ensemble, generalization, label_shift, language_model, model_selection, mt_data,
                                 optimizers, regularization, slot_filling, speedrun, stability, stn, training_guide,
                                 translation)

# in the course's order: foundations, the training guide, optimisation, CNNs, RNNs, translation
# and attention, shift
_MODULES = [basics, generalization, regularization, augmentation,
            training_guide, model_selection, deep_vs_shallow, ensemble,
            backprop, stability,
            critical_points, batch_size, optimizers,
            conv_basics, cnn, stn, speedrun,
            language_model, slot_filling,
            mt_data, attention, translation, char_transformer,
            covariate_shift, label_shift, concept_shift]

EXPERIMENTS: dict[str, Experiment] = {e.name: e for module in _MODULES for e in module.EXPERIMENTS}

__all__ = ["EXPERIMENTS"]
