"""The glyph record, the Source protocol and the explicit registry of glyph sources.

A source is an iterable of :class:`Glyph` (one handwritten or rendered letter I, V or X).
Sources are registered by name with :func:`register_source`; a duplicate name is an error and
nothing is discovered by scanning folders (STYLE.md section 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from datacur.errors import SourceError

__all__ = [
    "CASES",
    "LETTERS",
    "Glyph",
    "Source",
    "SourceFactory",
    "SourceInfo",
    "case_of",
    "open_source",
    "register_source",
    "registered_sources",
]

LETTERS: tuple[str, ...] = ("I", "V", "X")
"""The letters Roman numerals i..x are written with, always stored upper-case in a Glyph."""

CASES: tuple[str, ...] = ("upper", "lower")
"""Known cases; a Glyph's case is one of these or None when the source merged the cases."""


@dataclass(frozen=True, eq=False)
class Glyph:
    """One letter image from a source.

    Attributes:
        image: uint8 array of shape (H, W), black ink (0) on white paper (255).
        letter: "I", "V" or "X" (upper-case whatever the glyph's case).
        case: "upper", "lower", or None when the source does not know it.
        writer: the hand (or font) that made it, or None when unknown.
        origin: where the pixels came from, e.g. ``chars74k:Sample019/img019-007.png``.
    """

    image: np.ndarray
    letter: str
    case: str | None
    writer: str | None
    origin: str

    def __post_init__(self) -> None:
        if self.letter not in LETTERS:
            raise ValueError(f"letter must be one of {LETTERS}, got {self.letter!r}")
        if self.case is not None and self.case not in CASES:
            raise ValueError(f"case must be one of {CASES} or None, got {self.case!r}")
        if self.image.dtype != np.uint8 or self.image.ndim != 2:
            raise ValueError(
                f"image must be a uint8 (H, W) array, got {self.image.dtype} {self.image.shape}"
            )


def case_of(character: str) -> str:
    """Return "upper" or "lower" for a single letter such as "I" or "v"."""
    return "upper" if character.isupper() else "lower"


@runtime_checkable
class Source(Protocol):
    """An iterable of glyphs with a name; iterating twice gives the same glyphs in order."""

    name: str

    def __iter__(self) -> Iterator[Glyph]: ...


SourceFactory = Callable[..., Source]
"""``factory(path, **options) -> Source``; ``path`` is None when the user gave none."""


@dataclass(frozen=True)
class SourceInfo:
    """A registered source: how to build it and what it knows about its glyphs."""

    name: str
    factory: SourceFactory
    description: str
    needs_path: bool


_REGISTRY: dict[str, SourceInfo] = {}


def register_source(
    name: str, factory: SourceFactory, *, description: str, needs_path: bool
) -> None:
    """Register a glyph source under ``name``.

    Raises:
        ValueError: ``name`` is already registered (a programming error, not a user error).
    """
    if name in _REGISTRY:
        raise ValueError(f"glyph source {name!r} is already registered")
    _REGISTRY[name] = SourceInfo(name, factory, description, needs_path)


def registered_sources() -> dict[str, SourceInfo]:
    """Every registered source by name (sorted), built-ins included."""
    _register_builtins()
    return dict(sorted(_REGISTRY.items()))


def open_source(name: str, path: Path | None = None, **options: Any) -> Source:
    """Build the source registered as ``name`` on ``path`` with source-specific ``options``.

    Raises:
        SourceError: unknown name, or a source that needs a path got none.

    Example:
        >>> source = open_source("chars74k", Path("../shared/data/chars74k"))
    """
    sources = registered_sources()
    if name not in sources:
        raise SourceError(f"unknown glyph source {name!r}. Choose one of: {', '.join(sources)}.")
    info = sources[name]
    if info.needs_path and path is None and not options.get("download"):
        raise SourceError(f"source {name!r} needs --path: {info.description}")
    return info.factory(path, **options)


_BUILTINS_DONE = False


def _register_builtins() -> None:
    # Imported lazily so that `datacur.sources.base` alone stays import-cycle free; the list
    # is explicit on purpose (no directory scanning).
    global _BUILTINS_DONE
    if _BUILTINS_DONE:
        return
    _BUILTINS_DONE = True
    from datacur.sources import chars74k, emnist, folder, strokes

    for module in (strokes, emnist, chars74k, folder):
        module.register()
