"""Files on disk: atomic writes, atomic output folders, hashing, and image read/write.

Every file datacur writes goes through here so that an interrupted command never leaves a
half-written file or folder behind (STYLE.md section 7).
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from datacur.errors import DatacurError

__all__ = [
    "atomic_output_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "encode_png",
    "read_image_gray",
    "sha256_bytes",
    "sha256_file",
    "write_png",
]

_HASH_CHUNK = 1 << 20


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    Readers see either the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_output_dir(out_dir: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a sibling ``<out_dir>.partial`` folder to fill; rename it to ``out_dir`` on success.

    On any exception (including Ctrl-C) the partial folder is removed and ``out_dir`` is left
    as it was. An existing ``out_dir`` is an error unless ``overwrite`` is true, in which case
    it is replaced only once the new folder is complete.

    Raises:
        DatacurError: ``out_dir`` exists and ``overwrite`` is false.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise DatacurError(
            f"{out_dir}: output folder already exists. Choose another --out or pass --force "
            "to replace it."
        )
    partial = out_dir.with_name(out_dir.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out_dir.exists():
        trash = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(out_dir, trash)
        os.replace(partial, out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(partial, out_dir)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_image_gray(path: Path) -> np.ndarray:
    """Read any image PIL understands as a uint8 grayscale array of shape (H, W).

    Transparent pixels are composited on white first, so RGBA letters on a transparent
    background read as ink on paper rather than ink on black.

    Raises:
        DatacurError: the file is missing, not an image, or truncated.
    """
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array16 = np.asarray(image, dtype=np.float64)
                top = max(float(array16.max()), 1.0)
                return np.clip(array16 / top * 255.0, 0, 255).astype(np.uint8)
            return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    except FileNotFoundError as err:
        raise DatacurError(f"{path}: file not found. Check the path.") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DatacurError(
            f"{path}: not a readable image ({err}). Remove or replace the file."
        ) from err


def encode_png(image: np.ndarray, *, compress_level: int = 6) -> bytes:
    """Encode a uint8 (H, W) grayscale array as PNG bytes.

    PIL writes no timestamp into PNGs, so the same array always gives the same bytes
    (the byte-identical-variant guarantee rests on this). ``compress_level`` 1 encodes
    noisy (augmented) images about twice as fast for ~10% larger files.
    """
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"expected a uint8 array of shape (H, W), got {image.dtype} {image.shape}")
    buffer = _io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def write_png(path: Path, image: np.ndarray) -> bytes:
    """Write a uint8 (H, W) array as a PNG file and return its bytes.

    A plain write, not an atomic one: call it inside :func:`atomic_output_dir`, whose
    rename makes the whole folder appear at once.
    """
    data = encode_png(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data
