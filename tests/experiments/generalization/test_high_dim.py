"""The weight-decay set-ups shared by ``weight-decay`` and ``kfold``: scratch penalty and library option agree."""

from __future__ import annotations

import pytest
import torch

from divelab.experiments.generalization.high_dim import weight_decay_library, weight_decay_scratch


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
def test_scratch_penalty_and_library_weight_decay_give_equal_weights(lam):
    """The experiment's two set-ups, in float64, after 60 minibatch steps from the same start."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 200, generator=g, dtype=torch.float64)
    y = X.sum(1) * 0.01 + 0.05 + 0.01 * torch.randn(20, generator=g, dtype=torch.float64)
    w0, b0 = torch.randn(1, 200, generator=g, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    scratch, library = weight_decay_scratch(w0, b0, lam, lr=0.003), weight_decay_library(w0, b0, lam, lr=0.003)
    for step in range(60):
        rows = slice(5 * (step % 4), 5 * (step % 4) + 5)
        for setup in (scratch, library):
            loss = setup.loss_fn(setup.model(X[rows]), y[rows])
            setup.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            setup.optimizer.step()
    assert scratch.weight.dtype == torch.float64
    torch.testing.assert_close(scratch.weight, library.weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(scratch.model.bias, library.model.net.bias, atol=1e-6, rtol=0)
    assert not torch.allclose(scratch.weight, w0)
