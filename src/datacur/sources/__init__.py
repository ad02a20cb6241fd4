"""Glyph sources: readers that yield letters I, V and X with case, writer and origin.

``open_source(name, path, **options)`` builds a registered source; see
:mod:`datacur.sources.base` for the Glyph record and the registry.
"""

from datacur.sources.base import (
    Glyph,
    Source,
    SourceInfo,
    open_source,
    register_source,
    registered_sources,
)

__all__ = [
    "Glyph",
    "Source",
    "SourceInfo",
    "open_source",
    "register_source",
    "registered_sources",
]
