"""``emnist``: letters I, V, X from the official NIST EMNIST release (IDX/gzip, .mat, CSV).

Formats read, exactly as NIST publishes them (https://www.nist.gov/itl/products-and-services/
emnist-dataset): the ``gzip.zip`` bundle holding
``gzip/emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte.gz``; those ``.gz`` files
on their own (or un-gzipped); the ``matlab.zip`` bundle or its ``matlab/emnist-<split>.mat``
(which also records each image's writer); and the common CSV export
``emnist-<split>-{train,test}.csv`` (label, then 784 pixels). Every format stores the 28x28
images transposed and white ink on black: they are un-transposed and inverted here.

Class maps: ``byclass`` keeps case (I 18, V 31, X 33, i 44, v 57, x 59); ``bymerge`` and
``balanced`` merge I/i, V/v and X/x (18, 31, 33) and ``letters`` merges every case (labels
1-26: I 9, V 22, X 24), so glyphs from those three splits have case None (unknown).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io as _io
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from datacur.errors import SourceError
from datacur.sources.base import Glyph, register_source

__all__ = [
    "CLASS_MAPS",
    "DOWNLOAD_MD5",
    "DOWNLOAD_URL",
    "MAX_IDX_RECORDS",
    "EmnistSource",
    "default_cache_dir",
    "download_emnist",
    "read_idx",
]

DOWNLOAD_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
"""The official NIST bundle (about 536 MB)."""

DOWNLOAD_MD5 = "58c8d27c78d21e728a6bc7b3cc06412e"
"""MD5 of ``gzip.zip`` as published (the same checksum torchvision verifies)."""

CLASS_MAPS: dict[str, dict[int, tuple[str, str | None]]] = {
    "byclass": {
        18: ("I", "upper"),
        31: ("V", "upper"),
        33: ("X", "upper"),
        44: ("I", "lower"),
        57: ("V", "lower"),
        59: ("X", "lower"),
    },
    "bymerge": {18: ("I", None), 31: ("V", None), 33: ("X", None)},
    "balanced": {18: ("I", None), 31: ("V", None), 33: ("X", None)},
    "letters": {9: ("I", None), 22: ("V", None), 24: ("X", None)},
}
"""Per split: EMNIST label -> (letter, case); case None where the split merges cases."""

SUBSETS: tuple[str, ...] = ("train", "test", "all")
_SIDE = 28
_IDX_UBYTE = 0x08
_READ_RECORDS = 8192
_IDX_CHUNK = 1 << 20

MAX_IDX_RECORDS = 1 << 22
"""Most records an IDX file may declare (EMNIST's largest, byclass train, has 697,932)."""
_GET_IT = (
    f"Get the official release from {DOWNLOAD_URL} (or matlab.zip from the same page) and "
    "pass it with --path, or pass --download to fetch gzip.zip into the cache folder."
)

DownloadProgress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``; total is 0 when the server does not say."""


# --------------------------------------------------------------------------- IDX


def _read_idx_header(handle: IO[bytes], name: str, ndim: int) -> tuple[int, ...]:
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise SourceError(f"{name}: not an IDX file (bad magic number). {_GET_IT}")
    if magic[2] != _IDX_UBYTE or magic[3] != ndim:
        raise SourceError(
            f"{name}: expected an unsigned-byte IDX file with {ndim} dimension(s), got type "
            f"0x{magic[2]:02x} with {magic[3]}. Give the matching images-idx3/labels-idx1 file."
        )
    raw = handle.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise SourceError(f"{name}: truncated IDX header. Download the file again.")
    return tuple(int(x) for x in np.frombuffer(raw, dtype=">u4"))


def read_idx(handle: IO[bytes], name: str) -> np.ndarray:
    """Read a whole IDX stream (magic, big-endian uint32 dims, uint8 data) into an array.

    Raises:
        SourceError: bad magic, unsupported type or truncated data, naming ``name``.
    """
    head = handle.read(4)
    if len(head) < 4:
        raise SourceError(f"{name}: empty or truncated IDX file. Download the file again.")
    ndim = head[3]
    shape = _read_idx_header(_io.BytesIO(head + handle.read(4 * ndim)), name, ndim)
    _check_idx_shape(shape, name)
    count = math.prod(shape)
    # Read in chunks: memory follows the bytes really present, not what the header claims.
    data = bytearray()
    while len(data) < count:
        chunk = handle.read(min(_IDX_CHUNK, count - len(data)))
        if not chunk:
            raise SourceError(
                f"{name}: truncated IDX data ({len(data)} of {count} bytes declared in its "
                "header). Download it again."
            )
        data += chunk
    return np.frombuffer(bytes(data), dtype=np.uint8).reshape(shape)


def _check_idx_shape(shape: tuple[int, ...], name: str) -> None:
    """Refuse a header whose declared size is beyond any EMNIST file, before allocating."""
    if shape and shape[0] > MAX_IDX_RECORDS:
        raise SourceError(
            f"{name}: IDX header declares {shape[0]:,} records; EMNIST files hold under "
            f"{MAX_IDX_RECORDS:,}. The file is damaged or not EMNIST; download it again."
        )
    if math.prod(shape[1:]) > _SIDE * _SIDE:
        raise SourceError(
            f"{name}: IDX header declares records of shape {shape[1:]}; EMNIST images are "
            f"{_SIDE}x{_SIDE}. Give the official files."
        )


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    """A callable that opens ``path`` for binary reading (the caller closes it)."""
    return lambda: path.open("rb")


@contextlib.contextmanager
def _open_member(opener: Callable[[], IO[bytes]], name: str) -> Iterator[IO[bytes]]:
    """Open a member, gunzipping ``.gz`` on the fly; closes the raw handle too."""
    with opener() as handle:
        if name.endswith(".gz"):
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield handle


def _select_idx(
    open_images: Callable[[], IO[bytes]],
    open_labels: Callable[[], IO[bytes]],
    images_name: str,
    labels_name: str,
    wanted: set[int],
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(record, label, 28x28 raw image)`` for labels in ``wanted``, streaming."""
    try:
        with _open_member(open_labels, labels_name) as handle:
            labels = read_idx(handle, labels_name)
        if labels.ndim != 1:
            raise SourceError(f"{labels_name}: expected 1-D labels, got shape {labels.shape}.")
        keep = np.flatnonzero(np.isin(labels, list(wanted)))
        with _open_member(open_images, images_name) as handle:
            count, rows, cols = _read_idx_header(handle, images_name, 3)
            _check_idx_shape((count, rows, cols), images_name)
            if (rows, cols) != (_SIDE, _SIDE) or count != labels.shape[0]:
                raise SourceError(
                    f"{images_name}: expected {labels.shape[0]} images of 28x28 to match "
                    f"{labels_name}, got {count} of {rows}x{cols}. Use files of the same split "
                    "and subset."
                )
            size = rows * cols
            for start in range(0, count, _READ_RECORDS):
                stop = min(count, start + _READ_RECORDS)
                inside = keep[(keep >= start) & (keep < stop)]
                block = handle.read((stop - start) * size)
                if len(block) < (stop - start) * size:
                    raise SourceError(f"{images_name}: truncated image data. Download it again.")
                if inside.size == 0:
                    continue
                array = np.frombuffer(block, dtype=np.uint8).reshape(-1, rows, cols)
                for record in inside.tolist():
                    yield record, int(labels[record]), array[record - start]
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise SourceError(f"{images_name}: cannot read ({err}). Download it again.") from err


# --------------------------------------------------------------------------- download


def default_cache_dir() -> Path:
    """``$DATACUR_CACHE`` or ``~/.cache/datacur``: where ``--download`` puts EMNIST."""
    return Path(os.environ.get("DATACUR_CACHE", Path.home() / ".cache" / "datacur"))


def download_emnist(
    cache_dir: Path | None = None, *, progress: DownloadProgress | None = None
) -> Path:
    """Fetch the official ``gzip.zip`` into ``<cache_dir>/emnist/`` once; return its path.

    The download goes to a ``.partial`` file and is renamed only once its MD5 matches
    :data:`DOWNLOAD_MD5`. An existing complete file is reused without network access.

    Raises:
        SourceError: network failure or checksum mismatch (the partial file is removed).
    """
    import urllib.error
    import urllib.request

    target = Path(cache_dir or default_cache_dir()) / "emnist" / "gzip.zip"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(DOWNLOAD_URL, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            with open(partial, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
    except (urllib.error.URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise SourceError(
            f"could not download {DOWNLOAD_URL} ({err}). Check the network, or download it "
            "by hand and pass it with --path."
        ) from err
    if digest.hexdigest() != DOWNLOAD_MD5:
        partial.unlink(missing_ok=True)
        raise SourceError(
            f"{DOWNLOAD_URL}: checksum mismatch (MD5 {digest.hexdigest()}, expected "
            f"{DOWNLOAD_MD5}); the download was discarded. Try again later."
        )
    os.replace(partial, target)
    return target


# --------------------------------------------------------------------------- the source


class EmnistSource:
    """Glyphs I, V, X (and i, v, x in ``byclass``) from an EMNIST release.

    Args:
        path: ``gzip.zip``, ``matlab.zip``, a ``.mat``, a ``.csv``, an images
            ``-idx3-ubyte[.gz]`` file, or a folder holding any of those. None with
            ``download=True`` uses (and if needed fetches) the cached ``gzip.zip``.
        split: ``byclass`` (keeps case), ``bymerge``, ``balanced`` or ``letters``.
        subset: ``train``, ``test`` or ``all``.
        download: fetch the official bundle when ``path`` is None.
        cache_dir: where downloads go (default :func:`default_cache_dir`).
        limit: stop after this many glyphs (None: all).
        progress: download progress callback.
    """

    name = "emnist"

    def __init__(
        self,
        path: Path | None = None,
        *,
        split: str = "byclass",
        subset: str = "train",
        download: bool = False,
        cache_dir: Path | None = None,
        limit: int | None = None,
        progress: DownloadProgress | None = None,
    ) -> None:
        if split not in CLASS_MAPS:
            raise SourceError(
                f"emnist: split {split!r} has no letters I, V, X. Choose one of "
                f"{', '.join(CLASS_MAPS)} (byclass keeps upper and lower case apart)."
            )
        if subset not in SUBSETS:
            raise SourceError(f"emnist: subset must be one of {', '.join(SUBSETS)} ({subset!r}).")
        if path is None:
            if not download:
                raise SourceError(f"emnist: no --path given. {_GET_IT}")
            path = download_emnist(cache_dir, progress=progress)
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"{self.path}: not found. {_GET_IT}")
        self.split = split
        self.subset = subset
        self.limit = limit
        self.options: dict[str, Any] = {"path": str(path), "split": split, "subset": subset}
        if limit is not None:
            self.options["limit"] = limit

    # -- locating files ------------------------------------------------------------------

    def _subsets(self) -> tuple[str, ...]:
        name = self.path.name.lower()
        if self.path.is_file() and (name.endswith(".csv") or "-images-idx3-ubyte" in name):
            return (self.subset,)  # a single file holds a single subset: read it once
        return ("train", "test") if self.subset == "all" else (self.subset,)

    def __iter__(self) -> Iterator[Glyph]:
        mapping = CLASS_MAPS[self.split]
        produced = 0
        for subset in self._subsets():
            for record, label, raw, writer, where in self._records(subset, set(mapping)):
                letter, case = mapping[label]
                # Stored transposed and white on black: transpose back, invert to ink on paper.
                image = (255 - raw.T).astype(np.uint8)
                yield Glyph(
                    image=np.ascontiguousarray(image),
                    letter=letter,
                    case=case,
                    writer=writer,
                    origin=f"emnist:{where}#{record}",
                )
                produced += 1
                if self.limit is not None and produced >= self.limit:
                    return

    def _records(
        self, subset: str, wanted: set[int]
    ) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
        path = self.path
        if path.is_dir():
            yield from self._records_in_dir(path, subset, wanted)
            return
        name = path.name.lower()
        if name.endswith(".zip"):
            yield from self._records_in_zip(path, subset, wanted)
        elif name.endswith(".mat"):
            yield from self._records_mat(_opener(path), path.name, subset, wanted)
        elif name.endswith(".csv"):
            yield from self._records_csv(_opener(path), path.name, wanted)
        elif "-images-idx3-ubyte" in name:
            yield from _records_idx_file(path, wanted)
        else:
            raise SourceError(
                f"{path}: not an EMNIST file. Expected gzip.zip, matlab.zip, emnist-<split>.mat, "
                f"emnist-<split>-<subset>.csv or an -images-idx3-ubyte.gz file. {_GET_IT}"
            )

    def _records_in_dir(
        self, folder: Path, subset: str, wanted: set[int]
    ) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
        stem = f"emnist-{self.split}-{subset}"
        for gz in (
            folder / f"{stem}-images-idx3-ubyte.gz",
            folder / "gzip" / f"{stem}-images-idx3-ubyte.gz",
        ):
            labels = gz.with_name(f"{stem}-labels-idx1-ubyte.gz")
            if gz.is_file() and labels.is_file():
                yield from _with_writer(
                    _select_idx(
                        _opener(gz),
                        _opener(labels),
                        gz.name,
                        labels.name,
                        wanted,
                    ),
                    gz.name,
                )
                return
        raw = folder / f"{stem}-images-idx3-ubyte"
        if raw.is_file():
            yield from _records_idx_file(raw, wanted)
            return
        for candidate in ("gzip.zip", "matlab.zip"):
            if (folder / candidate).is_file():
                yield from self._records_in_zip(folder / candidate, subset, wanted)
                return
        for mat in (
            folder / f"emnist-{self.split}.mat",
            folder / "matlab" / f"emnist-{self.split}.mat",
        ):
            if mat.is_file():
                yield from self._records_mat(_opener(mat), mat.name, subset, wanted)
                return
        csv_path = folder / f"{stem}.csv"
        if csv_path.is_file():
            yield from self._records_csv(_opener(csv_path), csv_path.name, wanted)
            return
        raise SourceError(
            f"{folder}: no EMNIST '{self.split}' {subset} data found (looked for gzip.zip, "
            f"matlab.zip, {stem}-images-idx3-ubyte.gz, emnist-{self.split}.mat, {stem}.csv). "
            f"{_GET_IT}"
        )

    def _records_in_zip(
        self, bundle: Path, subset: str, wanted: set[int]
    ) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
        stem = f"emnist-{self.split}-{subset}"
        try:
            archive = zipfile.ZipFile(bundle)
        except (zipfile.BadZipFile, OSError) as err:
            raise SourceError(f"{bundle}: not a readable zip ({err}). {_GET_IT}") from err
        with archive:
            names = set(archive.namelist())
            images = next((n for n in names if n.endswith(f"{stem}-images-idx3-ubyte.gz")), None)
            labels = next((n for n in names if n.endswith(f"{stem}-labels-idx1-ubyte.gz")), None)
            mat = next((n for n in names if n.endswith(f"emnist-{self.split}.mat")), None)
            if images and labels:
                yield from _with_writer(
                    _select_idx(
                        lambda: archive.open(images),
                        lambda: archive.open(labels),
                        f"{bundle.name}:{images}",
                        f"{bundle.name}:{labels}",
                        wanted,
                    ),
                    f"{bundle.name}:{images}",
                )
            elif mat:
                yield from self._records_mat(
                    lambda: archive.open(mat), f"{bundle.name}:{mat}", subset, wanted
                )
            else:
                raise SourceError(
                    f"{bundle}: holds no EMNIST '{self.split}' {subset} files (expected "
                    f"gzip/{stem}-images-idx3-ubyte.gz or matlab/emnist-{self.split}.mat). "
                    f"{_GET_IT}"
                )

    def _records_mat(
        self, opener: Callable[[], IO[bytes]], name: str, subset: str, wanted: set[int]
    ) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
        from scipy.io import loadmat

        try:
            with opener() as handle:
                data = loadmat(handle, simplify_cells=True)
            part = data["dataset"][subset]
            images = np.asarray(part["images"], dtype=np.uint8).reshape(-1, _SIDE * _SIDE)
            labels = np.asarray(part["labels"]).reshape(-1).astype(np.int64)
            writers = part.get("writers")
            writers = None if writers is None else np.asarray(writers).reshape(-1)
        except (KeyError, TypeError, ValueError, OSError) as err:
            raise SourceError(
                f"{name}: not an EMNIST .mat file (expected dataset.{subset}.images, labels, "
                f"writers; {err}). {_GET_IT}"
            ) from err
        if images.shape[0] != labels.shape[0]:
            raise SourceError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels.")
        for record in np.flatnonzero(np.isin(labels, list(wanted))).tolist():
            # Rows hold the pixels in the same transposed order as the IDX files.
            writer = None if writers is None else f"emnist-{int(writers[record])}"
            yield (
                record,
                int(labels[record]),
                images[record].reshape(_SIDE, _SIDE),
                writer,
                f"{name}:{subset}",
            )

    def _records_csv(
        self, opener: Callable[[], IO[bytes]], name: str, wanted: set[int]
    ) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
        prefixes = tuple(f"{label}," for label in sorted(wanted))
        with opener() as raw, _io.TextIOWrapper(raw, encoding="ascii", newline="") as text:
            for record, line in enumerate(text):
                if not line.startswith(prefixes):
                    continue
                row = next(csv.reader([line]))
                if len(row) != 1 + _SIDE * _SIDE:
                    raise SourceError(
                        f"{name}: line {record + 1} has {len(row)} values; expected a label then "
                        f"{_SIDE * _SIDE} pixels (the EMNIST CSV export)."
                    )
                try:
                    pixels = np.array(row[1:], dtype=np.int64)
                except ValueError as err:
                    raise SourceError(
                        f"{name}: line {record + 1}: non-numeric pixel ({err})."
                    ) from err
                if pixels.min() < 0 or pixels.max() > 255:
                    raise SourceError(f"{name}: line {record + 1}: pixels must be 0..255.")
                yield (
                    record,
                    int(row[0]),
                    pixels.astype(np.uint8).reshape(_SIDE, _SIDE),
                    None,
                    name,
                )


def _records_idx_file(
    path: Path, wanted: set[int]
) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
    labels = path.with_name(path.name.replace("-images-idx3-", "-labels-idx1-"))
    if not labels.is_file():
        raise SourceError(f"{labels}: labels file not found next to {path.name}. {_GET_IT}")
    yield from _with_writer(
        _select_idx(_opener(path), _opener(labels), path.name, labels.name, wanted),
        path.name,
    )


def _with_writer(
    records: Iterator[tuple[int, int, np.ndarray]], where: str
) -> Iterator[tuple[int, int, np.ndarray, str | None, str]]:
    # IDX files do not record writers.
    for record, label, image in records:
        yield record, label, image, None, where


def _open(path: Path | None = None, **options: Any) -> EmnistSource:
    allowed = {"split", "subset", "download", "cache_dir", "limit", "progress"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SourceError(
            f"emnist: unknown option(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(allowed))}."
        )
    return EmnistSource(path, **options)


def register() -> None:
    """Add ``emnist`` to the source registry."""
    register_source(
        "emnist",
        _open,
        description=(
            "EMNIST from NIST: gzip.zip, matlab.zip, .mat, CSV or -idx3-ubyte.gz files "
            f"(--path), or --download to fetch {DOWNLOAD_URL}"
        ),
        needs_path=True,
    )
