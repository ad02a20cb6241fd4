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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datacur.dedupe import (
    DEFAULT_NEAR_DISTANCE,
    INK_MARGIN,
    INK_MIN_COUNT,
    ink_phash,
    near_duplicate_pairs,
)
from datacur.io import atomic_write_bytes, read_image_gray, sha256_file

__all__ = [
    "FINGERPRINT_VERSION",
    "Fingerprints",
    "TwinPair",
    "accuracy_without",
    "find_twins",
    "fingerprint",
    "fingerprint_file",
    "read_fingerprints",
    "start_fingerprint",
    "write_fingerprints",
]

FINGERPRINT_VERSION = f"sha256+ink-phash8-margin{INK_MARGIN}-min{INK_MIN_COUNT}-v1"
"""What a stored fingerprint means; a cached file of another version is rebuilt, not read.
Change the suffix whenever :func:`datacur.dedupe.ink_phash` changes what it computes."""

_HEADER = "# datacur fingerprints"
_UNMARKED_VERSION = "sha256+ink-phash8-margin4-min2-v1"
"""The version of files written without a version line (before issue 27's speed work):
read as long as it is the current one (gzip's CRC still vouches for their bytes)."""


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


def fingerprint_file(path: Path | str) -> tuple[str, int]:
    """SHA-256 and ink pHash of one file (module level, so worker processes can run it)."""
    return sha256_file(Path(path)), ink_phash(read_image_gray(Path(path)))


class PendingFingerprints:
    """Fingerprints being computed (see :func:`start_fingerprint`)."""

    def __init__(self, names: list[str], pending: Any) -> None:
        self._names, self._pending = names, pending

    def result(self) -> Fingerprints:
        """Wait for them; an unreadable file raises here (naming it)."""
        pairs = self._pending.result()
        return Fingerprints(
            paths=self._names,
            sha256=[digest for digest, _ in pairs],
            phash=np.array([value for _, value in pairs], dtype=np.uint64),
        )

    def cancel(self) -> None:
        self._pending.cancel()


def start_fingerprint(
    paths: Sequence[Path | str], *, workers: int | None = None
) -> PendingFingerprints:
    """Start fingerprinting ``paths`` in forked workers (the project's pool); ``.result()``
    returns what :func:`fingerprint` would. Call it before TensorFlow is imported."""
    from datacur.pool import start_parallel_map

    names = [str(path) for path in paths]
    return PendingFingerprints(names, start_parallel_map(fingerprint_file, names, workers=workers))


def fingerprint(paths: Sequence[Path | str], *, workers: int = 1) -> Fingerprints:
    """SHA-256 and ink pHash of every file, in the order given (``workers`` > 1: forked)."""
    if workers <= 1:
        return PendingFingerprints([str(path) for path in paths], _Inline(paths)).result()
    return start_fingerprint(paths, workers=workers).result()


class _Inline:
    """:func:`fingerprint_file` over paths in this process, shaped like a pending map."""

    def __init__(self, paths: Sequence[Path | str]) -> None:
        self._paths = paths

    def result(self) -> list[tuple[str, int]]:
        return [fingerprint_file(path) for path in self._paths]

    def cancel(self) -> None:
        return None


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


def write_fingerprints(path: Path, prints: Fingerprints, *, key: str) -> None:
    """Store fingerprints as a gzipped CSV (path, sha256, ink pHash in hex); deterministic.

    A first line records :data:`FINGERPRINT_VERSION`, ``key`` (what the prints are of: a
    content hash) and the row count, so :func:`read_fingerprints` can tell a stale or
    damaged file from a good one (gzip's CRC catches flipped bytes and truncation).
    """
    text = io.StringIO()
    text.write(f"{_HEADER} version={FINGERPRINT_VERSION} key={key} count={len(prints.paths)}\n")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "sha256", "ink_phash"])
    for name, digest, value in zip(prints.paths, prints.sha256, prints.phash, strict=True):
        writer.writerow([name, digest, f"{int(value):016x}"])
    atomic_write_bytes(path, gzip.compress(text.getvalue().encode("utf-8"), mtime=0))


def read_fingerprints(path: Path, *, key: str) -> Fingerprints | None:
    """Read what :func:`write_fingerprints` wrote for ``key``; None for a miss.

    Never trusted blindly: a missing, unreadable, truncated or corrupt file, one of another
    fingerprint version or key, or one whose rows do not parse or add up is a miss (the
    caller recomputes and rewrites it).
    """
    try:
        text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
        header, _, body = text.partition("\n")
        expected = f"{_HEADER} version={FINGERPRINT_VERSION} key={key} count="
        if header.startswith(expected):
            count = int(header[len(expected) :])
        elif header == "path,sha256,ink_phash" and FINGERPRINT_VERSION == _UNMARKED_VERSION:
            body, count = text, -1  # written before the version line, by this very version
        else:
            return None
        rows = list(csv.reader(io.StringIO(body)))
        if not rows or rows[0] != ["path", "sha256", "ink_phash"]:
            return None
        if count >= 0 and len(rows) != count + 1:
            return None
        rows = rows[1:]
        if any(len(row) != 3 or len(row[1]) != 64 or len(row[2]) != 16 for row in rows):
            return None
        return Fingerprints(
            paths=[row[0] for row in rows],
            sha256=[row[1] for row in rows],
            phash=np.array([int(row[2], 16) for row in rows], dtype=np.uint64),
        )
    except (OSError, EOFError, ValueError, gzip.BadGzipFile, zlib.error, csv.Error):
        return None
