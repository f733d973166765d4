"""The model zoo, generated from the registry (as timm's test_models).

Every registered model, whatever its kind, runs its example input at both presets, returns
finite outputs of the shape its example promises, lets every parameter learn, and has its
parameters and multiply–accumulates counted. The CNNs (kind ``cnn``) also give (N, num_classes)
logits at their CPU default, scale with ``width`` and refuse inputs they cannot take; course-sized
shapes run on the ``meta`` device (no arithmetic), so the whole zoo stays fast."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.analysis.flops import count_call, count_parameters
from divelab.models import MODELS, ModelSpec, create_model, list_models
from divelab.models.examples import ImageExample, TokenExample, VectorExample
from divelab.models.registry import KINDS, get_spec

NAMES = list_models(kind="cnn")  # the scalable CNNs: the tests below that take ``width`` and ``input_size``
ALL = list(MODELS)


def _meta(spec: ModelSpec, **kwargs):
    with torch.device("meta"):
        return spec.build(**kwargs)


def _final_feature_side(model: nn.Module, x: torch.Tensor) -> int:
    """Side of the feature map entering the first Flatten or global pooling layer."""
    seen = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape[-1]))
             for m in model.modules() if isinstance(m, (nn.Flatten, nn.AdaptiveAvgPool2d))]
    model(x)
    for h in hooks:
        h.remove()
    return seen[0]


def test_registry_lists_the_course_networks_in_order():
    assert list_models("cnn") == NAMES == ["lenet", "lenet-modern", "alexnet", "vgg", "nin", "googlenet", "resnet",
                                           "densenet"]
    assert all(name == spec.name for name, spec in MODELS.items())


def test_registry_holds_every_model_family_in_the_courses_order():
    assert list_models() == ALL == [
        "linear-regression", "softmax-regression", "mlp", "plain-mlp", "residual-mlp", "relu-network",
        "deep-sawtooth", "shallow-sawtooth", *NAMES, "stn", "speednet", "rnn-lm", "gru-lm", "lstm-lm",
        "char-transformer", "row-rnn", "rnn-tagger", "elman-rnn", "jordan-rnn", "gru-seq2seq", "attention-seq2seq", "transformer"]
    assert {spec.kind for spec in MODELS.values()} == set(KINDS)
    assert sorted(sum((list_models(kind) for kind in KINDS), [])) == sorted(ALL)
    with pytest.raises(ValueError, match="kind must be one of cnn, image"):
        list_models("rnn")


@pytest.mark.parametrize("name", NAMES)
def test_cpu_default_gives_finite_logits_and_every_parameter_a_gradient(name):
    spec = MODELS[name]
    torch.manual_seed(0)
    model = create_model(name)
    s = spec.cpu_input_size
    x = torch.rand(4, 1, s, s)
    out = model(x)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    F.cross_entropy(out, torch.tensor([0, 3, 5, 9])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{pname}: zero or non-finite gradient"


@pytest.mark.parametrize("name", NAMES)
def test_course_setting_shapes(name):
    spec = MODELS[name]
    model = _meta(spec, **spec.course_kwargs(), num_classes=7, in_channels=3)
    s = spec.course_input_size
    x = torch.empty(2, 3, s, s, device="meta")
    assert model(x).shape == (2, 7)
    assert _final_feature_side(model, x) == model.final_size == model.feature_sizes[-1]


@pytest.mark.parametrize("name", NAMES)
def test_traced_sizes_match_the_layers_at_the_cpu_default(name):
    spec = MODELS[name]
    model = _meta(spec, **spec.cpu_kwargs())
    s = spec.cpu_input_size
    assert _final_feature_side(model, torch.empty(2, 1, s, s, device="meta")) == model.final_size


@pytest.mark.parametrize("name", NAMES)
def test_width_doubles_every_hidden_channel(name):
    """In (3 channels) and out (7 classes) stay; every other channel dimension of every parameter doubles."""
    spec = MODELS[name]
    kwargs = {**spec.course_kwargs(), "in_channels": 3, "num_classes": 7}
    one = dict(_meta(spec, **kwargs).named_parameters())
    two = dict(_meta(spec, **{**kwargs, "width": 2.0}).named_parameters())
    assert one.keys() == two.keys()
    for pname, p in one.items():
        q = two[pname]
        for d in range(min(p.dim(), 2)):  # channel dims; kernel sizes do not scale
            a, b = p.shape[d], q.shape[d]
            assert b == 2 * a or (a == b and a in (3, 7)), f"{pname} dim {d}: {a} -> {b}"
    n1, n2 = (sum(p.numel() for p in params.values()) for params in (one, two))
    assert 2 * n1 < n2 <= 4 * n1  # mostly ~w² (weights), partly ~w (biases, first/last layers)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_width_keeps_at_least_one_channel(name):
    spec = MODELS[name]
    model = _meta(spec, **{**spec.cpu_kwargs(), "width": 1e-3})
    assert all(m.out_channels >= 1 for m in model.modules() if isinstance(m, nn.Conv2d))
    s = spec.cpu_input_size
    assert model(torch.empty(2, 1, s, s, device="meta")).shape == (2, 10)


@pytest.mark.parametrize("name", NAMES)
def test_smallest_input_is_tight_and_smaller_ones_are_refused(name):
    spec = MODELS[name]
    model = _meta(spec, **{**spec.cpu_kwargs(), "input_size": spec.cpu_input_size})
    low = model.min_input_size
    assert low <= spec.cpu_input_size
    smallest = _meta(spec, **{**spec.cpu_kwargs(), "input_size": low})
    assert smallest(torch.empty(2, 1, low, low, device="meta")).shape == (2, 10)
    if low == 1:  # every window is padded: any image fits
        return
    with pytest.raises(ValueError, match=f"at least {low}×{low} pixels"):
        _meta(spec, **{**spec.cpu_kwargs(), "input_size": low - 1})
    # tight: the raw layers (no input check) do fail one pixel below
    x = torch.empty(2, 1, low - 1, low - 1, device="meta")
    with pytest.raises(RuntimeError):
        for layer in smallest.net:
            if isinstance(layer, nn.Flatten):
                break
            x = layer(x)
        raise AssertionError(f"{name} took {low - 1} px")  # pragma: no cover - reached only if tightness fails


@pytest.mark.parametrize("name", NAMES)
def test_wrong_batches_are_clear_value_errors(name):
    spec = MODELS[name]
    model = _meta(spec, **spec.cpu_kwargs())
    s = spec.cpu_input_size
    with pytest.raises(ValueError, match="1-channel images, got 3"):
        model(torch.empty(2, 3, s, s, device="meta"))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        model(torch.empty(1, s, s, device="meta"))
    if model.fixed_input_size:
        with pytest.raises(ValueError, match=f"built for {s}×{s} inputs"):
            model(torch.empty(2, 1, s + 4, s + 4, device="meta"))
    elif model.min_input_size > 1:
        low = model.min_input_size - 1
        with pytest.raises(ValueError, match="at least"):
            model(torch.empty(2, 1, low, low, device="meta"))


def test_unknown_name_suggests_close_ones_and_lists_all():
    known = r"known: linear-regression, .*, lenet, lenet-modern, .*transformer\)"
    with pytest.raises(ValueError, match=r"unknown model 'resnt'; did you mean resnet.*" + known):
        create_model("resnt")
    with pytest.raises(ValueError, match="known: "):
        get_spec("gpt")


def test_presets_and_overrides():
    spec = MODELS["alexnet"]
    assert spec.cpu_kwargs() == {"input_size": 28, "width": 0.125, "stem": "small"}
    assert spec.course_kwargs() == {"input_size": 224, "width": 1.0}
    model = create_model("alexnet", width=0.25)
    assert model.input_size == 28 and model.net[0].out_channels == 24 and model.net[0].kernel_size == (3, 3)
    with torch.device("meta"):
        course = create_model("alexnet", preset="course")
    assert course.input_size == 224 and course.net[0].kernel_size == (11, 11) and course.net[0].out_channels == 96
    with pytest.raises(ValueError, match="preset must be one of cpu, course"):
        create_model("alexnet", preset="gpu")


def test_specs_are_read_only():
    spec = MODELS["resnet"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cpu_width = 1.0
    with pytest.raises(TypeError):
        spec.cpu_options["stem"] = "course"
    assert spec.cpu_options["stem"] == "small"


@pytest.mark.parametrize("bad, pattern", [
    ({"width": 0}, "width must be a positive number"),
    ({"width": float("nan")}, "width must be a positive number"),
    ({"width": True}, "width must be a positive number"),
    ({"num_classes": 0}, "num_classes must be a positive integer"),
    ({"in_channels": 1.5}, "in_channels must be a positive integer"),
    ({"stem": "tiny"}, "stem must be 'course' or 'small'"),
])
def test_bad_arguments_are_value_errors(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        create_model("resnet", **bad)


# ---- every registered model, whatever its kind --------------------------------------------------

def _loss(out: torch.Tensor) -> torch.Tensor:
    """A fixed random projection of the output: every output element counts, none cancels
    (a plain sum would give zero gradient through a batch norm)."""
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    return (out * weights).sum()


@pytest.mark.parametrize("preset", ["cpu", "course"])
@pytest.mark.parametrize("name", ALL)
def test_every_model_runs_its_example_with_finite_outputs_of_the_promised_shape(name, preset):
    spec = MODELS[name]
    example = spec.example(preset)
    device = "meta" if spec.kind == "cnn" and preset == "course" else "cpu"  # course CNNs: shapes only
    with torch.device(device):
        model = spec.build(**spec.kwargs(preset))
    out = model(*example.inputs(batch=3, device=device))
    assert out.shape == example.output_shape(3)
    assert device == "meta" or torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_of_every_model_gets_a_gradient(name):
    """At the CPU default every parameter is reached by the backward pass; after a small random
    nudge of every parameter (so that a special initialisation — a batch norm's γ = 0 in a
    residual block, the spatial transformer's zero last layer — hides no path) every gradient
    is non-zero."""
    spec = MODELS[name]
    torch.manual_seed(0)
    model = create_model(name)
    inputs = spec.example().inputs(batch=4)
    _loss(model(*inputs)).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}.{pname}: no or a non-finite gradient"
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.zero_grad(set_to_none=True)
    _loss(model(*inputs)).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname}: zero gradient"


@pytest.mark.parametrize("name", ALL)
def test_every_model_has_its_parameters_and_multiply_accumulates_counted(name):
    """The count of one example's forward call is positive and the sum of its layers' counts, and a
    batch of 3 costs 3 examples (the MACs of one are the cost of an image, a sequence, a sentence pair);
    a translation example's later sources are shorter (12, 11, 10 tokens) and packed, so they cost less."""
    spec = MODELS[name]
    model = create_model(name)
    example = spec.example()
    one = count_call(model, *example.inputs(batch=1))
    assert count_parameters(model) > 0 and one.macs > 0 and one.macs == sum(one.by_layer.values())
    three = count_call(model, *example.inputs(batch=3)).macs
    assert three == 3 * one.macs if spec.kind != "translation" else 2 * one.macs < three <= 3 * one.macs


def test_examples_are_reproducible_and_say_what_they_are():
    a, b = TokenExample(10, 5, 10, low=2).inputs(4), TokenExample(10, 5, 10, low=2).inputs(4)
    assert torch.equal(a[0], b[0]) and int(a[0].min()) >= 2 and a[0].dtype == torch.int64
    assert ImageExample(28).describe() == "1×28×28 image" and VectorExample(1, outputs=1).output_shape(5) == (5, 1)
    src, src_len, tgt_in = MODELS["transformer"].example().inputs(3)
    assert src_len.tolist() == [12, 11, 10] and tgt_in.shape == (3, 10)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        ImageExample(28).inputs(0)


def test_non_cnn_overrides_and_presets():
    model = create_model("lstm-lm", vocab_size=80, hidden_size=16)
    assert model.vocab_size == 80 and model.hidden_size == 16 and model.cell == "lstm"
    assert MODELS["transformer"].course_kwargs() == MODELS["transformer"].cpu_kwargs()
    with pytest.raises(ValueError, match="preset must be one of cpu, course"):
        MODELS["mlp"].example("gpu")


@pytest.mark.parametrize("bad, pattern", [
    ({"kind": "rnn", "cpu_input_size": 28, "course_input_size": 28}, "kind must be one of"),
    ({"kind": "cnn"}, "a cnn is registered with cpu_input_size"),
    ({"kind": "image"}, "a image model is registered with inputs"),
    ({"kind": "image", "inputs": ImageExample(28), "cpu_input_size": 28}, "not an input size"),
])
def test_inconsistent_specs_are_refused(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        ModelSpec("x", nn.Identity, "", "", **bad)
