"""Mutant: compares with the running maximum (M − m), which detects a fall in the mean, not a rise."""

from torch import Tensor

HINT = "page-hinkley-direction"


def page_hinkley(stream: Tensor, delta: float = 0.005, threshold: float = 20.0, min_samples: int = 30) -> list[int]:
    alarms = []
    count, mean, cumulative, maximum = 0, 0.0, 0.0, 0.0
    for i, x in enumerate(stream.tolist()):
        count += 1
        mean += (x - mean) / count
        cumulative += x - mean - delta
        maximum = max(maximum, cumulative)
        if count >= min_samples and maximum - cumulative > threshold:
            alarms.append(i)
            count, mean, cumulative, maximum = 0, 0.0, 0.0, 0.0
    return alarms
