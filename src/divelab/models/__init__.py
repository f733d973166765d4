"""Models built from PyTorch's layers (``nn.Module``), the library side of each twin.

Every model family is listed in :data:`divelab.models.registry.MODELS` (``create_model``,
``list_models``), with its presets and an example input (:mod:`divelab.models.examples`);
each family lives in its own module.
"""

from divelab.models.alexnet import AlexNet
from divelab.models.common import ImageClassifier
from divelab.models.densenet import DenseNet
from divelab.models.googlenet import GoogLeNet
from divelab.models.lenet import LeNet, LeNetModern
from divelab.models.linear import LinearRegression, SoftmaxRegression
from divelab.models.mlp import MLP
from divelab.models.nin import NiN
from divelab.models.registry import MODELS, ModelSpec, create_model, list_models
from divelab.models.resnet import ResNet
from divelab.models.vgg import VGG

__all__ = [
    "MLP",
    "MODELS",
    "VGG",
    "AlexNet",
    "DenseNet",
    "GoogLeNet",
    "ImageClassifier",
    "LeNet",
    "LeNetModern",
    "LinearRegression",
    "ModelSpec",
    "NiN",
    "ResNet",
    "SoftmaxRegression",
    "create_model",
    "list_models",
]
