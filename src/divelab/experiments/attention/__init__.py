"""Chapter "attention" — attention pooling, scoring functions, multi-head attention, positional encoding.

Three small experiments on synthetic inputs (no data set, a few seconds each), built on
:mod:`divelab.scratch.attention` and checked against PyTorch, one module each:

- :mod:`~.pooling` — ``attention-pooling``: Nadaraya–Watson kernel regression as attention;
- :mod:`~.scoring` — ``attention-scoring``: masked softmax, additive and scaled dot-product
  attention, scratch vs ``F.scaled_dot_product_attention``;
- :mod:`~.multihead` — ``multihead-attention``: scratch vs ``nn.MultiheadAttention``, the
  key/value cache and the sinusoidal positional encoding.

:mod:`~.common` holds what they share.
"""

from divelab.experiment import Experiment
from divelab.experiments.attention import multihead, pooling, scoring

EXPERIMENTS: list[Experiment] = [*pooling.EXPERIMENTS, *scoring.EXPERIMENTS, *multihead.EXPERIMENTS]
