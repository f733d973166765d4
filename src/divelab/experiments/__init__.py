"""The experiment registry: every experiment of every chapter, listed explicitly."""

from divelab.experiment import Experiment
from divelab.experiments import basics

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in basics.EXPERIMENTS}

__all__ = ["EXPERIMENTS"]
