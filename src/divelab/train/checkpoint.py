"""Checkpoints that are safe to load and never half-written.

A checkpoint is a directory holding
- ``tensors-<tag>.safetensors``: every tensor (model weights, optimizer buffers, RNG states);
- ``state.json``: everything else (epoch, counters, optimizer hyperparameters, history),
  with the name of its tensor file.

Both are written to a temporary name and renamed; ``state.json`` is renamed last, so at
every moment it names a complete tensor file — a crash leaves the previous checkpoint
loadable. ``state.json`` records the SHA-256 of the tensor file, checked before any tensor
is read: flipped bytes are refused by name rather than resumed as wrong weights. Loading
never unpickles: tensors come from safetensors, the rest from JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes

from divelab.errors import CheckpointError
from divelab.files import atomic_write_bytes, atomic_write_json

STATE_FILE = "state.json"
FORMAT = 1


# ---- nested state <-> (tensors, JSON skeleton) -------------------------------------------

def flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON skeleton of ``obj`` with each tensor moved into ``tensors`` under a dotted key.

    Dicts with non-string keys (an optimizer's per-parameter state is keyed by int) are
    stored as ``{"__items__": [[key, value], ...]}`` so the key types survive.
    """
    if isinstance(obj, torch.Tensor):
        # a private contiguous copy: safetensors refuses tensors that share storage
        tensors[prefix] = obj.detach().cpu().clone(memory_format=torch.contiguous_format)
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: flatten(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__} at {prefix}")


def unflatten(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__tensor__"}:
            return tensors[skeleton["__tensor__"]]
        if set(skeleton) == {"__items__"}:
            return {k: unflatten(v, tensors) for k, v in skeleton["__items__"]}
        return {k: unflatten(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten(v, tensors) for v in skeleton]
    return skeleton


# ---- random number generators -------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    """The state of every global RNG a run draws from (python, numpy, torch CPU and CUDA)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_initialized():  # only if this process uses CUDA: never start a context for it
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- save / load ------------------------------------------------------------------------

def save(directory: Path, state: dict[str, Any], tag: str) -> None:
    """Write a checkpoint of ``state`` (nested dicts/lists of tensors and JSON values)."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten(state, "s", tensors)
    tensor_file = f"tensors-{tag}-{os.urandom(4).hex()}.safetensors"  # never reuse the live file's name
    data = safetensors_bytes(tensors)
    atomic_write_bytes(directory / tensor_file, data)
    atomic_write_json(directory / STATE_FILE, {"format": FORMAT, "tensors": tensor_file,
                                               "sha256": hashlib.sha256(data).hexdigest(), "state": skeleton})
    for old in directory.glob("tensors-*.safetensors"):
        if old.name != tensor_file:
            old.unlink(missing_ok=True)
    for stray in directory.glob(".*.tmp"):  # left by a process killed while writing
        stray.unlink(missing_ok=True)


def find(run_dir: Path) -> Path | None:
    """A checkpoint directory inside a run directory (``checkpoint/`` or ``checkpoint/NAME/``)."""
    root = run_dir / "checkpoint"
    if (root / STATE_FILE).is_file():
        return root
    found = sorted(root.glob(f"*/{STATE_FILE}")) if root.is_dir() else []
    return found[0].parent if found else None


def read_state_json(directory: Path) -> dict[str, Any]:
    """The JSON part of a checkpoint (no tensors loaded), validated."""
    path = directory / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {directory}; run without --resume to start afresh")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt ({exc}); delete {directory} and start afresh") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("tensors"), str):
        raise CheckpointError(f"checkpoint {path} is not a divelab checkpoint of format {FORMAT}")
    if not isinstance(doc.get("state"), dict):
        raise CheckpointError(f"checkpoint {path} holds no state; delete {directory} and start afresh")
    if Path(doc["tensors"]).name != doc["tensors"]:
        raise CheckpointError(f"checkpoint {path} names a tensor file outside its directory")
    return doc


def load(directory: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`; tensors are loaded on the CPU."""
    doc = read_state_json(directory)
    tensor_path = directory / doc["tensors"]
    try:
        data = tensor_path.read_bytes()
        if "sha256" in doc and hashlib.sha256(data).hexdigest() != doc["sha256"]:
            raise CheckpointError(f"checkpoint tensors {tensor_path} are damaged (their SHA-256 is not the one "
                                  f"{directory / STATE_FILE} recorded); delete {directory} and start afresh")
        tensors = safetensors_load(data)
    except (OSError, SafetensorError, ValueError) as exc:
        raise CheckpointError(f"checkpoint tensors {tensor_path} cannot be read as safetensors ({exc}); "
                              f"delete {directory} and start afresh") from None
    try:
        return unflatten(doc["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {directory} is inconsistent (missing {exc}); delete it and start afresh") from None


def check_tensors(saved: dict[str, Any], expected: dict[str, torch.Tensor], what: str, directory: Path) -> None:
    """Refuse a checkpoint whose ``what`` (e.g. the model's state dict) differs from ``expected``
    in its names, shapes or dtypes, naming the first tensor that differs and how."""
    def fail(problem: str) -> None:
        raise CheckpointError(f"checkpoint in {directory} does not match this run: {problem}; use a new --out "
                              "directory or delete the old run")

    if not isinstance(saved, dict):
        fail(f"it holds no {what} state")
    missing, unexpected = sorted(expected.keys() - saved.keys()), sorted(saved.keys() - expected.keys())
    if missing:
        fail(f"this {what} has {missing[0]!r}, the checkpoint does not" + (f" (and {len(missing) - 1} more)"
                                                                             if len(missing) > 1 else ""))
    if unexpected:
        fail(f"the checkpoint's {what} has {unexpected[0]!r}, this one does not")
    for key, tensor in expected.items():
        old = saved[key]
        if not isinstance(old, torch.Tensor):
            fail(f"{what} tensor {key!r} is not a tensor in the checkpoint")
        if old.shape != tensor.shape:
            fail(f"{what} tensor {key!r} has shape {tuple(old.shape)} in the checkpoint, {tuple(tensor.shape)} here")
        if old.dtype != tensor.dtype:
            fail(f"{what} tensor {key!r} is {old.dtype} in the checkpoint, {tensor.dtype} here")
