"""The one exception hierarchy: everything a user can fix is a DatacurError.

The CLI catches DatacurError, prints ``Error: <message>`` on stderr and exits 1 without a
traceback. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "CapExceededError",
    "ConfigError",
    "DatacurError",
    "EvaluationError",
    "HostileInputError",
    "RecipeError",
    "SourceError",
    "StoreError",
    "VariantError",
]


class DatacurError(Exception):
    """Base class for errors the user can fix; the message says how."""


class ConfigError(DatacurError):
    """A YAML file (recipe, pipeline, ...) is missing, unparsable or fails validation."""


class SourceError(DatacurError):
    """A glyph source cannot be read (missing file, wrong format, unknown source)."""


class RecipeError(ConfigError):
    """A mix recipe is valid YAML but its plan cannot be carried out."""


class VariantError(DatacurError):
    """A folder is not a usable dataset variant (layout, files, or images are wrong)."""


class HostileInputError(VariantError):
    """A file is refused outright rather than reported as one more bad image: a
    decompression bomb, a FIFO or device named like an image, a symbolic link."""


class CapExceededError(DatacurError):
    """A variant counts more than the competition's 10,000-image cap."""


class EvaluationError(DatacurError):
    """The fixed evaluator cannot run on the given inputs."""


class StoreError(DatacurError):
    """The results database cannot be opened, read or written."""
