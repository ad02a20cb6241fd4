"""Pure ink-and-paper array operations: crop to the ink, pad to a square, draw ruled paper.

Array in, array out, no randomness and no disk: the augment pipeline steps (``CropToInk``,
``PadToSquare``, ``PaperLines``, ``PaperGrid`` in :mod:`datacur.augment`) and the mix
``crop_and_pad`` step both call these, so the two paths cannot drift apart.
Images are uint8 grayscale arrays of shape (H, W), black ink on white paper.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_INK_THRESHOLD",
    "crop_and_pad",
    "crop_to_ink",
    "draw_grid",
    "draw_ruled_lines",
    "find_ink_box",
    "pad_to_square",
]

DEFAULT_INK_THRESHOLD = 128
"""A pixel darker than this (0-255) counts as ink."""


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(
            f"expected a uint8 grayscale array of shape (H, W), got {image.dtype} {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty image, got shape {image.shape}")
    return image


def find_ink_box(
    image: np.ndarray, *, threshold: int = DEFAULT_INK_THRESHOLD, min_count: int = 1
) -> tuple[int, int, int, int] | None:
    """Return the ink's bounding box ``(top, bottom, left, right)`` (bottom/right exclusive).

    A row or column counts as inked when it holds at least ``min_count`` pixels darker than
    ``threshold``; raising ``min_count`` ignores isolated specks and thin scan borders.

    Returns:
        The box, or None when the image has no ink.
    """
    image = _check_image(image)
    ink = image < threshold
    rows = np.flatnonzero(ink.sum(axis=1) >= min_count)
    cols = np.flatnonzero(ink.sum(axis=0) >= min_count)
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_to_ink(
    image: np.ndarray,
    *,
    threshold: int = DEFAULT_INK_THRESHOLD,
    margin: int = 0,
    min_count: int = 1,
    fill: int = 255,
) -> np.ndarray:
    """Crop a (H, W) uint8 image to its ink box plus ``margin`` pixels on every side.

    The margin is the same on every side even where the ink touches the border (missing
    paper is filled with ``fill``), so cropped images look alike. An image without ink
    is returned unchanged (as a copy): blank images are for ``datacur noise`` to flag,
    not for a crop to hide.

    Example:
        >>> crop_to_ink(np.pad(np.zeros((2, 3), np.uint8), 5, constant_values=255)).shape
        (2, 3)
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    image = _check_image(image)
    box = find_ink_box(image, threshold=threshold, min_count=min_count)
    if box is None:
        return image.copy()
    top, bottom, left, right = box
    cropped = image[top:bottom, left:right]
    if margin == 0:
        return cropped.copy()
    return np.pad(cropped, margin, mode="constant", constant_values=fill)


def pad_to_square(image: np.ndarray, *, fill: int = 255) -> np.ndarray:
    """Pad the short side of a (H, W) uint8 image with ``fill`` so that H == W.

    The image stays centred; an odd leftover pixel goes to the bottom or right. The fixed
    script resizes to 32x32 without keeping the aspect, so padding first makes wide and
    narrow numerals squash alike.

    Example:
        >>> pad_to_square(np.zeros((2, 4), np.uint8)).shape
        (4, 4)
    """
    image = _check_image(image)
    height, width = image.shape
    side = max(height, width)
    top = (side - height) // 2
    left = (side - width) // 2
    pad = ((top, side - height - top), (left, side - width - left))
    if side == height and side == width:
        return image.copy()
    return np.pad(image, pad, mode="constant", constant_values=fill)


def crop_and_pad(
    image: np.ndarray,
    *,
    crop: bool = True,
    pad: bool = True,
    threshold: int = DEFAULT_INK_THRESHOLD,
    margin: int = 0,
    min_count: int = 1,
    fill: int = 255,
) -> np.ndarray:
    """Crop to the ink (when ``crop``) then pad to a square (when ``pad``)."""
    result = _check_image(image)
    if crop:
        result = crop_to_ink(
            result, threshold=threshold, margin=margin, min_count=min_count, fill=fill
        )
    if pad:
        result = pad_to_square(result, fill=fill)
    return result if (crop or pad) else result.copy()


def draw_ruled_lines(
    image: np.ndarray, *, spacing: int, offset: int = 0, thickness: int = 1, value: int = 160
) -> np.ndarray:
    """Darken horizontal lines every ``spacing`` pixels, like ruled paper under the ink.

    Lines never lighten ink: each pixel becomes ``min(pixel, value)`` on a line.
    """
    return _draw_lines(image, spacing=spacing, offset=offset, thickness=thickness, value=value)


def draw_grid(
    image: np.ndarray,
    *,
    spacing: int,
    offset_y: int = 0,
    offset_x: int = 0,
    thickness: int = 1,
    value: int = 160,
) -> np.ndarray:
    """Darken a square grid (squared paper) every ``spacing`` pixels in both directions."""
    result = _draw_lines(image, spacing=spacing, offset=offset_y, thickness=thickness, value=value)
    return _draw_lines(
        result.T, spacing=spacing, offset=offset_x, thickness=thickness, value=value
    ).T.copy()


def _draw_lines(
    image: np.ndarray, *, spacing: int, offset: int, thickness: int, value: int
) -> np.ndarray:
    image = _check_image(image)
    if spacing < 1 or thickness < 1:
        raise ValueError(f"spacing and thickness must be >= 1, got {spacing} and {thickness}")
    if not 0 <= value <= 255:
        raise ValueError(f"value must be in 0..255, got {value}")
    rows = np.arange(image.shape[0])
    on_line = ((rows - offset) % spacing) < thickness
    result = image.copy()
    result[on_line] = np.minimum(result[on_line], np.uint8(value))
    return result
