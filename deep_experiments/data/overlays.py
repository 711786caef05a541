"""Overlay features (task B) as ``(colour, alpha, label)`` layers alpha-blended onto a base image.

An overlay never touches the base image itself: the dataset composes
``image = base * (1 - a) + colour * a`` with ``a = min(alpha * overlay_strength, 1)``, so pixels with
``alpha == 0`` keep the base value exactly and ``overlay_strength = 0`` gives the base image. Random
draws come from the per-item generator passed in (see :mod:`.seeding`). Geometry follows
docs/deep-arm.md (32x32 images; randbit 28x28).
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Sequence

import torch

from .seeding import RANDBIT_ID_STREAM, SPLIT_CODES, key_hash

Layer = tuple[torch.Tensor, torch.Tensor, int]
"""``(colour, alpha, label)``: colour and alpha broadcast to the item image's (C, H, W)."""

IMAGE_SIZE = 32
SHAPES: tuple[str, ...] = ("square", "triangle", "circle")
SHAPE_ALPHA = 180 / 255
DIGIT_SIZE = 10
DIGIT_CORNERS: tuple[tuple[int, int], ...] = ((4, 4), (16, 4), (4, 16), (16, 16))
"""Top-left (x, y) of the four digit copies."""
BLACK = 0.5 / 255
"""Digit pixels below this (0 once stored as uint8) are transparent."""
LETTERS = string.ascii_uppercase
FONT_SIZE = 12
LETTER_RANGES: tuple[tuple[int, int], ...] = ((0, 6), (16, 21))
"""Inclusive ranges of a letter's top-left x (and y) in the first and second half of the image."""
_GLYPH_BOX = 16
_QUADRANTS = tuple((x_range, y_range) for y_range in LETTER_RANGES for x_range in LETTER_RANGES)
"""(x range, y range) of the letter copy in each quadrant."""


def _uniform_ints(gen: torch.Generator, highs: Sequence[int]) -> list[int]:
    """Independent uniform integers in ``[0, high)``, one per entry of ``highs``, from one RNG call."""
    draws = torch.rand(len(highs), generator=gen, dtype=torch.float64).tolist()
    return [min(int(u * high), high - 1) for u, high in zip(draws, highs)]


def _uniform_ints_many(gens: Sequence[torch.Generator], highs: Sequence[int]) -> torch.Tensor:
    """:func:`_uniform_ints` of each generator, as rows: the same draws, the same integers. Shape ``(B, len(highs))``."""
    draws = torch.stack([torch.rand(len(highs), generator=gen, dtype=torch.float64) for gen in gens])
    high = torch.tensor(highs, dtype=torch.float64)
    return torch.minimum((draws * high).floor_(), high - 1).long()  # int(u * high) of a u >= 0 in float64, capped


def _colours(levels: torch.Tensor) -> torch.Tensor:
    """:func:`_colour` of each row of 8-bit levels ``(B, 3)``. Shape ``(B, 3, 1, 1)``."""
    return levels.to(torch.float32).div_(255.0).view(-1, 3, 1, 1)


def _colour(levels: Sequence[int]) -> torch.Tensor:
    """An 8-bit RGB colour as floats in [0, 1], shape (3, 1, 1)."""
    return torch.tensor(levels, dtype=torch.float32).div_(255.0).view(3, 1, 1)


class Overlay:
    """Base class: an overlay for images that already have all their channels (C+*)."""

    num_classes: int

    def blank(self, base: torch.Tensor) -> torch.Tensor:
        """The item image with the overlay absent (C+*: the base image itself)."""
        return base

    def draw(self, index: int, gen: torch.Generator) -> Layer:
        """The overlay layer of item ``index`` for one load."""
        raise NotImplementedError

    def blank_many(self, bases: torch.Tensor) -> torch.Tensor:
        """:meth:`blank` of a batch ``(B, C, H, W)`` (C+*: the base images themselves)."""
        return bases

    def draw_many(self, indices: Sequence[int], gens: Sequence[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor,
                                                                                           torch.Tensor]:
        """:meth:`draw` of items ``indices``, each from its own generator: colours and alphas stacked, labels int64."""
        layers = [self.draw(i, gen) for i, gen in zip(indices, gens)]
        return (torch.stack([layer[0] for layer in layers]), torch.stack([layer[1] for layer in layers]),
                torch.tensor([layer[2] for layer in layers], dtype=torch.int64))


@functools.cache
def shape_masks() -> torch.Tensor:
    """Binary masks (3, 32, 32) of :data:`SHAPES`, bounding box W/3 to 2W/3 (the middle third)."""
    from PIL import Image, ImageDraw

    lo, hi, mid = IMAGE_SIZE / 3, 2 * IMAGE_SIZE / 3, IMAGE_SIZE / 2
    masks = []
    for shape in SHAPES:
        canvas = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE))
        draw = ImageDraw.Draw(canvas)
        if shape == "square":
            draw.rectangle([(lo, lo), (hi, hi)], fill=255)
        elif shape == "triangle":
            draw.polygon([(mid, lo), (lo, hi), (hi, hi)], fill=255)
        else:
            draw.ellipse([(lo, lo), (hi, hi)], fill=255)
        masks.append(torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8))
    return torch.stack(masks).view(len(SHAPES), IMAGE_SIZE, IMAGE_SIZE).float().div_(255.0)


class ShapeOverlay(Overlay):
    """C+Shapes: a square, triangle or circle in a random colour, alpha 180/255, in the middle third."""

    num_classes = len(SHAPES)

    def draw_many(self, indices: Sequence[int], gens: Sequence[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor,
                                                                                           torch.Tensor]:
        """:meth:`draw` of every item at once (the same draws and layers)."""
        ints = _uniform_ints_many(gens, (self.num_classes, 256, 256, 256))
        label = ints[:, 0]
        return _colours(ints[:, 1:]), shape_masks()[label][:, None] * SHAPE_ALPHA, label

    def draw(self, index: int, gen: torch.Generator) -> Layer:
        label, *rgb = _uniform_ints(gen, (self.num_classes, 256, 256, 256))
        return _colour(rgb), shape_masks()[label][None] * SHAPE_ALPHA, label


class DigitOverlay(Overlay):
    """C+Digits: one random digit of the pool, 10x10, black transparent, pasted at four corners.

    Args:
        digits: float32 (N, 10, 10) in [0, 1], white ink on black.
        labels: int64 (N,) digit classes.
    """

    num_classes = 10

    def __init__(self, digits: torch.Tensor, labels: torch.Tensor) -> None:
        if digits.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or len(digits) != len(labels) or len(digits) == 0:
            raise ValueError(f"digits must be (N>0, {DIGIT_SIZE}, {DIGIT_SIZE}) with N labels, "
                             f"got {tuple(digits.shape)} and {tuple(labels.shape)}")
        self.digits, self.labels = digits, labels

    def draw(self, index: int, gen: torch.Generator) -> Layer:
        (pick,) = _uniform_ints(gen, (len(self.digits),))
        ink = torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE)
        for x, y in DIGIT_CORNERS:
            ink[0, y:y + DIGIT_SIZE, x:x + DIGIT_SIZE] = self.digits[pick]
        return ink, (ink >= BLACK).float(), int(self.labels[pick])


def _dejavu_sans() -> str:
    """Path of the DejaVu Sans that ships with matplotlib (the same file on every machine)."""
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")


@functools.cache
def glyph_masks() -> torch.Tensor:
    """Antialiased coverage (26, 16, 16) in [0, 1] of A-Z drawn at (0, 0), DejaVu Sans size 12."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(_dejavu_sans(), FONT_SIZE)
    masks = []
    for letter in LETTERS:
        canvas = Image.new("L", (_GLYPH_BOX, _GLYPH_BOX))
        ImageDraw.Draw(canvas).text((0, 0), letter, fill=255, font=font)
        masks.append(torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8))
    return torch.stack(masks).view(len(LETTERS), _GLYPH_BOX, _GLYPH_BOX).float().div_(255.0)


class LetterOverlay(Overlay):
    """C+Letters: one letter A-Z in a random opaque colour, drawn once per quadrant at a jittered spot.

    Glyphs reaching past the image border are clipped, as when PIL draws them there.
    """

    num_classes = len(LETTERS)

    def draw(self, index: int, gen: torch.Generator) -> Layer:
        highs = [high - low + 1 for quadrant in _QUADRANTS for low, high in quadrant]
        label, red, green, blue, *jitter = _uniform_ints(gen, (self.num_classes, 256, 256, 256, *highs))
        glyph = glyph_masks()[label]
        alpha = torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE)
        for k, ((x_low, _), (y_low, _)) in enumerate(_QUADRANTS):
            x, y = x_low + jitter[2 * k], y_low + jitter[2 * k + 1]
            h, w = min(_GLYPH_BOX, IMAGE_SIZE - y), min(_GLYPH_BOX, IMAGE_SIZE - x)
            region = alpha[0, y:y + h, x:x + w]
            torch.maximum(region, glyph[:h, :w], out=region)
        return _colour((red, green, blue)), alpha, label

    def draw_many(self, indices: Sequence[int], gens: Sequence[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor,
                                                                                           torch.Tensor]:
        """:meth:`draw` of every item at once: the glyphs pasted quadrant by quadrant onto a canvas one glyph
        wider than the image, which is then cut to the image (the clipping of :meth:`draw`); ``max`` is exact,
        so the alphas are :meth:`draw`'s bit for bit."""
        highs = [high - low + 1 for quadrant in _QUADRANTS for low, high in quadrant]
        ints = _uniform_ints_many(gens, (self.num_classes, 256, 256, 256, *highs))
        label, jitter, n = ints[:, 0], ints[:, 4:], len(ints)
        glyphs = glyph_masks()[label]  # (B, 16, 16)
        canvas = torch.zeros(n, IMAGE_SIZE + _GLYPH_BOX, IMAGE_SIZE + _GLYPH_BOX)
        item = torch.arange(n)[:, None, None]
        offsets = torch.arange(_GLYPH_BOX)
        for k, ((x_low, _), (y_low, _)) in enumerate(_QUADRANTS):
            rows = (y_low + jitter[:, 2 * k + 1, None] + offsets)[:, :, None]  # (B, 16, 1)
            cols = (x_low + jitter[:, 2 * k, None] + offsets)[:, None, :]  # (B, 1, 16)
            canvas[item, rows, cols] = torch.maximum(canvas[item, rows, cols], glyphs)
        return _colours(ints[:, 1:4]), canvas[:, None, :IMAGE_SIZE, :IMAGE_SIZE].contiguous(), label


class RandBitOverlay(Overlay):
    """RandBit (Chen et al. 2021): ``bits`` constant planes holding the binary expansion of the item's id.

    The id is a fixed pseudo-random function of ``(seed, split, index)`` (the colab hashes the JPEG
    bytes of the example), identical in every load and view. Plane ``k`` (channel ``1 + k``) is bit
    ``k`` of the id (least significant first), value 0 or 1. Without the overlay the planes are 0.5.
    """

    def __init__(self, bits: int, split: str, seed: int) -> None:
        self.bits, self.split, self.seed = bits, split, seed
        self.num_classes = self.classes(bits)

    @staticmethod
    def classes(bits: int) -> int:
        """Task-B classes of ``bits`` random bits: every id in ``[0, 2**bits)``."""
        return 2**bits

    def item_id(self, index: int) -> int:
        """Task-B label of item ``index``, in ``[0, 2**bits)``."""
        return key_hash(self.seed, RANDBIT_ID_STREAM, SPLIT_CODES[self.split], index) % self.num_classes

    def blank(self, base: torch.Tensor) -> torch.Tensor:
        planes = torch.full((self.bits, *base.shape[1:]), 0.5, dtype=base.dtype)
        return torch.cat([base, planes])

    def blank_many(self, bases: torch.Tensor) -> torch.Tensor:
        planes = torch.full((bases.shape[0], self.bits, *bases.shape[2:]), 0.5, dtype=bases.dtype)
        return torch.cat([bases, planes], dim=1)

    def draw(self, index: int, gen: torch.Generator) -> Layer:
        label = self.item_id(index)
        bits = torch.tensor([(label >> k) & 1 for k in range(self.bits)], dtype=torch.float32)
        colour = torch.cat([torch.zeros(1), bits])[:, None, None]
        alpha = torch.cat([torch.zeros(1), torch.ones(self.bits)])[:, None, None]
        return colour, alpha, label
