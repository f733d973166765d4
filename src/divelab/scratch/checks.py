"""Boundary checks for the scratch functions: a wrong argument fails at the door, by name.

Given a list where a tensor belongs, or one tensor where a pair belongs, a scratch function
would otherwise fail deep inside torch (``'list' object has no attribute 'dim'``) or — worse —
compute something: a ``(2, H)`` tensor unpacks into two rows as readily as a pair ``(h, c)``
does. These checks look at the arguments only (their types and how many there are), never at
their elements, so they cost nothing next to the tensor work they guard. Messages follow
torch's: ``masked_softmax(): argument 'scores' must be a Tensor, not list``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_tensor(function: str, name: str, value: Any, optional: bool = False) -> None:
    """A TypeError unless ``value`` is a tensor (or None, if ``optional``)."""
    if isinstance(value, Tensor) or (optional and value is None):
        return
    expected = "a Tensor or None" if optional else "a Tensor"
    raise TypeError(f"{function}(): argument '{name}' must be {expected}, not {_type_name(value)}")


def check_tensor_pair(function: str, name: str, value: Any, what: str) -> None:
    """A TypeError unless ``value`` is a tuple (or list) of exactly two tensors, ``what`` naming them."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, Tensor) for v in value):
        return
    if isinstance(value, Tensor):
        got = "one Tensor"
    elif isinstance(value, (tuple, list)):
        got = f"a {_type_name(value)} of {len(value)}: ({', '.join(_type_name(v) for v in value)})"
    else:
        got = _type_name(value)
    raise TypeError(f"{function}(): argument '{name}' must be a pair {what} of two Tensors, not {got}")
