"""Files on disk: atomic writes, atomic output folders, hashing, and image read/write.

Every file datacur writes goes through here so that an interrupted command never leaves a
half-written file or folder behind (STYLE.md section 7).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io as _io
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from datacur.errors import DatacurError, HostileInputError

__all__ = [
    "PARTIAL_MARKER",
    "atomic_output_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_dir",
    "encode_png",
    "is_datacur_output",
    "open_image",
    "read_image_gray",
    "read_text_utf8",
    "refuse_hostile_image",
    "require_regular_file",
    "sha256_bytes",
    "sha256_file",
    "verify_image",
    "write_png",
]

_HASH_CHUNK = 1 << 20


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    Readers see either the old file or the complete new one, never a partial write.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent
        )
    except OSError as err:
        raise DatacurError(
            f"{path}: cannot be written ({err.strerror or err}). Choose a writable path with a "
            "shorter name."
        ) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(err, OSError):
            raise DatacurError(
                f"{path}: cannot be written ({err.strerror or err}). Choose a writable path "
                "with a shorter name."
            ) from err
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


PARTIAL_MARKER = ".datacur-partial"
"""File datacur puts in every ``.partial``/``.old`` folder it creates, so a later run can
tell its own leftovers (safe to clean) from a user's folder of the same name (never touched)."""

_REPORT_FILES = ("index.html",)
_OWNED_FILES = ("manifest.csv", "recipe.yaml")


def is_datacur_output(folder: Path) -> bool:
    """True if ``folder`` is a folder datacur wrote: a variant (``manifest.csv`` or
    ``recipe.yaml``), a report (``index.html`` and PNGs only), or an empty folder."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    names = {entry.name for entry in folder.iterdir()}
    if not names or any(name in names for name in _OWNED_FILES):
        return True
    return "index.html" in names and all(
        name == "index.html" or name.endswith(".png") for name in names
    )


def _is_own_leftover(folder: Path) -> bool:
    return not folder.is_symlink() and (folder / PARTIAL_MARKER).is_file()


def _remove_leftover(folder: Path, role: str) -> None:
    """Remove a leftover ``.partial``/``.old`` only when datacur made it; else refuse."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if not _is_own_leftover(folder):
        raise DatacurError(
            f"{folder}: exists and was not made by datacur (no {PARTIAL_MARKER} inside); "
            f"datacur needs this name for its {role} folder and never deletes what it did not "
            "write. Move or remove it yourself, or choose another --out."
        )
    shutil.rmtree(folder)


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise DatacurError(
            f"{out_dir}: exists and is not a folder datacur wrote (a file or a link); --force "
            "replaces only datacur's own output. Remove it yourself or choose another --out."
        )
    if not is_datacur_output(out_dir):
        raise DatacurError(
            f"{out_dir}: --force replaces only a folder datacur wrote (one with manifest.csv "
            "or recipe.yaml), and this one has neither. Choose another --out or move the "
            "folder away yourself."
        )


def check_output_dir(out_dir: Path, *, overwrite: bool = False) -> Path:
    """Check, before any work, that ``out_dir`` can be written as a new output folder.

    Raises:
        DatacurError: ``out_dir`` is ``.`` or holds the current folder; it exists and
            ``overwrite`` is false; it exists and is not a folder datacur wrote; its name
            is too long; or its parent is not a writable folder.
    """
    out_dir = Path(out_dir)
    resolved = out_dir.resolve()
    cwd = Path.cwd().resolve()
    if not out_dir.name or resolved == cwd or resolved in cwd.parents:
        raise DatacurError(
            f"{out_dir}: is the current folder or holds it; an output folder is replaced as a "
            "whole. Give a new folder name, e.g. --out datasets/new."
        )
    if len(out_dir.name.encode("utf-8")) + len(".partial") > 255:
        raise DatacurError(
            f"{out_dir.name[:40]}...: output name is {len(out_dir.name)} characters; the file "
            "system allows 255 bytes. Choose a shorter --out."
        )
    if out_dir.exists() or out_dir.is_symlink():
        if not overwrite:
            raise DatacurError(
                f"{out_dir}: output folder already exists. Choose another --out or pass "
                "--force to replace it."
            )
        _check_replaceable(out_dir)
    parent = resolved.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DatacurError(f"{parent}: is not a folder, so {out_dir} cannot be written there.")
    try:  # os.access trusts permission bits; a read-only or virtual file system lies to it
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "permission denied")
        os.rmdir(tempfile.mkdtemp(prefix=".datacur-probe-", dir=parent))
    except OSError as err:
        raise DatacurError(
            f"{parent}: not writable ({err.strerror or err}), so {out_dir} cannot be created. "
            "Choose a writable --out."
        ) from err
    return out_dir


def _clean_stale_temps(out_dir: Path) -> None:
    """Remove ``.<name>.synth-*`` work folders that an interrupted (killed) mix left behind."""
    parent = out_dir.parent
    if not parent.is_dir():
        return
    for entry in parent.glob(f".{glob.escape(out_dir.name)}.synth-*"):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def atomic_output_dir(out_dir: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a sibling ``<out_dir>.partial`` folder to fill; rename it to ``out_dir`` on success.

    On any exception (including Ctrl-C) the partial folder is removed and ``out_dir`` is left
    as it was. An existing ``out_dir`` is an error unless ``overwrite`` is true, and even then
    only a folder datacur wrote (:func:`is_datacur_output`) is replaced, once the new folder
    is complete. A ``.partial`` or ``.old`` sibling is removed only if datacur made it
    (it holds :data:`PARTIAL_MARKER`); otherwise this refuses, naming it.

    Raises:
        DatacurError: see :func:`check_output_dir`; or a ``.partial``/``.old`` sibling that
            datacur did not make is in the way; or the folder cannot be created.
    """
    out_dir = check_output_dir(Path(out_dir), overwrite=overwrite)
    partial = out_dir.with_name(out_dir.name + ".partial")
    trash = out_dir.with_name(out_dir.name + ".old")
    _remove_leftover(partial, "temporary (.partial)")
    _remove_leftover(trash, "replaced (.old)")
    _clean_stale_temps(out_dir)
    try:
        partial.mkdir(parents=True)
        (partial / PARTIAL_MARKER).write_bytes(b"")
    except OSError as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatacurError(
            f"{partial}: cannot create the output folder ({err.strerror or err}). Choose a "
            "writable --out."
        ) from err
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / PARTIAL_MARKER).unlink()
    if out_dir.exists():
        os.replace(out_dir, trash)
        (trash / PARTIAL_MARKER).write_bytes(b"")
        os.replace(partial, out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(partial, out_dir)


def read_text_utf8(path: Path, *, error: type[DatacurError] = DatacurError) -> str:
    """Read a text file datacur consumes (recipe, journal, list, manifest) as UTF-8.

    Raises:
        DatacurError (or ``error``): not a regular file, or not UTF-8, naming the byte offset.
    """
    path = Path(path)
    try:
        require_regular_file(path)
        data = path.read_bytes()
    except DatacurError as err:
        raise error(str(err)) from err
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror or err}). Check it.") from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}). "
            "Save the file as UTF-8."
        ) from err


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


def require_regular_file(path: Path) -> os.stat_result:
    """Stat ``path`` and refuse anything but a regular file, without opening it.

    Opening a FIFO named like an image would block for ever, and a device could stream
    without end; both are refused here, by name.

    Raises:
        DatacurError: the file is missing, a folder, a FIFO, a socket or a device.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        if os.path.islink(path):
            raise DatacurError(
                f"{path}: dangling symbolic link (its target does not exist). Remove the link."
            ) from err
        raise DatacurError(f"{path}: file not found. Check the path.") from err
    except OSError as err:
        raise DatacurError(
            f"{path}: cannot be read ({err.strerror or err}). Fix the file or remove it."
        ) from err
    if not stat.S_ISREG(info.st_mode):
        raise HostileInputError(
            f"{path}: not a regular file (a folder, FIFO, socket or device named like an "
            "image). Remove it from the folder."
        )
    return info


@contextlib.contextmanager
def open_image(path: Path | BinaryIO, *, where: str | None = None) -> Iterator[Image.Image]:
    """Open an image with PIL, turning every way a hostile file can fail into a DatacurError.

    Refuses non-regular files before opening them, and makes Pillow's decompression-bomb
    limit (``Image.MAX_IMAGE_PIXELS``; the warning above it as well as the error above
    twice it) a one-line error naming the file. The caller decides whether to ``load()``.

    Raises:
        DatacurError: missing, not a regular file, not an image, or too many pixels.
    """
    name = where or str(path)
    if isinstance(path, (str, os.PathLike)):
        require_regular_file(Path(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise HostileInputError(
            f"{name}: refused as a possible decompression bomb ({err}). Remove the file or "
            "shrink the image below Pillow's limit."
        ) from err
    except FileNotFoundError as err:
        raise DatacurError(f"{name}: file not found. Check the path.") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DatacurError(
            f"{name}: not a readable image ({err}). Remove or replace the file."
        ) from err


def refuse_hostile_image(path: Path) -> None:
    """Read only the header and refuse a decompression bomb or a non-regular file.

    Undecodable files pass: the caller's decoder reports those in its own words.

    Raises:
        HostileInputError: naming the file.
    """
    try:
        with open_image(path):
            return
    except HostileInputError:
        raise
    except DatacurError:
        return


def verify_image(path: Path, *, where: str | None = None) -> tuple[int, int]:
    """Fully decode an image (not just its header) and return its (width, height).

    Used before an image file is copied byte for byte, so a truncated or corrupt file is
    refused with its path instead of crashing a later loader.

    Raises:
        DatacurError: see :func:`open_image`; also a truncated or corrupt pixel stream.
    """
    with open_image(path, where=where) as image:
        image.load()
        return image.size


def read_image_gray(path: Path | BinaryIO, *, where: str | None = None) -> np.ndarray:
    """Read any image PIL understands as a uint8 grayscale array of shape (H, W).

    Transparent pixels are composited on white first, so RGBA letters on a transparent
    background read as ink on paper rather than ink on black.

    Raises:
        DatacurError: the file is missing, not an image, truncated, or too large
            (Pillow's decompression-bomb limit); see :func:`open_image`.
    """
    with open_image(path, where=where) as opened:
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
