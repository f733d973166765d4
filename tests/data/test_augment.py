"""Batched augmentation: each transform's identity case, exact geometry, reproducibility, the loader hook."""

from __future__ import annotations

import math

import pytest
import torch

from divelab.data.augment import (
    AlternatingFlips,
    Augment,
    AugmentedLoader,
    affine,
    affine_matrices,
    crop,
    flip,
    random_affine,
    random_crop,
    random_flip,
)
from divelab.data.loader import TensorLoader


def images(n: int = 6, c: int = 1, h: int = 10, w: int = 12, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def matrices(n: int, angle: float = 0.0, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0),
             h: int = 10, w: int = 12) -> torch.Tensor:
    f64 = torch.float64
    return affine_matrices(torch.full((n,), angle, dtype=f64), torch.full((n,), scale, dtype=f64),
                           torch.tensor([shift] * n, dtype=f64), h, w)


AUGMENTS = {
    "default": Augment(),
    "strong": Augment(padding=4, flip_p=0.5, degrees=30, scale=(0.7, 1.3), translate=3),
    "crop-only": Augment(padding=3, flip_p=0, degrees=0, scale=(1.0, 1.0)),
    "flip-only": Augment(padding=0, flip_p=1.0, degrees=0, scale=(1.0, 1.0)),
}


# ---- the whole composition ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", AUGMENTS)
def test_shape_dtype_device_and_range_are_kept(name, dtype):
    x = images(n=9, c=3, dtype=dtype)
    out = AUGMENTS[name](x, gen())
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1 + 1e-6  # bilinear mixing and zero padding stay in [0, 1]
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_same_output_on_the_gpu():
    x = images(n=8, c=2)
    torch.testing.assert_close(Augment()(x.cuda(), gen(3)).cpu(), Augment()(x, gen(3)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", AUGMENTS)
def test_same_seed_same_output_other_seed_other_output(name):
    x = images()
    augment = AUGMENTS[name]
    assert torch.equal(augment(x, gen(5)), augment(x, gen(5)))
    if name != "flip-only":  # flip_p = 1 is deterministic
        assert not torch.equal(augment(x, gen(5)), augment(x, gen(6)))


def test_identity_settings_give_the_input_back():
    x = images()
    out = Augment(padding=0, flip_p=0, degrees=0, scale=(1.0, 1.0), translate=0)(x, gen())
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


def test_images_get_different_parameters():
    """One random draw per image, not one per batch: identical images come out different."""
    x = images(n=1).expand(16, -1, -1, -1).contiguous()
    out = Augment()(x, gen())
    assert len({tuple(o.flatten().tolist()) for o in out}) > 8


@pytest.mark.parametrize(("kwargs", "message"), [({"padding": -1}, "padding"), ({"flip_p": 1.5}, "flip_p"),
                                                 ({"degrees": -3}, "degrees"), ({"scale": (1.2, 0.8)}, "scale"),
                                                 ({"translate": math.inf}, "translate")])
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Augment(**kwargs)


def test_integer_images_are_rejected():
    with pytest.raises(ValueError, match="floating-point"):
        Augment()(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), gen())


# ---- crop -----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", [0, 1, 3])
def test_crop_with_zero_shift_is_identity(padding):
    x = images()
    offsets = torch.full((len(x),), padding)
    assert torch.equal(crop(x, padding, offsets, offsets), x)


def test_crop_shifts_each_image_by_its_own_offset_and_fills_zeros():
    x = images(n=3)
    top, left = torch.tensor([0, 2, 4]), torch.tensor([4, 2, 1])  # padding 2: shifts (+2, −2), (0, 0), (−2, +1)
    out = crop(x, 2, top, left)
    for i, (dy, dx) in enumerate([(2, -2), (0, 0), (-2, 1)]):
        want = torch.zeros_like(x[i])
        h, w = x.shape[-2:]
        want[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            x[i, :, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        assert torch.equal(out[i], want), i


def test_random_crop_offsets_cover_the_range():
    x = torch.ones(400, 1, 5, 5)
    out = random_crop(x, 2, gen())
    zero_rows = (out.sum(dim=(1, 3)) == 0).sum(dim=1)  # rows of zeros = |vertical shift|
    assert set(zero_rows.tolist()) == {0, 1, 2}


# ---- flip -----------------------------------------------------------------------------------

def test_flip_twice_is_identity_and_only_flips_marked_images():
    x = images()
    mask = torch.tensor([True, False, True, True, False, False])
    once = flip(x, mask)
    assert torch.equal(once[mask], x[mask].flip(-1))
    assert torch.equal(once[~mask], x[~mask])
    assert torch.equal(flip(once, mask), x)


def test_random_flip_rate():
    x = images(n=1).expand(2000, -1, -1, -1)
    flipped = (random_flip(x, gen(), p=0.3) != x).flatten(1).any(dim=1).float().mean().item()
    assert abs(flipped - 0.3) < 0.04


# ---- affine ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_affine_with_identity_parameters_is_identity(dtype, atol):
    x = images(dtype=dtype)
    torch.testing.assert_close(affine(x, matrices(len(x))), x, atol=atol, rtol=0)


def test_quarter_turn_is_rot90_and_half_turn_on_a_non_square_image():
    square = images(h=8, w=8, dtype=torch.float64)
    turned = affine(square, matrices(len(square), angle=math.pi / 2, h=8, w=8))
    torch.testing.assert_close(turned, torch.rot90(square, -1, dims=(-2, -1)), atol=1e-12, rtol=0)
    wide = images(h=5, w=9, dtype=torch.float64)
    half = affine(wide, matrices(len(wide), angle=math.pi, h=5, w=9))
    torch.testing.assert_close(half, wide.flip(-1).flip(-2), atol=1e-12, rtol=0)


def test_rotation_is_rigid_on_a_non_square_image():
    """A 2×4 bar in the middle of an 8×12 image, turned 90°, is a 4×2 bar (not stretched by 12/8)."""
    x = torch.zeros(1, 1, 8, 12, dtype=torch.float64)
    x[..., 3:5, 4:8] = 1
    want = torch.zeros_like(x)
    want[..., 2:6, 5:7] = 1
    torch.testing.assert_close(affine(x, matrices(1, angle=math.pi / 2, h=8, w=12)), want, atol=1e-12, rtol=0)


def test_whole_pixel_shift_moves_content_and_fills_zeros():
    x = images(dtype=torch.float64)
    out = affine(x, matrices(len(x), shift=(3.0, -2.0)))  # 3 px right, 2 px up
    torch.testing.assert_close(out[..., :-2, 3:], x[..., 2:, :-3], atol=1e-12, rtol=0)
    assert out[..., :3].abs().max() == 0 and out[..., -2:, :].abs().max() == 0


def test_scale_two_zooms_into_the_centre():
    x = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    x[..., 3:5, 3:5] = 1  # a 2×2 square in the middle
    out = affine(x, matrices(1, scale=2.0, h=8, w=8))
    assert out[..., 2:6, 2:6].min() > 0.2 and out[..., :1, :].abs().max() == 0
    assert out.sum().item() == pytest.approx(4 * x.sum().item(), rel=0.3)  # area grows by 2²


def test_random_affine_with_no_range_is_identity():
    x = images()
    torch.testing.assert_close(random_affine(x, gen(), degrees=0, scale=(1.0, 1.0), translate=0), x, atol=1e-5,
                               rtol=0)


# ---- the loader hook ------------------------------------------------------------------------

def make_loader(seed: int = 11) -> AugmentedLoader:
    x = torch.rand(50, 1, 6, 6, generator=gen(1))
    y = torch.arange(50)
    return AugmentedLoader(TensorLoader(x, y, batch_size=8, shuffle=True, seed=0), Augment(), seed=seed)


def test_loader_offers_what_the_trainer_uses():
    loader = make_loader()
    assert len(loader) == 7 and loader.num_samples == 50
    assert loader.tensors[0].device == torch.device("cpu")
    batches = list(loader.batches(1))
    assert len(batches) == 7 and sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(50))
    assert all(xb.shape[1:] == (1, 6, 6) for xb, _ in batches)


def test_loader_batch_depends_only_on_seed_epoch_and_index():
    loader = make_loader()
    full = list(loader.batches(3))
    torch.manual_seed(99)  # the global RNG must not matter
    tail = list(loader.batches(3, start=4))
    assert len(tail) == len(full) - 4
    for (xa, ya), (xb, yb) in zip(full[4:], tail):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full, make_loader().batches(3)))


def test_loader_augments_afresh_each_epoch_and_per_seed():
    loader = make_loader()
    plain = next(iter(loader.loader.batches(1)))[0]
    first = next(iter(loader.batches(1)))[0]
    assert not torch.equal(first, plain)
    assert not torch.equal(next(iter(make_loader(seed=12).batches(1)))[0], first)
    # epoch 2 reorders too, so compare the augmentation of the same images: same labels, other pixels
    by_label = {int(y): x for xb, yb in loader.batches(2) for x, y in zip(xb, yb)}
    assert not all(torch.equal(by_label[int(y)], x) for x, y in zip(first, next(iter(loader.batches(1)))[1]))


# ---- alternating flips ----------------------------------------------------------------------

def _indexed_images(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose left-most column holds the image's index and the rest zeros: a flip is visible
    (the index moves to the right-most column) and each image can be told apart."""
    x = torch.zeros(n, 1, 3, 4)
    x[:, 0, :, 0] = torch.arange(n, dtype=torch.float32).view(-1, 1) + 1
    return x, torch.arange(n)


def _flipped_by_epoch(loader, epoch: int, start: int = 0) -> dict[int, bool]:
    seen = {}
    for images, labels in loader.batches(epoch, start):
        for image, label in zip(images, labels.tolist()):
            assert image[0, :, 0].sum() + image[0, :, -1].sum() == 3 * (label + 1)  # the label's own image
            seen[label] = bool(image[0, 0, -1] > 0)
    return seen


def test_alternating_flips_show_every_image_both_ways_in_two_epochs():
    x, y = _indexed_images()
    loader = AlternatingFlips(TensorLoader(x, y, batch_size=7, shuffle=True, seed=3), seed=11)
    first, second, third = (_flipped_by_epoch(loader, e) for e in range(3))
    assert set(first) == set(range(40))
    assert all(first[i] != second[i] for i in range(40)) and first == third
    assert 10 < sum(first.values()) < 30  # about half are flipped in the first epoch
    assert len(loader) == 6 and loader.num_samples == 40


def test_alternating_flips_resume_mid_epoch_with_the_same_batches():
    x, y = _indexed_images()
    loader = AlternatingFlips(TensorLoader(x, y, batch_size=7, shuffle=True, seed=3), seed=11)
    whole = list(loader.batches(1))
    later = list(loader.batches(1, start=4))
    for a, b in zip(whole[4:], later, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
