"""Leakage guard: twins between a variant (train + val) and a test set.

A twin is the project's one notion of it (:mod:`datacur.dedupe`): byte-identical (SHA-256),
or near-identical by the ink pHash within ``DEFAULT_NEAR_DISTANCE`` bits. A test image with
a twin in the variant measures memory, not generalisation, so every score carries how many
of its test images have one, and the accuracy without them (issue 27).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datacur.dedupe import DEFAULT_NEAR_DISTANCE, ink_phashes, near_duplicate_pairs
from datacur.io import atomic_write_bytes, sha256_file

__all__ = [
    "Fingerprints",
    "TwinPair",
    "accuracy_without",
    "find_twins",
    "fingerprint",
    "read_fingerprints",
    "write_fingerprints",
]


@dataclass(frozen=True)
class Fingerprints:
    """What twin-finding needs of a set of images: path, SHA-256 and ink pHash of each."""

    paths: list[str]
    sha256: list[str]
    phash: np.ndarray  # uint64, aligned with paths


@dataclass(frozen=True)
class TwinPair:
    """A test image and its closest twin in the variant (``kind`` "exact" or "near")."""

    test_path: str
    variant_path: str
    kind: str
    distance: int


def fingerprint(paths: Sequence[Path | str]) -> Fingerprints:
    """SHA-256 and ink pHash of every file, in the order given."""
    names = [str(path) for path in paths]
    return Fingerprints(
        paths=names,
        sha256=[sha256_file(Path(path)) for path in names],
        phash=ink_phashes([Path(path) for path in paths]),
    )


def find_twins(
    variant: Fingerprints, test: Fingerprints, *, max_distance: int = DEFAULT_NEAR_DISTANCE
) -> list[TwinPair]:
    """Each test image that has a twin in the variant, with its closest one; test order.

    A byte-identical twin wins over a near one; among near twins the smallest distance
    (then the first variant image) wins.
    """
    by_sha: dict[str, int] = {}
    for index, digest in enumerate(variant.sha256):
        by_sha.setdefault(digest, index)
    best: dict[int, tuple[int, int]] = {}
    for i, j, distance in near_duplicate_pairs(
        test.phash, max_distance=max_distance, other=variant.phash
    ):
        if i not in best or distance < best[i][1]:
            best[i] = (j, distance)
    pairs = []
    for index, path in enumerate(test.paths):
        exact = by_sha.get(test.sha256[index])
        if exact is not None:
            pairs.append(TwinPair(path, variant.paths[exact], "exact", 0))
        elif index in best:
            j, distance = best[index]
            pairs.append(TwinPair(path, variant.paths[j], "near", distance))
    return pairs


def accuracy_without(
    paths: Sequence[str], true_idx: np.ndarray, pred_idx: np.ndarray, twins: Sequence[TwinPair]
) -> float | None:
    """Accuracy over the test images that have no twin (None when every image has one)."""
    leaked = {pair.test_path for pair in twins}
    keep = np.array([str(path) not in leaked for path in paths], dtype=bool)
    if not keep.any():
        return None
    return float(np.mean(np.asarray(true_idx)[keep] == np.asarray(pred_idx)[keep]))


def write_fingerprints(path: Path, prints: Fingerprints) -> None:
    """Store fingerprints as a gzipped CSV (path, sha256, ink pHash in hex); deterministic."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "sha256", "ink_phash"])
    for name, digest, value in zip(prints.paths, prints.sha256, prints.phash, strict=True):
        writer.writerow([name, digest, f"{int(value):016x}"])
    atomic_write_bytes(path, gzip.compress(text.getvalue().encode("utf-8"), mtime=0))


def read_fingerprints(path: Path) -> Fingerprints:
    """Read what :func:`write_fingerprints` wrote."""
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(Path(path).read_bytes()).decode())))
    return Fingerprints(
        paths=[row["path"] for row in rows],
        sha256=[row["sha256"] for row in rows],
        phash=np.array([int(row["ink_phash"], 16) for row in rows], dtype=np.uint64),
    )
