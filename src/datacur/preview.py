"""Contact sheets: one PNG with a row of sample images per class, to see a variant at a glance.

Used by ``datacur show VARIANT`` and ``datacur synth --preview``. Samples are picked with a
seeded rng, so the same variant and seed give the same sheet (byte for byte).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from datacur.errors import VariantError
from datacur.io import atomic_write_bytes, encode_png, read_image_gray
from datacur.labels import CLASSES, SPLITS
from datacur.variant import list_variant_images

__all__ = ["DEFAULT_CELL", "compose_contact_sheet", "write_contact_sheet"]

DEFAULT_CELL = 64
"""Side in pixels of one thumbnail on the sheet."""

_LABEL_WIDTH = 48
_GAP = 2
MIN_CELL, MAX_CELL = 8, 512
"""Thumbnail sides a contact sheet accepts (a huge cell would make a decompression bomb)."""
MAX_PER_ROW = 200
"""Most samples per class row."""
_BACKGROUND = 200  # light gray between cells, so white images show their edges


def _thumbnail(image: np.ndarray, cell: int) -> np.ndarray:
    """Fit a (H, W) uint8 image into a white ``cell`` x ``cell`` square, aspect kept."""
    height, width = image.shape
    scale = cell / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(image, mode="L").resize(size, Image.Resampling.BILINEAR))
    square = np.full((cell, cell), 255, dtype=np.uint8)
    top = (cell - resized.shape[0]) // 2
    left = (cell - resized.shape[1]) // 2
    square[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return square


def compose_contact_sheet(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]], *, cell: int = DEFAULT_CELL
) -> np.ndarray:
    """Lay out labelled rows of images as one uint8 (H, W) grayscale sheet.

    Args:
        rows: ``(label, images)`` pairs; each image a uint8 (H, W) array of any size.
        cell: side of each thumbnail in pixels.

    Returns:
        The sheet, a uint8 array of shape (len(rows) * (cell + 2) + 2, 48 + n * (cell + 2) + 2)
        where n is the longest row.
    """
    if cell < 8:
        raise ValueError(f"cell must be >= 8 pixels, got {cell}")
    columns = max((len(images) for _, images in rows), default=0)
    height = len(rows) * (cell + _GAP) + _GAP
    width = _LABEL_WIDTH + columns * (cell + _GAP) + _GAP
    sheet = Image.new("L", (width, max(height, 1)), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(10, cell // 3))
    for row_index, (label, images) in enumerate(rows):
        top = _GAP + row_index * (cell + _GAP)
        draw.text((6, top + cell // 2), label, fill=0, font=font, anchor="lm")
        for column, image in enumerate(images):
            left = _LABEL_WIDTH + _GAP + column * (cell + _GAP)
            sheet.paste(Image.fromarray(_thumbnail(image, cell), mode="L"), (left, top))
    return np.asarray(sheet, dtype=np.uint8).copy()


def write_contact_sheet(
    variant_dir: Path,
    out_path: Path,
    *,
    per_class: int = 12,
    splits: Sequence[str] = SPLITS,
    cell: int = DEFAULT_CELL,
    seed: int = 0,
) -> Path:
    """Write a contact sheet PNG of a variant: one row per class, ``per_class`` random samples.

    Args:
        variant_dir: a variant folder (``train/<class>/``, ``val/<class>/``).
        out_path: the PNG to write (atomically; parent folders are created).
        per_class: samples per row (fewer when a class has fewer images).
        splits: which splits to sample from.
        cell: thumbnail side in pixels.
        seed: picks the samples; same variant and seed, same sheet.

    Returns:
        ``out_path``.

    Raises:
        VariantError: ``variant_dir`` is not a variant, or ``per_class`` < 1.

    Example:
        >>> write_contact_sheet(Path("datasets/dcai-2021"), Path("/tmp/sheet.png"))
    """
    if not 1 <= per_class <= MAX_PER_ROW:
        raise VariantError(
            f"per_class must be >= 1 and <= {MAX_PER_ROW} (received {per_class}); set "
            "--per-class in that range."
        )
    if not MIN_CELL <= cell <= MAX_CELL:
        raise VariantError(
            f"--cell must be between {MIN_CELL} and {MAX_CELL} pixels (received {cell})."
        )
    images = list_variant_images(variant_dir, splits=splits, allow_empty_class=True)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, list[np.ndarray]]] = []
    for label in CLASSES:
        paths = [image.path for image in images if image.label == label]
        if len(paths) > per_class:
            picked = np.sort(rng.choice(len(paths), size=per_class, replace=False))
            paths = [paths[index] for index in picked]
        rows.append((label, [read_image_gray(path) for path in paths]))
    sheet = compose_contact_sheet(rows, cell=cell)
    out_path = Path(out_path)
    atomic_write_bytes(out_path, encode_png(sheet))
    return out_path
