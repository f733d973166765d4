"""``init`` on tiny settings and fake data: naive inits explode or vanish, Xavier and He keep the scale."""

import divelab


def test_init_schemes_explode_vanish_or_keep_the_scale(fake_data, tmp_path):
    s = divelab.run("init", depth=10, width=128, samples=64, draws=4, out=tmp_path / "init", progress=False).summary
    assert s["relu_n_0_1_std_last"] / s["relu_n_0_1_std_first"] > 1e6        # ×√(128/2) = 8 per layer
    assert s["relu_n_0_0_01_std_last"] / s["relu_n_0_0_01_std_first"] < 1e-6
    for scheme in ("relu_he_normal", "relu_he_uniform", "tanh_xavier_normal", "tanh_xavier_uniform"):
        assert 1 / 3 < s[f"{scheme}_std_last"] / s[f"{scheme}_std_first"] < 3, scheme
    assert s["same_seed_max_abs_diff"] == 0.0   # scratch and nn.init: bit-for-bit with one seed
    assert s["max_rel_diff"] < 0.5 and s["max_z"] < 5  # independent draws: equal within noise
