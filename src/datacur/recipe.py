"""The mix recipe format (``recipes/<name>.yaml``): pydantic models and ``load_recipe``.

Everything that can be checked without reading images is checked here, so a typo, shares
that do not add up or a step naming an unknown input fail before ``mix`` touches a file.
Relative paths in a recipe are relative to the recipe file's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from datacur.cap import BATCH_SIZE, MAX_IMAGES
from datacur.config import StrictModel, load_config
from datacur.dedupe import DEFAULT_NEAR_DISTANCE
from datacur.labels import CLASSES

__all__ = [
    "SHARE_TOLERANCE",
    "AugmentStep",
    "CropPadStep",
    "DedupeStep",
    "DropStep",
    "ExcludeConfig",
    "FillConfig",
    "InputConfig",
    "Recipe",
    "RecipeStep",
    "SplitConfig",
    "SynthConfig",
    "load_recipe",
    "map_recipe_paths",
    "share_budget",
]

SHARE_TOLERANCE = 1e-6
_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


def share_budget(cap: int) -> int:
    """Images that shares are fractions of: the cap minus what rounding can add.

    The fixed script rounds each split up to a batch of 8, so up to 14 phantom images
    can be counted; shares of ``cap - 14`` can never push a variant over the cap.
    """
    return cap - 2 * (BATCH_SIZE - 1)


def _check_classes(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is not None:
        unknown = [name for name in value if name not in CLASSES]
        if unknown:
            raise ValueError(
                f"unknown class(es) {', '.join(unknown)}; expected some of {' '.join(CLASSES)}"
            )
    return value


class SynthConfig(StrictModel):
    """How a ``kind: synth`` input is generated (see ``datacur.synth.synthesize``)."""

    source: str = Field(description="glyph source: strokes, chars74k, emnist or folder")
    path: str | None = Field(default=None, description="the source's data, if it needs any")
    per_class: int | None = Field(
        default=None,
        ge=1,
        le=MAX_IMAGES // len(CLASSES),
        description="numerals per class (default: enough for the take)",
    )
    val_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    case: Literal["upper", "lower", "mixed"] = "mixed"
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_held_out_writers(self) -> SynthConfig:
        # Issue 20: datasets/shift-chars74k-writers is composed from Chars74K writers that
        # no recipe may train on; the source leaves them out by default (writers: train).
        writers = self.options.get("writers", "train")
        if self.source == "chars74k" and writers != "train":
            raise ValueError(
                f"options.writers: {writers!r} would train on the Chars74K writers held out "
                "for datasets/shift-chars74k-writers; recipes take writers: train only. "
                "Remove options.writers."
            )
        return self


class InputConfig(StrictModel):
    """One input of a recipe and how many of its images to take.

    Take at most one of ``count`` (images), ``share`` (fraction of the budget, see
    :func:`share_budget`) or ``per_class`` (images per class); none means all.
    """

    name: str = Field(pattern=_NAME_PATTERN)
    kind: Literal["variant", "folder", "synth"]
    path: str | None = Field(default=None, description="variant or folder path")
    synth: SynthConfig | None = None
    split: Literal["keep", "train", "val", "auto"] = Field(
        default="keep",
        description="keep the input's split (variant, synth), force one, or auto (split policy)",
    )
    classes: tuple[str, ...] | None = Field(default=None, description="take only these classes")
    # Upper bounds (the cap) keep a hostile recipe from building items without end.
    count: int | None = Field(default=None, ge=0, le=MAX_IMAGES)
    share: float | None = Field(default=None, ge=0.0, le=1.0)
    per_class: int | None = Field(default=None, ge=0, le=MAX_IMAGES)
    optional: bool = Field(default=False, description="skip (with a warning) when data is absent")

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_classes(value)

    @model_validator(mode="after")
    def _consistent(self) -> InputConfig:
        takes = [key for key in ("count", "share", "per_class") if getattr(self, key) is not None]
        if len(takes) > 1:
            raise ValueError(
                f"give at most one of count, share, per_class (got {', '.join(takes)})"
            )
        if self.kind == "synth":
            if self.synth is None:
                raise ValueError("a synth input needs a synth: {source: ...} mapping")
            if self.path is not None:
                raise ValueError("a synth input takes its data path as synth.path, not path")
            if self.split == "auto":
                raise ValueError("synth inputs are split by writer by synth: use keep or a split")
        else:
            if self.path is None:
                raise ValueError(f"a {self.kind} input needs a path")
            if self.synth is not None:
                raise ValueError(f"synth: only belongs to kind: synth (this is a {self.kind})")
            if self.kind == "folder" and self.split == "keep":
                raise ValueError("a folder has no split to keep: use split: train, val or auto")
        return self

    @property
    def take_mode(self) -> str:
        """``all``, ``count``, ``share`` or ``per_class``."""
        for key in ("count", "share", "per_class"):
            if getattr(self, key) is not None:
                return key
        return "all"


class ExcludeConfig(StrictModel):
    """Folders whose images (and their byte-identical or near-identical twins) never enter.

    Applies to variant and folder inputs; synth inputs make new images and are not
    hashed. Near-identity is the pHash of the ink (``datacur.dedupe.ink_phash``).
    """

    folders: tuple[str, ...] = ()
    max_distance: int = Field(
        default=DEFAULT_NEAR_DISTANCE,
        ge=-1,
        le=32,
        description="ink-pHash distance that counts as a twin; -1: byte-identical only",
    )


class DedupeStep(StrictModel):
    """Drop exact (SHA-256) and near (ink pHash) duplicates across variant and folder inputs.

    The first image in input order is kept. Twins under different labels are label noise:
    ``conflicting: drop_all`` removes every member, ``keep_first`` keeps the first.
    """

    exact: bool = True
    near: bool = True
    max_distance: int = Field(default=DEFAULT_NEAR_DISTANCE, ge=0, le=32)
    conflicting: Literal["drop_all", "keep_first"] = "drop_all"


class DropStep(StrictModel):
    """Drop listed images: by origin (``dcai-2021/train/i/x.png``) or input-relative path.

    ``lists`` are text files (one entry per line, ``#`` comments) or CSV files with an
    ``origin`` or ``path`` column (e.g. ``dropped.csv`` written by ``datacur apply``).
    """

    files: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()


class ReviewStep(StrictModel):
    """Apply a ``datacur review`` journal: its drops and relabels, as the winners cleaned.

    Journal paths (``train/iv/x.png`` for a reviewed variant, ``iv/x.png`` for a folder)
    are matched like ``drop`` entries: by origin or by the path inside the input. Put it
    before ``dedupe`` so twins are compared under their corrected labels.
    """

    journal: str
    inputs: tuple[str, ...] | None = Field(default=None, description="default: every input")


class CropPadStep(StrictModel):
    """Crop to the ink and/or pad to a square (``datacur.inkops.crop_and_pad``)."""

    inputs: tuple[str, ...] | None = None
    crop: bool = True
    pad: bool = True
    threshold: int = Field(default=128, ge=1, le=255)
    margin: int = Field(default=8, ge=0)
    min_count: int = Field(default=2, ge=1)


class AugmentStep(StrictModel):
    """Add augmented copies made by a pipeline (``recipes/augment/*.yaml``).

    Copies stay in their parent's split. Give ``copies`` per image or ``per_class_target``
    (top each class of each chosen split up to N images, rare classes get more).
    """

    pipeline: str
    inputs: tuple[str, ...] | None = None
    splits: tuple[Literal["train", "val"], ...] = ("train",)
    copies: int | None = Field(default=None, ge=1, le=MAX_IMAGES)
    per_class_target: int | None = Field(default=None, ge=1, le=MAX_IMAGES)

    @model_validator(mode="after")
    def _one_amount(self) -> AugmentStep:
        if (self.copies is None) == (self.per_class_target is None):
            raise ValueError("give exactly one of copies or per_class_target")
        return self


class RecipeStep(StrictModel):
    """One step: a mapping with exactly one of review, dedupe, drop, crop_and_pad, augment."""

    review: ReviewStep | None = None
    dedupe: DedupeStep | None = None
    drop: DropStep | None = None
    crop_and_pad: CropPadStep | None = None
    augment: AugmentStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RecipeStep:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "each step is one of review, dedupe, drop, crop_and_pad, augment "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        """The step's name."""
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def is_filter(self) -> bool:
        """Filters (review, dedupe, drop) run on the inputs, before take and split."""
        return self.kind in ("review", "dedupe", "drop")


class SplitConfig(StrictModel):
    """Split policy for inputs with ``split: auto``: whole groups go to one side."""

    val_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    group_by: Literal["writer", "origin"] = Field(
        default="writer",
        description="keep a writer (falls back to the origin when unknown) on one side",
    )


class FillConfig(StrictModel):
    """Fill to the cap with augmented copies (of originals, never of copies)."""

    pipeline: str | None = Field(default=None, description="default: the last augment step's")
    inputs: tuple[str, ...] | None = None
    splits: tuple[Literal["train", "val"], ...] = ("train",)


class Recipe(StrictModel):
    """A mix recipe: inputs, steps, split policy and cap. See ``recipes/*.yaml``."""

    version: Literal[1] = 1  # FORMAT_VERSION
    name: str = Field(pattern=_NAME_PATTERN)
    description: str = ""
    seed: int = Field(default=0, ge=0)
    cap: int = Field(default=MAX_IMAGES, ge=2 * BATCH_SIZE)
    fill: bool | FillConfig = False
    exclude: ExcludeConfig = ExcludeConfig()
    inputs: tuple[InputConfig, ...] = Field(min_length=1)
    steps: tuple[RecipeStep, ...] = ()
    split: SplitConfig = SplitConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> Recipe:
        names = [item.name for item in self.inputs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"input names must be unique (repeated: {', '.join(duplicates)})")
        seen_transform = False
        for index, step in enumerate(self.steps):
            if step.is_filter and seen_transform:
                raise ValueError(
                    f"steps[{index}] ({step.kind}) comes after a crop_and_pad or augment step, "
                    "but filters run first, on the inputs: move it up"
                )
            seen_transform = seen_transform or not step.is_filter
            body = getattr(step, step.kind)
            unknown = [n for n in (getattr(body, "inputs", None) or ()) if n not in names]
            if unknown:
                raise ValueError(
                    f"steps[{index}].{step.kind}.inputs names unknown input(s) "
                    f"{', '.join(unknown)}; inputs are {', '.join(names)}"
                )
        if isinstance(self.fill, FillConfig):
            unknown = [n for n in (self.fill.inputs or ()) if n not in names]
            if unknown:
                raise ValueError(f"fill.inputs names unknown input(s) {', '.join(unknown)}")
        has_augment = any(step.kind == "augment" for step in self.steps)
        fill = self.fill_config
        if fill is not None and fill.pipeline is None and not has_augment:
            raise ValueError(
                "fill needs a pipeline: give fill: {pipeline: recipes/augment/...yaml} "
                "or add an augment step"
            )
        shares = [item.share for item in self.inputs if item.share is not None]
        total = sum(shares)
        if total > 1.0 + SHARE_TOLERANCE:
            raise ValueError(
                f"input shares add up to {total:g}, more than 1; lower them so they add up to "
                "at most 1"
            )
        if (
            shares
            and len(shares) == len(self.inputs)
            and total < 1.0 - SHARE_TOLERANCE
            and self.fill_config is None
        ):
            raise ValueError(
                f"every input takes a share but the shares add up to {total:g}, not 1; make "
                "them add up to 1, or set fill: true to fill the rest with augmentation"
            )
        return self

    @property
    def fill_config(self) -> FillConfig | None:
        """The fill settings, or None when the recipe does not fill to the cap."""
        if self.fill is True:
            return FillConfig()
        if isinstance(self.fill, FillConfig):
            return self.fill
        return None

    def input(self, name: str) -> InputConfig:
        """The input called ``name``."""
        return next(item for item in self.inputs if item.name == name)


def map_recipe_paths(data: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """Apply ``change`` to every file or folder path in a recipe mapping, in place.

    Paths are relative to the recipe's folder, so whatever writes a recipe somewhere else
    (the resolved copy inside a built variant, generated ablation recipes) must rewrite all
    of them. This is the one list of which fields are paths: a new path field added to the
    models above goes here, and every writer follows. ``data`` may be a full
    ``Recipe.model_dump`` or a recipe as loaded from YAML (keys left out, steps in their
    short one-key form, ``fill: false``); ``None`` values are left alone.

    Example:
        >>> map_recipe_paths({"inputs": [{"path": "v"}]}, lambda p: "../" + p)
        {'inputs': [{'path': '../v'}]}
    """

    def each(values: Any) -> list[Any]:
        return [change(value) for value in values]

    for entry in data.get("inputs") or []:
        if entry.get("path") is not None:
            entry["path"] = change(entry["path"])
        synth = entry.get("synth")
        if isinstance(synth, dict) and synth.get("path") is not None:
            synth["path"] = change(synth["path"])
    exclude = data.get("exclude")
    if isinstance(exclude, dict) and exclude.get("folders"):
        exclude["folders"] = each(exclude["folders"])
    for step in data.get("steps") or []:
        if isinstance(step.get("drop"), dict) and step["drop"].get("lists"):
            step["drop"]["lists"] = each(step["drop"]["lists"])
        for kind, key in (("review", "journal"), ("augment", "pipeline")):
            if isinstance(step.get(kind), dict) and step[kind].get(key) is not None:
                step[kind][key] = change(step[kind][key])
    fill = data.get("fill")
    if isinstance(fill, dict) and fill.get("pipeline") is not None:
        fill["pipeline"] = change(fill["pipeline"])
    return data


def load_recipe(path: Path) -> Recipe:
    """Read and validate a recipe file.

    Raises:
        ConfigError: missing file, bad YAML, or one line per problem
            (``<file>: <dotted.key>: <message>``).

    Example:
        >>> recipe = load_recipe(Path("recipes/clean.yaml"))  # doctest: +SKIP
    """
    return load_config(path, Recipe)
