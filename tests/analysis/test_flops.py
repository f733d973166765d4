"""Parameter and MAC counting: hand-computed LeNet, and twin counts against torch's FlopCounterMode
(2 FLOPs per multiply–accumulate, biases not counted) on the zoo and on grouped, transposed and
3-D-input layers — exact equality."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from divelab import machine
from divelab.analysis import flops
from divelab.analysis.flops import count_flops, count_parameters, measure_throughput
from divelab.models import LeNet
from divelab.models.attention import FusedMultiHeadAttention
from divelab.models.char_transformer import CharTransformer
from divelab.models.registry import MODELS, list_models
from divelab.scratch.transformer import TransformerEncoderLayer

pytestmark = pytest.mark.twin


def _torch_flops(model: nn.Module, x: torch.Tensor) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def test_lenet_by_hand():
    """conv1 6·28²·25, conv2 16·10²·150, then 400·120 + 120·84 + 84·10 MACs per image."""
    model = LeNet()
    count = count_flops(model, (1, 28, 28))
    assert count.by_layer == {"net.0": 117_600, "net.3": 240_000, "net.7": 48_000, "net.9": 10_080, "net.11": 840}
    assert count.macs == 416_520 and count.flops == 2 * 416_520
    assert count_parameters(model) == 61_706


@pytest.mark.parametrize("name", list_models(kind="cnn"))
def test_zoo_twin_flop_counter_mode(name):
    """At the CPU default and at the course's setting; the former never costs more."""
    spec = MODELS[name]
    macs = {}
    for preset in ("cpu", "course"):
        with torch.device("meta"):  # shapes only: the course's VGG costs nothing here
            model = spec.build(**spec.kwargs(preset))
        s = spec.kwargs(preset)["input_size"]
        count = count_flops(model, (1, s, s))
        assert 2 * count.macs == _torch_flops(model, torch.empty(1, 1, s, s, device="meta"))
        assert count.macs == sum(count.by_layer.values())
        macs[preset] = count.macs
    assert 0 < macs["cpu"] <= macs["course"]


def test_real_tensors_give_per_image_counts():
    spec = MODELS["resnet"]
    model = spec.build(**spec.cpu_kwargs())
    per_image = count_flops(model, (1, 28, 28))
    assert 2 * per_image.macs * 3 == _torch_flops(model, torch.rand(3, 1, 28, 28))


@pytest.mark.parametrize("layer, shape", [
    (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (4, 9, 7)),
    (nn.Conv2d(4, 4, 3, groups=4, bias=False), (4, 8, 8)),
    (nn.ConvTranspose2d(3, 4, 3, stride=2), (3, 5, 5)),
    (nn.Conv1d(3, 5, 4, dilation=2), (3, 20)),
    (nn.Linear(6, 5), (7, 6)),  # a Linear layer on every one of 7 positions
])
def test_layer_twins(layer, shape):
    count = count_flops(layer, shape)
    assert 2 * count.macs * 2 == _torch_flops(layer, torch.rand(2, *shape))


def test_other_ops_of_cheap_layers():
    """ReLU 1 per element, batch norm 2, 2×2 max-pool 4 per output, global pooling 1 per input element."""
    model = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    count = count_flops(model, (2, 4, 4))
    assert count.macs == 0
    assert count.other_ops == 2 * 32 + 32 + 4 * 8 + 8


def test_counting_leaves_the_model_as_it_was():
    model = LeNet(batch_norm=True)  # BatchNorm1d in training mode refuses a batch of 1
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, (1, 28, 28))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # running stats untouched


def test_count_parameters_counts_shared_ones_once_and_can_skip_frozen():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(3, 2))
    assert count_parameters(model) == 12 + 8
    model[3].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 12 + 2


@pytest.mark.parametrize("shape", [(), (1, 0, 28), (1, 28.0, 28), (1, True, 28)])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(LeNet(), shape)


def test_measure_throughput_restores_the_model():
    model = LeNet()
    model.eval()
    rate = measure_throughput(model, (1, 28, 28), batch_size=8, steps=2)
    assert rate > 0 and not model.training
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="input_shape"):
        measure_throughput(model, (1, -28, 28))


def test_utilisation_is_six_macs_per_example_per_second_over_the_peak():
    numbers = flops.utilisation(macs_per_example=1_000_000, examples=60_000, seconds=2.0, peak_flops=1e12)
    assert numbers["model_gflops_per_s"] == pytest.approx(6 * 1e6 * 6e4 / 2 / 1e9)  # 180 GFLOP/s
    assert numbers["peak_gflops_per_s"] == pytest.approx(1000.0)
    assert numbers["mfu"] == pytest.approx(0.18)
    with pytest.raises(ValueError, match="positive"):
        flops.utilisation(1, 1, 0.0, 1e12)


def test_matmul_peak_is_a_plausible_rate_measured_once():
    first = machine.matmul_peak("cpu", "fp32", n=128, repeats=1)
    assert 1e6 < first < 1e15  # FLOP/s: more than a calculator, less than a supercomputer
    assert machine.matmul_peak("cpu", "fp32", n=128, repeats=1) == first  # cached: no second measurement


class _Recurrent(nn.Module):
    """A recurrent layer's output sequence (its state dropped), as a model would use it."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


@pytest.mark.parametrize("rnn, gates", [(nn.RNN(5, 7, batch_first=True), 1), (nn.GRU(5, 7, batch_first=True), 3),
                                        (nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True), 4)])
def test_recurrent_layers_by_hand(rnn, gates):
    """T · Σ_layers dirs · g · H · (I_l + H): every step, every gate, a matrix-vector product of input and state."""
    T, H = 11, 7
    dirs = 2 if rnn.bidirectional else 1
    inputs = [5] + [dirs * H] * (rnn.num_layers - 1)
    expected = T * sum(dirs * gates * H * (i + H) for i in inputs)
    assert count_flops(_Recurrent(rnn), (T, 5)).macs == expected


def test_lstm_and_head_count_the_lstm_products_flop_counter_mode_misses():
    """Issue 19's case: an LSTM language model's head alone was counted."""
    model = nn.Sequential(_Recurrent(nn.LSTM(80, 256, batch_first=True)), nn.Linear(256, 80))
    macs = count_flops(model, (64, 80)).macs
    assert macs == 64 * (4 * 256 * (80 + 256) + 256 * 80)
    assert 2 * macs > 5 * _torch_flops(model, torch.rand(1, 64, 80))  # the twin sees the head only, on a CPU


def test_multihead_attention_by_hand():
    """Projections L·E² + 2·S·E², scores and weighted sum 2·L·S·E, output projection L·E²."""

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    L, E = 9, 16
    count = count_flops(SelfAttention(), (L, E))
    assert count.macs == L * E * E + 2 * L * E * E + 2 * L * L * E + L * E * E
    assert set(count.by_layer) == {"mha"}  # out_proj is inside the attention's count, not twice


def test_the_scratch_attention_counts_as_its_torch_twin():
    from divelab.scratch.attention import MultiHeadAttention

    class Cross(nn.Module):
        def __init__(self, attention):
            super().__init__()
            self.attention, self.memory = attention, torch.zeros(1, 5, 16)

        def forward(self, x):
            return self.attention(x, self.memory, self.memory)[0]

    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    mine = MultiHeadAttention.from_torch(theirs)
    counts = [count_flops(Cross(m), (9, 16)).macs for m in (theirs, mine)]
    assert counts[0] == counts[1] == 9 * 16 * 16 + 2 * 5 * 16 * 16 + 2 * 9 * 5 * 16 + 9 * 16 * 16


@pytest.mark.parametrize("decoder", [False, True])
def test_the_scratch_transformer_layers_count_as_their_torch_twins(decoder):
    """The scratch layers apply their FFN weights functionally, so the counter counts the FFN at the
    layer: per token 2·d·f, beside the attention's own count."""
    from divelab.scratch import transformer as scratch

    d, f, L, S = 16, 40, 7, 5
    memory = torch.zeros(1, S, d)
    if decoder:
        theirs = nn.TransformerDecoderLayer(d, 4, f, 0.0, batch_first=True)
        mine = scratch.TransformerDecoderLayer(d, 4, f, 0.0)
        attention = 2 * L * d * d + 2 * L * L * d + 2 * L * d * d + (L * d * d + 2 * S * d * d + 2 * L * S * d + L * d * d)
    else:
        theirs = nn.TransformerEncoderLayer(d, 4, f, 0.0, batch_first=True)
        mine = scratch.TransformerEncoderLayer(d, 4, f, 0.0)
        attention = 4 * L * d * d + 2 * L * L * d

    class Wrapped(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x, memory) if decoder else self.layer(x)

    counts = [count_flops(Wrapped(layer), (L, d)).macs for layer in (theirs, mine)]
    assert counts[0] == counts[1] == attention + L * 2 * d * f


def test_library_transformer_layers_count_as_the_scratch_ones():
    """The library layers run their FFN through linear1/linear2 (counted by those modules), the scratch
    layers functionally (counted by hand): the same model must count the same either way."""
    model = CharTransformer(13, 16, 2, 2, 40, context=10)
    library = count_flops(model, (10,), dtype=torch.long).macs
    for i, layer in enumerate(model.layers):
        model.layers[i] = TransformerEncoderLayer(16, 2, 40, norm_first=True, attention_layer=FusedMultiHeadAttention)
    assert library == count_flops(model, (10,), dtype=torch.long).macs
