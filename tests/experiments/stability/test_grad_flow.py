"""``grad-flow`` on fake data: the regimes are ordered at initialisation; the hidden-layer ratio."""

import divelab
from divelab.experiments.stability.grad_flow import hidden_ratio


def test_grad_flow_regimes_are_ordered(fake_data, tmp_path):
    """At initialisation, before any training: vanishing ≪ healthy ≪ exploding."""
    s = divelab.run("grad-flow", epochs=0, out=tmp_path / "gf", progress=False).summary
    assert s["sigmoid_normal_grad_ratio"] < 0.1
    assert s["tanh_normal_grad_ratio"] > 100
    for healthy in ("relu_he", "tanh_xavier", "sigmoid_normal_bn"):
        assert 0.1 < s[f"{healthy}_grad_ratio"] < 10, healthy
    assert s["sigmoid_normal_grad_ratio"] < s["relu_he_grad_ratio"] < s["tanh_normal_grad_ratio"]


def test_hidden_ratio_compares_the_first_and_last_hidden_layers():
    assert hidden_ratio([100.0, 8.0, 5.0, 2.0, 0.5]) == 4.0
