"""Placeholder: being written (issue 16)."""

EXPERIMENTS: list = []
