"""The built-in pen-stroke glyph generator."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from datacur.errors import SourceError
from datacur.sources.base import open_source
from datacur.sources.strokes import StrokesSource


def test_every_letter_in_both_cases_per_writer() -> None:
    glyphs = list(StrokesSource(writers=3, samples=2, seed=1))
    assert len(glyphs) == len(StrokesSource(writers=3, samples=2)) == 3 * 2 * 6
    counts = Counter((g.writer, g.letter, g.case) for g in glyphs)
    assert set(counts.values()) == {2}
    for glyph in glyphs:
        image = glyph.image
        assert image.dtype == np.uint8 and image.ndim == 2
        assert image.min() == 0, "black ink"
        assert min(image.shape) >= 2
        assert glyph.origin.startswith("strokes:1:")


def test_same_seed_same_glyphs_and_more_writers_keep_the_first() -> None:
    first = list(StrokesSource(writers=2, samples=1, seed=5))
    again = list(StrokesSource(writers=2, samples=1, seed=5))
    more = list(StrokesSource(writers=3, samples=1, seed=5))
    for a, b, c in zip(first, again, more, strict=False):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.image, c.image)
    other = list(StrokesSource(writers=2, samples=1, seed=6))
    assert not all(np.array_equal(a.image, b.image) for a, b in zip(first, other, strict=True))


def test_lower_case_i_has_a_dot_above_its_stem() -> None:
    glyph = next(
        g for g in StrokesSource(writers=4, samples=1) if g.letter == "I" and g.case == "lower"
    )
    ink_rows = np.flatnonzero((glyph.image < 128).any(axis=1))
    assert np.any(np.diff(ink_rows) > 1), "a gap between the dot and the stem"


def test_options_are_checked() -> None:
    with pytest.raises(SourceError, match="writers"):
        StrokesSource(writers=0)
    with pytest.raises(SourceError, match="unknown option"):
        open_source("strokes", colour="red")
    with pytest.raises(SourceError, match="takes no --path"):
        open_source("strokes", path=__import__("pathlib").Path("."))
