"""The stability experiments' shared training helper: a diverging sub-run is reported, not raised."""

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from divelab.config import RunConfig
from divelab.data import TensorLoader
from divelab.experiment import RunContext
from divelab.experiments.stability.common import fit_or_diverge


class NanAfter:
    """Cross-entropy that turns NaN from training batch ``n + 1`` on."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = F.cross_entropy(out, target)
        return loss * math.nan if self.calls > self.n else loss


def test_a_diverging_run_is_reported_not_raised(tmp_path):
    """4 batches per epoch, NaN from the 5th: the sub-run ends in epoch 2, epoch 1 is kept."""
    x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    model = nn.Linear(3, 2)
    ctx = RunContext(experiment="t", config=RunConfig(epochs=3), out_dir=Path(tmp_path), device=torch.device("cpu"),
                     progress=False)
    trainer = ctx.trainer(model, NanAfter(4), torch.optim.SGD(model.parameters(), lr=0.1),
                          TensorLoader(x, y, batch_size=8), name="nan")
    history, diverged_epoch = fit_or_diverge(ctx, trainer)
    assert diverged_epoch == 2 and [r["epoch"] for r in history] == [1]
    assert ctx.seconds is not None and ctx.seconds > 0
