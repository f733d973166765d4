"""The model registry: every model family of divelab, listed explicitly (nothing registers itself on import).

    spec = MODELS["resnet"]
    model = spec.build(**spec.cpu_kwargs())                 # the CPU default: 28 px, width 0.125, small stem
    model = spec.build(**spec.course_kwargs())              # d2l's setting: 96 px, width 1
    model = create_model("resnet", width=0.5)               # CPU default with one override
    model = create_model("resnet", preset="course")
    model = create_model("lstm-lm", vocab_size=80)          # any family, any override
    out = model(*spec.example().inputs(batch=4))            # what one forward call takes

Each :class:`ModelSpec` has a ``kind``, which says what the model reads and returns:

    kind            input (``spec.example()``)                 output
    cnn             images (N, 1, s, s), s = input_size        logits (N, 10)
    image           images (N, 1, 28, 28)                      logits (N, 10)
    vector          features (N, d)                            (N,) or (N, k)
    language-model  token ids (N, T)                           next-token logits (N, T, V)
    tagger          word ids (N, T), no padding id             tag logits (N, T, tags)
    translation     src (N, S), src_len (N,), tgt_in (N, T)    logits (N, T, V)

The ``cnn`` kind are the course's scalable CNNs (:class:`~divelab.models.common.ImageClassifier`
with a width multiplier): every builder takes ``num_classes`` (10), ``in_channels`` (1),
``input_size`` and ``width`` (channels × width, rounded, ≥ 1), plus its family's options
(``stem``, ``arch``…); the builders' own defaults are the course's setting (its input size,
width 1, its stem). Every other model is registered at the setting its experiment trains on
a CPU (``cpu_options``), with the data-dependent sizes (vocabularies, tag sets) at a typical
value; its ``course`` preset is the same unless ``course_options`` says otherwise.

The CPU defaults of the CNNs keep Fashion-MNIST at its native 28 px where the network allows it (VGG's
five halvings need 32), use the small-input stem where the course's stem would shrink 28 px
to almost nothing, and pick the width so that one epoch of 60,000 images takes 1–2 minutes
on a CPU. Measured forward + backward, batch 128, one thread of a shared 2-core AMD EPYC
(load ≈ 3–4, so an idle machine does better), with ``divelab.analysis.flops``:

    model         CPU default                     MFLOPs/img  images/s   course MFLOPs/img
    lenet         28 px, width 1                       0.83      3400          0.83
    lenet-modern  28 px, width 1                       0.83      3400          0.83
    alexnet       28 px, width 1/8, small stem         7.6       1050          1876 (224 px)
    vgg           32 px, width 1/8                     5.5       1460        15 094 (224 px)
    nin           28 px, width 1/8, small stem         5.9        830          1525 (224 px)
    googlenet     28 px, width 1/4                     3.8        810           552 (96 px)
    resnet        28 px, width 1/8, small stem         3.9       1150           637 (96 px)
    densenet      28 px, width 1/4, small stem         5.3        490           258 (96 px)

(FLOPs = 2 × multiply–accumulates of the convolutions and Linear layers.)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from torch import nn

from divelab.models.alexnet import AlexNet
from divelab.models.char_transformer import CharTransformer
from divelab.models.densenet import DenseNet
from divelab.models.examples import Example, ImageExample, TokenExample, TranslationExample, VectorExample
from divelab.models.googlenet import GoogLeNet
from divelab.models.lenet import LeNet, LeNetModern
from divelab.models.linear import LinearRegression, SoftmaxRegression
from divelab.models.mlp import MLP
from divelab.models.nin import NiN
from divelab.models.plain_residual import PlainResidualMLP
from divelab.models.resnet import ResNet
from divelab.models.rnn_lm import RNNLM
from divelab.models.row_rnn import RowRNN
from divelab.models.sawtooth import deep_sawtooth, relu_network, shallow_sawtooth
from divelab.models.seq2seq import AttentionSeq2Seq, GRUSeq2Seq
from divelab.models.speednet import SpeedNet
from divelab.models.stn import STNClassifier
from divelab.models.tagger import ElmanRNN, JordanRNN, RNNTagger
from divelab.models.transformer import Transformer
from divelab.models.vgg import VGG

PRESETS = ("cpu", "course")
Kind = Literal["cnn", "image", "vector", "language-model", "tagger", "translation"]
KINDS: tuple[str, ...] = get_args(Kind)
KIND_SIGNATURES: dict[str, str] = {  # what each kind reads and returns (the table of the module docstring)
    "cnn": "images (N, 1, s, s), s = input_size → logits (N, 10)",
    "image": "images (N, 1, 28, 28) → logits (N, 10)",
    "vector": "features (N, d) → (N,) or (N, k)",
    "language-model": "token ids (N, T) → next-token logits (N, T, V)",
    "tagger": "word ids (N, T) → tag logits (N, T, tags)",
    "translation": "src (N, S), src_len (N,), tgt_in (N, T) → logits (N, T, V)",
}


@dataclass(frozen=True)
class ModelSpec:
    """One registered network: how to build it, at which settings, and what it takes as input.

    ``build(**kwargs)`` makes the model. For ``kind="cnn"``: ``cpu_input_size`` / ``cpu_width`` /
    ``cpu_options`` are the settings that train quickly on a CPU, ``course_input_size`` (with
    width 1 and the builder's default options) is d2l's. For every other kind ``cpu_options``
    holds all the keyword arguments of the CPU default, ``course_options`` those of the course's
    setting (None: the same), and ``inputs`` the example input (:mod:`divelab.models.examples`).
    ``section`` names the course's section.
    """

    name: str
    build: Callable[..., nn.Module]
    description: str
    section: str
    cpu_input_size: int = 0
    course_input_size: int = 0
    cpu_width: float = 1.0
    cpu_options: Mapping[str, Any] = field(default_factory=dict)
    kind: Kind = "cnn"
    inputs: Example | None = None
    course_options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "cnn":
            if self.cpu_input_size < 1 or self.course_input_size < 1 or self.inputs is not None \
                    or self.course_options is not None:
                raise ValueError(f"{self.name}: a cnn is registered with cpu_input_size and course_input_size "
                                 f"(its example is an image of that size), not inputs or course_options")
        elif self.inputs is None or self.cpu_input_size or self.course_input_size:
            raise ValueError(f"{self.name}: a {self.kind} model is registered with inputs (its example), "
                             f"not an input size")
        object.__setattr__(self, "cpu_options", MappingProxyType(dict(self.cpu_options)))  # read-only
        if self.course_options is not None:
            object.__setattr__(self, "course_options", MappingProxyType(dict(self.course_options)))

    def cpu_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``build`` for the CPU default."""
        if self.kind != "cnn":
            return dict(self.cpu_options)
        return {"input_size": self.cpu_input_size, "width": self.cpu_width, **self.cpu_options}

    def course_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``build`` for the course's setting (a CNN: its input size, width 1)."""
        if self.kind != "cnn":
            return dict(self.cpu_options if self.course_options is None else self.course_options)
        return {"input_size": self.course_input_size, "width": 1.0}

    def kwargs(self, preset: str = "cpu") -> dict[str, Any]:
        """:meth:`cpu_kwargs` or :meth:`course_kwargs` by name."""
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        return self.cpu_kwargs() if preset == "cpu" else self.course_kwargs()

    def example(self, preset: str = "cpu") -> Example:
        """What the model built at ``preset`` takes: a CNN an image of its input size, any other its ``inputs``."""
        if self.kind == "cnn":
            return ImageExample(self.kwargs(preset)["input_size"])
        assert self.inputs is not None  # checked in __post_init__
        self.kwargs(preset)  # checks the preset's name
        return self.inputs


# Typical sizes of the data-dependent dimensions (each experiment takes them from its data):
CHARS = 64          # a character vocabulary (the WEB Bible's, about 70)
WORDS = 200         # the generated travel requests' word vocabulary
SLOT_TAGS = 9       # their BIO slot tags
SUBWORDS = 1000     # a subword vocabulary per language for translation
IMAGE = ImageExample(28)
SENTENCE = TokenExample(WORDS, 12, SLOT_TAGS, low=2)  # 12 words, none of them <unk> or <pad>
TAGGER = {"vocab_size": WORDS, "num_tags": SLOT_TAGS}

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    # ---- linear networks and MLPs
    ModelSpec("linear-regression", LinearRegression, "linear regression ŷ = x wᵀ + b (nn.Linear, one output)",
              "3.5 Concise Implementation of Linear Regression", kind="vector", cpu_options={"num_inputs": 2},
              inputs=VectorExample(2)),
    ModelSpec("softmax-regression", SoftmaxRegression, "softmax regression: one Linear layer, 784 → 10 logits",
              "4.5 Concise Implementation of Softmax Regression", kind="image",
              cpu_options={"num_inputs": 784, "num_outputs": 10}, inputs=IMAGE),
    ModelSpec("mlp", MLP, "multilayer perceptron: one hidden layer of 256 ReLU units (dropout optional)",
              "5.2 Implementation of Multilayer Perceptrons", kind="image",
              cpu_options={"num_inputs": 784, "hidden": (256,), "num_outputs": 10}, inputs=IMAGE),
    ModelSpec("plain-mlp", PlainResidualMLP, "fully connected network of 20 weight layers (BN, ReLU), no shortcuts",
              "training guide: optimisation (He et al., 2015, Figure 1)", kind="image",
              cpu_options={"depth": 20, "width": 64, "residual": False}, inputs=IMAGE),
    ModelSpec("residual-mlp", PlainResidualMLP, "the plain MLP with identity shortcuts around every two layers",
              "training guide: optimisation (He et al., 2015, Figure 1)", kind="image",
              cpu_options={"depth": 20, "width": 64, "residual": True}, inputs=IMAGE),
    ModelSpec("relu-network", relu_network, "ReLU network on the line: 2 hidden layers of 8 units (97 parameters)",
              "training guide: why deep (deep-vs-shallow)", kind="vector", cpu_options={"depth": 2, "width": 8},
              inputs=VectorExample(1, outputs=1)),
    ModelSpec("deep-sawtooth", deep_sawtooth, "hand-set deep ReLU network computing the sawtooth Tᵐ, m = 3 "
              "(3 layers of 2 units, 19 parameters)", "training guide: why deep (deep-vs-shallow)", kind="vector",
              cpu_options={"m": 3}, inputs=VectorExample(1, outputs=1)),
    ModelSpec("shallow-sawtooth", shallow_sawtooth, "hand-set one-hidden-layer ReLU network computing Tᵐ, m = 3 "
              "(8 units, 25 parameters)", "training guide: why deep (deep-vs-shallow)", kind="vector",
              cpu_options={"m": 3}, inputs=VectorExample(1, outputs=1)),
    # ---- convolutional networks
    ModelSpec("lenet", LeNet, "LeNet-5: sigmoid, average pooling (the course's first CNN)",
              "7.6 Convolutional Neural Networks (LeNet)", cpu_input_size=28, course_input_size=28),
    ModelSpec("lenet-modern", LeNetModern, "LeNet-5 with batch norm, ReLU and max-pooling",
              "7.6 exercises, 8.5 Batch Normalization", cpu_input_size=28, course_input_size=28),
    ModelSpec("alexnet", AlexNet, "AlexNet: ReLU, dropout, 11×11 stride-4 stem (CPU: 3×3 stride-1 stem)",
              "8.1 Deep Convolutional Neural Networks (AlexNet)", cpu_input_size=28, course_input_size=224,
              cpu_width=0.125, cpu_options={"stem": "small"}),
    ModelSpec("vgg", VGG, "VGG-11: blocks of 3×3 convolutions, each ending in a 2×2 max-pool",
              "8.2 Networks Using Blocks (VGG)", cpu_input_size=32, course_input_size=224, cpu_width=0.125),
    ModelSpec("nin", NiN, "Network in Network: 1×1 convolutions, global average pooling, no Linear layer",
              "8.3 Network in Network (NiN)", cpu_input_size=28, course_input_size=224,
              cpu_width=0.125, cpu_options={"stem": "small"}),
    ModelSpec("googlenet", GoogLeNet, "GoogLeNet: Inception blocks of four parallel paths",
              "8.4 Multi-Branch Networks (GoogLeNet)", cpu_input_size=28, course_input_size=96, cpu_width=0.25),
    ModelSpec("resnet", ResNet, "ResNet-18: residual blocks with batch norm and 1×1 shortcuts",
              "8.6 Residual Networks (ResNet)", cpu_input_size=28, course_input_size=96,
              cpu_width=0.125, cpu_options={"stem": "small"}),
    ModelSpec("densenet", DenseNet, "DenseNet: dense blocks (growth 32, 4 × 4 convolutions) and transitions",
              "8.7 Densely Connected Networks (DenseNet)", cpu_input_size=28, course_input_size=96,
              cpu_width=0.25, cpu_options={"stem": "small"}),
    ModelSpec("stn", STNClassifier, "small CNN behind a spatial transformer (affine_grid, grid_sample)",
              "spatial transformer (Jaderberg et al., 2015)", kind="image",
              cpu_options={"transformer": True, "width": 8}, inputs=IMAGE),
    ModelSpec("speednet", SpeedNet, "all-convolutional net of stride-2 stages shaped for fast CPU training",
              "divelab's CPU speed run", kind="image", cpu_options={}, inputs=IMAGE),
    # ---- recurrent language models
    ModelSpec("rnn-lm", RNNLM, "character language model: embedding, tanh RNN of 256 units, Linear",
              "9.6 Concise Implementation of Recurrent Neural Networks", kind="language-model",
              cpu_options={"vocab_size": CHARS, "cell": "rnn", "hidden_size": 256, "embed_size": 32},
              inputs=TokenExample(CHARS, 32, CHARS)),
    ModelSpec("gru-lm", RNNLM, "character language model on a GRU of 256 units",
              "10.2 Gated Recurrent Units (GRU)", kind="language-model",
              cpu_options={"vocab_size": CHARS, "cell": "gru", "hidden_size": 256, "embed_size": 32},
              inputs=TokenExample(CHARS, 32, CHARS)),
    ModelSpec("lstm-lm", RNNLM, "character language model on an LSTM of 256 units",
              "10.1 Long Short-Term Memory (LSTM)", kind="language-model",
              cpu_options={"vocab_size": CHARS, "cell": "lstm", "hidden_size": 256, "embed_size": 32},
              inputs=TokenExample(CHARS, 32, CHARS)),
    ModelSpec("char-transformer", CharTransformer, "decoder-only character Transformer: 4 causal pre-norm layers "
              "of width 256, tied head", "11.9 Large-Scale Pretraining with Transformers (decoder-only)",
              kind="language-model", cpu_options={"vocab_size": CHARS, "d_model": 256, "nhead": 4, "num_layers": 4,
                                                   "dim_feedforward": 1024, "context": 128},
              inputs=TokenExample(CHARS, 128, CHARS)),
    ModelSpec("row-rnn", RowRNN, "tanh RNN reading an image row by row (28 steps of 28 pixels), the last state "
              "classified", "9.5 gradient clipping (the grad-clip experiment)", kind="image",
              cpu_options={"hidden": 128}, inputs=IMAGE),
    # ---- sequence taggers (ids 0 and 1 are <unk> and <pad>)
    ModelSpec("rnn-tagger", RNNTagger, "slot-filling tagger: embedding, bidirectional GRU (packed sequences), Linear",
              "10.4 Bidirectional RNNs; slot filling (Hung-yi Lee)", kind="tagger",
              cpu_options=TAGGER, inputs=SENTENCE),
    ModelSpec("elman-rnn", ElmanRNN, "Elman network tagger: the hidden state is fed back",
              "slot filling (Hung-yi Lee): Elman and Jordan networks", kind="tagger",
              cpu_options=TAGGER, inputs=SENTENCE),
    ModelSpec("jordan-rnn", JordanRNN, "Jordan network tagger: the predicted tag distribution is fed back",
              "slot filling (Hung-yi Lee): Elman and Jordan networks", kind="tagger",
              cpu_options=TAGGER, inputs=SENTENCE),
    # ---- translation
    ModelSpec("gru-seq2seq", GRUSeq2Seq, "GRU encoder–decoder, the encoder's final state as a fixed context",
              "10.7 Sequence-to-Sequence Learning for Machine Translation", kind="translation",
              cpu_options={"src_vocab": SUBWORDS, "tgt_vocab": SUBWORDS, "embed_size": 256, "num_hiddens": 256,
                           "num_layers": 2},
              inputs=TranslationExample(SUBWORDS, SUBWORDS, 12, 10)),
    ModelSpec("attention-seq2seq", AttentionSeq2Seq, "GRU encoder–decoder with additive (Bahdanau) attention",
              "11.4 The Bahdanau Attention Mechanism", kind="translation",
              cpu_options={"src_vocab": SUBWORDS, "tgt_vocab": SUBWORDS, "embed_size": 256, "num_hiddens": 256,
                           "num_layers": 2},
              inputs=TranslationExample(SUBWORDS, SUBWORDS, 12, 10)),
    ModelSpec("transformer", Transformer, "Transformer encoder–decoder: d_model 128, 2 + 2 layers, 4 heads, FFN 512",
              "11.7 The Transformer Architecture", kind="translation",
              cpu_options={"src_vocab": SUBWORDS, "tgt_vocab": SUBWORDS, "d_model": 128, "nhead": 4,
                           "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 512},
              inputs=TranslationExample(SUBWORDS, SUBWORDS, 12, 10)),
)}


def list_models(kind: str | None = None) -> list[str]:
    """The registered model names in the course's order; only those of ``kind`` if given."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return [name for name, spec in MODELS.items() if kind is None or spec.kind == kind]


def get_spec(name: str) -> ModelSpec:
    """``MODELS[name]``, or ``ValueError`` naming close matches and every known model."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, MODELS, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ValueError(f"unknown model {name!r}{hint} (known: {', '.join(MODELS)})")


def create_model(name: str, preset: str = "cpu", **kwargs: Any) -> nn.Module:
    """Build model ``name`` at ``preset`` ("cpu" or "course"), with ``kwargs`` overriding the preset's arguments."""
    spec = get_spec(name)
    return spec.build(**(spec.kwargs(preset) | kwargs))
