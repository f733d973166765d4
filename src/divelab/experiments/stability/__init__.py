"""Chapter 3 — numerical stability: initialisation, gradient flow, batch norm, gradient clipping.

One module per experiment (or scratch + library pair), in the course's order:

- :mod:`~.initialisation` — ``init``: activation scale through a deep stack, scratch inits vs ``nn.init``;
- :mod:`~.grad_flow` — ``grad-flow``: per-layer gradient norms in vanishing, exploding and healthy regimes;
- :mod:`~.batchnorm` — ``batchnorm-scratch`` / ``batchnorm``: LeNet with and without batch norm;
- :mod:`~.grad_clip` — ``grad-clip``: an exploding RNN made stable by clipping.

:mod:`~.common` holds what they share. Sizes are chosen so each experiment's default run
takes at most about two minutes on 2 CPU cores (see each config's docstring).
"""

from divelab.experiment import Experiment
from divelab.experiments.stability import batchnorm, grad_clip, grad_flow, initialisation

EXPERIMENTS: list[Experiment] = [*initialisation.EXPERIMENTS, *grad_flow.EXPERIMENTS, *batchnorm.EXPERIMENTS,
                                 *grad_clip.EXPERIMENTS]
