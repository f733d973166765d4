"""Mutant: the cumulative sum leaves out −δ, so noise on a steady stream raises false alarms."""

from torch import Tensor

HINT = "page-hinkley-delta"


def page_hinkley(stream: Tensor, delta: float = 0.005, threshold: float = 20.0, min_samples: int = 30) -> list[int]:
    alarms = []
    count, mean, cumulative, minimum = 0, 0.0, 0.0, 0.0
    for i, x in enumerate(stream.tolist()):
        count += 1
        mean += (x - mean) / count
        cumulative += x - mean
        minimum = min(minimum, cumulative)
        if count >= min_samples and cumulative - minimum > threshold:
            alarms.append(i)
            count, mean, cumulative, minimum = 0, 0.0, 0.0, 0.0
    return alarms
