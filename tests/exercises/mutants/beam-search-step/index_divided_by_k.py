"""Mutant: decodes the flat index with k instead of V (beam = index // k, token = index % k)."""

import torch
from torch import Tensor

HINT = "beam-step-index"


def beam_search_step(beam_log_probs: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    B, k, V = log_probs.shape
    scores, index = (beam_log_probs[:, :, None] + log_probs).reshape(B, k * V).topk(k, dim=1)
    return scores, index // k, index % k
