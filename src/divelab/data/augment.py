"""Image augmentation on whole batches ``(N, C, H, W)``: random crop, horizontal flip, small affine.

Each transform is a deterministic function of its parameters (``crop``, ``flip``,
``affine``) plus a sampler that draws one set of parameters per image from a
``torch.Generator``. No Python loop runs over the images: crops are one gather with
per-image index grids, flips one ``torch.where``, and the affine warp one
``F.affine_grid`` + ``F.grid_sample`` call with a matrix per image.

Random numbers are always drawn on the CPU generator and then moved to the batch's
device, so one seed gives the same augmented batch on every device.
:class:`AugmentedLoader` seeds that generator from ``(seed, epoch, batch index)``, so a
resumed run sees exactly the augmented batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.data.loader import TensorLoader, epoch_generator


def _check_images(x: Tensor) -> None:
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"expected floating-point images of shape (N, C, H, W), got {x.dtype} {tuple(x.shape)}")


# ---- random crop with zero padding ----------------------------------------------------------

def crop(x: Tensor, padding: int, top: Tensor, left: Tensor) -> Tensor:
    """Pad every image with ``padding`` zeros on each side, then cut an ``H×W`` window out of it.

    ``out[n, c, i, j] = padded[n, c, top_n + i, left_n + j]`` with ``top_n, left_n`` in
    ``[0, 2·padding]``; ``top = left = padding`` gives the image back unchanged, other
    offsets shift it by ``padding − offset`` pixels and fill the uncovered edge with 0.

    Twin: torchvision.transforms.RandomCrop(size, padding) applied per image
    """
    _check_images(x)
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))  # (N, C, H + 2p, W + 2p)
    rows = top.to(x.device).view(n, 1) + torch.arange(h, device=x.device)   # (N, H)
    cols = left.to(x.device).view(n, 1) + torch.arange(w, device=x.device)  # (N, W)
    # advanced indexing broadcasts (N,1,1,1), (1,C,1,1), (N,1,H,1), (N,1,1,W) to (N, C, H, W)
    return padded[torch.arange(n, device=x.device).view(n, 1, 1, 1),
                  torch.arange(c, device=x.device).view(1, c, 1, 1),
                  rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def random_crop(x: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """:func:`crop` with offsets drawn uniformly from ``{0, …, 2·padding}``, independently per image."""
    offsets = torch.randint(0, 2 * padding + 1, (2, len(x)), generator=generator)
    return crop(x, padding, offsets[0], offsets[1])


# ---- horizontal flip ------------------------------------------------------------------------

def flip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror the images whose ``mask`` entry is true left–right: ``out[n, c, i, j] = x[n, c, i, W−1−j]``.

    Twin: torchvision.transforms.RandomHorizontalFlip applied per image
    """
    _check_images(x)
    return torch.where(mask.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


def random_flip(x: Tensor, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """:func:`flip` each image with probability ``p``."""
    return flip(x, torch.rand(len(x), generator=generator) < p)


# ---- small affine warp ----------------------------------------------------------------------

def affine_matrices(angle: Tensor, scale: Tensor, shift: Tensor, height: int, width: int) -> Tensor:
    """Per-image matrices ``θ`` (N, 2, 3) for ``F.affine_grid`` that rotate by ``angle`` (radians),
    scale by ``scale`` about the centre and then shift by ``shift`` (N, 2) pixels (x, y).

    The warp moves content at pixel ``q`` (from the centre) to ``p = s R(α) q + t``; the
    sampler needs the inverse, ``q = A p − A t`` with ``A = R(−α) / s``. ``affine_grid``
    works in coordinates normalised to ``[−1, 1]`` per axis, ``p_norm = D⁻¹ p`` with
    ``D = diag(W/2, H/2)``, so ``θ = [D⁻¹ A D | −D⁻¹ A t]`` (this keeps rotations rigid
    on non-square images).
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    inverse = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # R(−α): (N, 2, 2)
    inverse = inverse / scale.view(-1, 1, 1)
    half = torch.tensor([width / 2, height / 2], dtype=angle.dtype, device=angle.device)
    linear = inverse * half.view(1, 1, 2) / half.view(1, 2, 1)  # D⁻¹ A D: entry (i, j) times D_j / D_i
    offset = -(inverse @ shift.unsqueeze(-1)).squeeze(-1) / half  # −D⁻¹ A t: (N, 2)
    return torch.cat([linear, offset.unsqueeze(-1)], dim=-1)


def affine(x: Tensor, theta: Tensor) -> Tensor:
    """Warp each image by its matrix ``θ`` (N, 2, 3), bilinear sampling, zeros outside.

    ``out(p) = x(θ · [p, 1])`` in normalised coordinates (``align_corners=False``: pixel
    centres sit at ``(2k + 1)/size − 1``). The identity ``θ = [I | 0]`` returns ``x``.

    Twin: torchvision.transforms.RandomAffine
    """
    _check_images(x)
    grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_affine(x: Tensor, generator: torch.Generator, degrees: float, scale: tuple[float, float],
                  translate: float) -> Tensor:
    """:func:`affine` with angle ~ U(−degrees, degrees), scale ~ U(scale), shift ~ U(−translate, translate)
    pixels per axis, drawn per image."""
    n, _c, h, w = x.shape
    u = torch.rand(4, n, generator=generator, dtype=torch.float64)
    angle = torch.deg2rad((2 * u[0] - 1) * degrees)
    factor = scale[0] + (scale[1] - scale[0]) * u[1]
    shift = (2 * u[2:].T - 1) * translate  # (N, 2)
    return affine(x, affine_matrices(angle, factor, shift, h, w))


# ---- the composition ------------------------------------------------------------------------

@dataclass(frozen=True)
class Augment:
    """Affine warp → random crop → horizontal flip, each image with its own random parameters.

    ``Augment()(x, generator)`` returns a new batch of the same shape, dtype and device.
    A transform is skipped when its setting makes it the identity (``degrees = 0``,
    ``scale = (1, 1)`` and ``translate = 0``; ``padding = 0``; ``flip_p = 0``).
    Bilinear sampling and zero padding mix pixel values with each other and with 0, so
    images in ``[0, 1]`` stay in ``[0, 1]``.
    """

    padding: int = 2
    flip_p: float = 0.5
    degrees: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.0

    def __post_init__(self) -> None:
        if self.padding < 0:
            raise ValueError(f"padding must be ≥ 0, got {self.padding}")
        if not 0 <= self.flip_p <= 1:
            raise ValueError(f"flip_p must be in [0, 1], got {self.flip_p}")
        if not (math.isfinite(self.degrees) and self.degrees >= 0):
            raise ValueError(f"degrees must be a finite number ≥ 0, got {self.degrees}")
        if not 0 < self.scale[0] <= self.scale[1] < math.inf:
            raise ValueError(f"scale must be (low, high) with 0 < low ≤ high, got {self.scale}")
        if not (math.isfinite(self.translate) and self.translate >= 0):
            raise ValueError(f"translate must be a finite number ≥ 0 (pixels), got {self.translate}")

    @property
    def uses_affine(self) -> bool:
        return self.degrees > 0 or self.scale != (1.0, 1.0) or self.translate > 0

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        _check_images(x)
        out = x
        if self.uses_affine:
            out = random_affine(out, generator, self.degrees, self.scale, self.translate)
        if self.padding > 0:
            out = random_crop(out, self.padding, generator)
        if self.flip_p > 0:
            out = random_flip(out, generator, self.flip_p)
        return out if out is not x else x.clone()  # always a new tensor, never the caller's


# ---- hooking it into training ---------------------------------------------------------------

class _LoaderWrapper:
    """What a loader that changes another loader's batches offers the trainer, passed through:
    ``tensors``, ``num_samples``, ``len()`` and iteration over :meth:`batches`."""

    loader: TensorLoader

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.loader.tensors

    @property
    def num_samples(self) -> int:
        return self.loader.num_samples

    def __len__(self) -> int:
        return len(self.loader)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        return self.batches()


class AugmentedLoader(_LoaderWrapper):
    """A training loader whose first tensor (the images) is augmented batch by batch.

    It offers what the :class:`~divelab.train.trainer.Trainer` uses of a loader:
    ``batches(epoch, start)``, ``len()``, ``tensors``, ``num_samples``. The random
    parameters of batch ``i`` of ``epoch`` come from a generator seeded by
    ``(seed, epoch, i)`` only, so starting an epoch at batch ``start`` (a resumed run)
    gives the same augmented batches as running it from the beginning. Choose ``seed``
    apart from the loader's own shuffling seed.
    """

    def __init__(self, loader: TensorLoader, augment: Augment, seed: int):
        self.loader, self.augment, self.seed = loader, augment, seed

    def _batch_seeds(self, epoch: int) -> list[int]:
        """One seed per batch of ``epoch``, all drawn from the epoch's generator."""
        return torch.randint(0, 2**62, (len(self),), generator=epoch_generator(self.seed, epoch)).tolist()

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """The loader's batches of ``epoch`` from batch ``start`` on, images augmented."""
        seeds = self._batch_seeds(epoch)
        for index, (x, *rest) in enumerate(self.loader.batches(epoch, start), start=start):
            yield (self.augment(x, torch.Generator().manual_seed(seeds[index])), *rest)


class AlternatingFlips(_LoaderWrapper):
    """A training loader whose images are mirrored in every other epoch (Jordan, airbench 2024).

    Image ``i`` is flipped in epoch ``e`` iff ``b_i XOR (e odd)``, with ``b_i ~ Bernoulli(½)``
    drawn once from ``seed``: over any two consecutive epochs every image is seen once each
    way, where independent random flips show half of them the same way both times.
    Offers what the trainer uses of a loader (as :class:`AugmentedLoader`); the flips of a
    batch depend on ``(seed, epoch)`` and the indices only, so a resumed run sees the same ones.
    """

    def __init__(self, loader: TensorLoader, seed: int):
        self.loader = loader
        base = torch.rand(loader.num_samples, generator=torch.Generator().manual_seed(seed)) < 0.5
        self.base = base.to(loader.tensors[0].device)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """The loader's batches of ``epoch`` from batch ``start`` on, images flipped as described."""
        images, *rest = self.loader.tensors
        for idx in self.loader.batch_indices(epoch, start):
            yield (flip(images[idx], self.base[idx] ^ bool(epoch % 2)), *(t[idx] for t in rest))
