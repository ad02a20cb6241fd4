"""Pure crop/pad/paper functions: shapes, exact pixels, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from datacur.inkops import (
    crop_and_pad,
    crop_to_ink,
    draw_grid,
    draw_ruled_lines,
    find_ink_box,
    pad_to_square,
)


def _page(height: int, width: int, box: tuple[int, int, int, int], ink: int = 0) -> np.ndarray:
    image = np.full((height, width), 255, np.uint8)
    top, bottom, left, right = box
    image[top:bottom, left:right] = ink
    return image


@pytest.mark.parametrize(
    ("shape", "box"),
    [((20, 30), (5, 9, 10, 25)), ((10, 10), (0, 10, 0, 10)), ((7, 40), (3, 4, 39, 40))],
    ids=["inner", "full", "corner-pixel-row"],
)
def test_find_ink_box_is_exact(shape: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    assert find_ink_box(_page(*shape, box)) == box


def test_find_ink_box_blank_is_none() -> None:
    assert find_ink_box(np.full((5, 5), 255, np.uint8)) is None


def test_find_ink_box_threshold_decides_what_is_ink() -> None:
    image = _page(10, 10, (2, 4, 2, 4), ink=150)
    assert find_ink_box(image, threshold=128) is None
    assert find_ink_box(image, threshold=200) == (2, 4, 2, 4)


def test_min_count_ignores_specks() -> None:
    image = _page(20, 20, (5, 15, 5, 8))
    image[0, 19] = 0  # a speck in the corner
    assert find_ink_box(image) == (0, 15, 5, 20)
    assert find_ink_box(image, min_count=2) == (5, 15, 5, 8)


def test_crop_to_ink_exact_pixels() -> None:
    image = _page(20, 30, (5, 9, 10, 25))
    cropped = crop_to_ink(image)
    assert cropped.shape == (4, 15)
    assert (cropped == 0).all()


def test_crop_margin_pads_beyond_border_with_fill() -> None:
    image = _page(10, 10, (0, 3, 0, 3))
    cropped = crop_to_ink(image, margin=2)
    assert cropped.shape == (7, 7)
    assert (cropped[2:5, 2:5] == 0).all()
    assert cropped[0, 0] == 255 and cropped[6, 6] == 255


def test_crop_blank_returns_copy() -> None:
    image = np.full((5, 6), 255, np.uint8)
    cropped = crop_to_ink(image)
    assert np.array_equal(cropped, image)
    assert cropped is not image


def test_crop_does_not_alias_input() -> None:
    image = _page(10, 10, (2, 5, 2, 5))
    cropped = crop_to_ink(image)
    cropped[:] = 7
    assert image[3, 3] == 0


@pytest.mark.parametrize(
    ("shape", "expected_offset"),
    [((4, 10), (3, 0)), ((10, 4), (0, 3)), ((3, 6), (1, 0)), ((6, 6), (0, 0))],
    ids=["wide", "tall", "odd-leftover", "square"],
)
def test_pad_to_square_centres(shape: tuple[int, int], expected_offset: tuple[int, int]) -> None:
    image = np.zeros(shape, np.uint8)
    padded = pad_to_square(image)
    side = max(shape)
    assert padded.shape == (side, side)
    top, left = expected_offset
    assert (padded[top : top + shape[0], left : left + shape[1]] == 0).all()
    assert int((padded == 255).sum()) == side * side - shape[0] * shape[1]


def test_pad_fill_value() -> None:
    assert pad_to_square(np.zeros((1, 3), np.uint8), fill=9)[0, 0] == 9


def test_accepts_single_channel_3d() -> None:
    image = _page(10, 20, (2, 4, 2, 4))[:, :, None]
    assert pad_to_square(image).shape == (20, 20)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4), np.uint8)],
    ids=["float", "rgb", "empty"],
)
def test_rejects_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"uint8|non-empty"):
        crop_to_ink(bad)
    with pytest.raises(ValueError, match=r"uint8|non-empty"):
        pad_to_square(bad)


def test_negative_margin_rejected() -> None:
    with pytest.raises(ValueError, match="margin"):
        crop_to_ink(np.zeros((3, 3), np.uint8), margin=-1)


def test_crop_and_pad_composes() -> None:
    image = _page(50, 40, (10, 14, 5, 25))
    result = crop_and_pad(image, margin=1)
    assert result.shape == (22, 22)
    assert np.array_equal(crop_and_pad(image, crop=False, pad=False), image)
    assert crop_and_pad(image, crop=False).shape == (50, 50)
    assert crop_and_pad(image, pad=False).shape == (4, 20)


def test_ruled_lines_darken_but_never_lighten() -> None:
    image = np.full((10, 4), 255, np.uint8)
    image[3, 0] = 0
    lined = draw_ruled_lines(image, spacing=3, offset=0, value=100)
    assert lined[0, 1] == 100 and lined[3, 1] == 100 and lined[6, 1] == 100
    assert lined[1, 1] == 255
    assert lined[3, 0] == 0


def test_ruled_lines_thickness_and_offset() -> None:
    image = np.full((10, 2), 255, np.uint8)
    lined = draw_ruled_lines(image, spacing=5, offset=1, thickness=2, value=0)
    assert [int(v) for v in lined[:, 0]] == [255, 0, 0, 255, 255, 255, 0, 0, 255, 255]


def test_grid_draws_both_directions() -> None:
    image = np.full((6, 6), 255, np.uint8)
    grid = draw_grid(image, spacing=3, value=50)
    assert grid[0, 2] == 50 and grid[2, 0] == 50 and grid[1, 1] == 255
    assert grid.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize(
    "kwargs",
    [{"spacing": 0}, {"spacing": 3, "thickness": 0}, {"spacing": 3, "value": 300}],
    ids=["spacing", "thickness", "value"],
)
def test_lines_reject_bad_params(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        draw_ruled_lines(np.full((4, 4), 255, np.uint8), **kwargs)
