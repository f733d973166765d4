"""Optimisers written by hand on plain tensors, with the interface of a torch optimizer.

Each class follows PyTorch's update rule exactly (same defaults, same conventions for
weight decay, momentum and bias correction) and has a twin test against ``torch.optim``.
They are deliberately *not* ``torch.optim.Optimizer`` subclasses, so torch's own LR
schedulers refuse them; a training loop changes ``param_groups[0]["lr"]`` instead.

Notation in the formulas: ``θ`` a parameter, ``g`` its gradient (``∇θ L``, the minibatch
mean loss), ``lr`` the learning rate, ``λ`` the weight decay, ``t`` the number of steps
this parameter has taken (counting the current one). Products and squares are elementwise.

One interface, five optimisers: each is a short class with its update rule in its docstring, and
they share the base class, step counter and argument checks, as in ``torch.optim``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor


class Optimizer:
    """What a training loop uses of a torch optimizer: ``param_groups``, ``step``, ``zero_grad``,
    ``state_dict`` / ``load_state_dict``.

    There is one parameter group, ``param_groups[0] = {"params": [...], "lr": ..., <hyperparameters>}``;
    ``step`` reads every hyperparameter from it each time, so a schedule may write ``"lr"``
    between steps. ``state[i]`` is the per-parameter state (buffers and step counters) of
    ``params[i]``, created at that parameter's first step. A parameter whose ``.grad`` is
    ``None`` is skipped: it does not move and its state does not advance.

    A subclass sets ``buffers`` and ``counters`` (the names its states may hold), validates its
    hyperparameters in ``_check`` and writes the update of one parameter in ``_update``.
    """

    buffers: ClassVar[tuple[str, ...]] = ()  # per-parameter tensors, shaped like the parameter
    counters: ClassVar[tuple[str, ...]] = ()  # per-parameter ints (the step count)

    def __init__(self, params: Iterable[Tensor], **hyperparameters: Any) -> None:
        name = type(self).__name__
        params = list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise ValueError(f"{name}: parameter {i} is a {type(p).__name__}, not a tensor "
                                 "(parameter groups given as dicts are not supported)")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} is not a leaf tensor, so it would get no .grad")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in the list (it would be updated twice)")
        self.param_groups: list[dict[str, Any]] = [{"params": params, **self._check(hyperparameters)}]
        self.state: list[dict[str, Any]] = [{} for _ in params]

    @staticmethod
    def _check(hyperparameters: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters validated and normalised (floats, bools, tuples); ValueError if invalid."""
        raise NotImplementedError

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p`` in place from ``grad``, reading and writing its ``state``."""
        raise NotImplementedError

    @property
    def lr(self) -> float:
        """The learning rate of the (single) parameter group."""
        return self.param_groups[0]["lr"]

    def step(self) -> None:
        """Update every parameter that has a gradient, with the hyperparameters now in ``param_groups``."""
        group = self.param_groups[0]
        # The update itself must not become part of the autograd graph.
        with torch.no_grad():
            for p, state in zip(group["params"], self.state):
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError(f"{type(self).__name__} does not support sparse gradients")
                self._update(p, p.grad, state, group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, since ``backward()`` adds to ``.grad`` rather than overwriting it.

        ``set_to_none=True`` drops them (``p.grad = None``); ``False`` fills them with zeros.
        """
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer, made of str-keyed dicts, lists, tensors and JSON scalars.

        ``{"optimizer": class name, "param_groups": [hyperparameters without "params"],
        "param_shapes": [[...], ...], "state": [per-parameter state, ...]}``. Tensors are copies,
        so later steps do not change a saved snapshot.
        """
        group = self.param_groups[0]
        return {
            "optimizer": type(self).__name__,
            "param_groups": [{k: list(v) if isinstance(v, tuple) else v for k, v in group.items() if k != "params"}],
            "param_shapes": [list(p.shape) for p in group["params"]],
            "state": [{k: v.detach().clone() if isinstance(v, Tensor) else v for k, v in s.items()}
                      for s in self.state],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from ``state_dict()`` of the same class over parameters of the same shapes.

        Hyperparameters (the learning rate included) are taken from the snapshot; buffers are
        copied onto each parameter's device and dtype. Everything is checked before anything
        changes: a mismatch raises ValueError and leaves the optimizer as it was.
        """
        name = type(self).__name__
        expected = ["optimizer", "param_groups", "param_shapes", "state"]
        if not isinstance(state_dict, dict) or set(state_dict) != set(expected):
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"not a state dict of {name}: expected keys {expected}, got {got}")
        if state_dict["optimizer"] != name:
            raise ValueError(f"the state dict is for {state_dict['optimizer']}, not {name}")
        params = self.param_groups[0]["params"]
        shapes, states = state_dict["param_shapes"], state_dict["state"]
        if len(shapes) != len(params) or len(states) != len(params):
            raise ValueError(f"the state dict holds {len(shapes)} parameters, this {name} has {len(params)}")
        for i, (shape, p) in enumerate(zip(shapes, params)):
            if list(shape) != list(p.shape):
                raise ValueError(f"parameter {i} has shape {tuple(shape)} in the state dict, {tuple(p.shape)} here")
        hyperparameters = self._loaded_hyperparameters(state_dict["param_groups"])
        loaded = [self._loaded_state(i, s, p) for i, (s, p) in enumerate(zip(states, params))]
        self.param_groups[0].update(hyperparameters)
        self.state = loaded

    def _loaded_hyperparameters(self, groups: Any) -> dict[str, Any]:
        if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
            raise ValueError("the state dict must hold exactly one parameter group")
        expected = set(self.param_groups[0]) - {"params"}
        if set(groups[0]) != expected:
            raise ValueError(f"the state dict's hyperparameters {sorted(groups[0])} are not "
                             f"{type(self).__name__}'s {sorted(expected)}")
        return self._check(groups[0])

    def _loaded_state(self, i: int, saved: Any, p: Tensor) -> dict[str, Any]:
        """The saved state of parameter ``i``, checked, with buffers copied onto ``p``'s device and dtype."""
        if not isinstance(saved, dict):
            raise ValueError(f"the state of parameter {i} is a {type(saved).__name__}, not a dict")
        state: dict[str, Any] = {}
        for key, value in saved.items():
            if key in self.buffers and isinstance(value, Tensor):
                if value.shape != p.shape:
                    raise ValueError(f"buffer {key!r} of parameter {i} has shape {tuple(value.shape)}, "
                                     f"the parameter {tuple(p.shape)}")
                state[key] = value.detach().to(device=p.device, dtype=p.dtype, copy=True)
            elif key in self.counters and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                state[key] = value
            else:
                raise ValueError(f"unexpected entry {key!r} = {value!r:.60} in the state of parameter {i} "
                                 f"(a {type(self).__name__} keeps buffers {list(self.buffers)} "
                                 f"and counters {list(self.counters)})")
        return state

    def __repr__(self) -> str:
        group = self.param_groups[0]
        settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
        return f"{type(self).__name__}({len(group['params'])} parameters, {settings})"


def _zeros(state: dict[str, Any], name: str, p: Tensor) -> Tensor:
    """The buffer ``state[name]``, created as zeros shaped like ``p`` at its first use."""
    if name not in state:
        state[name] = torch.zeros_like(p)
    return state[name]


def _next_step(state: dict[str, Any]) -> int:
    """Advance and return this parameter's step count ``t`` (1 at its first step)."""
    state["step"] = state.get("step", 0) + 1
    return state["step"]


class SGD(Optimizer):
    """Minibatch stochastic gradient descent, with optional momentum and L2 weight decay.

        g ← g + λ θ                                   (L2 weight decay, added to the gradient)
        b ← g  at the first step,  then  b ← μ b + (1 − τ) g      (momentum μ, dampening τ)
        d ← g + μ b  (nesterov)   or   d ← b   (momentum)   or   d ← g   (μ = 0)
        θ ← θ − lr · d

    Without momentum this is ``θ ← θ − lr · ∇θ L``, with ``L`` averaged over the minibatch (so
    ``lr`` does not depend on the batch size). As in PyTorch, the momentum buffer starts at the
    first gradient (not at zero, and undamped), and nesterov needs μ > 0 and τ = 0.

    Twin: torch.optim.SGD
    """

    buffers = ("momentum_buffer",)

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    @staticmethod
    def _check(h: dict[str, Any]) -> dict[str, Any]:
        checked = {"lr": _non_negative("learning rate", h["lr"]), "momentum": _non_negative("momentum", h["momentum"]),
                   "dampening": _unit("dampening", h["dampening"], closed=True),
                   "weight_decay": _non_negative("weight decay", h["weight_decay"]), "nesterov": bool(h["nesterov"])}
        if checked["nesterov"] and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0, got "
                             f"momentum={checked['momentum']}, dampening={checked['dampening']}")
        return checked

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, mu, tau, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        g = grad + wd * p if wd else grad
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.clone()  # b ← g
            else:
                state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - tau)  # b ← μ b + (1 − τ) g
            b = state["momentum_buffer"]
            g = g + mu * b if group["nesterov"] else b
        p.add_(g, alpha=-lr)  # θ ← θ − lr · d


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step is divided by the root of the sum of its squared gradients.

        g ← g + λ θ                                   (L2 weight decay)
        s ← s + g²                                    (s starts at initial_accumulator_value)
        θ ← θ − lr / (1 + (t − 1) · lr_decay) · g / (√s + ε)

    Coordinates with large past gradients take small steps, rarely-updated ones large steps.

    The course (Hung-yi Lee) writes the update as ``θ ← θ − (η_t / σ_t) g`` with the root *mean*
    square ``σ_t = √(s_t / t)`` and a decaying rate ``η_t = η / √t``; the two √t cancel, leaving
    ``η / √s_t``: PyTorch's form with the root *sum* and a constant ``lr = η``. We follow PyTorch
    (ε is added outside the root).

    Twin: torch.optim.Adagrad
    """

    buffers = ("sum",)
    counters = ("step",)

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)

    @staticmethod
    def _check(h: dict[str, Any]) -> dict[str, Any]:
        return {"lr": _non_negative("learning rate", h["lr"]), "lr_decay": _non_negative("lr_decay", h["lr_decay"]),
                "weight_decay": _non_negative("weight decay", h["weight_decay"]),
                "initial_accumulator_value": _non_negative("initial_accumulator_value",
                                                           h["initial_accumulator_value"]),
                "eps": _non_negative("eps", h["eps"])}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        t, wd = _next_step(state), group["weight_decay"]
        if "sum" not in state:
            state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
        g = grad + wd * p if wd else grad
        s = state["sum"].addcmul_(g, g)  # s ← s + g²
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        p.addcdiv_(g, s.sqrt() + group["eps"], value=-lr_t)  # θ ← θ − lr_t · g / (√s + ε)


class RMSProp(Optimizer):
    """RMSProp: Adagrad with a leaky average of squared gradients, so old gradients are forgotten.

        g ← g + λ θ                                   (L2 weight decay)
        v ← α v + (1 − α) g²                          (v starts at 0)
        d ← √(v − ḡ²) + ε  with  ḡ ← α ḡ + (1 − α) g   (centered)   or   d ← √v + ε
        b ← μ b + g / d,  θ ← θ − lr · b              (momentum μ > 0, b starts at 0)
        θ ← θ − lr · g / d                            (μ = 0)

    ``centered`` divides by an estimate of the gradient's standard deviation instead of its
    root mean square. Stricter than PyTorch, ``α`` must lie in [0, 1).

    Twin: torch.optim.RMSprop
    """

    buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params: Iterable[Tensor], lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    @staticmethod
    def _check(h: dict[str, Any]) -> dict[str, Any]:
        return {"lr": _non_negative("learning rate", h["lr"]), "alpha": _unit("alpha", h["alpha"]),
                "eps": _non_negative("eps", h["eps"]), "weight_decay": _non_negative("weight decay", h["weight_decay"]),
                "momentum": _non_negative("momentum", h["momentum"]), "centered": bool(h["centered"])}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, alpha, mu, wd = group["lr"], group["alpha"], group["momentum"], group["weight_decay"]
        g = grad + wd * p if wd else grad
        v = _zeros(state, "square_avg", p).mul_(alpha).addcmul_(g, g, value=1 - alpha)  # v ← α v + (1 − α) g²
        if group["centered"]:
            g_avg = _zeros(state, "grad_avg", p).mul_(alpha).add_(g, alpha=1 - alpha)  # ḡ ← α ḡ + (1 − α) g
            d = (v - g_avg * g_avg).sqrt() + group["eps"]
        else:
            d = v.sqrt() + group["eps"]
        if mu > 0:
            b = _zeros(state, "momentum_buffer", p).mul_(mu).addcdiv_(g, d)  # b ← μ b + g / d
            p.add_(b, alpha=-lr)  # θ ← θ − lr · b
        else:
            p.addcdiv_(g, d, value=-lr)  # θ ← θ − lr · g / d


class Adam(Optimizer):
    """Adam: momentum on the gradient and RMSProp scaling, both bias-corrected for their zero start.

        g ← g + λ θ                                   (L2 weight decay, added to the gradient)
        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²        (m, v start at 0)
        v_max ← max(v_max, v), then v ← v_max         (amsgrad only)
        θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    that is ``θ ← θ − lr · m̂ / (√v̂ + ε)`` with ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``: as
    in PyTorch, ε is added after the bias correction of ``v``.

    Twin: torch.optim.Adam
    """

    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    counters = ("step",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    @staticmethod
    def _check(h: dict[str, Any]) -> dict[str, Any]:
        betas = h["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (β₁, β₂), got {betas!r}")
        return {"lr": _non_negative("learning rate", h["lr"]),
                "betas": (_unit("betas[0]", betas[0]), _unit("betas[1]", betas[1])),
                "eps": _non_negative("eps", h["eps"]), "weight_decay": _non_negative("weight decay", h["weight_decay"]),
                "amsgrad": bool(h["amsgrad"])}

    def _decay(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        """Apply weight decay; return the gradient the moments see. Adam: ``g + λ θ``."""
        wd = group["weight_decay"]
        return grad + wd * p if wd else grad

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        (beta1, beta2), t = group["betas"], _next_step(state)
        g = self._decay(p, grad, group)
        m = _zeros(state, "exp_avg", p).mul_(beta1).add_(g, alpha=1 - beta1)  # m ← β₁ m + (1 − β₁) g
        v = _zeros(state, "exp_avg_sq", p).mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v ← β₂ v + (1 − β₂) g²
        if group["amsgrad"]:
            v_max = _zeros(state, "max_exp_avg_sq", p)
            v = torch.maximum(v_max, v, out=v_max)  # v_max ← max(v_max, v)
        step_size = group["lr"] / (1 - beta1**t)
        denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
        p.addcdiv_(m, denom, value=-step_size)  # θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)


class AdamW(Adam):
    """Adam with *decoupled* weight decay: the parameter shrinks directly instead of the gradient growing.

        θ ← θ · (1 − lr · λ)                          (before the Adam step; g is left alone)
        then Adam's update with that g (λ never enters m or v)

    With L2 decay inside Adam, ``λ θ`` is rescaled by ``1 / √v̂`` like the gradient, so weights
    with large gradients are barely decayed; decoupling makes the decay the same for all.
    Note the default ``weight_decay=1e-2`` (Adam's is 0), as in PyTorch.

    Twin: torch.optim.AdamW
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _decay(self, p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
        """AdamW: ``θ ← θ · (1 − lr · λ)``; the gradient is returned unchanged."""
        if group["weight_decay"]:
            p.mul_(1 - group["lr"] * group["weight_decay"])
        return grad


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
}


# ---- hyperparameter checks -----------------------------------------------------------------

def _number(what: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


def _non_negative(what: str, value: Any) -> float:
    number = _number(what, value)
    if not number >= 0:
        raise ValueError(f"{what} must be >= 0, got {number}")
    return number


def _unit(what: str, value: Any, closed: bool = False) -> float:
    """A number in [0, 1), or in [0, 1] when ``closed``."""
    number = _number(what, value)
    if not (0 <= number <= 1 if closed else 0 <= number < 1):
        raise ValueError(f"{what} must be in [0, 1{']' if closed else ')'}, got {number}")
    return number
