"""Chapter 2 — generalisation: underfitting, overfitting, capacity, weight decay, model selection.

One module per experiment, in the course's order:

- :mod:`~.polyfit` — ``polyfit``: polynomials of degree 1, 3 and 19 fitted to the book's cubic;
- :mod:`~.capacity` — ``capacity``: the U-curve over degree and over training-set size;
- :mod:`~.weight_decay` — ``weight-decay``: the scratch L2 penalty against SGD's ``weight_decay``;
- :mod:`~.kfold` — ``kfold``: λ chosen by K-fold cross-validation.

``weight-decay`` and ``kfold`` share the high-dimensional regression of :mod:`~.high_dim`;
:mod:`~.common` holds the helpers of all four.

Losses are the course's ``½ mean (ŷ − y)²``, so pure label noise of std σ costs ``σ²/2``
(0.005 for σ = 0.1). The models are linear and the data sets small; each module gives its
default run's training time on a 2-core machine shared with other jobs (load ≈ 6), about a
third of that when idle.
"""

from divelab.experiment import Experiment
from divelab.experiments.generalization import capacity, kfold, polyfit, weight_decay

EXPERIMENTS: list[Experiment] = [*polyfit.EXPERIMENTS, *capacity.EXPERIMENTS, *weight_decay.EXPERIMENTS,
                                 *kfold.EXPERIMENTS]
