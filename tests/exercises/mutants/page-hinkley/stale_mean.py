"""Mutant: uses the running mean of the values before x_t (updates x̄ after adding x_t − x̄)."""

from torch import Tensor

HINT = "page-hinkley-mean"


def page_hinkley(stream: Tensor, delta: float = 0.005, threshold: float = 20.0, min_samples: int = 30) -> list[int]:
    alarms = []
    count, mean, cumulative, minimum = 0, 0.0, 0.0, 0.0
    for i, x in enumerate(stream.tolist()):
        count += 1
        cumulative += x - mean - delta
        mean += (x - mean) / count
        minimum = min(minimum, cumulative)
        if count >= min_samples and cumulative - minimum > threshold:
            alarms.append(i)
            count, mean, cumulative, minimum = 0, 0.0, 0.0, 0.0
    return alarms
