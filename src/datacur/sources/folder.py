"""``folder``: any tree of ``<letter>/`` image folders (``I V X i v x``), colour or not, any size.

The folder name gives the letter and its case (``I`` upper, ``i`` lower); writers are
unknown. Files are read recursively, in sorted order. Images smaller than
:data:`MIN_SIDE` pixels on a side (such as the 1x2 px file in ``letters-photo``) carry no
usable letter: they are skipped with one warning naming them, not an error, so one bad
crop does not block a folder of hundreds. Files that are not readable images are an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datacur.errors import DatacurError, SourceError
from datacur.io import read_image_gray
from datacur.sources.base import Glyph, case_of, register_source
from datacur.variant import check_link

__all__ = ["IMAGE_EXTENSIONS", "LETTER_FOLDERS", "MIN_SIDE", "FolderSource"]

LETTER_FOLDERS: tuple[str, ...] = ("I", "V", "X", "i", "v", "x")
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
)
"""Extensions read, compared lower-cased (so ``.PNG`` counts)."""

MIN_SIDE = 8
"""Images with a side shorter than this many pixels are skipped with a warning."""


class FolderSource:
    """Glyphs from ``<path>/<letter>/**/*.<image>`` with the letter folders I V X i v x.

    Args:
        path: the folder holding the letter folders.
        min_side: skip images with a side shorter than this (with a warning).
    """

    name = "folder"

    def __init__(self, path: Path, *, min_side: int = MIN_SIDE) -> None:
        self.path = Path(path)
        self.min_side = min_side
        self.options: dict[str, Any] = {"path": str(path), "min_side": min_side}
        if not self.path.is_dir():
            raise SourceError(
                f"{self.path}: folder not found. Give a folder holding letter folders "
                f"{' '.join(LETTER_FOLDERS)} with --path."
            )
        self.letters = [name for name in LETTER_FOLDERS if (self.path / name).is_dir()]
        if not self.letters:
            raise SourceError(
                f"{self.path}: no letter folders found. Expected sub-folders named "
                f"{' '.join(LETTER_FOLDERS)} (the name gives the letter and its case)."
            )

    def __iter__(self) -> Iterator[Glyph]:
        skipped: list[str] = []
        for name in self.letters:
            folder = self.path / name
            files = sorted(
                file
                for file in folder.rglob("*")
                if (file.is_symlink() or not file.is_dir())
                and file.suffix.lower() in IMAGE_EXTENSIONS
            )
            for file in files:
                try:
                    check_link(file, self.path)  # the same link rule as variants
                    image = read_image_gray(file)
                except DatacurError as err:
                    raise SourceError(
                        f"{err} (in the folder source {self.path}; remove the file or fix it)"
                    ) from err
                relative = file.relative_to(self.path).as_posix()
                if min(image.shape) < self.min_side:
                    skipped.append(f"{relative} ({image.shape[1]}x{image.shape[0]} px)")
                    continue
                yield Glyph(
                    image=image,
                    letter=name.upper(),
                    case=case_of(name),
                    writer=None,
                    origin=f"folder:{relative}",
                )
        if skipped:
            shown = ", ".join(skipped[:5]) + (
                f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            )
            warnings.warn(
                f"{self.path}: skipped {len(skipped)} image(s) smaller than {self.min_side} px on "
                f"a side: {shown}.",
                stacklevel=2,
            )


def _open(path: Path | None = None, **options: Any) -> FolderSource:
    if path is None:
        raise SourceError("folder: needs --path, a folder holding letter folders I V X i v x.")
    unknown = sorted(set(options) - {"min_side"})
    if unknown:
        raise SourceError(f"folder: unknown option(s) {', '.join(unknown)}; expected min_side.")
    return FolderSource(path, **options)


def register() -> None:
    """Add ``folder`` to the source registry."""
    register_source(
        "folder",
        _open,
        description="any folder of letter folders I V X i v x holding images (--path)",
        needs_path=True,
    )
