"""Mixed precision for the trainer: autocast of the forward pass, loss scaling for fp16.

- ``fp32``: nothing changes.
- ``bf16``: the forward pass runs under ``torch.autocast(dtype=torch.bfloat16)`` (CPU or GPU);
  bfloat16 has float32's exponent range, so gradients need no scaling.
- ``fp16``: autocast to float16 plus a ``torch.amp.GradScaler``: the loss is multiplied by
  a scale ``s`` before ``backward`` (so small gradients do not flush to zero), gradients are
  divided by ``s`` before the step, a step whose gradients hold inf/NaN is skipped and
  ``s ← s·backoff``; after ``growth_interval`` clean steps ``s ← s·growth``.

The loss is always computed in float32 (:func:`to_float32` of the model's output), outside
autocast. Twin: ``torch.autocast`` + ``torch.amp.GradScaler`` used by hand.

The setting ``auto`` is not a precision but a choice between two: :func:`choose` makes it,
once per run, from what the device can do (:func:`divelab.machine.fast_bf16`) and whether
the experiment allows bf16.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from divelab import machine

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
PRECISIONS = ("fp32", *DTYPES)


def choose(setting: str, device: torch.device | str, experiment_allows_bf16: bool) -> tuple[str, str]:
    """The precision a run uses for ``setting`` and why: ``auto`` is bf16 where the device
    computes bf16 in hardware and the experiment allows it (its bf16 results were measured
    within seed-to-seed noise of fp32), fp32 otherwise; any other setting is itself."""
    if setting != "auto":
        return setting, f"precision={setting} was set"
    if not experiment_allows_bf16:
        return "fp32", "auto: this experiment's results are measured in fp32 (bf16 not shown to match)"
    fast, why = machine.fast_bf16(device)
    return ("bf16", f"auto: {why}") if fast else ("fp32", f"auto: {why}")


def to_float32(out: Any) -> Any:
    """``out`` with every low-precision floating tensor (also inside tuples, lists, dicts) as float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() and out.dtype != torch.float64 else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # a named tuple
        return type(out)(*(to_float32(v) for v in out))
    if isinstance(out, (tuple, list)):
        return type(out)(to_float32(v) for v in out)
    if isinstance(out, dict):
        return {k: to_float32(v) for k, v in out.items()}
    return out


class MixedPrecision:
    """Autocast context, backward and step for ``precision`` on ``device``'s type."""

    def __init__(self, precision: str, device: torch.device | str):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (resolve auto with choose()), "
                             f"got {precision!r}")
        self.precision = precision
        self.device_type = torch.device(device).type
        self.enabled = precision != "fp32"
        self.scaler = torch.amp.GradScaler(self.device_type) if precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Where the forward pass runs."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.precision])

    def output(self, out: Any) -> Any:
        """The forward pass's output ready for a float32 loss."""
        return to_float32(out) if self.enabled else out

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer: Any) -> None:
        """Make the gradients true gradients (before clipping or inspecting them)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: Any) -> None:
        """The optimizer step (skipped by the scaler when gradients overflowed)."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any] | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the loss scale; ``None`` (a run saved without fp16) keeps the initial one."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
