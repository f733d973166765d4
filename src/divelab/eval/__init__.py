"""Evaluation of trained models: decoding translations (greedy and beam search)."""

from divelab.eval.decode import Hypothesis, StepModel, beam_search, greedy_decode, max_len_for, reorder_state

__all__ = ["Hypothesis", "StepModel", "beam_search", "greedy_decode", "max_len_for", "reorder_state"]
