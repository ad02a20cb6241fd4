"""Shared fixtures: tiny generated variants drawn with PIL from a seeded rng.

Unit tests never read the real datasets; tests that do are marked ``integration`` and skip
when ``../shared/data`` is absent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Keep TensorFlow quiet and single-process friendly; albumentations must not phone home.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE_CHECK", "1")

from datacur.labels import CLASSES

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def draw_numeral(label: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Draw a crude but class-distinct numeral: I as a bar, V as a wedge, X as a cross.

    Returns a uint8 (size, size) grayscale array, black ink on white.
    """
    canvas = Image.new("L", (size * 4, size * 4), 255)
    draw = ImageDraw.Draw(canvas)
    letters = label.upper()
    step = canvas.width / (len(letters) + 1)
    top, bottom = canvas.height * 0.25, canvas.height * 0.75
    width = int(rng.integers(3, 7))
    for index, letter in enumerate(letters):
        cx = step * (index + 1) + float(rng.normal(0, 2))
        half = step * 0.35
        if letter == "I":
            draw.line([(cx, top), (cx, bottom)], fill=0, width=width)
        elif letter == "V":
            draw.line([(cx - half, top), (cx, bottom), (cx + half, top)], fill=0, width=width)
        else:  # X
            draw.line([(cx - half, top), (cx + half, bottom)], fill=0, width=width)
            draw.line([(cx + half, top), (cx - half, bottom)], fill=0, width=width)
    return np.asarray(canvas.resize((size, size), Image.BILINEAR), dtype=np.uint8)


@pytest.fixture
def make_image_folder() -> Callable[..., Path]:
    """Factory: ``make_image_folder(root, classes=CLASSES, n=3, size=32, seed=0)``.

    Writes ``root/<class>/<class>_<k>.png`` and returns ``root``.
    """

    def _make(
        root: Path,
        classes: Sequence[str] = CLASSES,
        n: int = 3,
        size: int = 32,
        seed: int = 0,
    ) -> Path:
        rng = np.random.default_rng(seed)
        for label in classes:
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                Image.fromarray(draw_numeral(label, rng, size)).save(folder / f"{label}_{k}.png")
        return root

    return _make


@pytest.fixture
def make_variant(make_image_folder: Callable[..., Path]) -> Callable[..., Path]:
    """Factory: ``make_variant(root, n_train=4, n_val=2, size=32, seed=0)`` -> variant folder."""

    def _make(root: Path, n_train: int = 4, n_val: int = 2, size: int = 32, seed: int = 0) -> Path:
        make_image_folder(root / "train", n=n_train, size=size, seed=seed)
        make_image_folder(root / "val", n=n_val, size=size, seed=seed + 1)
        return root

    return _make


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``, or skip the test with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA} (integration test)")
    return SHARED_DATA
