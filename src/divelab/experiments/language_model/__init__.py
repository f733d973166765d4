"""Chapter 6 — recurrent networks as language models of real text (d2l §9–10).

One module per experiment or tight family:

- :mod:`~.text_data` — ``text-data``: the corpus, its vocabularies, Zipf's law and the two ways
  of partitioning a sequence into minibatches;
- :mod:`~.recurrent` — ``rnn-scratch``, ``rnn``, ``gru-scratch``, ``gru``, ``lstm-scratch``,
  ``lstm``, ``deep-rnn``: character-level language models trained with
  truncated BPTT and gradient clipping;
- :mod:`~.birnn` — ``birnn``: a bidirectional LSTM as a language model, against the
  unidirectional one.

:mod:`~.common` holds what they share with each other and with ``char-transformer`` and
``subword-transformer`` (data — characters, words or BPE pieces —, per-epoch bits, final
metrics, ``vocab.json`` and ``samples.txt``).

At word level (``--set level=word``) ``test_bpc`` and ``train_bpc`` are bits per word.
Resuming: checkpoints are written at epoch ends, where the carried state is reset anyway,
so a run resumed from one ends exactly as an uninterrupted run; after a Ctrl-C in mid-epoch
the rest of that epoch starts from a zero state (the state is not checkpointed).
"""

from divelab.experiment import Experiment
from divelab.experiments.language_model import birnn, recurrent, text_data
from divelab.experiments.language_model.common import LMData, prepare
from divelab.experiments.language_model.recurrent import LMConfig, fit_lm
from divelab.experiments.language_model.text_data import TextDataConfig

EXPERIMENTS: list[Experiment] = [*text_data.EXPERIMENTS, *recurrent.EXPERIMENTS, *birnn.EXPERIMENTS]

__all__ = ["EXPERIMENTS", "LMConfig", "LMData", "TextDataConfig", "fit_lm", "prepare"]
