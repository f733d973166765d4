"""``grad-clip`` on tiny settings and fake data: only the clipped run is clipped."""

import divelab


def test_grad_clip_clips_the_clipped_run_only(fake_data, tmp_path):
    s = divelab.run("grad-clip", epochs=1, hidden=16, max_norm=1e-3, out=tmp_path / "gc", progress=False).summary
    assert s["above_max_norm_fraction"] == 1.0 and s["unclipped_above_max_norm_fraction"] == 1.0
    assert s["grad_norm_max"] > 1e-3            # norms are logged before clipping
    assert s["train_loss"] != s["unclipped_train_loss"]  # clipping changed the updates
    assert not s["diverged"] and not s["unclipped_diverged"]
