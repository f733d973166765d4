"""(being written)"""

from divelab.experiment import Experiment

EXPERIMENTS: list[Experiment] = []
