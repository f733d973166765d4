"""Mutant: takes the best token of each beam separately (one extension per beam) instead of the
k best of all k·V candidates of the sentence."""

import torch
from torch import Tensor

HINT = "beam-step-per-beam"


def beam_search_step(beam_log_probs: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    best, tokens = (beam_log_probs[:, :, None] + log_probs).max(dim=-1)   # (B, k): one per beam
    scores, beams = best.sort(dim=1, descending=True)
    return scores, beams, tokens.gather(1, beams)
