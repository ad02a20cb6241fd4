"""Label-aware albumentations pipelines declared in YAML, and ``augment_variant``.

A pipeline file lists steps; each step is one albumentations transform (built through
albumentations' own ``from_dict``) plus the classes it is safe for. Flips are label-aware:
a horizontal flip turns ``iv`` into ``vi`` and back, keeps ``i ii iii v x`` and is never
applied to ``vii viii ix`` (issue 5). datacur adds four transforms of its own,
``CropToInk``, ``PadToSquare``, ``PaperLines`` and ``PaperGrid``, thin wrappers over
:mod:`datacur.inkops`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

# albumentations checks PyPI for a newer release on import unless told not to.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
import numpy as np
import yaml
from pydantic import Field, field_validator

from datacur import inkops
from datacur.config import FORMAT_VERSION, StrictModel, load_config
from datacur.errors import ConfigError, DatacurError
from datacur.io import atomic_output_dir, atomic_write_text
from datacur.labels import CLASSES
from datacur.pool import (
    Item,
    ProgressCallback,
    items_from_variant,
    unique_names,
    write_items,
)
from datacur.variant import require_variant, write_manifest

__all__ = [
    "FLIP_LABELS",
    "REFUSED_TRANSFORMS",
    "AugmentOp",
    "AugmentSummary",
    "CropToInk",
    "PadToSquare",
    "PaperGrid",
    "PaperLines",
    "Pipeline",
    "PipelineConfig",
    "StepConfig",
    "augment_items",
    "augment_variant",
    "build_pipeline",
    "child_seed",
    "load_pipeline",
    "plan_children",
    "plan_children_counts",
]

FLIP_LABELS: dict[str, dict[str, str]] = {
    # A mirror image of IV reads VI; I, II, III, V and X read the same; VII, VIII and IX
    # become shapes that are no numeral (IIV, IIIV, XI would be wrong labels).
    "HorizontalFlip": {
        "i": "i",
        "ii": "ii",
        "iii": "iii",
        "iv": "vi",
        "v": "v",
        "vi": "iv",
        "x": "x",
    },
    # Upside down, only the symmetric strokes survive: V becomes a caret.
    "VerticalFlip": {"i": "i", "ii": "ii", "iii": "iii", "x": "x"},
}
"""Label maps of the flips: which classes a flip may touch and what each becomes."""

REFUSED_TRANSFORMS: frozenset[str] = frozenset(
    {"Transpose", "RandomRotate90", "D4", "SquareSymmetry"}
)
"""Transforms that turn numerals into other shapes for most classes: never allowed."""


# --------------------------------------------------------------------------- transforms


class CropToInk(A.ImageOnlyTransform):
    """Crop to the ink's bounding box plus a margin (see :func:`datacur.inkops.crop_to_ink`)."""

    def __init__(
        self,
        threshold: int = inkops.DEFAULT_INK_THRESHOLD,
        margin: int = 0,
        min_count: int = 1,
        fill: int = 255,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.threshold = threshold
        self.margin = margin
        self.min_count = min_count
        self.fill = fill

    def get_params(self) -> dict[str, Any]:
        # Recorded in the manifest's transform column with the applied parameters.
        return {"threshold": self.threshold, "margin": self.margin, "min_count": self.min_count}

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return inkops.crop_to_ink(
            img,
            threshold=self.threshold,
            margin=self.margin,
            min_count=self.min_count,
            fill=self.fill,
        )

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("threshold", "margin", "min_count", "fill")


class PadToSquare(A.ImageOnlyTransform):
    """Pad the short side with paper so the image is square (:func:`inkops.pad_to_square`)."""

    def __init__(self, fill: int = 255, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.fill = fill

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return inkops.pad_to_square(img, fill=self.fill)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("fill",)


def _check_range(name: str, value: Sequence[float], low: float, high: float) -> tuple[float, float]:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ValueError(
            f"{name} must be [min, max] with {low} <= min <= max <= {high}, got {list(value)}"
        )
    return float(value[0]), float(value[1])


class PaperLines(A.ImageOnlyTransform):
    """Ruled paper: horizontal lines every ``spacing`` (a fraction of the height) under the ink."""

    def __init__(
        self,
        spacing: Sequence[float] = (0.08, 0.2),
        thickness: Sequence[int] = (1, 3),
        value: Sequence[int] = (110, 200),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.spacing = _check_range("spacing", spacing, 0.01, 1.0)
        self.thickness = tuple(int(v) for v in _check_range("thickness", thickness, 1, 50))
        self.value = tuple(int(v) for v in _check_range("value", value, 0, 255))

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        height = params["shape"][0]
        spacing = max(1, round(height * self.py_random.uniform(*self.spacing)))
        return {
            "spacing": spacing,
            "offset": self.py_random.randrange(spacing),
            "offset_x": self.py_random.randrange(spacing),
            "thickness": self.py_random.randint(*self.thickness),
            "value": self.py_random.randint(*self.value),
        }

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return inkops.draw_ruled_lines(
            img,
            spacing=params["spacing"],
            offset=params["offset"],
            thickness=params["thickness"],
            value=params["value"],
        )

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("spacing", "thickness", "value")


class PaperGrid(PaperLines):
    """Squared paper: a grid every ``spacing`` (a fraction of the height) under the ink."""

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return inkops.draw_grid(
            img,
            spacing=params["spacing"],
            offset_y=params["offset"],
            offset_x=params["offset_x"],
            thickness=params["thickness"],
            value=params["value"],
        )


DATACUR_TRANSFORMS: dict[str, type[A.ImageOnlyTransform]] = {
    cls.__name__: cls for cls in (CropToInk, PadToSquare, PaperLines, PaperGrid)
}


# --------------------------------------------------------------------------- config


class StepConfig(StrictModel):
    """One pipeline step: an albumentations transform by class name, with its parameters."""

    transform: str = Field(description="albumentations class name, or a datacur transform")
    p: float = Field(default=1.0, ge=0.0, le=1.0, description="probability of applying")
    params: dict[str, Any] = Field(default_factory=dict, description="constructor arguments")
    classes: tuple[str, ...] | None = Field(
        default=None, description="apply only to these classes (default: every safe class)"
    )

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            unknown = [name for name in value if name not in CLASSES]
            if unknown:
                raise ValueError(
                    f"unknown class(es) {', '.join(unknown)}; expected some of {' '.join(CLASSES)}"
                )
        return value


class PipelineConfig(StrictModel):
    """An augment pipeline file (``recipes/augment/*.yaml``)."""

    version: Literal[1] = 1  # FORMAT_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    steps: tuple[StepConfig, ...] = Field(min_length=1)


# --------------------------------------------------------------------------- pipeline


def _transform_names(node: Any) -> list[str]:
    """Every ``__class_fullname__`` inside a (nested) albumentations dict."""
    names = []
    if isinstance(node, dict):
        if "__class_fullname__" in node:
            names.append(str(node["__class_fullname__"]))
        for value in node.values():
            names.extend(_transform_names(value))
    elif isinstance(node, list | tuple):
        for value in node:
            names.extend(_transform_names(value))
    return names


def _resolve_names(node: Any) -> Any:
    """Map datacur's short transform names to their albumentations registry names."""
    if isinstance(node, dict):
        resolved = {key: _resolve_names(value) for key, value in node.items()}
        name = resolved.get("__class_fullname__")
        if name in DATACUR_TRANSFORMS:
            resolved["__class_fullname__"] = DATACUR_TRANSFORMS[name].get_class_fullname()
        return resolved
    if isinstance(node, list | tuple):
        return [_resolve_names(value) for value in node]
    return node


def _short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class _Step:
    config: StepConfig
    transform: A.BasicTransform
    classes: frozenset[str]


@dataclass
class Pipeline:
    """A validated pipeline: one albumentations ``Compose`` per class, label maps applied.

    Build with :func:`build_pipeline` or :func:`load_pipeline`. A class whose safe steps
    are empty cannot be augmented (:meth:`can_augment`).
    """

    config: PipelineConfig
    source: str
    steps: tuple[_Step, ...]
    composes: dict[str, A.Compose] = field(default_factory=dict)

    def can_augment(self, label: str) -> bool:
        """True when at least one step is safe for ``label``."""
        return label in self.composes

    def safe_classes(self) -> dict[str, tuple[str, ...]]:
        """Per step (by index and transform name), the classes it will be applied to."""
        return {
            f"steps[{index}] {step.config.transform}": tuple(
                c for c in CLASSES if c in step.classes
            )
            for index, step in enumerate(self.steps)
        }

    def apply(
        self, image: np.ndarray, label: str, *, seed: int
    ) -> tuple[np.ndarray, str, dict[str, Any]]:
        """Augment one uint8 (H, W) image of class ``label`` with a per-image ``seed``.

        Returns:
            ``(image, label, record)``: the new image, its label after any flip, and a
            JSON-safe record of the exact parameters applied (large arrays such as noise
            maps are recorded by shape only; ``seed`` reproduces them).
        """
        compose = self.composes.get(label)
        if compose is None:
            raise ValueError(f"pipeline {self.config.name} has no step safe for class {label}")
        # A copy where no step fired would duplicate its parent: draw again (at most
        # _MAX_DRAWS times, deterministically) and record the seed that was used.
        for draw in range(_MAX_DRAWS):
            used_seed = seed + draw
            compose.set_random_seed(used_seed)
            result = compose(image=image)
            if result["applied_transforms"]:
                break
        new_label = label
        applied = []
        for name, params in result["applied_transforms"]:
            if name in FLIP_LABELS:
                new_label = FLIP_LABELS[name][new_label]
            applied.append({"name": name, "params": _json_safe(params)})
        out = np.asarray(result["image"])
        if out.ndim == 3:
            out = out[:, :, 0]
        record: dict[str, Any] = {
            "op": "augment",
            "pipeline": self.config.name,
            "seed": int(used_seed),
            "applied": applied,
        }
        if new_label != label:
            record["label_from"] = label
        return np.ascontiguousarray(out, dtype=np.uint8), new_label, record


_MAX_ARRAY_RECORD = 64
_MAX_DRAWS = 32


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items() if key != "shape"}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.size <= _MAX_ARRAY_RECORD:
            return _json_safe(value.tolist())
        return {"array_shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 6)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def build_pipeline(config: PipelineConfig, *, source: str = "<pipeline>") -> Pipeline:
    """Build the albumentations transforms of ``config`` and their per-class composes.

    Raises:
        ConfigError: an unknown transform, bad parameters, a refused transform, or a flip
            restricted to classes it would mislabel; each names ``source`` and the step.
    """
    steps = []
    for index, step in enumerate(config.steps):
        where = f"{source}: steps[{index}]"
        spec = _resolve_names({"__class_fullname__": step.transform, "p": step.p, **step.params})
        names = [_short_name(name) for name in _transform_names(spec)]
        refused = [name for name in names if name in REFUSED_TRANSFORMS]
        if refused:
            raise ConfigError(
                f"{where}: {refused[0]} is not allowed: it turns most numerals into other "
                "shapes. Remove the step (use HorizontalFlip, which swaps iv and vi)."
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                transform = A.from_dict({"transform": spec})
        except KeyError as err:
            raise ConfigError(
                f"{where}.transform: unknown transform {step.transform!r}. Use an "
                "albumentations class name (e.g. Affine, GaussianBlur) or one of "
                f"{', '.join(DATACUR_TRANSFORMS)}."
            ) from err
        except (TypeError, ValueError, UserWarning) as err:
            message = " ".join(str(err).split())
            raise ConfigError(
                f"{where}.params: {step.transform} rejected its parameters ({message}). "
                "Fix the parameters (see the albumentations documentation of the transform)."
            ) from err
        safe = set(CLASSES)
        for name in names:
            if name in FLIP_LABELS:
                safe &= set(FLIP_LABELS[name])
        if step.classes is not None:
            unsafe = [name for name in step.classes if name not in safe]
            if unsafe:
                raise ConfigError(
                    f"{where}.classes: {step.transform} would mislabel {', '.join(unsafe)} "
                    f"(a flipped numeral reads differently). Remove them; safe classes are "
                    f"{' '.join(c for c in CLASSES if c in safe)}."
                )
            safe &= set(step.classes)
        steps.append(_Step(step, transform, frozenset(safe)))
    pipeline = Pipeline(config=config, source=source, steps=tuple(steps))
    for label in CLASSES:
        chosen = [step.transform for step in steps if label in step.classes]
        if chosen:
            pipeline.composes[label] = A.Compose(chosen, save_applied_params=True, seed=0)
    return pipeline


def load_pipeline(path: Path) -> Pipeline:
    """Load and build a pipeline YAML file (see ``recipes/augment/``).

    Example:
        >>> pipeline = load_pipeline(Path("recipes/augment/geometry.yaml"))  # doctest: +SKIP
    """
    return build_pipeline(load_config(path, PipelineConfig), source=str(path))


# --------------------------------------------------------------------------- planning


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def child_seed(seed: int, key: str, copy: int) -> int:
    """The seed of one augmented copy: keyed on (seed, parent, copy), not on list order."""
    state = np.random.SeedSequence([seed, _stable_int(key), copy]).generate_state(1)
    return int(state[0])


@dataclass(frozen=True)
class AugmentOp:
    """A pending augmentation of one item (an :class:`datacur.pool.Operation`)."""

    pipeline: Pipeline
    seed: int

    def apply(self, image: np.ndarray, label: str) -> tuple[np.ndarray, str, dict[str, Any]]:
        """Run the pipeline on ``image`` with this copy's seed."""
        return self.pipeline.apply(image, label, seed=self.seed)


def plan_children(
    labels: Sequence[str],
    *,
    copies: int = 0,
    per_class_target: int | None = None,
    can_augment: set[str] | frozenset[str] = frozenset(CLASSES),
    seed: int = 0,
) -> list[tuple[int, int]]:
    """Decide how many augmented copies each parent gets.

    Args:
        labels: the class of each parent, length N.
        copies: copies per parent (used when ``per_class_target`` is None).
        per_class_target: top each class up to this many images (parents + copies); classes
            already at or above it get none. Copies go round-robin over a seeded shuffle of
            the class's parents, so rare classes are augmented more.
        can_augment: classes the pipeline has a safe step for; others get no copies.
        seed: shuffles which parents get the extra copies.

    Returns:
        ``(parent_index, copy_number)`` pairs, copy numbers starting at 1, sorted.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    counts = Counter(labels)
    if per_class_target is None:
        return sorted(
            (index, k)
            for index, label in enumerate(labels)
            if label in can_augment
            for k in range(1, copies + 1)
        )
    needs = {
        label: max(0, per_class_target - counts[label]) for label in CLASSES if label in can_augment
    }
    return plan_children_counts(labels, needs, seed=seed)


def plan_children_counts(
    labels: Sequence[str], needs: dict[str, int], *, seed: int = 0
) -> list[tuple[int, int]]:
    """Give class ``c`` exactly ``needs[c]`` copies, round-robin over its shuffled parents.

    Returns ``(parent_index, copy_number)`` pairs, sorted; classes without parents get none.
    """
    by_class: dict[str, list[int]] = {label: [] for label in CLASSES}
    for index, label in enumerate(labels):
        by_class[label].append(index)
    children: list[tuple[int, int]] = []
    for class_index, label in enumerate(CLASSES):
        parents = by_class[label]
        needed = needs.get(label, 0)
        if not parents or needed <= 0:
            continue
        rng = np.random.default_rng([seed, class_index])
        order = [parents[i] for i in rng.permutation(len(parents))]
        children.extend((order[j % len(order)], j // len(order) + 1) for j in range(needed))
    return sorted(children)


def augment_items(
    items: Sequence[Item],
    pipeline: Pipeline,
    *,
    copies: int = 0,
    per_class_target: int | None = None,
    seed: int = 0,
    stage: str = "augment",
) -> list[Item]:
    """Plan augmented children of ``items`` (which must already have names and splits).

    Children stay in their parent's split, take the parent's provenance, and are named
    ``<parent>-<stage><k>`` (their ``stage`` is ``<stage>:<pipeline name>``). Nothing is
    computed until the items are written.
    """
    pairs = plan_children(
        [item.label for item in items],
        copies=copies,
        per_class_target=per_class_target,
        can_augment=set(pipeline.composes),
        seed=seed,
    )
    children = []
    for index, copy in pairs:
        parent = items[index]
        children.append(
            replace(
                parent,
                name=f"{parent.name}-{stage}{copy}",
                parent_name=parent.name,
                parent=parent.origin,
                stage=f"{stage}:{pipeline.config.name}",
                ops=(*parent.ops, AugmentOp(pipeline, child_seed(seed, parent.key, copy))),
            )
        )
    return children


@dataclass(frozen=True)
class AugmentSummary:
    """What :func:`augment_variant` wrote."""

    out_dir: Path
    parents: int
    children: int
    per_class: dict[str, int]
    skipped_classes: tuple[str, ...]

    @property
    def images(self) -> int:
        """Images written (parents + children)."""
        return self.parents + self.children


def augment_variant(
    variant_dir: Path,
    pipeline: Pipeline | Path,
    out_dir: Path,
    *,
    copies: int = 1,
    per_class_target: int | None = None,
    splits: Sequence[str] = ("train", "val"),
    seed: int = 0,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> AugmentSummary:
    """Write a new variant: every image of ``variant_dir`` plus augmented copies.

    Args:
        variant_dir: the input variant (``train/`` and ``val/``).
        pipeline: a built pipeline or the path of a pipeline YAML file.
        out_dir: the new variant (built in ``<out_dir>.partial``, renamed at the end).
        copies: augmented copies per image when ``per_class_target`` is None.
        per_class_target: top every class up to this many images, counted over ``splits``.
            Counts go by the parent's class: a flip may turn a copy of iv into vi (and
            back), so those two classes can end a little off the target.
        splits: the splits whose images get copies (all images are kept); copies stay in
            their parent's split.
        seed: same inputs and seed give a byte-identical variant.
        overwrite: replace ``out_dir`` if it exists.
        progress: optional ``progress(done, total)`` callback.

    Raises:
        VariantError: the input is not a variant. ConfigError: the pipeline is invalid.
        DatacurError: ``out_dir`` exists and ``overwrite`` is false.

    Example:
        >>> augment_variant(Path("datasets/dcai-2021"), Path("recipes/augment/geometry.yaml"),
        ...                 Path("datasets/geo"), per_class_target=400)  # doctest: +SKIP
    """
    variant_dir = require_variant(variant_dir)
    if per_class_target is not None and per_class_target < 1:
        raise DatacurError(
            f"--per-class-target must be >= 1 (received {per_class_target}). Give the number "
            "of images each class should reach."
        )
    if copies < 0:
        raise DatacurError(f"--copies must be >= 0 (received {copies}).")
    if isinstance(pipeline, Path | str):
        pipeline = load_pipeline(Path(pipeline))
    if Path(out_dir).resolve() == variant_dir.resolve():
        raise DatacurError(
            f"{out_dir}: output is the input variant. Variants are immutable; choose another --out."
        )
    parents = unique_names(
        items_from_variant(variant_dir, source=variant_dir.name), prefix_source=False
    )
    unknown = [split for split in splits if split not in ("train", "val")]
    if unknown or not splits:
        raise DatacurError(
            f"--split must be train or val (received {', '.join(unknown) or 'nothing'})."
        )
    eligible = [item for item in parents if item.split in splits]
    children = augment_items(
        eligible, pipeline, copies=copies, per_class_target=per_class_target, seed=seed
    )
    skipped = tuple(
        label
        for label in CLASSES
        if not pipeline.can_augment(label) and any(item.label == label for item in eligible)
    )
    items = parents + children
    with atomic_output_dir(out_dir, overwrite=overwrite) as partial:
        rows = write_items(items, partial, progress=progress)
        write_manifest(partial, rows)
        resolved = {
            "version": FORMAT_VERSION,
            "command": "augment",
            "input": str(variant_dir),
            "pipeline": pipeline.config.model_dump(mode="json"),
            "copies": copies,
            "per_class_target": per_class_target,
            "splits": list(splits),
            "seed": seed,
        }
        atomic_write_text(partial / "recipe.yaml", yaml.safe_dump(resolved, sort_keys=False))
    per_class = Counter(row.label for row in rows)
    return AugmentSummary(
        out_dir=Path(out_dir),
        parents=len(parents),
        children=len(children),
        per_class={label: per_class.get(label, 0) for label in CLASSES},
        skipped_classes=skipped,
    )
