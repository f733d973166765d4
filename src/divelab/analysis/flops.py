"""What a network costs: parameters, multiply–accumulates per image, and measured training throughput.

- :func:`count_parameters` — the number of scalars in the model's parameters;
- :func:`count_flops` — multiply–accumulates (MACs) per example of every convolution and Linear
  layer, found with forward hooks on a batch of one, with the per-layer breakdown and a separate
  estimate of the cheap element-wise work (normalisation, activations, pooling);
- :func:`measure_throughput` — examples per second of forward + backward on this machine;
- :func:`utilisation` — model FLOP utilisation: the model arithmetic a training run did per
  second over the machine's matrix-product peak.

A convolution with kernel k_h × k_w, ``C_in / groups`` input channels per output channel and an
output of ``C_out × H_out × W_out`` costs ``C_out · H_out · W_out · (C_in / groups) · k_h · k_w``
MACs (a transposed one: every input element times ``(C_out / groups) · k_h · k_w``); a Linear
layer ``in_features · out_features`` MACs per row. Biases are not counted. A recurrent layer
(``nn.RNN``, ``nn.GRU``, ``nn.LSTM``; g = 1, 3, 4 gates) costs ``T · g · H · (I_l + H)`` per
layer and direction, ``I_l`` the layer's input size; ``nn.MultiheadAttention`` over query
length ``L`` and key length ``S`` of width ``E`` costs ``L·E² + 2·S·E²`` for the projections,
``2·L·S·E`` for the scores and their weighted sum, and ``L·E²`` for the output projection
(PyTorch computes both inside fused kernels that neither forward hooks nor
``FlopCounterMode`` see).
FLOPs ≈ 2 · MACs (one multiply and one add each), the convention of
``torch.utils.flop_counter.FlopCounterMode`` (Twin: ``FlopCounterMode(display=False).get_total_flops()``
equals ``2 · count_flops(...).macs`` for these layers).

Hooks see modules only: functional calls inside a module's ``forward`` (``F.relu`` in an
Inception or residual block, the residual addition, concatenation, attention written with
``torch.bmm``) are not counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.scratch.attention import MultiHeadAttention as ScratchMultiHeadAttention
from divelab.scratch.transformer import TransformerDecoderLayer, TransformerEncoderLayer

ACTIVATIONS = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Softplus)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.MaxPool1d, nn.AvgPool1d)
ADAPTIVE_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)


@dataclass(frozen=True)
class FlopCount:
    """The cost of one forward pass, per image.

    ``macs``: multiply–accumulates of convolutions and Linear layers; ``by_layer``: the same
    by module name (in call order); ``other_ops``: an estimate of the element-wise work of
    normalisation (2 per element: scale and shift), activation (1 per element) and pooling
    layers (window size per output element).
    """

    macs: int
    other_ops: int
    by_layer: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> int:
        """``2 · macs``: the FLOPs of the convolutions and Linear layers."""
        return 2 * self.macs


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """``Σ_p numel(p)`` over the model's parameters (each shared parameter once); optionally only trainable ones."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
ATTENTION = (nn.MultiheadAttention, ScratchMultiHeadAttention)
# the scratch Transformer layers apply their FFN's weights functionally (linear1/linear2 are never called),
# so the layer itself is counted; their library subclasses (divelab.models.transformer_layers) call the
# Linear modules, which count themselves: matched by exact type, not isinstance
FEED_FORWARD = (TransformerEncoderLayer, TransformerDecoderLayer)


def _ffn_by_hand(module: nn.Module) -> bool:
    """Whether ``module`` is a scratch Transformer layer, whose FFN the counter adds by hand."""
    return type(module) in FEED_FORWARD


COUNTED = (nn.modules.conv._ConvNd, nn.Linear, nn.RNNBase, *ATTENTION, *FEED_FORWARD)


def recurrent_macs(gates: int, input_size: int, hidden_size: int, num_layers: int = 1,
                   bidirectional: bool = False) -> int:
    """MACs of one time step of a stacked recurrent layer: ``Σ_layers dirs · g · H · (I_l + H)``."""
    dirs = 2 if bidirectional else 1
    return sum(dirs * gates * hidden_size * ((input_size if layer == 0 else dirs * hidden_size) + hidden_size)
               for layer in range(num_layers))


def _rnn_macs(module: nn.RNNBase, inputs: tuple[Tensor, ...]) -> int:
    """``batch · T`` time steps of :func:`recurrent_macs` for one call (a packed sequence: its real steps)."""
    x = inputs[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        steps = x.data.shape[0]  # Σ over the batch of each sequence's length
    else:
        steps = x.numel() // x.shape[-1]  # batch · T (or T, unbatched)
    if module.proj_size:
        raise ValueError("counting an LSTM with proj_size is not supported")
    return steps * recurrent_macs(GATES[module.mode], module.input_size, module.hidden_size, module.num_layers,
                                  module.bidirectional)


def _attention_macs(module: nn.Module, inputs: tuple[Tensor, ...]) -> int:
    """Projections, scores, weighted sum and output projection of one attention call: ``nn.MultiheadAttention``
    or its scratch twin (always batch-first; keys and values of the query's width). A key of ``None``
    (the scratch decoder reusing its cache) counts the query's projection and the cached keys'
    products as self-attention's would."""
    query, key = inputs[0], inputs[1] if len(inputs) > 1 and inputs[1] is not None else inputs[0]
    batch_first = getattr(module, "batch_first", True)
    seq_dim = 1 if batch_first and query.dim() == 3 else 0
    batch = query.numel() // (query.shape[seq_dim] * query.shape[-1])
    length, source, width = query.shape[seq_dim], key.shape[seq_dim], module.embed_dim
    kv = getattr(module, "kdim", width) + getattr(module, "vdim", width)
    return batch * (length * width * width + source * width * kv + 2 * length * source * width
                    + length * width * width)


def _layer_macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    """MACs for the whole batch of one convolution, Linear, recurrent or attention call."""
    if isinstance(module, nn.RNNBase):
        return _rnn_macs(module, inputs)
    if isinstance(module, ATTENTION):
        return _attention_macs(module, inputs)
    if _ffn_by_hand(module):  # its attention modules count themselves
        first, second = module.linear1, module.linear2
        tokens = inputs[0].numel() // first.in_features
        return tokens * (first.in_features * first.out_features + second.in_features * second.out_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        if module.transposed:
            # every input position is multiplied by the whole (C_in, C_out/groups, k…) kernel
            return inputs[0].numel() * module.weight[0].numel()
        return output.numel() * module.weight[0].numel()  # weight[0]: (C_in/groups, k_h, k_w)
    return output.numel() * module.in_features  # Linear: every output element is a dot product


def _other_ops(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    """Element-wise operations for the whole batch of one normalisation, activation or pooling call."""
    if isinstance(module, NORMS):
        return 2 * output.numel()
    if isinstance(module, ACTIVATIONS):
        return output.numel()
    if isinstance(module, POOLS):
        kernel = module.kernel_size
        window = math.prod(kernel) if isinstance(kernel, tuple) else kernel ** (output.dim() - 2)
        return output.numel() * window
    if isinstance(module, ADAPTIVE_POOLS):
        return inputs[0].numel()
    return 0


def _dummy_input(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None = None) -> Tensor:
    """Zeros of ``shape`` on the model's device, of ``dtype`` or the model's (float32 for a model without
    parameters); ``torch.long`` for a model that takes token ids."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    if dtype is None:
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.zeros(shape, device=device, dtype=dtype)


def _example_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be one example's shape, e.g. (C, H, W), of positive integers; "
                         f"got {input_shape!r}")
    return shape


def count_flops(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype | None = None) -> FlopCount:
    """Multiply–accumulates per example of one forward pass of ``model``.

    ``input_shape`` is one example's shape, without the batch dimension: (C, H, W) for an
    image. The model runs once on a batch of one, in evaluation mode and without gradients, on
    zeros of its own device and dtype (or of ``dtype``: ``torch.long`` for token ids; a model
    on the ``meta`` device costs no arithmetic), and is put back in its mode afterwards.
    """
    return count_call(model, _dummy_input(model, (1, *_example_shape(input_shape)), dtype))


def count_call(model: nn.Module, *inputs: Any) -> FlopCount:
    """Multiply–accumulates of one forward call ``model(*inputs)`` — the whole batch it is given —
    in evaluation mode and without gradients; the model is put back in its mode afterwards."""
    by_layer: dict[str, int] = {}
    other = 0

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any, name: str) -> None:
        nonlocal other
        if isinstance(module, ATTENTION):  # called as attn(q, k, v, …) or attn(query=…, key=…)
            args = (*args, *(kwargs.get(k) for k in ("query", "key", "value")[len(args):]))
        if isinstance(module, COUNTED):
            by_layer[name] = by_layer.get(name, 0) + _layer_macs(module, args, output)
        else:
            other += _other_ops(module, args, output)

    handles = [m.register_forward_hook(lambda mod, a, k, o, n=name: hook(mod, a, k, o, n), with_kwargs=True)
               for name, m in _counted_modules(model)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return FlopCount(macs=sum(by_layer.values()), other_ops=other, by_layer=by_layer)


def _counted_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The leaf modules, each attention module whole (its ``out_proj`` is inside its count) and each
    scratch Transformer layer (for its FFN; its attention modules are hooked on their own)."""
    attention = [name for name, m in model.named_modules() if isinstance(m, ATTENTION)]
    inside = tuple(f"{name}." for name in attention)
    return [(name, m) for name, m in model.named_modules()
            if (isinstance(m, ATTENTION) or _ffn_by_hand(m) or not list(m.children()))
            and not (inside and name.startswith(inside))]


def _synchronize(x: Tensor) -> None:
    """Wait for the GPU's queued kernels (they run asynchronously) before reading the clock."""
    if x.is_cuda:
        torch.cuda.synchronize(x.device)


def measure_throughput(model: nn.Module, input_shape: Sequence[int], batch_size: int = 128, steps: int = 3,
                       warmup: int = 1, seed: int = 0) -> float:
    """Examples per second of ``forward → cross-entropy → backward`` in training mode, on random batches.

    ``input_shape`` is one example's shape, e.g. (C, H, W). ``warmup`` untimed steps come
    first (PyTorch's first calls are slow); the model's gradients are cleared afterwards and
    its mode restored. The output's last dimension is taken as the number of classes.
    Wall-clock time, so it depends on what else the machine is doing (and on
    ``torch.get_num_threads()``).
    """
    shape = _example_shape(input_shape)
    if batch_size < 1 or steps < 1 or warmup < 0:
        raise ValueError(f"need batch_size ≥ 1, steps ≥ 1, warmup ≥ 0; got {batch_size}, {steps}, {warmup}")
    x = _dummy_input(model, (batch_size, *shape))
    generator = torch.Generator(device=x.device).manual_seed(seed)
    x = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    was_training = model.training
    model.train()
    try:
        for step in range(warmup + steps):
            if step == warmup:
                _synchronize(x)
                start = time.perf_counter()
            out = model(x)
            y = torch.randint(0, out.shape[-1], (batch_size,), generator=generator, device=x.device)
            model.zero_grad(set_to_none=True)
            F.cross_entropy(out, y).backward()
        _synchronize(x)
        seconds = time.perf_counter() - start
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return batch_size * steps / seconds


def utilisation(macs_per_example: int, examples: int, seconds: float, peak_flops: float) -> dict[str, float]:
    """Model FLOP utilisation of training: ``6 · MACs · examples / seconds`` over ``peak_flops``.

    A training step costs about three forward passes (forward, and a backward that computes
    gradients for both inputs and weights), each ``2 · MACs`` FLOPs per example; only the
    convolutions and Linear layers :func:`count_flops` counts are included, so the figure
    is a slight underestimate of the arithmetic done.
    """
    if seconds <= 0 or peak_flops <= 0:
        raise ValueError(f"seconds and peak_flops must be positive, got {seconds} and {peak_flops}")
    achieved = 6 * macs_per_example * examples / seconds
    return {"model_gflops_per_s": achieved / 1e9, "peak_gflops_per_s": peak_flops / 1e9, "mfu": achieved / peak_flops}
