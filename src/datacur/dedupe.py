"""Exact and near duplicates: SHA-256 groups and perceptual-hash (pHash) neighbours.

Near-identity is judged on the ink (:func:`ink_phash`), not on the page: starter images
are mostly white paper, and a pHash of the page at distance <= 4 chains unrelated numerals
together (measured on the 2,880 starter images: 213 pairs, 113 of them across labels, one
cluster of 15 spanning i/ii/v/x). On the ink it finds 84 pairs, 10 across labels, nearly
all true twins (the rest are single strokes that look alike once cropped).

Shared by ``mix`` (dedupe step, dev-test exclusion) and ``noise`` (duplicate and leakage
checks). The pairwise search is vectorised over 64-bit hashes (XOR + popcount), so 10,000
images take well under a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from datacur.inkops import crop_and_pad
from datacur.io import read_image_gray, sha256_file

__all__ = [
    "DEFAULT_NEAR_DISTANCE",
    "INK_MARGIN",
    "INK_MIN_COUNT",
    "exact_duplicate_groups",
    "ink_phash",
    "ink_phashes",
    "near_duplicate_pairs",
    "perceptual_hash",
    "perceptual_hashes",
]

DEFAULT_NEAR_DISTANCE = 4
"""Max Hamming distance (of 64 bits) for two pHashes to count as near-identical."""

INK_MARGIN = 4
"""Pixels of paper kept around the ink before hashing."""

INK_MIN_COUNT = 2
"""Ink pixels a row/column needs to count towards the ink box (ignores lone specks)."""

_CHUNK = 2048


def exact_duplicate_groups(paths: Sequence[Path]) -> list[list[Path]]:
    """Group files with byte-identical content; only groups of 2+ are returned.

    Groups and their members keep the order of ``paths``.
    """
    by_hash: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        by_hash[sha256_file(path)].append(Path(path))
    return [group for group in by_hash.values() if len(group) > 1]


def perceptual_hash(image: np.ndarray) -> int:
    """64-bit pHash of a uint8 grayscale (H, W) image, as a Python int."""
    hashed = imagehash.phash(Image.fromarray(image, mode="L"), hash_size=8)
    bits = hashed.hash.flatten()
    return int("".join("1" if bit else "0" for bit in bits), 2)


def perceptual_hashes(paths: Sequence[Path]) -> np.ndarray:
    """pHash every file; returns a uint64 array aligned with ``paths``."""
    return np.array([perceptual_hash(read_image_gray(path)) for path in paths], dtype=np.uint64)


def ink_phash(image: np.ndarray) -> int:
    """64-bit pHash of the ink: the image cropped to its ink and padded to a square first.

    This is the hash every near-duplicate decision in datacur uses (dev-test twins, the mix
    dedupe step, noise's duplicate and leakage checks); see the module docstring for why.
    """
    return perceptual_hash(crop_and_pad(image, margin=INK_MARGIN, min_count=INK_MIN_COUNT))


def ink_phashes(paths: Sequence[Path]) -> np.ndarray:
    """:func:`ink_phash` of every file; a uint64 array aligned with ``paths``."""
    return np.array([ink_phash(read_image_gray(path)) for path in paths], dtype=np.uint64)


def near_duplicate_pairs(
    hashes: np.ndarray,
    *,
    max_distance: int = DEFAULT_NEAR_DISTANCE,
    other: np.ndarray | None = None,
) -> list[tuple[int, int, int]]:
    """Find pairs of hashes within ``max_distance`` bits.

    Args:
        hashes: uint64 array of shape (N,).
        max_distance: largest Hamming distance that counts as near-identical.
        other: optional uint64 array of shape (M,); when given, pairs are (i in hashes,
            j in other) across the two sets, otherwise pairs i < j within ``hashes``.

    Returns:
        ``(i, j, distance)`` tuples sorted by (i, j).
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    within = other is None
    targets = hashes if other is None else np.asarray(other, dtype=np.uint64)
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, len(hashes), _CHUNK):
        block = hashes[start : start + _CHUNK]
        distances = np.bitwise_count(block[:, None] ^ targets[None, :])
        rows, cols = np.nonzero(distances <= max_distance)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + row
            if within and col <= i:
                continue
            pairs.append((i, col, int(distances[row, col])))
    pairs.sort()
    return pairs
