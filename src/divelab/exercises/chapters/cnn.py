"""Chapter 5 exercises — convolutional networks: cross-correlation, a convolution layer's forward
pass, max and average pooling, and the two halves of a spatial transformer (affine grid, bilinear
grid sampling).

One chapter's exercises, kept in one module like every chapter's; its length is the hand-built
cases and probes of its exercises.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, as_tensor, outputs_and_grads, randn

Pair = int | tuple[int, int]


def _uniform(g: torch.Generator, low: float, high: float, *shape: int) -> Tensor:
    """A float64 tensor of U(low, high) values drawn from ``g``."""
    return low + (high - low) * torch.rand(shape, generator=g, dtype=DTYPE)


# ---- corr2d ---------------------------------------------------------------------------------------

def _corr2d_case(name: str, x_shape: tuple[int, int], k_shape: tuple[int, int]) -> Case:
    return Case(name, lambda g: {"X": randn(g, *x_shape), "K": randn(g, *k_shape)})


def _corr2d_cases() -> list[Case]:
    return [_corr2d_case("6×8 input, 1×2 kernel", (6, 8), (1, 2)),
            _corr2d_case("5×5 input, 3×3 kernel", (5, 5), (3, 3)),
            _corr2d_case("7×6 input, 2×3 kernel", (7, 6), (2, 3)),
            _corr2d_case("4×7 input, tall 4×1 kernel", (4, 7), (4, 1)),
            _corr2d_case("1×1 kernel", (3, 3), (1, 1)),
            _corr2d_case("kernel as large as the input: one output pixel", (3, 4), (3, 4))]


def _corr2d_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    return outputs_and_grads(fn, args, grad_of=["X", "K"])


CORR2D = Exercise(
    name="corr2d", chapter=5, title="2-D cross-correlation of one array with one kernel", difficulty="easy",
    entry="corr2d",
    signature="def corr2d(X: Tensor, K: Tensor) -> Tensor:",
    task='''2-D cross-correlation (what deep learning calls "convolution"), one channel, no padding, stride 1.

    Y[i, j] = Σ_a Σ_b X[i + a, j + b] · K[a, b]

    The kernel slides over X without being flipped (flipping it would give the convolution of
    mathematics). X: (H, W), K: (kh, kw) with kh ≤ H and kw ≤ W; Y: (H − kh + 1, W − kw + 1),
    one value per position where the kernel fits wholly inside X.

    Allowed: loops over the output positions, slicing, Tensor.unfold, sums and products.
    Not allowed: torch.nn.functional.conv2d, torch.conv2d, nn.Conv2d (the thing itself).''',
    solution="divelab.scratch.conv:corr2d",
    reference=lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0],
    probe=_corr2d_probe, cases=_corr2d_cases,
    forbidden=("torch.nn.functional.conv2d", "torch.conv2d", "torch.convolution", "torch._convolution"),
    hints=(
        Hint("corr2d-size", "Y has shape (H − kh + 1, W − kw + 1): the output positions are "
             "i = 0 … H − kh and j = 0 … W − kw (range(H − kh + 1)), every one where the kernel "
             "fits wholly inside X", kind="shape"),
        Hint("corr2d-flipped", "cross-correlation does not flip the kernel: Y[i, j] = Σ X[i + a, j + b] · K[a, b] "
             "with the same a, b in X and K (K.flip(...) or X[i − a, j − b] is the convolution of "
             "mathematics); also check that rows index the first axis and columns the second",
             key="^output$", kind="values"),
    ),
)


# ---- conv2d ---------------------------------------------------------------------------------------

def _conv2d_case(name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Pair = 1,
                 padding: Pair = 0, bias: bool = True) -> Case:
    return Case(name, lambda g: {"x": randn(g, *x_shape), "weight": randn(g, *w_shape),
                                 "bias": randn(g, w_shape[0]) if bias else None,
                                 "stride": stride, "padding": padding})


def _conv2d_cases() -> list[Case]:
    return [_conv2d_case("3×3 kernel, 3 → 3 channels", (2, 3, 6, 7), (3, 3, 3, 3)),
            _conv2d_case("no bias, 1×1 kernel, 4 → 5 channels", (3, 4, 6, 9), (5, 4, 1, 1), bias=False),
            _conv2d_case("padding 1, 3×3 kernel", (2, 2, 5, 6), (3, 2, 3, 3), padding=1),
            _conv2d_case("rectangular 2×5 kernel, padding (1, 2)", (2, 3, 7, 11), (4, 3, 2, 5), padding=(1, 2)),
            _conv2d_case("1×1 image, padding 1", (2, 1, 1, 1), (2, 1, 3, 3), padding=1),
            _conv2d_case("stride 2, padding 1", (2, 3, 7, 8), (2, 3, 3, 3), stride=2, padding=1),
            _conv2d_case("1×1 kernel, stride 2", (3, 4, 6, 9), (5, 4, 1, 1), stride=2),
            _conv2d_case("stride (2, 3), padding (1, 0), rectangular 3×2 kernel", (2, 2, 9, 10), (3, 2, 3, 2),
                         stride=(2, 3), padding=(1, 0))]


ROUTING = "routing: weight[0, C_in − 1] = 1, all else 0"


def _conv2d_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """First the output for a weight that links only the last input channel to output channel 0
    (a box of ones, the same when flipped), then the case's output and gradients."""
    weight = args["weight"]
    routing = torch.zeros_like(weight)
    routing[0, -1] = 1
    routed = fn(x=args["x"], weight=routing, bias=weight.new_zeros(len(weight)), stride=args["stride"],
                padding=args["padding"])
    grads = [name for name in ("x", "weight", "bias") if args[name] is not None]
    return {ROUTING: as_tensor(routed).detach(), **outputs_and_grads(fn, args, grad_of=grads)}


CONV2D = Exercise(
    name="conv2d", chapter=5, title="multi-channel 2-D convolution with bias, stride and padding",
    difficulty="medium",
    entry="conv2d",
    signature="def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, "
              "stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> Tensor:",
    task='''A convolution layer's forward pass: multi-channel 2-D cross-correlation plus a bias.

    With x̃ the input padded by p_h rows and p_w columns of zeros on each side:

    y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b x̃[n, c, s_h·i + a, s_w·j + b] · w[o, c, a, b]

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw) — weight[o, c] is the kernel that takes input
    channel c to output channel o; bias: (C_out,) or None (then no bias is added).
    Output: (N, C_out, H', W') with H' = ⌊(H + 2p_h − kh)/s_h⌋ + 1, W' = ⌊(W + 2p_w − kw)/s_w⌋ + 1.
    stride and padding are an int (both axes) or an (h, w) pair, as in torch.nn.functional.conv2d.
    The kernel is not flipped (cross-correlation). Hint: im2col — cut the padded input into its
    windows (Tensor.unfold), then one matrix product with weight.reshape(C_out, C_in·kh·kw).

    Allowed: torch.nn.functional.pad, Tensor.unfold / torch.nn.functional.unfold, reshapes,
    matmul / einsum. Not allowed: torch.nn.functional.conv2d, torch.conv2d, nn.Conv2d.''',
    solution="divelab.scratch.conv:conv2d",
    experiments=("conv-basics",),
    reference=lambda x, weight, bias=None, stride=1, padding=0: F.conv2d(x, weight, bias, stride, padding),
    probe=_conv2d_probe, cases=_conv2d_cases,
    forbidden=("torch.nn.functional.conv2d", "torch.conv2d", "torch.convolution", "torch._convolution"),
    hints=(
        Hint("conv2d-stride", "the window moves by the stride: y[n, o, i, j] reads x̃[n, c, s_h·i + a, s_w·j + b] "
             "and H' = ⌊(H + 2p_h − kh)/s_h⌋ + 1 (an int stride applies to both axes)", case="stride"),
        Hint("conv2d-bias", "bias may be None (then add nothing); otherwise add bias[o] to every pixel of "
             "output channel o (bias.reshape(1, C_out, 1, 1))", case="no bias"),
        Hint("conv2d-padding", "pad p_h zero rows above AND below and p_w zero columns left AND right "
             "(H + 2p_h rows in all); F.pad takes the LAST axis first: F.pad(x, (p_w, p_w, p_h, p_h))",
             case="padding"),
        Hint("conv2d-channels", "weight is (C_out, C_in, kh, kw): weight[o, c] connects input channel c "
             "to output channel o, so y[n, o] = Σ_c x[n, c] ⋆ weight[o, c] — not weight[c, o]", key="^routing"),
        Hint("conv2d-kernel", "the kernel is not flipped and its axes are (kh, kw): output pixel (i, j) "
             "sums x̃[…, s_h·i + a, s_w·j + b] · w[o, c, a, b]; if you flatten windows and weight, flatten both "
             "in the same (c, a, b) order", key="^output$", kind="values"),
    ),
)


# ---- max and average pooling ----------------------------------------------------------------------

def _negative(g: torch.Generator, *shape: int) -> Tensor:
    """Values ≤ −0.1: a window that overlaps zero padding must still return a negative maximum."""
    return -(randn(g, *shape).abs() + 0.1)


def _ties(g: torch.Generator, *shape: int) -> Tensor:
    """Few distinct integer values: most windows hold their maximum more than once."""
    return torch.randint(0, 3, shape, generator=g).to(DTYPE)


def _pool_case(name: str, shape: tuple[int, ...], kernel_size: Pair, stride: Pair | None, padding: Pair = 0,
               values: Callable[..., Tensor] = randn, **extra: Any) -> Case:
    return Case(name, lambda g: {"x": values(g, *shape), "kernel_size": kernel_size, "stride": stride,
                                 "padding": padding, **extra})


def _pool_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    return outputs_and_grads(fn, args, grad_of=["x"])


def _max_pool2d_cases() -> list[Case]:
    return [_pool_case("2×2 windows, default stride", (2, 3, 6, 8), 2, None),
            _pool_case("3×3 windows, stride 1", (2, 2, 7, 6), 3, 1),
            _pool_case("rectangular 2×3 windows, stride (1, 2)", (1, 3, 7, 9), (2, 3), (1, 2)),
            _pool_case("ties (values 0, 1, 2), 3×3 windows, stride 2", (2, 3, 7, 6), 3, 2, values=_ties),
            _pool_case("padding 1, stride 2, all inputs negative", (2, 2, 7, 8), 3, 2, 1, values=_negative),
            _pool_case("padding (1, 0), 2×3 windows, stride 1, all inputs negative", (1, 2, 5, 7), (2, 3), 1,
                       (1, 0), values=_negative),
            _pool_case("unbatched (C, H, W) input, default stride, padding 1", (3, 7, 7), 3, None, 1,
                       values=_negative)]


_POOL_ARGS = '''kernel_size, stride and padding are an int (both axes) or an (h, w) pair; stride=None
    (the default) means stride = kernel_size: windows side by side. Padding may be at most half
    the kernel (kernel_size // 2), as torch requires.'''
_POOL_SHAPES = "x: (N, C, H, W) or unbatched (C, H, W); every channel is pooled on its own."

MAX_POOL2D = Exercise(
    name="max-pool2d", chapter=5, title="2-D max pooling with stride and −∞ padding", difficulty="medium",
    entry="max_pool2d",
    signature="def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], "
              "stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0) -> Tensor:",
    task=f'''Max pooling: the largest value of each kh × kw window.

    y[..., i, j] = max_(a, b) x̃[..., s_h·i + a, s_w·j + b]

    x̃ is x padded with −∞ on each side (p_h rows, p_w columns), so padding never wins.
    Output (..., H', W') with H' = ⌊(H + 2p_h − kh)/s_h⌋ + 1, W' = ⌊(W + 2p_w − kw)/s_w⌋ + 1.
    {_POOL_ARGS}
    {_POOL_SHAPES}
    Gradient: each window passes its upstream gradient to ONE element, its first largest in
    row-major order (as torch does when values tie).

    Allowed: torch.nn.functional.pad (with value=), Tensor.unfold, max / argmax / gather.
    Not allowed: torch.nn.functional.max_pool2d (and _with_indices), torch.max_pool2d, nn.MaxPool2d.''',
    solution="divelab.scratch.conv:max_pool2d",
    reference=lambda x, kernel_size, stride=None, padding=0: F.max_pool2d(x, kernel_size, stride, padding),
    probe=_pool_probe, cases=_max_pool2d_cases,
    forbidden=("torch.nn.functional.max_pool2d", "torch.nn.functional.max_pool2d_with_indices",
               "torch.max_pool2d", "torch._C._nn.max_pool2d_with_indices"),
    hints=(
        Hint("max-pool2d-stride-default", "stride=None means stride = kernel_size (windows side by side, "
             "not overlapping), not stride 1", case="default stride"),
        Hint("max-pool2d-unbatched", "x may also be (C, H, W): pool the last two axes whatever comes before",
             case="unbatched", kind="error|shape"),
        Hint("max-pool2d-pad", "pad with −∞, not zeros (F.pad(x, (p_w, p_w, p_h, p_h), value=float('-inf'))): a "
             "window of negative numbers that overlaps the padding must return its largest real element",
             case="padding"),
        Hint("max-pool2d-ties", "when a window's maximum occurs more than once, the whole gradient goes to the "
             "first one (row-major), as in torch: take max(dim=…)/argmax and gather; amax shares it among ties",
             case="ties", key="^grad x$"),
    ),
)


def _avg_pool2d_cases() -> list[Case]:
    return [_pool_case("2×2 windows, default stride", (2, 3, 6, 8), 2, None),
            _pool_case("3×3 windows, stride 1", (2, 2, 7, 6), 3, 1),
            _pool_case("rectangular 3×2 windows, stride (2, 1)", (1, 3, 8, 5), (3, 2), (2, 1)),
            _pool_case("padding 1, stride 2, count_include_pad=True", (2, 2, 7, 8), 3, 2, 1, count_include_pad=True),
            _pool_case("padding (1, 0), 3×2 windows, count_include_pad=False", (1, 2, 7, 6), (3, 2), 1, (1, 0),
                       count_include_pad=False),
            _pool_case("padding 1, stride 2, count_include_pad=False", (2, 2, 7, 8), 3, 2, 1,
                       count_include_pad=False),
            _pool_case("unbatched (C, H, W) input, default stride, padding 1", (3, 7, 7), 3, None, 1)]


AVG_POOL2D = Exercise(
    name="avg-pool2d", chapter=5, title="2-D average pooling with count_include_pad", difficulty="medium",
    entry="avg_pool2d",
    signature="def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], "
              "stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0, "
              "count_include_pad: bool = True) -> Tensor:",
    task=f'''Average pooling: the mean of each kh × kw window of x padded with zeros.

    y[..., i, j] = (1/d) Σ_(a, b) x̃[..., s_h·i + a, s_w·j + b]

    d = kh·kw when count_include_pad=True (the default: the padding zeros count as pixels),
    d = the number of real (non-padding) pixels in the window when count_include_pad=False.
    Output (..., H', W') with H' = ⌊(H + 2p_h − kh)/s_h⌋ + 1, W' = ⌊(W + 2p_w − kw)/s_w⌋ + 1.
    {_POOL_ARGS}
    {_POOL_SHAPES}

    Allowed: torch.nn.functional.pad, Tensor.unfold, sum / mean.
    Not allowed: torch.nn.functional.avg_pool2d, nn.AvgPool2d, and conv2d with a box kernel.''',
    solution="divelab.scratch.conv:avg_pool2d",
    reference=lambda x, kernel_size, stride=None, padding=0, count_include_pad=True: F.avg_pool2d(
        x, kernel_size, stride, padding, count_include_pad=count_include_pad),
    probe=_pool_probe, cases=_avg_pool2d_cases,
    forbidden=("torch.nn.functional.avg_pool2d", "torch._C._nn.avg_pool2d",
               "torch.nn.functional.conv2d", "torch.conv2d"),
    hints=(
        Hint("avg-pool2d-stride-default", "stride=None means stride = kernel_size (windows side by side, "
             "not overlapping), not stride 1", case="default stride"),
        Hint("avg-pool2d-unbatched", "x may also be (C, H, W): pool the last two axes whatever comes before",
             case="unbatched", kind="error|shape"),
        Hint("avg-pool2d-divisor", "count_include_pad=True (the default) divides every window by kh·kw, the "
             "padding zeros included; count_include_pad=False divides by the number of real pixels the window "
             "covers (fewer at the borders: pool a padded field of ones the same way to count them)",
             case="count_include_pad"),
    ),
)


# ---- spatial transformer: affine_grid and grid_sample ---------------------------------------------

def _theta(g: torch.Generator, n: int) -> Tensor:
    """``[I | 0]`` plus N(0, 0.6²) noise: rotations, shears, zooms and shifts."""
    return torch.eye(2, 3, dtype=DTYPE) + randn(g, n, 2, 3, scale=0.6)


def _affine_grid_case(name: str, size: tuple[int, int, int, int], align_corners: bool) -> Case:
    return Case(f"align_corners={align_corners}, {name}",
                lambda g: {"theta": _theta(g, size[0]), "size": list(size), "align_corners": align_corners})


def _affine_grid_cases() -> list[Case]:
    return [_affine_grid_case("square 6×6", (2, 1, 6, 6), False),
            _affine_grid_case("square 6×6", (2, 1, 6, 6), True),
            _affine_grid_case("wide 5×9", (3, 2, 5, 9), False),
            _affine_grid_case("tall 11×4", (2, 3, 11, 4), True),
            _affine_grid_case("one row (1×7)", (1, 2, 1, 7), True),
            _affine_grid_case("one column (5×1)", (2, 1, 5, 1), False),
            _affine_grid_case("one pixel (1×1)", (2, 1, 1, 1), True)]


CENTRES = "pixel centres (θ = [I | 0], every coordinate, sorted)"


def _affine_grid_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """First the identity grid's coordinates as a sorted list — the pixel centres, whichever of x
    and y is which — then the case's grid and its gradient with respect to θ."""
    identity = torch.eye(2, 3, dtype=DTYPE).repeat(len(args["theta"]), 1, 1)
    centres = as_tensor(fn(theta=identity, size=args["size"], align_corners=args["align_corners"]))
    return {CENTRES: centres.detach().flatten().sort().values, **outputs_and_grads(fn, args, grad_of=["theta"])}


def _torch_affine_grid(theta: Tensor, size: list[int], align_corners: bool = False) -> Tensor:
    with warnings.catch_warnings():  # torch warns about unit-size grids with align_corners=True; both use 0
        warnings.simplefilter("ignore", UserWarning)
        return F.affine_grid(theta, list(size), align_corners=align_corners)


AFFINE_GRID = Exercise(
    name="affine-grid", chapter=5, title="the sampling grid of an affine map (spatial transformer)",
    difficulty="medium",
    entry="affine_grid",
    signature="def affine_grid(theta: Tensor, size: list[int], align_corners: bool = False) -> Tensor:",
    task='''The sampling grid of a spatial transformer: for every output pixel, the input point to read.

    Coordinates are normalised: x = −1 is the left edge and +1 the right edge, y = −1 the top
    and +1 the bottom, whatever the size. For output pixel (i, j) (row i, column j) with centre
    (x_j, y_i):

    grid[n, i, j] = θ_n · [x_j, y_i, 1]ᵀ          (a 2-vector: x' then y')
    align_corners=True:   x_j = −1 + 2j / (W − 1),   y_i = −1 + 2i / (H − 1)   (±1 = corner centres)
    align_corners=False:  x_j = (2j + 1) / W − 1,    y_i = (2i + 1) / H − 1    (±1 = outer borders)

    A side of one pixel has its centre at 0 in both conventions. theta: (N, 2, 3); size: the
    output size [N, C, H, W] (C is not used). Returns (N, H, W, 2) in theta's dtype, with
    grid[..., 0] the x (column) and grid[..., 1] the y (row) coordinate; θ = [I | 0] gives every
    pixel its own centre.

    Allowed: torch.arange / linspace, stacking, matmul. Not allowed: torch.nn.functional.affine_grid,
    torch.affine_grid_generator.''',
    solution="divelab.scratch.spatial_transformer:affine_grid",
    reference=_torch_affine_grid,
    probe=_affine_grid_probe, cases=_affine_grid_cases,
    forbidden=("torch.nn.functional.affine_grid", "torch.affine_grid_generator"),
    hints=(
        Hint("affine-grid-unit", "an axis of one pixel has its centre at 0 in both conventions; with "
             "align_corners=True, 2k / (size − 1) divides by zero there", case="one (row|column|pixel)",
             kind="nonfinite"),
        Hint("affine-grid-align", "the pixel centres depend on align_corners: True puts the corner pixels' "
             "centres at ±1 (−1 + 2k/(n − 1), i.e. linspace(−1, 1, n)); False puts their outer borders at ±1 "
             "((2k + 1)/n − 1, half a pixel further in)", key="^pixel centres"),
        Hint("affine-grid-xy", "grid[..., 0] is x, the column coordinate (varies along W, with j), and "
             "grid[..., 1] is y, the row coordinate (varies along H, with i); θ multiplies [x, y, 1]ᵀ, in that "
             "order, and its third column is the translation", key="^output$", kind="values"),
    ),
)


def _grid_sample_case(name: str, shape: tuple[int, int, int, int], points: tuple[int, int], low: float,
                      high: float, align_corners: bool) -> Case:
    n = shape[0]
    return Case(f"{name}, align_corners={align_corners}",
                lambda g: {"input": randn(g, *shape), "grid": _uniform(g, low, high, n, *points, 2),
                           "align_corners": align_corners})


def _centres_case(align_corners: bool) -> Case:
    """A 5×9 input read at the align_corners=True centres of a 5×9 grid: exact binary fractions, so
    with align_corners=True they fall exactly on integer pixel positions (where ⌊u⌋ jumps)."""
    xs, ys = torch.linspace(-1, 1, 9, dtype=DTYPE), torch.linspace(-1, 1, 5, dtype=DTYPE)
    grid = torch.stack([xs.expand(5, 9), ys.view(5, 1).expand(5, 9)], -1).unsqueeze(0)
    name = "points exactly on pixel centres" if align_corners else "points half a pixel outside at ±1"
    return Case(f"{name}, align_corners={align_corners}",
                lambda g: {"input": randn(g, 1, 2, 5, 9), "grid": grid.clone(), "align_corners": align_corners})


def _grid_sample_cases() -> list[Case]:
    return [_grid_sample_case("points inside", (2, 2, 7, 10), (5, 6), -0.8, 0.8, False),
            _grid_sample_case("points inside", (3, 1, 6, 5), (4, 7), -0.8, 0.8, True),
            _grid_sample_case("points outside the image (−2 … 2)", (3, 2, 6, 5), (9, 8), -2, 2, False),
            _grid_sample_case("points outside the image (−2 … 2)", (3, 2, 6, 5), (9, 8), -2, 2, True),
            _centres_case(True),
            _centres_case(False),
            _grid_sample_case("one-pixel-wide 6×1 input, points partly outside", (2, 2, 6, 1), (3, 4), -1, 1, False)]


DIAGONAL = "points on the diagonal x = y, square crop of the input"


def _grid_sample_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """First a read that does not depend on which coordinate is x — a square crop of the input at
    points with x = y — then the case's output and gradients with respect to input and grid."""
    x, grid = args["input"], args["grid"]
    side = min(x.shape[-2:])
    diagonal = fn(input=x[..., :side, :side].contiguous(), grid=grid[..., :1].expand_as(grid).contiguous(),
                  align_corners=args["align_corners"])
    return {DIAGONAL: as_tensor(diagonal).detach(), **outputs_and_grads(fn, args, grad_of=["input", "grid"])}


GRID_SAMPLE = Exercise(
    name="grid-sample", chapter=5, title="bilinear sampling at normalised points, zero padding (spatial transformer)",
    difficulty="hard",
    entry="grid_sample",
    signature="def grid_sample(input: Tensor, grid: Tensor, align_corners: bool = False) -> Tensor:",
    task='''Read an image at fractional points by bilinear interpolation (the sampler of a spatial transformer).

    input: (N, C, H, W); grid: (N, H', W', 2) of normalised points (x, y), x = grid[..., 0] the column
    and y = grid[..., 1] the row coordinate, −1 … 1 across the image. Returns (N, C, H', W').
    Each point becomes a fractional pixel position (u, v) — u from x with the width W, v from y with
    the height H:

    align_corners=True:   u = (x + 1)/2 · (W − 1)        (±1 = centres of the corner pixels)
    align_corners=False:  u = ((x + 1) · W − 1)/2        (±1 = outer borders of the corner pixels)

    With u₀ = ⌊u⌋, v₀ = ⌊v⌋, a = u − u₀, b = v − v₀, the value blends the four pixels around (u, v):

    out = (1−a)(1−b) I[v₀, u₀] + a(1−b) I[v₀, u₀+1] + (1−a) b I[v₀+1, u₀] + a b I[v₀+1, u₀+1]

    where a pixel outside the image counts as 0 (zero padding — do not clamp to the border).
    The output must be differentiable with respect to input AND grid (through a and b; the floor
    has gradient 0).

    Allowed: floor, gather / advanced indexing, masks, arithmetic. Not allowed:
    torch.nn.functional.grid_sample, torch.grid_sampler (and _2d).''',
    solution="divelab.scratch.spatial_transformer:grid_sample",
    reference=lambda input, grid, align_corners=False: F.grid_sample(
        input, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners),
    probe=_grid_sample_probe, cases=_grid_sample_cases,
    forbidden=("torch.nn.functional.grid_sample", "torch.grid_sampler", "torch.grid_sampler_2d"),
    hints=(
        Hint("grid-sample-zeros", "pixels outside the image count as 0 (zero padding): mask the corners that "
             "fall outside instead of clamping their indices to the border", case="outside"),
        Hint("grid-sample-align", "the normalised → pixel conversion depends on align_corners: True maps ±1 to "
             "the corner centres, u = (x + 1)/2 · (W − 1); False maps ±1 to the outer borders, "
             "u = ((x + 1) · W − 1)/2", key="^points on the diagonal"),
        Hint("grid-sample-xy", "grid[..., 0] is x, the column (scaled with the width W, indexes the last axis), "
             "grid[..., 1] is y, the row (scaled with H): I[v, u] is row v, column u", key="^output$", kind="values"),
        Hint("grid-sample-grad-grid", "the output must depend on the grid through the fractions a = u − ⌊u⌋, "
             "b = v − ⌊v⌋ (do not round or detach them), and the far neighbours are ⌊u⌋ + 1, ⌊v⌋ + 1 "
             "(not ⌈u⌉, which equals ⌊u⌋ on exact pixel positions)", key="^grad grid$"),
    ),
)

EXERCISES: list[Exercise] = [CORR2D, CONV2D, MAX_POOL2D, AVG_POOL2D, AFFINE_GRID, GRID_SAMPLE]
