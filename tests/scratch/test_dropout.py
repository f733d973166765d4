"""Twin tests for scratch dropout against ``torch.nn.functional.dropout``.

The two draw their masks with different random algorithms (``torch.rand(...) < 1 − p``
here, ``bernoulli_(1 − p)`` inside torch), so equal outputs can only be asked for given
the same mask. The test recovers the mask torch draws and hands it to
:func:`apply_dropout_mask`:

1. With the global RNG seeded, ``F.dropout(ones, p)`` equals ``m / (1 − p)``: it is
   non-zero exactly where torch's mask ``m`` is 1, so this gives ``m``.
2. Seeding again and calling ``F.dropout(x, p)`` with ``x`` of the same shape and dtype
   replays the same draw (the mask depends on the RNG state, shape and dtype, never on the
   values of ``x``), so it computes ``x · m / (1 − p)`` with that very ``m``.

If either step were wrong — another mask, or another scaling — the outputs would differ,
so the twin test checks the recovery too. The masks themselves are then compared in
distribution: keep-rate within a binomial tolerance, ``E[y] = x``.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from divelab.scratch.dropout import apply_dropout_mask, dropout, dropout_mask
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

SHAPES = [(7,), (4, 5), (2, 3, 4, 5)]
PROBABILITIES = [0.1, 0.5, 0.9]
SIGMAS = 5.0  # statistical checks allow 5 standard deviations: a false alarm is ~1 in 10⁶


def torch_dropout_seeded(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    """``F.dropout(x, p)`` with the global RNG seeded to ``seed``, leaving the RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return F.dropout(x, p)


def torch_mask(shape: tuple[int, ...], p: float, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The keep-mask ``F.dropout`` draws after ``torch.manual_seed(seed)`` (step 1 above)."""
    scaled = torch_dropout_seeded(torch.ones(shape, dtype=dtype), p, seed)
    return (scaled != 0).to(dtype)


def nonzero_input(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Random values bounded away from 0, so a zero in the output can only come from the mask."""
    g = torch.Generator().manual_seed(seed)
    magnitude = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    return magnitude * sign


# ---- equal given the same mask ----------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", PROBABILITIES)
def test_apply_mask_matches_f_dropout_exactly(shape, p):
    """Values and gradients bit for bit (atol = rtol = 0): both compute ``x · (m / (1 − p))``."""
    seed = 1234
    mask = torch_mask(shape, p, seed)
    x = nonzero_input(shape, seed=1)
    assert_twin(lambda x: apply_dropout_mask(x, mask, p), lambda x: torch_dropout_seeded(x, p, seed), x,
                atol=0.0, rtol=0.0)


def test_mask_recovery_is_not_vacuous():
    """The recovered masks drop some units and keep others, and differ between seeds."""
    a, b = torch_mask((1000,), 0.5, seed=1), torch_mask((1000,), 0.5, seed=2)
    assert 0 < a.sum() < 1000
    assert not torch.equal(a, b)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.7, 1.0])
def test_dropout_is_mask_then_apply(p):
    """``dropout`` = ``dropout_mask`` then ``apply_dropout_mask``, with the same generator state."""
    x = nonzero_input((6, 9), seed=2)
    got = dropout(x, p, generator=torch.Generator().manual_seed(5))
    mask = dropout_mask(x.shape, p, generator=torch.Generator().manual_seed(5), dtype=x.dtype)
    torch.testing.assert_close(got, apply_dropout_mask(x, mask, p), atol=0.0, rtol=0.0)


@pytest.mark.parametrize("p", PROBABILITIES)
def test_gradient_is_mask_over_keep_probability(p):
    """``∂ dropout(x)_i / ∂ x_i = m_i / (1 − p)``, the mask read off the output."""
    x = nonzero_input((50, 20), seed=3).requires_grad_(True)
    y = dropout(x, p, generator=torch.Generator().manual_seed(0))
    y.sum().backward()
    mask = (y != 0).to(x.dtype)
    torch.testing.assert_close(x.grad, mask / (1 - p), atol=0.0, rtol=0.0)
    # and the kept values are x scaled by 1 / (1 − p), the dropped ones exactly 0
    torch.testing.assert_close(y.detach(), x.detach() * (mask / (1 - p)), atol=0.0, rtol=0.0)


# ---- the masks agree in distribution ----------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_keep_rate_is_one_minus_p_for_both(p):
    """Keep-rate over n units within SIGMAS binomial standard deviations √(p(1 − p)/n) of 1 − p."""
    n = 200_000
    tolerance = SIGMAS * math.sqrt(p * (1 - p) / n)
    ours = dropout_mask((n,), p, generator=torch.Generator().manual_seed(0)).mean().item()
    theirs = torch_mask((n,), p, seed=0).mean().item()
    assert abs(ours - (1 - p)) < tolerance
    assert abs(theirs - (1 - p)) < tolerance


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_expected_output_is_the_input(p):
    """Over N draws the mean of ``y_i`` is ``x_i`` within SIGMAS·|x_i|·√(p / ((1 − p) N)).

    (``y_i = x_i m_i / (1 − p)`` has mean ``x_i`` and variance ``x_i² p / (1 − p)``.)
    """
    draws, width = 4000, 300
    x = nonzero_input((width,), seed=4)
    y = dropout(x.expand(draws, width), p, generator=torch.Generator().manual_seed(1))  # (N, width), fresh masks
    tolerance = SIGMAS * x.abs() * math.sqrt(p / ((1 - p) * draws))
    assert ((y.mean(dim=0) - x).abs() < tolerance).all()


def test_each_call_draws_a_fresh_mask():
    x = torch.ones(1000, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(dropout(x, 0.5, generator=g), dropout(x, 0.5, generator=g))
    torch.manual_seed(0)
    assert not torch.equal(dropout(x, 0.5), dropout(x, 0.5))  # the global RNG too


def test_same_generator_seed_same_output():
    x = nonzero_input((30, 4), seed=5)
    a = dropout(x, 0.4, generator=torch.Generator().manual_seed(9))
    b = dropout(x, 0.4, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


# ---- edge cases -------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.5])
def test_eval_mode_and_p_zero_are_the_identity(p):
    """``training=False`` (any p) and ``p = 0`` return x itself, as F.dropout does."""
    x = nonzero_input((5, 3), seed=6)
    assert dropout(x, p, training=False) is x
    assert dropout(x, 0.0) is x
    assert F.dropout(x, p, training=False) is x and F.dropout(x, 0.0) is x
    assert_twin(lambda x: dropout(x, p, training=False), lambda x: F.dropout(x, p, training=False), x)


@pytest.mark.parametrize("shape", SHAPES)
def test_p_one_drops_everything(shape):
    """All zeros, gradient 0, no NaN from 1 / (1 − p): the same as F.dropout(x, 1)."""
    x = nonzero_input(shape, seed=7)
    out = assert_twin(lambda x: dropout(x, 1.0), lambda x: F.dropout(x, 1.0), x)
    assert torch.equal(out, torch.zeros_like(out))
    assert not dropout_mask(shape, 1.0).any()


def test_keeps_dtype_and_shape():
    x = torch.randn(3, 4, dtype=torch.float32)
    y = dropout(x, 0.5)
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert dropout_mask((2, 2), 0.5, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_zero_one_is_rejected(p):
    x = torch.ones(3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(x, p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(x, p, training=False)  # checked even when it would not be used, as torch does
    with pytest.raises(ValueError):
        dropout_mask((3,), p)
    with pytest.raises(ValueError):
        apply_dropout_mask(x, torch.ones(3), p)
    with pytest.raises((ValueError, RuntimeError)):  # torch: ValueError, but RuntimeError for NaN
        F.dropout(x, p)
