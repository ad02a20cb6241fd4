"""Label-free junk features: ink statistics, label-book anchors and k-NN outlier scores.

Pure array functions (``ink_features``, ``glyph_vector``, ``anchor_features``,
``knn_features``) sit apart from :func:`measure_junk`, which reads the files. Each image
gets one row of named features, higher meaning "more likely bad"; :mod:`datacur.fusion`
turns them into one score (issue 21).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datacur.errors import DatacurError
from datacur.io import read_image_gray
from datacur.labels import CLASS_INDEX, CLASSES

__all__ = [
    "GLYPH_SIZE",
    "INK_FEATURES",
    "JunkFeatures",
    "anchor_features",
    "glyph_vector",
    "ink_features",
    "knn_features",
    "measure_junk",
    "read_label_book",
]

WORK_SIZE = 64
"""Images are squashed to WORK_SIZE x WORK_SIZE before the ink statistics, so a stroke
count or a margin means the same on a 40 px and a 600 px scan (the model sees 32 x 32)."""
GLYPH_SIZE = 16
"""Side of the ink-cropped, padded glyph vector used for the label-book and k-NN distances."""
STRONG_CONTRAST = 60
"""Ink: at least this much darker (0..255) than the paper (as in :mod:`datacur.imagechecks`)."""
FAINT_CONTRAST = 20
"""Faint ink: at least this much darker than the paper."""

INK_FEATURES: tuple[str, ...] = (
    "ink_low",
    "ink_high",
    "faint",
    "contrast_low",
    "components",
    "small_parts",
    "main_part_low",
    "bbox_small",
    "margin_uneven",
    "density",
)
"""Names of :func:`ink_features`' columns; each is oriented so that higher is more junk-like."""


@dataclass(frozen=True)
class JunkFeatures:
    """Label-free features of a set of images, aligned with the images given.

    Attributes:
        names: column names.
        values: float64 (N, len(names)); higher is more suspicious in every column.
        nearest_book: class name of each image's nearest label-book exemplar ("" without one).
    """

    names: tuple[str, ...]
    values: np.ndarray
    nearest_book: tuple[str, ...]


def _paper_level(image: np.ndarray) -> float:
    return float(np.percentile(image, 90))


def _squash(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a uint8 (H, W) image to (size, size) without keeping the aspect."""
    from PIL import Image

    return np.asarray(
        Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8
    )


def ink_features(image: np.ndarray) -> np.ndarray:
    """Ink statistics of one uint8 grayscale (H, W) image, black ink on light paper.

    Returns a float64 vector in the order of :data:`INK_FEATURES`:

    - ``ink_low`` / ``ink_high``: how far the ink fraction falls below 2% / rises above 25%
      (blank pages, a filled blob);
    - ``faint``: share of the visible ink that is only faint (dotted or pencil strokes);
    - ``contrast_low``: 1 - (paper - median ink level) / 255;
    - ``components``: log of the number of connected ink parts (scribbles, dots, noise);
    - ``small_parts``: share of ink in parts smaller than 1% of the largest (dust, dots);
    - ``main_part_low``: 1 - share of ink in the largest part;
    - ``bbox_small``: 1 - area of the ink box / image area (a tiny mark on a big page);
    - ``margin_uneven``: how off-centre the ink box is (one blank margin much larger);
    - ``density``: ink pixels per pixel of the square on the ink box's long side (a
      scribbled-over or filled area; a thin ``i`` is not dense).

    Example:
        >>> ink_features(np.full((8, 8), 255, dtype=np.uint8))[0]
        1.0
    """
    from scipy import ndimage

    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty (H, W) array, got shape {image.shape}")
    work = _squash(image, WORK_SIZE).astype(np.int16)
    paper = _paper_level(work)
    strong = work <= paper - STRONG_CONTRAST
    faint = work <= paper - FAINT_CONTRAST
    area = float(work.size)
    visible = int(faint.sum())
    ink = int(strong.sum())
    fraction = ink / area
    out = np.zeros(len(INK_FEATURES), dtype=np.float64)
    out[0] = max(0.0, 0.02 - fraction) / 0.02
    out[1] = max(0.0, fraction - 0.25) / 0.75
    out[2] = 1.0 - ink / visible if visible else 1.0
    out[3] = 1.0 - (paper - float(np.median(work[faint]))) / 255.0 if visible else 1.0
    mask = strong if ink >= 3 else faint
    if not mask.any():
        out[4:] = (0.0, 1.0, 1.0, 1.0, 1.0, 0.0)
        return out
    labelled, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labelled.ravel())[1:].astype(np.float64)
    total = float(sizes.sum())
    largest = float(sizes.max())
    out[4] = float(np.log1p(count))
    out[5] = float(sizes[sizes < max(2.0, 0.01 * largest)].sum() / total)
    out[6] = 1.0 - largest / total
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = float((bottom - top) * (right - left))
    out[7] = 1.0 - box / area
    side = float(WORK_SIZE)
    out[8] = max(abs(top - (side - bottom)), abs(left - (side - right))) / side
    # Over the square on the box's long side: a thin "i" is not dense, a scribble is.
    out[9] = total / float(max(bottom - top, right - left)) ** 2
    return out


def glyph_vector(image: np.ndarray, *, size: int = GLYPH_SIZE) -> np.ndarray:
    """The ink cropped, padded to a square and shrunk to (size, size), as a unit vector.

    Ink is 1, paper 0, so two images of the same numeral at different scales and positions
    land close together (cosine distance), and a blank page is the zero vector.
    """
    from datacur.inkops import crop_and_pad

    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty (H, W) array, got shape {image.shape}")
    paper = _paper_level(image)
    threshold = int(np.clip(paper - FAINT_CONTRAST, 1, 255))
    glyph = crop_and_pad(image, threshold=threshold, margin=1, min_count=1, fill=int(paper))
    small = _squash(glyph, size).astype(np.float64)
    vector = np.clip((paper - small) / max(paper, 1.0), 0.0, 1.0).ravel()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def anchor_features(
    vectors: np.ndarray,
    labels: np.ndarray,
    book_vectors: np.ndarray,
    book_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the label book: the given class's nearest exemplar and every other's.

    Args:
        vectors: float (N, D) unit glyph vectors; labels: int (N,) given classes.
        book_vectors: float (M, D) unit glyph vectors of the label book; book_labels: int (M,).

    Returns:
        float64 (N, 3) columns ``book_given`` (cosine distance to the nearest exemplar of the
        given class), ``book_any`` (to the nearest exemplar at all: off-class junk is far from
        every class) and ``book_margin`` (``book_given`` minus the nearest other class's), and
        int (N,) the class of the nearest exemplar.
    """
    distances = 1.0 - vectors @ book_vectors.T  # (N, M)
    per_class = np.full((len(vectors), len(CLASSES)), 2.0)
    for k in range(len(CLASSES)):
        members = book_labels == k
        if members.any():
            per_class[:, k] = distances[:, members].min(axis=1)
    rows = np.arange(len(vectors))
    given = per_class[rows, labels]
    others = per_class.copy()
    others[rows, labels] = np.inf
    nearest_other = others.min(axis=1)
    out = np.stack([given, per_class.min(axis=1), given - nearest_other], axis=1)
    return out, per_class.argmin(axis=1)


def knn_features(vectors: np.ndarray, labels: np.ndarray, *, k: int = 10) -> np.ndarray:
    """k-NN outlier and label-disagreement scores in a feature space (cosine distance).

    Returns:
        float64 (N, 2): ``knn_distance`` (mean distance to the k nearest other images: far
        from everything is an outlier) and ``knn_disagree`` (share of those neighbours that
        carry another label, weighted by closeness).
    """
    from sklearn.neighbors import NearestNeighbors

    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2))
    k = max(1, min(k, len(vectors) - 1))
    knn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(vectors)
    distances, neighbours = knn.kneighbors()
    distances = np.maximum(distances, 0.0)
    weights = 1.0 / (distances + 1e-3)
    disagree = (labels[neighbours] != labels[:, None]).astype(np.float64)
    return np.stack(
        [distances.mean(axis=1), (disagree * weights).sum(axis=1) / weights.sum(axis=1)], axis=1
    )


def read_label_book(label_book: Path) -> tuple[np.ndarray, np.ndarray]:
    """Glyph vectors and class indices of a label book folder (one folder per class).

    Raises:
        DatacurError: the folder has no class folders with images.
    """
    from datacur.variant import list_folder_images

    images = list_folder_images(Path(label_book), allow_empty_class=True)
    if not images:
        raise DatacurError(
            f"{label_book}: no label-book images (expected <class>/*.png folders). "
            "Pass --label-book with the organisers' label book, or --no-label-book."
        )
    vectors = np.stack([glyph_vector(read_image_gray(image.path)) for image in images])
    labels = np.array([CLASS_INDEX[image.label] for image in images], dtype=np.int64)
    return vectors, labels


def measure_junk(
    arrays: Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    book: tuple[np.ndarray, np.ndarray] | None = None,
    k: int = 10,
) -> JunkFeatures:
    """All label-free features of decoded grayscale images (plus label-aware anchors).

    Args:
        arrays: uint8 (H, W) grayscale images.
        labels: int (N,) given class indices (used by the anchor and k-NN disagreement
            columns only).
        book: label-book glyph vectors and labels (:func:`read_label_book`), or None.
        k: neighbours for the k-NN scores.
    """
    labels = np.asarray(labels, dtype=np.int64)
    ink = (
        np.stack([ink_features(array) for array in arrays])
        if len(arrays)
        else np.zeros((0, len(INK_FEATURES)))
    )
    vectors = (
        np.stack([glyph_vector(array) for array in arrays]) if len(arrays) else np.zeros((0, 1))
    )
    names = list(INK_FEATURES)
    columns = [ink]
    nearest: tuple[str, ...] = ("",) * len(arrays)
    if book is not None and len(arrays):
        anchors, nearest_index = anchor_features(vectors, labels, *book)
        names += ["book_given", "book_any", "book_margin"]
        columns.append(anchors)
        nearest = tuple(CLASSES[int(index)] for index in nearest_index)
    names += ["glyph_knn_distance", "glyph_knn_disagree"]
    columns.append(knn_features(vectors, labels, k=k))
    return JunkFeatures(tuple(names), np.concatenate(columns, axis=1), nearest)
