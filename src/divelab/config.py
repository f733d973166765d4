"""Experiment settings as dataclasses, overridden from ``--set key=value`` with type checks.

Every experiment has a config dataclass derived from :class:`RunConfig`; the fields it
declares are the only keys ``--set`` accepts, and each value is parsed to the field's type.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from divelab.errors import UserError

C = TypeVar("C", bound="RunConfig")

PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]


@dataclass
class RunConfig:
    """Settings every experiment has; experiments subclass it and add their own.

    ``precision`` and ``compile`` apply to whatever an experiment trains with the shared
    trainer: ``bf16`` (CPU or GPU) or ``fp16`` (CUDA GPUs, with loss scaling) autocast of the
    forward pass, and ``torch.compile`` of the model. ``auto`` (the default) is bf16 where
    the device computes bf16 in hardware and the experiment's bf16 results were shown to
    match fp32's, fp32 otherwise (:func:`divelab.train.precision.choose`). ``batch_size`` is
    the global batch when the run is spread over several processes by ``torchrun``.
    ``tensorboard`` also writes the trainer's scalars (per update and per epoch) to
    ``OUT/tensorboard/``.
    """

    # experiments whose networks mean something untrained (gradients at initialisation) allow 0
    min_epochs: ClassVar[int] = 1

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.1
    seed: int = 0
    device: str = "auto"
    precision: PrecisionName = "auto"
    compile: bool = False
    tensorboard: bool = False

    def validate(self) -> None:
        """Reject values no experiment can use; subclasses extend this."""
        if self.epochs < self.min_epochs:
            raise UserError(f"epochs must be ≥ {self.min_epochs} (--epochs N), got {self.epochs}")
        if self.batch_size < 1:
            raise UserError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.seed < 2**63:
            raise UserError(f"seed must be between 0 and 2**63 - 1, got {self.seed}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not (
                self.device.startswith("cuda:") and self.device[5:].isdigit()):
            raise UserError(f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")

    def resumable(self) -> tuple[str, ...]:
        """Settings a resumed run may change; any other change is refused.

        ``precision`` and ``compile`` may change (e.g. a run begun on a CPU finished on a GPU
        in bf16); the run then no longer ends bit for bit where an uninterrupted one would.
        """
        return ("epochs", "device", "data_dir", "precision", "compile")


@dataclass
class FashionConfig(RunConfig):
    """Settings of an experiment on Fashion-MNIST; ``data_dir`` overrides where the data is looked for."""

    data_dir: str | None = None


OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
ScheduleName = Literal["constant", "step", "exponential", "cosine", "warmup_cosine", "warmup_linear"]


@dataclass
class OptimConfig(RunConfig):
    """Which optimiser and learning-rate schedule train the model (``divelab.train.optim`` builds them).

    ``momentum`` is used by ``momentum`` and ``nesterov`` (SGD with heavy-ball or Nesterov
    momentum); ``weight_decay`` by all (decoupled for ``adamw``, an L2 term otherwise).
    Schedules are planned over the whole run, in updates: ``step`` multiplies the lr by
    ``gamma`` at each third of the run, ``exponential`` decays it smoothly to ``gamma`` × lr
    at the end, ``cosine`` anneals it to 0, ``warmup_*`` first ramp it up linearly over
    ``warmup_epochs``. Adaptive optimisers want a smaller lr than SGD (Adam: ``--lr 0.001``).
    """

    optimizer: OptimizerName = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: ScheduleName = "constant"
    gamma: float = 0.1
    warmup_epochs: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise UserError(f"weight_decay must be ≥ 0, got {self.weight_decay}")
        if not 0 < self.gamma <= 1:
            raise UserError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.warmup_epochs < 0:
            raise UserError(f"warmup_epochs must be ≥ 0, got {self.warmup_epochs}")
        if self.schedule.startswith("warmup") and self.warmup_epochs > self.epochs:
            raise UserError(f"warmup_epochs ({self.warmup_epochs}) cannot exceed epochs ({self.epochs})")

    def resumable(self) -> tuple[str, ...]:
        # a schedule is planned over the whole run: more epochs would change its shape mid-way
        changes = super().resumable()
        return changes if self.schedule == "constant" else tuple(c for c in changes if c != "epochs")


@dataclass
class FashionOptimConfig(FashionConfig, OptimConfig):
    """Settings of a Fashion-MNIST experiment whose optimiser and schedule are chosen by name."""


def parse_assignments(items: list[str]) -> dict[str, str]:
    """Split ``["a=1", "b=x"]`` into ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set expects key=value, got {item!r}")
        out[key] = value
    return out


def parse_list(name: str, text: str, kind: type = float, distinct: bool = True) -> list[Any]:
    """``"0, 0.1,3"`` → ``[0.0, 0.1, 3.0]`` (``kind`` int or float): a list setting given as a string.

    At least one value, all finite, none twice (unless ``distinct=False``, for per-stage
    counts that may repeat); a UserError naming the setting otherwise.
    """
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{name} must be a comma-separated list of {kind.__name__}s, e.g. "
                        f"{'1,3,19' if kind is int else '0,1,3'}; got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise UserError(f"{name} must list at least one finite number, got {text!r}")
    if distinct and len(set(values)) != len(values):
        raise UserError(f"{name} lists a value twice: {text!r}")
    return values


def _parse_value(name: str, text: str, kind: Any) -> Any:
    """Parse ``text`` as the annotated type ``kind`` (int, float, bool, str, Literal, X | None)."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(kind)
        if type(None) in args and text.lower() in ("none", "null", ""):
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse_value(name, text, inner)
    if origin is Literal:
        choices = typing.get_args(kind)
        if text not in choices:
            raise UserError(f"{name} must be one of {', '.join(map(str, choices))}; got {text!r}")
        return text
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UserError(f"{name} must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise UserError(f"{name} must be an integer, got {text!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise UserError(f"{name} must be a finite number, got {text!r}")
        return value
    if kind is str:
        return text
    raise TypeError(f"config field {name} has unsupported type {kind!r}")  # a bug, not a user error


def field_types(cls: type[RunConfig]) -> dict[str, Any]:
    """The resolved type annotation of every field of a config class."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def build_config(cls: type[C], overrides: dict[str, Any]) -> C:
    """A ``cls`` with defaults replaced by ``overrides``; strings are parsed to the field types.

    Values that are not strings (from the Python API) are checked against the field type.
    """
    types_ = field_types(cls)
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in types_:
            known = ", ".join(sorted(types_))
            raise UserError(f"unknown setting {key!r} for this experiment; known settings: {known}")
        values[key] = _parse_value(key, value, types_[key]) if isinstance(value, str) else _check(key, value, types_[key])
    config = cls(**values)
    config.validate()
    return config


def _check(name: str, value: Any, kind: Any) -> Any:
    """Type-check a Python value from the API by round-tripping it through the parser."""
    if value is None:
        if _allows(kind, type(None)):
            return None
        raise UserError(f"{name} must be {_describe(kind)}, got None")
    if isinstance(value, bool) and kind is not bool and not _allows(kind, bool):
        raise UserError(f"{name} must be {_describe(kind)}, got {value!r}")
    text = "none" if value is None else str(value)
    return _parse_value(name, text, kind)


def _allows(kind: Any, base: type) -> bool:
    return base in typing.get_args(kind)


def _describe(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain JSON-ready dict of a config."""
    return dataclasses.asdict(config)
