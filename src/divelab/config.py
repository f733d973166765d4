"""Experiment settings as dataclasses, overridden from ``--set key=value`` with type checks.

Every experiment has a config dataclass derived from :class:`RunConfig`; the fields it
declares are the only keys ``--set`` accepts, and each value is parsed to the field's type:
int, float, bool, str, a Literal of names, ``X | None``, or a tuple of numbers or names
(``tuple[int, ...]``), given as ``--set degrees=1,3,19`` (or ``[1,3,19]``), from Python as
``degrees=(1, 3, 19)`` or a list, and stored in ``config.json`` as a JSON list.

Bounds a value must keep are declared on the field with :func:`setting` and checked by
:meth:`RunConfig.validate`; an experiment's own ``validate`` keeps only the rules that
relate several settings.

One thing, settings, kept in one module because the ``--set`` parser reads the very field types
and bounds that the dataclasses declare.
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
T = TypeVar("T")

_BOUNDS = "divelab.bounds"  # the key of a field's Bounds in its dataclass metadata


@dataclass(frozen=True)
class Bounds:
    """The limits a numeric setting must keep (every value of a tuple setting), and whether
    a tuple setting's values must differ. ``note`` says what a limit means to the user
    (``"0 = the whole training set"``) and is shown in the error."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    distinct: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if (self.ge is not None and self.gt is not None) or (self.le is not None and self.lt is not None):
            raise TypeError("give at most one lower (ge or gt) and one upper bound (le or lt)")  # a bug

    def holds(self, value: float) -> bool:
        """Whether one number is within the limits; NaN never is."""
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def describe(self) -> str:
        """The limits as the error message says them: ``≥ 1``, ``> 0``, ``in [0, 1)``."""
        low = f"[{self.ge}" if self.ge is not None else f"({self.gt}" if self.gt is not None else None
        high = f"{self.le}]" if self.le is not None else f"{self.lt})" if self.lt is not None else None
        if low and high:
            return f"in {low}, {high}"
        if low:
            return f"≥ {self.ge}" if self.ge is not None else f"> {self.gt}"
        if high:
            return f"≤ {self.le}" if self.le is not None else f"< {self.lt}"
        return ""

    def check(self, name: str, value: Any) -> None:
        """Raise a UserError naming ``name`` unless ``value`` (a number or a tuple of them) keeps the limits."""
        note = f" ({self.note})" if self.note else ""
        if isinstance(value, tuple):
            if self.distinct and len(set(value)) != len(value):
                raise UserError(f"{name} lists a value twice: {show(value)}")
            if self.describe() and not all(self.holds(v) for v in value):
                raise UserError(f"{name} values must be {self.describe()}{note}, got {show(value)}")
        elif isinstance(value, (int, float)) and not self.holds(value):
            raise UserError(f"{name} must be {self.describe()}{note}, got {value}")


def setting(default: T, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, distinct: bool = False, note: str = "") -> T:
    """A config field with a default and the bounds its value must keep, checked by
    :meth:`RunConfig.validate`::

        num_steps: int = setting(32, ge=1)
        momentum: float = setting(0.9, ge=0, lt=1)
        train_size: int = setting(0, ge=0, note="0 = the whole training set")
        degrees: tuple[int, ...] = setting((1, 3, 19), ge=0, le=19, distinct=True)

    Bounds are inherited: a subclass that redeclares the field with a new default keeps the
    bounds of the class above it, unless it gives bounds of its own.
    """
    bounds = Bounds(ge=ge, gt=gt, le=le, lt=lt, distinct=distinct, note=note)
    return dataclasses.field(default=default, metadata={_BOUNDS: bounds})


def bounds_of(cls: type, name: str) -> Bounds | None:
    """The bounds of field ``name`` of config class ``cls``: those of the nearest class in its
    MRO that declares the field with :func:`setting`."""
    for klass in cls.__mro__:
        declared = klass.__dict__.get("__dataclass_fields__", {}).get(name)
        if declared is not None and _BOUNDS in declared.metadata:
            return typing.cast(Bounds, declared.metadata[_BOUNDS])
    return None


def show(value: Any) -> str:
    """A setting's value as it is typed after ``--set key=``: ``1,3,19`` for a tuple."""
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


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
    batch_size: int = setting(256, ge=1)
    lr: float = 0.1
    seed: int = 0
    device: str = "auto"
    precision: PrecisionName = "auto"
    compile: bool = False
    tensorboard: bool = False

    def validate(self) -> None:
        """Reject values no experiment can use: every field's bounds (:func:`setting`), then
        the rules below; subclasses extend this with rules that relate several settings."""
        for f in fields(self):
            bounds = bounds_of(type(self), f.name)
            if bounds is not None:
                bounds.check(f.name, getattr(self, f.name))
        if self.epochs < self.min_epochs:
            raise UserError(f"epochs must be ≥ {self.min_epochs} (--epochs N), got {self.epochs}")
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
    momentum: float = setting(0.9, ge=0, lt=1)
    weight_decay: float = setting(0.0, ge=0)
    schedule: ScheduleName = "constant"
    gamma: float = setting(0.1, gt=0, le=1)
    warmup_epochs: float = setting(1.0, ge=0)

    def validate(self) -> None:
        super().validate()
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
    """``"0, 0.1,3"`` → ``[0.0, 0.1, 3.0]`` (``kind`` int or float): numbers inside a setting given as text.

    At least one value, all finite, none twice (unless ``distinct=False``, for per-stage
    counts that may repeat); a UserError naming the setting otherwise. A list setting is
    better a ``tuple[int, ...]`` field (parsed by :func:`build_config`); this serves the
    settings still held as text (speedrun's ``widths`` and ``extra``, the values of ``lrs``).
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


def _tuple_item(kind: Any) -> Any:
    """The item type of ``tuple[X, ...]``, or None for any other type."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _example(item: Any) -> str:
    """A list of ``item`` values to show in an error: what a good setting looks like."""
    if typing.get_origin(item) is Literal:
        return ",".join(map(str, typing.get_args(item)[:2]))
    return "1,3,19" if item is int else "0,0.1,3"


def _parse_tuple(name: str, text: str, item: Any) -> tuple[Any, ...]:
    """``"1,3,19"`` or ``"[1, 3, 19]"`` → ``(1, 3, 19)``: at least one value, each parsed as ``item``."""
    inner = text.strip()
    if len(inner) >= 2 and (inner[0], inner[-1]) in (("[", "]"), ("(", ")")):
        inner = inner[1:-1]
    parts = [part.strip() for part in inner.split(",") if part.strip()]
    if not parts:
        raise UserError(f"{name} must list at least one value, e.g. {_example(item)}; got {text!r}")
    if typing.get_origin(item) is Literal:
        choices = typing.get_args(item)
        unknown = [part for part in parts if part not in choices]
        if unknown:
            raise UserError(f"{name} must list some of {', '.join(map(str, choices))}; got {text!r}")
        return tuple(parts)
    try:
        values = tuple(item(part) for part in parts)
    except ValueError:
        raise UserError(f"{name} must be a comma-separated list of {_describe(item)}s, e.g. "
                        f"{_example(item)}; got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"{name} must list finite numbers, got {text!r}")
    return values


def _parse_value(name: str, text: str, kind: Any) -> Any:
    """Parse ``text`` as the annotated type ``kind`` (int, float, bool, str, Literal, X | None,
    ``tuple[X, ...]`` of int, float or a Literal)."""
    item = _tuple_item(kind)
    if item in (int, float) or typing.get_origin(item) is Literal:
        return _parse_tuple(name, text, item)
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
    values = {key: _value(key, value, types_) for key, value in overrides.items()}
    config = cls(**values)
    config.validate()
    return config


def parse_setting(cls: type[RunConfig], key: str, value: Any) -> Any:
    """One setting of ``cls`` as its field holds it: ``value`` is parsed (a string) or checked
    (a Python value, or a JSON one read back from config.json: a list for a tuple)."""
    return _value(key, value, field_types(cls))


def _value(key: str, value: Any, types_: dict[str, Any]) -> Any:
    if key not in types_:
        known = ", ".join(sorted(types_))
        raise UserError(f"unknown setting {key!r} for this experiment; known settings: {known}")
    return _parse_value(key, value, types_[key]) if isinstance(value, str) else _check(key, value, types_[key])


def _check(name: str, value: Any, kind: Any) -> Any:
    """Type-check a Python value from the API by round-tripping it through the parser; a
    tuple setting takes a tuple or list, each item checked as the item type."""
    item = _tuple_item(kind)
    if item is not None and isinstance(value, (tuple, list)):
        if not value:
            raise UserError(f"{name} must list at least one value, e.g. {_example(item)}; got {value!r}")
        return tuple(_check(name, v, item) for v in value)
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
    """Plain JSON-ready dict of a config: tuples become lists, as JSON reads them back
    (:func:`parse_setting` turns them into tuples again)."""
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(config).items()}
