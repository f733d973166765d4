"""Twin tests: scratch affine_grid / grid_sample / SpatialTransformerScratch against F.affine_grid /
F.grid_sample / divelab.models.stn.SpatialTransformer, float64, values and gradients (theta, input,
grid, every parameter) to 1e-10."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from divelab.models.stn import SpatialTransformer
from divelab.scratch.spatial_transformer import (IDENTITY, SpatialTransformerScratch, affine_grid, grid_sample,
                                                  pixel_centres)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

# (N, C, H, W) of the output grid / image: square, wide, tall, one row, one column
SIZES = [(2, 1, 6, 6), (3, 2, 5, 9), (2, 3, 11, 4), (1, 2, 1, 7), (2, 1, 5, 1)]
ALIGN = [True, False]


def random_theta(n: int, seed: int, spread: float = 0.6) -> torch.Tensor:
    """``[I | 0]`` plus Gaussian noise: rotations, shears, zooms and shifts that push points outside."""
    g = torch.Generator().manual_seed(seed)
    return torch.eye(2, 3, dtype=torch.float64) + spread * torch.randn(n, 2, 3, generator=g, dtype=torch.float64)


def torch_affine_grid(theta: torch.Tensor, size: tuple[int, ...], align_corners: bool) -> torch.Tensor:
    with warnings.catch_warnings():  # torch warns about unit-size grids with align_corners=True; both use 0
        warnings.simplefilter("ignore", UserWarning)
        return F.affine_grid(theta, list(size), align_corners=align_corners)


def torch_grid_sample(x: torch.Tensor, grid: torch.Tensor, align_corners: bool) -> torch.Tensor:
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


# ---- affine_grid ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("align_corners", ALIGN)
def test_affine_grid_matches_torch(size, align_corners):
    """The grid and its gradient with respect to θ."""
    theta = random_theta(size[0], seed=sum(size))
    assert_twin(lambda t: affine_grid(t, size, align_corners), lambda t: torch_affine_grid(t, size, align_corners),
                theta)


@pytest.mark.parametrize("align_corners", ALIGN)
def test_identity_grid_is_the_pixel_centres(align_corners):
    """θ = [I | 0]: grid[n, i, j] = (x_j, y_i); ±1 are corner centres (True) or outer borders (False)."""
    grid = affine_grid(torch.eye(2, 3, dtype=torch.float64).expand(2, 2, 3), (2, 1, 3, 4), align_corners)
    xs = torch.tensor([-1, -1 / 3, 1 / 3, 1] if align_corners else [-0.75, -0.25, 0.25, 0.75], dtype=torch.float64)
    ys = torch.tensor([-1, 0, 1] if align_corners else [-2 / 3, 0, 2 / 3], dtype=torch.float64)
    torch.testing.assert_close(grid[..., 0], xs.expand(2, 3, 4), atol=1e-15, rtol=0)
    torch.testing.assert_close(grid[..., 1], ys.view(3, 1).expand(2, 3, 4), atol=1e-15, rtol=0)
    assert pixel_centres(1, align_corners, torch.float64).tolist() == [0.0]


def test_affine_grid_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 2, 3\)"):
        affine_grid(torch.zeros(2, 3, 3), (2, 1, 4, 4))
    with pytest.raises(ValueError, match="floating-point"):
        affine_grid(torch.zeros(2, 2, 3, dtype=torch.int64), (2, 1, 4, 4))
    with pytest.raises(ValueError, match="holds 2"):
        affine_grid(torch.zeros(2, 2, 3), (3, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        affine_grid(torch.zeros(2, 2, 3), (2, 4, 4))


# ---- grid_sample ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("align_corners", ALIGN)
def test_grid_sample_matches_torch_on_affine_grids(size, align_corners):
    """Input of another, non-square size (7×10) read at an affine grid of ``size``: values and
    gradients with respect to both the input and the grid."""
    n, c = size[:2]
    g = torch.Generator().manual_seed(sum(size))
    x = torch.randn(n, c, 7, 10, generator=g, dtype=torch.float64)
    grid = torch_affine_grid(random_theta(n, seed=sum(size) + 1), size, align_corners)
    assert_twin(lambda x, grid: grid_sample(x, grid, align_corners),
                lambda x, grid: torch_grid_sample(x, grid, align_corners), x, grid)


@pytest.mark.parametrize("align_corners", ALIGN)
def test_grid_sample_matches_torch_outside_the_image(align_corners):
    """Points spread over [−2, 2]²: many read zero padding entirely, many straddle the border."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, 6, 5, generator=g, dtype=torch.float64)
    grid = 4 * torch.rand(3, 9, 8, 2, generator=g, dtype=torch.float64) - 2
    out = assert_twin(lambda x, grid: grid_sample(x, grid, align_corners),
                      lambda x, grid: torch_grid_sample(x, grid, align_corners), x, grid)
    far = (grid.abs() > 1.5).any(-1)  # more than a pixel beyond the border (5 ≥ … ≥ 6 pixels wide)
    assert far.float().mean() > 0.3 and (out.abs().sum(1)[far] == 0).all()
    assert (out.abs().sum(1)[~far] > 0).float().mean() > 0.5


@pytest.mark.parametrize("align_corners", ALIGN)
def test_grid_sample_matches_torch_on_pixel_centres_and_borders(align_corners):
    """Points exactly on pixel centres and on ±1 (where ⌊u⌋ jumps): the one-sided gradient agrees.

    A 5×9 image, ``size − 1`` a power of two, so with align_corners=True the centres are exact
    binary fractions and fall exactly on integer pixel positions.
    """
    x = torch.randn(1, 2, 5, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    xs, ys = pixel_centres(9, True, torch.float64), pixel_centres(5, True, torch.float64)
    grid = torch.stack([xs.expand(5, 9), ys.view(5, 1).expand(5, 9)], -1).unsqueeze(0)  # (1, 5, 9, 2)
    assert_twin(lambda x, grid: grid_sample(x, grid, align_corners),
                lambda x, grid: torch_grid_sample(x, grid, align_corners), x, grid)


@pytest.mark.parametrize("align_corners", ALIGN)
def test_identity_returns_the_input_up_to_rounding(align_corners):
    """θ = [I | 0] reads every pixel at its own centre. Neither implementation is exact in
    general (for 28×28, 7×13 … the centre maps to k ± a few ulps, mixing in ~1e-15 of a
    neighbour); it is exact when the centres are binary fractions: align_corners=True with
    ``size − 1`` a power of two, align_corners=False with ``size`` a power of two."""
    exact = (5, 9) if align_corners else (8, 16)
    for h, w in [(28, 28), (7, 13), exact]:
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(h * w), dtype=torch.float64)
        theta = torch.eye(2, 3, dtype=torch.float64).expand(2, 2, 3)
        mine = grid_sample(x, affine_grid(theta, x.shape, align_corners), align_corners)
        theirs = torch_grid_sample(x, torch_affine_grid(theta, x.shape, align_corners), align_corners)
        for out in (mine, theirs):
            torch.testing.assert_close(out, x, atol=1e-13, rtol=0)
            if (h, w) == exact:
                assert torch.equal(out, x)


def test_grid_sample_keeps_float32():
    x = torch.rand(2, 1, 8, 8)
    grid = F.affine_grid(random_theta(2, seed=5).float(), [2, 1, 4, 6], align_corners=False)
    out = grid_sample(x, grid)
    assert out.dtype == torch.float32 and out.shape == (2, 1, 4, 6)
    torch.testing.assert_close(out, torch_grid_sample(x, grid, False), atol=1e-6, rtol=1e-5)


def test_grid_sample_rejects_bad_shapes():
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="same N"):
        grid_sample(x, torch.zeros(3, 4, 4, 2))
    with pytest.raises(ValueError, match="same N"):
        grid_sample(x, torch.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match="dtype"):
        grid_sample(x, torch.zeros(2, 4, 4, 2, dtype=torch.float64))


# ---- the module -------------------------------------------------------------------------------

def twin_modules(align_corners: bool, seed: int = 0) -> tuple[SpatialTransformerScratch, SpatialTransformer]:
    """Scratch and library transformers with the same float64 weights, θ pushed away from identity."""
    torch.manual_seed(seed)
    theirs = SpatialTransformer(2, 20, 24, hidden=16, align_corners=align_corners).double()
    with torch.no_grad():
        theirs.localization[-1].weight.normal_(0, 0.3)  # init is identity for every image: make θ depend on x
    mine = SpatialTransformerScratch(2, 20, 24, hidden=16, align_corners=align_corners).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


@pytest.mark.parametrize("align_corners", ALIGN)
def test_module_twins_agree_with_copied_weights(align_corners):
    """Outputs, the input gradient and every parameter gradient, through the localisation net too."""
    mine, theirs = twin_modules(align_corners)
    x = torch.rand(3, 2, 20, 24, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    theta = theirs.theta(x)
    assert (theta - torch.eye(2, 3, dtype=torch.float64)).abs().amax() > 0.1  # a real warp, not the identity
    assert_twin(mine, theirs, x)
    upstream = torch.randn(3, 2, 20, 24, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    for module in (mine, theirs):
        (module(x) * upstream).sum().backward()
    for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
        assert a.grad is not None and a.grad.abs().sum() > 0, name
        torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=1e-7, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("layer", [SpatialTransformerScratch, SpatialTransformer])
def test_module_starts_as_the_identity(layer):
    """Last layer weight 0, bias [1, 0, 0, 0, 1, 0]: θ = [I | 0] whatever the image, output = input."""
    stn = layer()
    assert torch.equal(stn.localization[-1].weight, torch.zeros(6, 32))
    assert stn.localization[-1].bias.tolist() == list(IDENTITY)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(stn.theta(x), torch.eye(2, 3).expand(4, 2, 3))
    torch.testing.assert_close(stn(x), x, atol=1e-5, rtol=0)  # float32 rounding of the centres


@pytest.mark.parametrize("layer", [SpatialTransformerScratch, SpatialTransformer])
def test_module_rejects_images_too_small_for_its_localisation_net(layer):
    with pytest.raises(ValueError, match="18×18"):
        layer(1, 16, 28)


@pytest.mark.parametrize("layer", [SpatialTransformerScratch, SpatialTransformer])
def test_only_the_scratch_module_calls_the_hand_written_functions(layer, monkeypatch):
    """The twin test above would pass vacuously if both sides ran the same code: count the calls of
    the hand-written functions, and of torch's."""
    import divelab.scratch.spatial_transformer as module

    calls: list[str] = []
    for owner, name in ((module, "affine_grid"), (module, "grid_sample"), (F, "affine_grid"), (F, "grid_sample")):
        original = getattr(owner, name)
        tag = f"{'torch' if owner is F else 'scratch'}.{name}"
        monkeypatch.setattr(owner, name, lambda *a, _f=original, _n=tag, **k: calls.append(_n) or _f(*a, **k))
    layer()(torch.rand(2, 1, 28, 28))
    side = "scratch" if layer is SpatialTransformerScratch else "torch"
    assert calls == [f"{side}.affine_grid", f"{side}.grid_sample"]


def test_non_finite_and_huge_coordinates_behave_as_in_torch():
    """NaN and ±inf → NaN, 1e30 → 0 (zero padding), without an out-of-range index."""
    x = torch.rand(1, 2, 4, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    nan, inf = float("nan"), float("inf")
    grid = torch.tensor([[[[nan, 0.0], [0.1, 0.2], [inf, 0.0], [0.0, -inf], [1e30, 0.0], [0.0, -1e30]]]],
                        dtype=torch.float64)
    torch.testing.assert_close(grid_sample(x, grid), torch_grid_sample(x, grid, False), equal_nan=True)
    assert grid_sample(x, grid)[..., 4:].eq(0).all()
