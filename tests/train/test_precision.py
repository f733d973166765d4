"""Mixed precision (bf16 autocast, fp16 with a grad scaler) and torch.compile in the trainer."""

from __future__ import annotations

import dataclasses
import json
from collections import namedtuple

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import divelab
from divelab import machine, runner
from divelab.cli import main
from divelab.data import TensorLoader
from divelab.train import Trainer, evaluate
from divelab.train import checkpoint
from divelab.train.precision import MixedPrecision, choose, to_float32

ORIGINAL_TRAINER = runner.RunContext.trainer


def _problem(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(400, 8, generator=gen)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()
    return x, y


def _trainer(precision="fp32", epochs=6, out_dir=None, compile=False, loss_fn=F.cross_entropy):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    return Trainer(model, loss_fn, optimizer, TensorLoader(*_problem(), batch_size=40, shuffle=True, seed=1),
                   TensorLoader(*_problem(1), batch_size=200), epochs=epochs, progress=False,
                   precision=precision, out_dir=out_dir, compile=compile)


def test_bf16_runs_the_forward_in_bf16_the_loss_in_fp32_and_learns_like_fp32():
    seen = {}

    def loss_fn(out, y):
        seen["loss_input"] = out.dtype
        return F.cross_entropy(out, y)

    bf16 = _trainer("bf16", loss_fn=loss_fn)
    bf16.model[0].register_forward_hook(lambda module, args, out: seen.update(linear=out.dtype))
    low = bf16.fit()
    full = _trainer("fp32").fit()
    assert seen == {"linear": torch.bfloat16, "loss_input": torch.float32}
    assert low[-1]["train_loss"] < 0.5 * low[0]["train_loss"]  # it learns
    # bf16 keeps 8 bits of mantissa: the same run ends near the same loss, not at the same bits
    assert low[-1]["train_loss"] == pytest.approx(full[-1]["train_loss"], abs=0.03)
    assert low[-1]["test_acc"] == pytest.approx(full[-1]["test_acc"], abs=0.03)
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())  # master weights stay fp32


def test_evaluate_under_bf16_is_close_to_fp32():
    trainer = _trainer()
    trainer.fit()
    loader = trainer.test_loader
    full = evaluate(trainer.model, loader, F.cross_entropy, classification=True)
    low = evaluate(trainer.model, loader, F.cross_entropy, classification=True, precision="bf16")
    assert low["loss"] != full["loss"] and low["loss"] == pytest.approx(full["loss"], rel=0.02)


def _fp16_or_skip() -> None:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            nn.Linear(2, 2)(torch.ones(1, 2))
        torch.amp.GradScaler("cpu")
    except (RuntimeError, ValueError) as exc:  # older torch: no fp16 autocast or scaler on the CPU
        pytest.skip(f"this torch has no fp16 autocast / GradScaler on the CPU ({exc})")


def test_fp16_scaler_state_is_checkpointed_and_restored(tmp_path):
    _fp16_or_skip()
    trainer = _trainer("fp16", epochs=2, out_dir=tmp_path)
    # a scale that overflows fp16 at once: the first steps are skipped and the scale backs off
    trainer.amp.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**22, growth_interval=3)
    history = trainer.fit()
    scale = trainer.amp.scaler.get_scale()
    assert scale < 2.0**22 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # skipped, never applied
    saved = checkpoint.load(tmp_path / "checkpoint")["scaler"]
    assert saved["scale"] == scale and saved["growth_interval"] == 3

    resumed = _trainer("fp16", epochs=3, out_dir=tmp_path)
    assert resumed.amp.scaler.get_scale() == 2.0**16  # the default, until restored
    resumed.restore()
    assert resumed.amp.scaler.get_scale() == scale and resumed.amp.scaler.get_growth_interval() == 3


def test_fp16_on_the_cpu_is_refused_by_the_runner(capsys):
    code = main(["run", "linreg", "--device", "cpu", "--set", "precision=fp16"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: precision=fp16 needs a CUDA GPU") and "bf16" in err


def test_unknown_precision_is_a_value_error():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16 .resolve auto"):
        MixedPrecision("fp8", "cpu")


def test_to_float32_reaches_into_containers():
    Out = namedtuple("Out", "logits state")
    half = torch.ones(2, dtype=torch.bfloat16)
    out = to_float32((half, [half, torch.ones(2, dtype=torch.int64)], {"a": half}, Out(half, None)))
    assert out[0].dtype == out[1][0].dtype == out[2]["a"].dtype == out[3].logits.dtype == torch.float32
    assert out[1][1].dtype == torch.int64 and isinstance(out[3], Out) and out[3].state is None
    assert to_float32(torch.ones(1, dtype=torch.float64)).dtype == torch.float64


def test_compile_wraps_the_forward_and_keeps_the_plain_model(monkeypatch, tmp_path):
    """With the eager backend (dynamo's tracing, no code generation: fast) the compiled run
    computes exactly what the plain one does; the checkpoint holds the plain model's keys."""
    calls = []
    real = torch.compile

    def spy(model, **kwargs):
        calls.append(model)
        return real(model, backend="eager")

    monkeypatch.setattr(torch, "compile", spy)
    torch._dynamo.reset()
    compiled = _trainer(epochs=1, compile=True, out_dir=tmp_path)
    compiled.fit()
    plain = _trainer(epochs=1)
    plain.fit()
    assert calls == [compiled.model]
    for a, b in zip(compiled.model.parameters(), plain.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert set(checkpoint.load(tmp_path / "checkpoint")["model"]) == set(plain.model.state_dict())


@pytest.mark.slow
def test_compile_with_inductor_trains_like_eager():
    """The real backend (C++ code generation, tens of seconds on a small CPU)."""
    torch._dynamo.reset()
    compiled = _trainer(epochs=2, compile=True).fit()
    plain = _trainer(epochs=2).fit()
    assert compiled[-1]["train_loss"] == pytest.approx(plain[-1]["train_loss"], abs=1e-5)


# ---- precision=auto: bf16 where the hardware is fast and the experiment allows it -------------

NO_BF16 = {"cpu_name": "test CPU", "avx2": True, "avx512_f": True, "avx512_bf16": False, "amx_bf16": False}
BF16 = NO_BF16 | {"avx512_bf16": True}


def with_cpu(monkeypatch, capabilities):
    """The CPU as if it had ``capabilities``, no instruction-set cap in the environment."""
    monkeypatch.setattr(machine, "cpu_capabilities", lambda: dict(capabilities))
    for name in machine.ISA_LIMITS:
        monkeypatch.delenv(name, raising=False)


def test_auto_is_bf16_only_where_the_cpu_has_bf16_instructions(monkeypatch):
    with_cpu(monkeypatch, NO_BF16)
    used, why = choose("auto", "cpu", experiment_allows_bf16=True)
    assert used == "fp32" and "neither AVX512_BF16 nor AMX_BF16" in why
    with_cpu(monkeypatch, BF16)
    assert choose("auto", "cpu", experiment_allows_bf16=True) == ("bf16", "auto: the CPU has AVX512_BF16")
    with_cpu(monkeypatch, NO_BF16 | {"amx_bf16": True})
    assert choose("auto", "cpu", experiment_allows_bf16=True)[0] == "bf16"


@pytest.mark.parametrize("name", ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"])
def test_auto_is_fp32_where_onednn_is_kept_below_the_bf16_instructions(monkeypatch, name):
    """An AVX2 CPU emulated on a bf16 one: oneDNN capped at AVX2 cannot use the bf16 units."""
    with_cpu(monkeypatch, NO_BF16 | {"amx_bf16": True})
    monkeypatch.setenv(name, "avx2")
    used, why = choose("auto", "cpu", experiment_allows_bf16=True)
    assert used == "fp32" and f"{name}=avx2 keeps oneDNN from the CPU's AMX_BF16" in why
    assert machine.facts("cpu")["isa_limits"][name] == "avx2"
    monkeypatch.setenv(name, "AVX512_CORE_BF16")  # allows AVX512_BF16, not AMX: still fast
    assert choose("auto", "cpu", experiment_allows_bf16=True)[0] == "bf16"


def test_onednn_reads_its_new_variable_before_the_old_one(monkeypatch):
    with_cpu(monkeypatch, BF16)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert choose("auto", "cpu", experiment_allows_bf16=True)[0] == "bf16"


def test_auto_keeps_fp32_for_an_experiment_not_shown_to_match_in_bf16(monkeypatch):
    with_cpu(monkeypatch, BF16)
    used, why = choose("auto", "cpu", experiment_allows_bf16=False)
    assert used == "fp32" and "measured in fp32" in why


def test_a_set_precision_is_used_as_it_is(monkeypatch):
    with_cpu(monkeypatch, NO_BF16)
    assert choose("bf16", "cpu", experiment_allows_bf16=False) == ("bf16", "precision=bf16 was set")
    assert choose("fp32", "cpu", experiment_allows_bf16=True)[0] == "fp32"


def test_machine_facts_name_the_cpu_its_flags_and_threads(monkeypatch):
    with_cpu(monkeypatch, BF16)
    facts = machine.facts("cpu")
    assert facts["cpu"] == "test CPU" and facts["flags"] == ["avx2", "avx512_f", "avx512_bf16"]
    assert facts["threads"] == torch.get_num_threads() and facts["torch"] == torch.__version__
    assert "isa_limits" not in facts


@pytest.fixture
def mlp_allowing_bf16(monkeypatch):
    """The mlp experiment as if its bf16 results had been shown to match fp32."""
    monkeypatch.setitem(runner.EXPERIMENTS, "mlp", dataclasses.replace(runner.EXPERIMENTS["mlp"], bf16=True))


@pytest.mark.parametrize("capabilities, used", [(BF16, "bf16"), (NO_BF16, "fp32")])
def test_the_choice_and_its_reason_are_recorded(fake_data, tmp_path, monkeypatch, mlp_allowing_bf16,
                                                 capabilities, used):
    with_cpu(monkeypatch, capabilities)
    seen = []
    monkeypatch.setattr(runner.RunContext, "trainer",
                        lambda self, *a, **k: seen.append(self.precision) or ORIGINAL_TRAINER(self, *a, **k))
    result = divelab.run("mlp", out=tmp_path / "run", progress=False, epochs=1, device="cpu")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["settings"]["precision"] == "auto"
    assert config["precision"]["used"] == used and config["precision"]["reason"].startswith("auto: ")
    assert config["machine"]["cpu"] == "test CPU"
    assert result.summary["precision"] == used and seen == [used]


def test_the_choice_is_printed_once_for_an_experiment_it_depends_on(fake_data, tmp_path, monkeypatch, capsys,
                                                                     mlp_allowing_bf16):
    with_cpu(monkeypatch, NO_BF16)
    divelab.run("mlp", out=tmp_path / "run", epochs=1, device="cpu")
    lines = [line for line in capsys.readouterr().err.splitlines() if "precision" in line]
    assert lines == ["mlp: precision fp32 (auto: the CPU has neither AVX512_BF16 nor AMX_BF16: bf16 would be "
                     "emulated, slower than fp32; --set precision=fp32 to force fp32)"]


def test_a_bf16_run_resumes_exactly_like_an_fp32_one(tmp_path):
    for precision in ("fp32", "bf16"):
        straight = _trainer(precision, epochs=4, out_dir=tmp_path / f"{precision}-straight")
        straight.fit()
        _trainer(precision, epochs=2, out_dir=tmp_path / precision).fit()
        resumed = _trainer(precision, epochs=4, out_dir=tmp_path / precision)
        resumed.fit(resume=True)
        for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
            assert torch.equal(a, b), precision
        assert resumed.history[-1]["train_loss"] == straight.history[-1]["train_loss"]
