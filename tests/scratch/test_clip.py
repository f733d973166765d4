"""Twin tests for scratch gradient norm clipping against torch.nn.utils.clip_grad_norm_.

float64 throughout; returned norms and clipped gradients must agree to ``atol=1e-12,
rtol=1e-10`` (float32: 1e-6), and below the threshold the gradients must be untouched.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from divelab.data import TensorLoader
from divelab.scratch.clip import clip_grad_norm
from divelab.train import Trainer
from divelab.train.callbacks import GradClip

pytestmark = pytest.mark.twin

TOL = {"atol": 1e-12, "rtol": 1e-10}
SHAPES = [(3, 4), (4,), (2, 3, 5), (1,)]


def _params_with_grads(scale, seed=0, dtype=torch.float64, shapes=SHAPES):
    """Two identical lists of parameters carrying the same random gradients, times ``scale``."""
    g = torch.Generator().manual_seed(seed)
    pairs = []
    for shape in shapes:
        grad = torch.randn(shape, generator=g, dtype=dtype) * scale
        a, b = (torch.zeros(shape, dtype=dtype, requires_grad=True) for _ in range(2))
        a.grad, b.grad = grad.clone(), grad.clone()
        pairs.append((a, b))
    return [a for a, _ in pairs], [b for _, b in pairs]


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 5.0, 1e6])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_matches_clip_grad_norm_(scale, max_norm):
    mine, theirs = _params_with_grads(scale)
    got = clip_grad_norm(mine, max_norm)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    torch.testing.assert_close(got, want, **TOL)
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a.grad, b.grad, **TOL)


def test_below_max_norm_nothing_changes():
    mine, _ = _params_with_grads(0.01)
    before = [p.grad.clone() for p in mine]
    total = clip_grad_norm(mine, 100.0)
    assert all(torch.equal(p.grad, b) for p, b in zip(mine, before))
    assert total.item() == pytest.approx(math.sqrt(sum((b**2).sum().item() for b in before)), rel=1e-12)


def test_above_max_norm_direction_kept_length_capped():
    mine, _ = _params_with_grads(10.0)
    before = torch.cat([p.grad.flatten() for p in mine])
    total = clip_grad_norm(mine, 2.0)
    after = torch.cat([p.grad.flatten() for p in mine])
    assert total.item() == pytest.approx(before.norm().item(), rel=1e-12)
    assert after.norm().item() == pytest.approx(2.0, rel=1e-6)  # 2 · ‖g‖ / (‖g‖ + 1e-6)
    torch.testing.assert_close(after / after.norm(), before / before.norm(), **TOL)


def test_float32_and_huge_gradients():
    mine, theirs = _params_with_grads(1e17, dtype=torch.float32)
    got, want = clip_grad_norm(mine, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want, atol=0, rtol=1e-6)
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-7, rtol=1e-6)


def test_overflowing_norm_behaves_like_torch():
    """Squares of 1e25 overflow float32: both report an infinite norm and zero the gradients."""
    mine, theirs = _params_with_grads(1e25, dtype=torch.float32)
    got, want = clip_grad_norm(mine, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert torch.isinf(got) and torch.isinf(want)
    for a, b in zip(mine, theirs):
        assert torch.equal(a.grad, b.grad) and not a.grad.any()


def test_parameters_without_gradient_single_tensor_and_empty():
    mine, theirs = _params_with_grads(5.0)
    mine.append(torch.zeros(3, requires_grad=True))  # no .grad: skipped
    theirs.append(torch.zeros(3, requires_grad=True))
    torch.testing.assert_close(clip_grad_norm(mine, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0), **TOL)
    assert mine[-1].grad is None

    single, twin = _params_with_grads(5.0, shapes=[(4, 4)])
    torch.testing.assert_close(clip_grad_norm(single[0], 1.0), torch.nn.utils.clip_grad_norm_(twin[0], 1.0), **TOL)
    torch.testing.assert_close(single[0].grad, twin[0].grad, **TOL)

    assert clip_grad_norm([], 1.0).item() == 0.0
    assert clip_grad_norm([torch.zeros(2, requires_grad=True)], 1.0).item() == 0.0


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(1e-4, 1e4), max_norm=st.floats(1e-3, 1e3), seed=st.integers(0, 1000))
def test_norm_after_clipping_never_exceeds_max_norm(scale, max_norm, seed):
    mine, _ = _params_with_grads(scale, seed=seed)
    before = clip_grad_norm(mine, max_norm).item()
    after = math.sqrt(sum((p.grad**2).sum().item() for p in mine))
    assert after <= max_norm * (1 + 1e-9) or after == pytest.approx(before, rel=1e-12)
    assert after <= before * (1 + 1e-12)


def test_as_clip_fn_of_gradclip_trains_like_torch():
    """A model trained with GradClip(scratch clip) ends bit-for-bit close to one clipped by torch."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (64,), generator=g)
    models = []
    for clip_fn in (clip_grad_norm, None):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
        clip = GradClip(0.05, clip_fn=clip_fn)
        trainer = Trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.5),
                          TensorLoader(x, y, batch_size=16, shuffle=True), epochs=3, callbacks=[clip], progress=False)
        history = trainer.fit()
        assert history[-1]["clipped_fraction"] > 0  # the threshold is low enough to act
        models.append(model)
    for a, b in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(a, b, **TOL)
