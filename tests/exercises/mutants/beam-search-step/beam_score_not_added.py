"""Mutant: ranks the candidates by the next token's log-probability alone, forgetting the beam's score."""

import torch
from torch import Tensor

HINT = "beam-step-add"


def beam_search_step(beam_log_probs: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    B, k, V = log_probs.shape
    scores, index = log_probs.reshape(B, k * V).topk(k, dim=1)
    return scores, index // V, index % V
