"""Twin tests for the scratch dropout MLP against ``divelab.models.MLP`` with dropouts (nn layers).

Weights are passed to both models as inputs (``functional_call``), so ``assert_twin``
copies the same float64 tensors into each and compares the gradients they receive.

In eval mode dropout is off and the two are plain MLPs. In train mode the models must
use the same masks: the torch model is run with its RNG seeded, forward hooks on its
``nn.Dropout`` layers read each mask off the layer's output (``m = [out ≠ 0]``), and the
scratch model is handed those masks. Where a dropout layer's *input* is 0 (a ReLU
output) the mask cannot be read, and the recovered 0 may be torch's 1; that changes
nothing: the output there is 0 either way, and the gradient stops at the ReLU, whose
derivative is 0 where its output is 0. Seeding the torch run again replays the same
masks, which the equal outputs confirm.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from divelab.models import MLP
from divelab.scratch.dropout_mlp import DropoutMLPScratch
from divelab.scratch.softmax import cross_entropy
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

# (hidden widths, dropout probabilities): d2l's shape in small, one layer, three layers
ARCHITECTURES = [((6, 5), (0.2, 0.5)), ((7,), (0.5,)), ((4, 4, 3), (0.1, 0.6, 0.3))]
SEED = 321


def parameter_names(num_hidden: int) -> dict[str, str]:
    """Scratch parameter name -> name of the same tensor in DropoutMLP's ``net``.

    ``net`` is Flatten, then (Linear, ReLU, Dropout) per hidden layer, then Linear: layer k's
    Linear sits at index 1 + 3k.
    """
    names = {}
    for k in range(num_hidden + 1):
        names[f"weights.{k}"] = f"net.{1 + 3 * k}.weight"
        names[f"biases.{k}"] = f"net.{1 + 3 * k}.bias"
    return names


def make_pair(hidden, dropouts, num_inputs=12, num_outputs=4):
    torch.manual_seed(0)
    mine = DropoutMLPScratch(num_inputs, hidden, num_outputs, dropouts, std=0.5).double()
    theirs = MLP(num_inputs, hidden, num_outputs, dropouts=dropouts).double()
    names = parameter_names(len(hidden))
    weights = [getattr(mine, "weights" if n.startswith("w") else "biases")[int(n.split(".")[1])] for n in names]
    return mine, theirs, names, weights


def run_torch_seeded(model: nn.Module, params: dict, x: torch.Tensor) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return functional_call(model, params, (x,))


def torch_masks(model: nn.Module, params: dict, x: torch.Tensor) -> list[torch.Tensor]:
    """The masks the seeded torch run draws, one per nn.Dropout, read off each output."""
    masks: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _inp, out: masks.append((out != 0).to(out.dtype).detach()))
             for m in model.modules() if isinstance(m, nn.Dropout)]
    try:
        run_torch_seeded(model, params, x)
    finally:
        for h in hooks:
            h.remove()
    return masks


def twins(mine, theirs, names, masks=None):
    """``f(x, *weights)`` for each model; the scratch one gets ``masks`` if given."""
    mine_names, their_names = list(names), list(names.values())

    def run_mine(x, *w):
        return functional_call(mine, dict(zip(mine_names, w)), (x,), {"masks": masks})

    def run_theirs(x, *w):
        return run_torch_seeded(theirs, dict(zip(their_names, w)), x)

    return run_mine, run_theirs


@pytest.mark.parametrize("hidden, dropouts", ARCHITECTURES)
@pytest.mark.parametrize("batch", [1, 8])
def test_eval_mode_matches(hidden, dropouts, batch):
    mine, theirs, names, weights = make_pair(hidden, dropouts)
    mine.eval(), theirs.eval()
    run_mine, run_theirs = twins(mine, theirs, names)
    x = torch.randn(batch, 3, 4)  # image-shaped, flattened by both
    y = torch.randint(4, (batch,))
    assert_twin(run_mine, run_theirs, x, *weights)
    assert_twin(lambda x, y, *w: cross_entropy(run_mine(x, *w), y),
                lambda x, y, *w: F.cross_entropy(run_theirs(x, *w), y), x, y, *weights)


@pytest.mark.parametrize("hidden, dropouts", ARCHITECTURES)
@pytest.mark.parametrize("batch", [2, 16])
def test_train_mode_matches_with_the_same_masks(hidden, dropouts, batch):
    mine, theirs, names, weights = make_pair(hidden, dropouts)
    mine.train(), theirs.train()
    x = torch.randn(batch, 12, dtype=torch.float64)
    y = torch.randint(4, (batch,))
    masks = torch_masks(theirs, {v: w for v, w in zip(names.values(), weights)}, x)
    assert len(masks) == len(hidden)
    run_mine, run_theirs = twins(mine, theirs, names, masks)
    assert_twin(run_mine, run_theirs, x, *weights)
    assert_twin(lambda x, y, *w: cross_entropy(run_mine(x, *w), y),
                lambda x, y, *w: F.cross_entropy(run_theirs(x, *w), y), x, y, *weights)


def test_train_mode_differs_from_eval_mode_without_the_masks():
    """Sanity of the test above: the masks matter, so equal outputs are not a coincidence."""
    mine, theirs, names, weights = make_pair((64, 64), (0.5, 0.5))
    mine.train(), theirs.train()
    x = torch.randn(8, 12, dtype=torch.float64)
    run_mine, run_theirs = twins(mine, theirs, names)  # scratch draws its own masks
    with torch.no_grad():
        assert not torch.allclose(run_mine(x, *weights), run_theirs(x, *weights))


def test_train_mode_is_random_and_eval_mode_is_not():
    torch.manual_seed(0)
    model = DropoutMLPScratch(12, (32, 32), 4, (0.5, 0.5), std=0.5)
    x = torch.randn(5, 12)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_zero_dropout_in_train_mode_is_the_plain_mlp():
    mine, _, _, _ = make_pair((6, 5), (0.0, 0.0))
    x = torch.randn(4, 12, dtype=torch.float64)
    mine.train()
    in_train = mine(x)
    mine.eval()
    assert torch.equal(in_train, mine(x))


def test_defaults_are_the_course_network():
    mine, theirs = DropoutMLPScratch(), MLP(784, (256, 256), 10, dropouts=(0.2, 0.5))
    assert mine.dropouts == (0.2, 0.5)
    assert [tuple(w.shape) for w in mine.weights] == [(256, 784), (256, 256), (10, 256)]
    assert sum(p.numel() for p in mine.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert mine(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_one_probability_per_hidden_layer():
    with pytest.raises(ValueError, match="one dropout probability per hidden layer"):
        DropoutMLPScratch(784, (256, 256), 10, (0.5,))
