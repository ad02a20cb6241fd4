"""The folder-of-letter-folders source, on generated trees and the messy letters-photo set."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import SourceError
from datacur.sources.folder import FolderSource


def write(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def test_letters_cases_and_modes(tmp_path: Path) -> None:
    rgba = np.zeros((20, 16, 4), np.uint8)
    rgba[4:16, 6:10] = (0, 0, 200, 255)  # blue ink, transparent paper
    write(tmp_path / "I" / "a.PNG", Image.fromarray(rgba, "RGBA"))
    write(tmp_path / "v" / "nested" / "b.png", Image.new("RGB", (12, 12), (250, 240, 200)))
    (tmp_path / "v" / "notes.txt").write_text("not an image")
    glyphs = list(FolderSource(tmp_path))
    assert [(g.letter, g.case, g.origin) for g in glyphs] == [
        ("I", "upper", "folder:I/a.PNG"),
        ("V", "lower", "folder:v/nested/b.png"),
    ]
    assert glyphs[0].image[0, 0] == 255, "transparent paper composited on white"
    assert glyphs[0].image[10, 8] < 60, "ink stays dark"
    assert all(g.writer is None for g in glyphs)


def test_tiny_images_are_skipped_with_one_warning(tmp_path: Path) -> None:
    write(tmp_path / "X" / "ok.png", Image.new("L", (20, 20), 255))
    write(tmp_path / "X" / "dot.png", Image.new("L", (1, 2), 0))
    with pytest.warns(UserWarning, match=r"skipped 1 image.*X/dot\.png \(1x2 px\)"):
        glyphs = list(FolderSource(tmp_path))
    assert [g.origin for g in glyphs] == ["folder:X/ok.png"]


def test_unreadable_image_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "I").mkdir()
    (tmp_path / "I" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match=r"broken\.png.*not a readable image"):
        list(FolderSource(tmp_path))


@pytest.mark.parametrize(
    ("make", "match"),
    [(lambda p: p / "missing", "folder not found"), (lambda p: p, "no letter folders")],
    ids=["missing", "no-letter-folders"],
)
def test_bad_folders(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(SourceError, match=match):
        FolderSource(make(tmp_path))


@pytest.mark.integration
def test_real_letters_photo(shared_data: Path) -> None:
    with pytest.warns(UserWarning, match=r"i/SMALL_i_83\.png \(1x2 px\)"):
        glyphs = list(FolderSource(shared_data / "letters-photo"))
    counts = Counter((g.letter, g.case) for g in glyphs)
    assert sum(counts.values()) == 599
    assert counts[("I", "lower")] == 99 and counts[("X", "upper")] == 100
