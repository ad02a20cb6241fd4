"""junk: label-free features separate planted junk (blank, dotted, scribble) from numerals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from datacur.junk import (
    INK_FEATURES,
    anchor_features,
    glyph_vector,
    ink_features,
    knn_features,
    measure_junk,
)
from datacur.labels import CLASS_INDEX

SIZE = 96


def _numeral(text: str, rng: np.random.Generator) -> np.ndarray:
    """A crude hand-drawn numeral: thick strokes for I, V and X, jittered by ``rng``."""
    canvas = Image.new("L", (SIZE, SIZE), 250)
    draw = ImageDraw.Draw(canvas)
    width = int(rng.integers(4, 7))
    x = 12 + int(rng.integers(0, 6))
    top, bottom = 18 + int(rng.integers(0, 6)), 76 + int(rng.integers(0, 6))
    for letter in text:
        if letter == "i":
            draw.line([(x, top), (x, bottom)], fill=10, width=width)
            x += 16
        elif letter == "v":
            draw.line([(x, top), (x + 11, bottom), (x + 22, top)], fill=10, width=width)
            x += 28
        else:
            draw.line([(x, top), (x + 22, bottom)], fill=10, width=width)
            draw.line([(x + 22, top), (x, bottom)], fill=10, width=width)
            x += 28
    return np.asarray(canvas, dtype=np.uint8)


def _blank(rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.normal(248, 2, (SIZE, SIZE)), 0, 255).astype(np.uint8)


def _dotted(rng: np.random.Generator) -> np.ndarray:
    """A numeral traced in faint, separate dots (the starter data has many)."""
    page = np.full((SIZE, SIZE), 250, dtype=np.uint8)
    for x in (30, 60):
        for y in range(16, 82, 7):
            dy, dx = int(rng.integers(0, 2)), int(rng.integers(0, 2))
            page[y + dy : y + dy + 2, x + dx : x + dx + 2] = 150
    return page


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """A dense zigzag scribbled over a patch of the page."""
    canvas = Image.new("L", (SIZE, SIZE), 250)
    draw = ImageDraw.Draw(canvas)
    points = [(float(rng.uniform(20, 76)), float(y)) for y in np.linspace(20, 76, 40)]
    draw.line(points, fill=10, width=5)
    return np.asarray(canvas, dtype=np.uint8)


@pytest.fixture
def planted() -> tuple[list[np.ndarray], list[str], list[str]]:
    """20 clean numerals and 3 of each planted junk kind, with their labels and kinds."""
    rng = np.random.default_rng(0)
    arrays, labels, kinds = [], [], []
    for k in range(20):
        text = ("i", "ii", "v", "x", "iv")[k % 5]
        arrays.append(_numeral(text, rng))
        labels.append(text)
        kinds.append("clean")
    for maker in (_blank, _dotted, _scribble):
        for k in range(3):
            arrays.append(maker(rng))
            labels.append(("i", "v", "x")[k])
            kinds.append(maker.__name__[1:])
    return arrays, labels, kinds


@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        ("blank", "ink_low"),
        ("blank", "bbox_small"),
        ("dotted", "faint"),
        ("dotted", "components"),
        ("scribble", "density"),
    ],
    ids=["blank-ink", "blank-bbox", "dotted-faint", "dotted-parts", "scribble-density"],
)
def test_each_junk_kind_scores_above_every_clean_numeral(
    planted: tuple[list[np.ndarray], list[str], list[str]], kind: str, feature: str
) -> None:
    arrays, _labels, kinds = planted
    column = INK_FEATURES.index(feature)
    values = np.array([ink_features(array)[column] for array in arrays])
    clean = values[[k == "clean" for k in kinds]]
    junk = values[[k == kind for k in kinds]]
    assert junk.min() > clean.max(), (feature, junk, clean)


def test_fused_label_free_score_puts_planted_junk_on_top(
    planted: tuple[list[np.ndarray], list[str], list[str]],
) -> None:
    from datacur.fusion import LABEL_FREE_WEIGHTS, score_fusion

    arrays, labels, kinds = planted
    book_labels = np.array([CLASS_INDEX[label] for label in ("i", "ii", "v", "x", "iv")])
    rng = np.random.default_rng(5)
    book = np.stack([glyph_vector(_numeral(t, rng)) for t in ("i", "ii", "v", "x", "iv")])
    found = measure_junk(
        arrays, np.array([CLASS_INDEX[label] for label in labels]), book=(book, book_labels), k=3
    )
    assert found.values.shape == (len(arrays), len(found.names))
    fused = score_fusion(found.names, found.values, LABEL_FREE_WEIGHTS)
    top = set(np.argsort(-fused, kind="stable")[:9].tolist())
    planted_junk = {i for i, kind in enumerate(kinds) if kind != "clean"}
    assert len(top & planted_junk) >= 8  # at most one clean numeral among the top 9
    again = measure_junk(
        arrays, np.array([CLASS_INDEX[label] for label in labels]), book=(book, book_labels), k=3
    )
    np.testing.assert_array_equal(found.values, again.values)  # deterministic


def test_anchor_features_and_nearest_class() -> None:
    rng = np.random.default_rng(1)
    book = np.stack([glyph_vector(_numeral(t, rng)) for t in ("i", "v", "x")])
    book_labels = np.array([CLASS_INDEX[t] for t in ("i", "v", "x")])
    image = glyph_vector(_numeral("x", rng))[None, :]
    right, nearest = anchor_features(image, np.array([CLASS_INDEX["x"]]), book, book_labels)
    wrong, _ = anchor_features(image, np.array([CLASS_INDEX["i"]]), book, book_labels)
    assert nearest.tolist() == [CLASS_INDEX["x"]]
    assert right[0, 2] < 0 < wrong[0, 2]  # given-class margin: negative when the label fits
    assert right[0, 0] < wrong[0, 0]


def test_knn_disagreement_flags_a_flipped_label() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 1, (2, 8))
    vectors = np.concatenate(
        [centres[0] + rng.normal(0, 0.05, (10, 8)), centres[1] + rng.normal(0, 0.05, (10, 8))]
    )
    labels = np.array([0] * 10 + [1] * 10)
    labels[3] = 1
    scores = knn_features(vectors, labels, k=5)
    assert int(np.argmax(scores[:, 1])) == 3


def test_blank_glyph_is_the_zero_vector_and_bad_shapes_fail() -> None:
    assert not glyph_vector(np.full((20, 20), 255, dtype=np.uint8)).any()
    with pytest.raises(ValueError, match="non-empty"):
        ink_features(np.zeros((0, 4), dtype=np.uint8))
