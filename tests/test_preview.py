"""Contact sheets: layout, determinism, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import VariantError
from datacur.preview import compose_contact_sheet, write_contact_sheet


def test_compose_contact_sheet_lays_out_rows_and_columns() -> None:
    wide = np.zeros((10, 30), np.uint8)
    tall = np.full((50, 5), 128, np.uint8)
    sheet = compose_contact_sheet([("i", [wide, tall]), ("ii", [tall])], cell=16)
    assert sheet.dtype == np.uint8
    assert sheet.shape == (2 * 18 + 2, 48 + 2 * 18 + 2)


def test_cell_too_small() -> None:
    with pytest.raises(ValueError, match="cell"):
        compose_contact_sheet([], cell=4)


def test_write_contact_sheet_is_deterministic(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=5, n_val=2)
    a = write_contact_sheet(variant, tmp_path / "a.png", per_class=4, seed=1)
    b = write_contact_sheet(variant, tmp_path / "b.png", per_class=4, seed=1)
    c = write_contact_sheet(variant, tmp_path / "c.png", per_class=4, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    with Image.open(a) as image:
        assert image.mode == "L"
        assert image.size == (48 + 4 * 66 + 2, 10 * 66 + 2)


def test_not_a_variant(tmp_path: Path) -> None:
    with pytest.raises(VariantError, match="folder not found"):
        write_contact_sheet(tmp_path / "nope", tmp_path / "s.png")


def test_per_class_must_be_positive(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    with pytest.raises(VariantError, match="per_class must be >= 1"):
        write_contact_sheet(make_variant(tmp_path / "v"), tmp_path / "s.png", per_class=0)
