"""The model registry: every CNN of the course, listed explicitly (nothing registers itself on import).

    spec = MODELS["resnet"]
    model = spec.build(**spec.cpu_kwargs())                 # the CPU default: 28 px, width 0.125, small stem
    model = spec.build(**spec.course_kwargs())              # d2l's setting: 96 px, width 1
    model = create_model("resnet", width=0.5)               # CPU default with one override
    model = create_model("resnet", preset="course")

Every builder takes ``num_classes`` (10), ``in_channels`` (1), ``input_size`` and ``width``
(channels × width, rounded, ≥ 1), plus its family's options (``stem``, ``arch``…); the
builders' own defaults are the course's setting (its input size, width 1, its stem).

The CPU defaults keep Fashion-MNIST at its native 28 px where the network allows it (VGG's
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
from typing import Any

from torch import nn

from divelab.models.alexnet import AlexNet
from divelab.models.densenet import DenseNet
from divelab.models.googlenet import GoogLeNet
from divelab.models.lenet import LeNet, LeNetModern
from divelab.models.nin import NiN
from divelab.models.resnet import ResNet
from divelab.models.vgg import VGG

PRESETS = ("cpu", "course")


@dataclass(frozen=True)
class ModelSpec:
    """One registered network: how to build it and at which settings.

    ``build(**kwargs)`` makes the model; ``cpu_input_size`` / ``cpu_width`` / ``cpu_options``
    are the settings that train quickly on a CPU, ``course_input_size`` (with width 1 and the
    builder's default options) is d2l's. ``section`` names the course's section.
    """

    name: str
    build: Callable[..., nn.Module]
    description: str
    section: str
    cpu_input_size: int
    course_input_size: int
    cpu_width: float = 1.0
    cpu_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpu_options", MappingProxyType(dict(self.cpu_options)))  # read-only

    def cpu_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``build`` for the CPU default."""
        return {"input_size": self.cpu_input_size, "width": self.cpu_width, **self.cpu_options}

    def course_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``build`` for the course's setting (its input size, width 1)."""
        return {"input_size": self.course_input_size, "width": 1.0}

    def kwargs(self, preset: str = "cpu") -> dict[str, Any]:
        """:meth:`cpu_kwargs` or :meth:`course_kwargs` by name."""
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        return self.cpu_kwargs() if preset == "cpu" else self.course_kwargs()


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
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
)}


def list_models() -> list[str]:
    """The registered model names, in the course's order."""
    return list(MODELS)


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
