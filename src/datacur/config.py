"""Validated configuration: ``load_config(path, Model)`` turns YAML into a pydantic model.

Each YAML format (recipe, augment pipeline, ...) owns a pydantic model with
``extra="forbid"`` so typos fail; models live next to the module that uses them and are
loaded through :func:`load_config`, which reports every problem as one ``ConfigError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from datacur.errors import ConfigError
from datacur.io import atomic_write_text, read_text_utf8

__all__ = ["FORMAT_VERSION", "StrictModel", "dump_config", "load_config", "validate_config"]

FORMAT_VERSION = 1
"""The ``version:`` every file datacur writes carries."""

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_config(data: Any, model: type[ModelT], *, source: str) -> ModelT:
    """Validate already-parsed data; ``source`` names the file (or key) in messages.

    Raises:
        ConfigError: one line per problem, ``<source>: <dotted.path>: <message>``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        lines = []
        problems = err.errors()
        for problem in problems:
            loc = tuple(problem["loc"])
            if problem["type"] == "too_short" and any(
                other is not problem and tuple(other["loc"])[: len(loc)] == loc
                for other in problems
            ):
                continue  # "at least 1 item" only because an item inside failed: say that one
            where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
            lines.append(f"{source}: {where}: {problem['msg']}")
        raise ConfigError("\n".join(lines)) from err


def load_config(path: Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file with ``yaml.safe_load`` and validate it against ``model``.

    Raises:
        ConfigError: the file is missing, is not valid YAML (with the line), or fails
            validation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found. Check the path.")
    try:
        data = yaml.safe_load(read_text_utf8(path, error=ConfigError))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}:{where}: invalid YAML ({problem}). Fix the syntax.") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}."
        )
    return validate_config(data, model, source=str(path))


def dump_config(model: BaseModel, path: Path) -> None:
    """Write a model as YAML (keys in declaration order), atomically."""
    data = model.model_dump(mode="json")
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
