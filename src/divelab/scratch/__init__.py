"""From-scratch implementations on plain tensors.

Each function here writes its math by hand with elementary tensor operations (autograd
may differentiate it); each has a twin test in ``tests/scratch`` that checks it against
its PyTorch counterpart: same inputs and weights, same outputs and gradients.

``divelab.scratch.softmax`` and ``divelab.scratch.linear`` are the submodules of those names
(``import divelab.scratch.softmax as m`` gives the module); their functions of the same name
are ``divelab.scratch.softmax.softmax`` and ``divelab.scratch.linear.linear``, and are not
re-exported here, where they would hide the modules.
"""

from divelab.scratch.activations import relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad
from divelab.scratch.linear import init_linear
from divelab.scratch.metrics import accuracy, correct
from divelab.scratch.models import LinearRegressionScratch, MLPScratch, SoftmaxRegressionScratch
from divelab.scratch.optim import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp
from divelab.scratch.softmax import cross_entropy, log_softmax, logsumexp

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSProp",
    "LinearRegressionScratch",
    "MLPScratch",
    "SoftmaxRegressionScratch",
    "accuracy",
    "correct",
    "cross_entropy",
    "init_linear",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
]
