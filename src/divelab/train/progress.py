"""Progress display: a tqdm bar on a terminal, plain periodic log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm


def format_record(record: dict[str, Any]) -> str:
    """``epoch 3/10  train_loss 0.4512  test_acc 0.8391 …`` from a metrics record."""
    parts = []
    for key, value in record.items():
        if key in ("epoch", "epochs"):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return f"epoch {record['epoch']}/{record.get('epochs', '?')}  " + "  ".join(parts)


class Progress:
    """Shows batches, live loss and throughput while training.

    On a terminal a tqdm bar per epoch; when the output is not a terminal (CI, a log file),
    one line per epoch plus a line every ``interval`` seconds within long epochs.
    """

    def __init__(self, epochs: int, batches: int, stream: TextIO | None = None,
                 bar: bool | None = None, interval: float = 30.0, enabled: bool = True, label: str = ""):
        self.epochs, self.batches = epochs, batches
        self.stream = stream or sys.stderr
        self.bar_enabled = self.stream.isatty() if bar is None else bar
        self.interval = interval
        self.enabled = enabled
        self.label = label  # names the sub-run when an experiment trains several models
        self._bar: tqdm | None = None
        self._last_line = 0.0

    def start_epoch(self, epoch: int, first_batch: int = 0) -> None:
        if not self.enabled:
            return
        self._epoch, self._done, self._t0 = epoch, first_batch, time.perf_counter()
        self._last_line = self._t0
        if self.bar_enabled:
            self._bar = tqdm(total=self.batches, initial=first_batch, desc=f"{self.label}epoch {epoch}/{self.epochs}",
                             unit="batch", file=self.stream, leave=False, dynamic_ncols=True)

    def update(self, done: int, samples_per_second: float, loss: float) -> None:
        """``done`` batches of this epoch are finished; ``loss`` is the epoch's running mean."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(done - self._done)
            self._done = done
            self._bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{samples_per_second:,.0f}", refresh=False)
            return
        self._done = done
        now = time.perf_counter()
        if now - self._last_line >= self.interval:
            self._last_line = now
            print(f"{self.label}epoch {self._epoch}/{self.epochs}  batch {self._done}/{self.batches}  "
                  f"loss {loss:.4f}  {samples_per_second:,.0f} samples/s", file=self.stream, flush=True)

    def end_epoch(self, record: dict[str, Any]) -> None:
        """One line per epoch; for long runs of short epochs, about 20 lines in all."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        every = max(1, self.epochs // 20)
        epoch = record["epoch"]
        if epoch % every and epoch not in (1, self.epochs):
            return
        print(self.label + format_record({**record, "epochs": self.epochs}), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
