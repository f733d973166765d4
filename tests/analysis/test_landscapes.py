"""The 2-D test landscapes and the runs over them."""

from __future__ import annotations

import pytest
import torch

from divelab.analysis.landscapes import LANDSCAPES, Trajectory, grid, run


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_minimum_is_stationary_and_below_the_threshold_and_start_is_above(name):
    landscape = LANDSCAPES[name]
    p = torch.tensor(landscape.minimum, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(landscape(p), p)
    assert g.abs().max() < 1e-12
    assert landscape(p).item() < landscape.threshold < landscape(torch.tensor(landscape.start, dtype=torch.float64))


def test_gradient_descent_on_the_quadratic_follows_the_closed_form():
    """f = 0.1 x² + 2 y²: each GD step multiplies x by (1 − 0.2 lr) and y by (1 − 4 lr)."""
    landscape, lr = LANDSCAPES["ill-conditioned"], 0.1
    path = run(landscape, lambda params: torch.optim.SGD(params, lr=lr), steps=30).points
    t = torch.arange(31, dtype=torch.float64)
    x0, y0 = landscape.start
    torch.testing.assert_close(path[:, 0], x0 * (1 - 0.2 * lr) ** t)
    torch.testing.assert_close(path[:, 1], y0 * (1 - 4 * lr) ** t)


def test_steps_count_from_when_the_value_stays_below():
    values = torch.tensor([5.0, 0.5, 2.0, 0.5, 0.1, 0.2], dtype=torch.float64)
    assert Trajectory(torch.zeros(6, 2), values, threshold=1.0).steps_to_threshold == 3  # 0.5 at step 1 flew by
    assert Trajectory(torch.zeros(6, 2), values, threshold=0.15).steps_to_threshold is None  # ends above
    assert Trajectory(torch.zeros(2, 2), torch.tensor([0.0, 0.0]), threshold=1.0).steps_to_threshold == 0


def test_a_diverging_run_stops_and_never_arrives():
    trajectory = run(LANDSCAPES["rosenbrock"], lambda params: torch.optim.SGD(params, lr=0.1), steps=500)
    assert len(trajectory.values) < 50 and trajectory.steps_to_threshold is None


def test_grid_covers_the_plot_window():
    landscape = LANDSCAPES["saddle"]
    X, Y, Z = grid(landscape, n=11)
    assert X.shape == Y.shape == Z.shape == (11, 11)
    assert (X.min().item(), X.max().item()) == pytest.approx(landscape.xlim)
    assert Z[5, 5].item() == pytest.approx(0.0)  # the saddle point sits at the centre
