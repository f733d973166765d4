"""A toy token-level problem for the trainer: targets of 1…6 tokens padded to 6, a loss that
is a mean over the batch's non-padding tokens (``TranslationLoss``), so batches and shards
with different token counts must be weighted by tokens, not by samples."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from divelab.data import TensorLoader
from divelab.models.seq2seq import TranslationLoss
from divelab.train import Trainer
from divelab.train.distributed import SINGLE, World

PAD, STEPS, CLASSES = 0, 6, 5


def token_problem(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Inputs ``(n, 4)`` and targets ``(n, STEPS)`` of classes 1…4, padded with ``PAD`` after a
    random length of 1…STEPS (so batches hold very different numbers of tokens)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    lengths = torch.randint(1, STEPS + 1, (n,), generator=gen)
    y = torch.randint(1, CLASSES, (n, STEPS), generator=gen)
    return x, y.masked_fill(torch.arange(STEPS) >= lengths[:, None], PAD)


class RecordingTokenLoss(TranslationLoss):
    """``TranslationLoss(PAD)`` that records ``(loss, tokens, samples)`` of every training batch
    (calls with gradients enabled: evaluation runs under inference mode)."""

    def __init__(self) -> None:
        super().__init__(PAD)
        self.calls: list[tuple[float, int, int]] = []

    def __call__(self, logits: Tensor, target: Tensor) -> Tensor:
        loss = super().__call__(logits, target)
        if torch.is_grad_enabled():
            self.calls.append((loss.item(), int((target != PAD).sum()), len(target)))
        return loss


def token_trainer(loss_fn: TranslationLoss | None = None, *, epochs: int = 2, callbacks=(),
                  world: World = SINGLE) -> Trainer:
    """A linear model ``(B, 4) → (B, STEPS, CLASSES)`` trained with SGD + momentum on 38 pairs in
    batches of 9 (a last batch of 2, which 2 processes can share), validated on 23 pairs in batches of 10."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, STEPS * CLASSES), nn.Unflatten(1, (STEPS, CLASSES)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    train = TensorLoader(*token_problem(38, seed=0), batch_size=9, shuffle=True, seed=3)
    val = TensorLoader(*token_problem(23, seed=1), batch_size=10)
    return Trainer(model, loss_fn or TranslationLoss(PAD), optimizer, train, val_loader=val, epochs=epochs,
                   classification=False, callbacks=callbacks, progress=False, world=world)
