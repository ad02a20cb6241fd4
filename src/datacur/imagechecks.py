"""Model-free image checks: unreadable, blank, tiny, extreme aspect, duplicates, leakage, conflicts.

Pure array functions (``measure_ink``) sit apart from :func:`check_images`, which reads the
files. Each problem becomes an :class:`ImageIssue`; ``noise`` merges these with cleanlab's.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datacur.dedupe import DEFAULT_NEAR_DISTANCE, near_duplicate_pairs, perceptual_hash
from datacur.errors import DatacurError, HostileInputError
from datacur.io import read_image_gray, sha256_file
from datacur.variant import VariantImage

__all__ = [
    "HYGIENE_ISSUES",
    "ISSUE_TYPES",
    "ImageCheckOptions",
    "ImageIssue",
    "ImageStats",
    "check_images",
    "crop_to_ink",
    "find_image_issues",
    "measure_image",
    "measure_ink",
    "relative_path",
]

ISSUE_TYPES: dict[str, float] = {
    "unreadable": 1.0,
    "conflicting_label": 0.95,
    "leakage": 0.9,
    "blank": 0.9,
    "label": 0.85,
    "exact_duplicate": 0.8,
    "tiny": 0.7,
    "near_duplicate": 0.6,
    "outlier": 0.6,
    "extreme_aspect": 0.5,
    "embedding_duplicate": 0.4,
    "junk": 0.75,
}
"""Every issue type with its weight: an issue's score is weight x confidence (0..1), so the
ranking puts certain, harmful problems (an unreadable file, one image under two labels, a
val image that is also in train) above likely ones (a cleanlab outlier)."""

HYGIENE_ISSUES: frozenset[str] = frozenset(
    {"conflicting_label", "leakage", "exact_duplicate", "near_duplicate", "embedding_duplicate"}
)
"""Issue types about the dataset's hygiene (twins), not about a bad image: ``noise`` ranks
them in their own queue, one row per twin pair (issue 21); every other type is a bad image."""


@dataclass(frozen=True)
class ImageIssue:
    """One problem with one image.

    ``path`` is relative to the variant with forward slashes (``train/iv/x.png``);
    ``suggested`` is a class name or ``""``; ``score`` in [0, 1] ranks severity (higher is
    worse); ``reason`` says in words what is wrong and, where it applies, with which image;
    ``partner`` is that other image's path for a twin (hygiene) issue.
    """

    path: str
    split: str
    label: str
    issue: str
    score: float
    reason: str
    suggested: str = ""
    partner: str = ""


@dataclass(frozen=True)
class ImageCheckOptions:
    """Thresholds of the model-free checks.

    Attributes:
        min_side: an image whose shorter side has fewer pixels is ``tiny``.
        max_aspect: an image whose long/short side ratio is larger is ``extreme_aspect``.
        blank_ink: an image with less than this fraction of ink pixels is ``blank``
            (nearly blank); so is one with more than ``1 - blank_ink`` (all ink).
        ink_contrast: a pixel is ink when it is this much darker (0..255) than the paper.
        near_distance: max Hamming distance (of 64 bits) between the pHashes of the
            ink-cropped images for them to count as near duplicates.
    """

    min_side: int = 16
    max_aspect: float = 5.0
    blank_ink: float = 0.002
    ink_contrast: int = 60
    near_distance: int = DEFAULT_NEAR_DISTANCE

    def __post_init__(self) -> None:
        if self.min_side < 1:
            raise ValueError(f"min_side must be >= 1 (received {self.min_side})")
        if self.max_aspect < 1:
            raise ValueError(f"max_aspect must be >= 1 (received {self.max_aspect})")
        if not 0 <= self.blank_ink < 0.5:
            raise ValueError(f"blank_ink must be in [0, 0.5) (received {self.blank_ink})")
        if not 0 < self.ink_contrast < 256:
            raise ValueError(f"ink_contrast must be in 1..255 (received {self.ink_contrast})")
        if not 0 <= self.near_distance <= 64:
            raise ValueError(f"near_distance must be in 0..64 (received {self.near_distance})")


@dataclass(frozen=True)
class ImageStats:
    """What the checks measured for one file (``readable`` false: the rest are defaults)."""

    readable: bool
    width: int = 0
    height: int = 0
    ink: float = 0.0
    sha256: str = ""
    phash: int = 0
    error: str = ""


def measure_ink(image: np.ndarray, *, ink_contrast: int = 60) -> float:
    """Fraction of ink pixels in a uint8 grayscale (H, W) image, black ink on light paper.

    The paper level is the 90th percentile of the pixels (robust to the ink and to grey
    paper), and a pixel is ink when it is at least ``ink_contrast`` darker. A uniform image
    therefore has no ink at all, whatever its grey level.

    Example:
        >>> measure_ink(np.full((8, 8), 255, dtype=np.uint8))
        0.0
    """
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty (H, W) array, got shape {image.shape}")
    paper = float(np.percentile(image, 90))
    return float(np.count_nonzero(image.astype(np.int16) <= paper - ink_contrast) / image.size)


def crop_to_ink(image: np.ndarray, *, ink_contrast: int = 60, pad: int = 2) -> np.ndarray:
    """Crop a uint8 (H, W) image to the bounding box of its ink plus ``pad`` pixels.

    An image without ink is returned unchanged. Perceptual hashes are taken of the crop:
    on the raw starter images, a small numeral on a large white page hashes like any other
    small numeral (113 same-hash pairs under different labels at distance 4 vs 7 cropped).
    """
    paper = float(np.percentile(image, 90))
    rows, cols = np.nonzero(image.astype(np.int16) <= paper - ink_contrast)
    if rows.size == 0:
        return image
    top, left = max(int(rows.min()) - pad, 0), max(int(cols.min()) - pad, 0)
    return image[top : int(rows.max()) + pad + 1, left : int(cols.max()) + pad + 1]


def measure_image(path: Path, *, ink_contrast: int = 60) -> ImageStats:
    """Read one file and measure it; an unreadable file gives ``readable=False``, no error."""
    try:
        array = read_image_gray(path)
    except HostileInputError:
        raise  # a decompression bomb or a FIFO is refused, not ranked as one more issue
    except DatacurError as err:
        return ImageStats(readable=False, error=str(err))
    if array.size == 0:
        return ImageStats(readable=False, error=f"{path}: image has no pixels")
    height, width = array.shape
    return ImageStats(
        readable=True,
        width=width,
        height=height,
        ink=measure_ink(array, ink_contrast=ink_contrast),
        sha256=sha256_file(path),
        phash=perceptual_hash(crop_to_ink(array, ink_contrast=ink_contrast)),
    )


def relative_path(image: VariantImage, variant_dir: Path) -> str:
    """``image.path`` relative to the variant, with forward slashes."""
    return Path(image.path).relative_to(variant_dir).as_posix()


def check_images(
    images: Sequence[VariantImage],
    variant_dir: Path,
    *,
    options: ImageCheckOptions | None = None,
) -> tuple[list[ImageIssue], list[ImageStats]]:
    """Measure every image and run the model-free checks.

    Returns:
        The issues (unsorted) and the per-image stats aligned with ``images``.
    """
    options = options or ImageCheckOptions()
    stats = [measure_image(image.path, ink_contrast=options.ink_contrast) for image in images]
    paths = [relative_path(image, Path(variant_dir)) for image in images]
    return find_image_issues(images, paths, stats, options=options), stats


def find_image_issues(
    images: Sequence[VariantImage],
    paths: Sequence[str],
    stats: Sequence[ImageStats],
    *,
    options: ImageCheckOptions | None = None,
) -> list[ImageIssue]:
    """Turn measured stats into issues (pure: no file access).

    Duplicates keep the first copy in variant order (train before val, then class, then
    name) unflagged and flag the others, so dropping every flagged copy is safe. A copy in
    val of a train image is ``leakage``; a pair of copies under different labels is one
    ``conflicting_label`` issue on the later copy, naming both labels (which is right needs a
    look). Every twin issue names its ``partner``.
    """
    options = options or ImageCheckOptions()
    issues: list[ImageIssue] = []

    def add(
        index: int,
        issue: str,
        confidence: float,
        reason: str,
        suggested: str = "",
        partner: int | None = None,
    ) -> None:
        image = images[index]
        score = round(ISSUE_TYPES[issue] * float(np.clip(confidence, 0.0, 1.0)), 6)
        other = paths[partner] if partner is not None else ""
        issues.append(
            ImageIssue(
                paths[index], image.split, image.label, issue, score, reason, suggested, other
            )
        )

    readable = [index for index, stat in enumerate(stats) if stat.readable]
    blank: set[int] = set()
    for index, stat in enumerate(stats):
        if not stat.readable:
            add(index, "unreadable", 1.0, f"cannot be read as an image: {stat.error}")
            continue
        short, long = sorted((stat.width, stat.height))
        if short < options.min_side:
            add(
                index,
                "tiny",
                1.0 - short / (2 * options.min_side),
                f"only {stat.width}x{stat.height} px (shorter side < {options.min_side} px)",
            )
        aspect = long / max(short, 1)
        if aspect > options.max_aspect:
            add(
                index,
                "extreme_aspect",
                min(1.0, 0.5 + (aspect - options.max_aspect) / (2 * options.max_aspect)),
                f"aspect ratio {aspect:.1f}:1 (> {options.max_aspect:g}:1); the 32x32 resize "
                "squashes it",
            )
        if stat.ink < options.blank_ink or stat.ink > 1.0 - options.blank_ink:
            blank.add(index)  # all blank pages look alike: no duplicate checks for them
        if stat.ink < options.blank_ink:
            add(
                index,
                "blank",
                1.0 - stat.ink / max(options.blank_ink, 1e-9) * 0.5,
                f"nearly blank: {stat.ink:.2%} ink pixels",
            )
        elif stat.ink > 1.0 - options.blank_ink:
            add(index, "blank", 1.0, f"almost all ink: {stat.ink:.2%} dark pixels")

    # Exact and near copies: group by the union of sha256 equality and pHash proximity.
    readable = [index for index in readable if index not in blank]
    pairs: dict[tuple[int, int], int] = {}
    by_sha: dict[str, list[int]] = defaultdict(list)
    for index in readable:
        by_sha[stats[index].sha256].append(index)
    for group in by_sha.values():
        for first, other in itertools.pairwise(group):
            pairs[(first, other)] = -1  # -1 marks byte-identical
    hashes = np.array([stats[index].phash for index in readable], dtype=np.uint64)
    for i, j, distance in near_duplicate_pairs(hashes, max_distance=options.near_distance):
        key = (readable[i], readable[j])
        pairs.setdefault(key, distance)

    flagged: set[tuple[int, str]] = set()
    for (first, other), distance in sorted(pairs.items()):
        exact = distance < 0
        how = "byte-identical to" if exact else f"near-identical (pHash distance {distance}) to"
        confidence = 1.0 if exact else 1.0 - distance / (2 * (options.near_distance + 1))
        a, b = images[first], images[other]
        if a.label != b.label:
            # One issue per pair: the pair is one decision (which label is right), not two.
            add(
                other,
                "conflicting_label",
                confidence,
                f"{how} {paths[first]}, labelled '{a.label}' (this one '{b.label}')",
                suggested=a.label,
                partner=first,
            )
        elif a.split != b.split:
            # Flag the val copy: dropping it keeps train whole and makes val honest.
            index, partner = (other, first) if b.split == "val" else (first, other)
            if (index, "leakage") not in flagged:
                flagged.add((index, "leakage"))
                add(
                    index,
                    "leakage",
                    confidence,
                    f"{how} {paths[partner]} in {images[partner].split}",
                    partner=partner,
                )
        else:
            issue = "exact_duplicate" if exact else "near_duplicate"
            if (other, issue) not in flagged:
                flagged.add((other, issue))
                add(other, issue, confidence, f"{how} {paths[first]}; keep one copy", partner=first)
    return issues
