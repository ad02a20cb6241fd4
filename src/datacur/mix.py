"""``mix``: build a dataset variant from a recipe's inputs in set counts or shares.

:func:`plan_mix` does everything that decides *what* goes into the variant (inputs,
dev-test exclusion, dedupe, drop, take, split, crop/pad and augment planning, fill, the
cap check) without writing a file; :func:`build_variant` then renders the plan into an
atomic output folder. ``mix --dry-run`` prints the plan and stops.

Phases, in this order: inputs -> exclude -> filter steps (dedupe, drop) -> take ->
split -> transform steps (crop_and_pad, augment, as listed) -> fill -> checks.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from datacur.cap import BATCH_SIZE, MAX_IMAGES, CapResult, count_capped
from datacur.errors import CapExceededError, DatacurError, RecipeError
from datacur.io import (
    atomic_output_dir,
    atomic_write_text,
    check_output_dir,
    read_image_gray,
    read_text_utf8,
    sha256_file,
)
from datacur.labels import CLASS_INDEX, CLASSES, SPLITS
from datacur.pool import (
    Item,
    ProgressCallback,
    items_from_folder,
    items_from_variant,
    parallel_map,
    unique_names,
    write_items,
)
from datacur.recipe import (
    AugmentStep,
    CropPadStep,
    DedupeStep,
    DropStep,
    InputConfig,
    Recipe,
    ReviewStep,
    load_recipe,
    map_recipe_paths,
    share_budget,
)
from datacur.variant import write_manifest

__all__ = ["CropPadOp", "MixPlan", "MixResult", "build_variant", "plan_mix"]

_SYNTH_PREFIX = "<synth:"


@dataclass(frozen=True)
class CropPadOp:
    """Pending crop-to-ink / pad-to-square of one item (:func:`datacur.inkops.crop_and_pad`)."""

    crop: bool
    pad: bool
    threshold: int
    margin: int
    min_count: int
    cacheable: ClassVar[bool] = True

    def apply(self, image: np.ndarray, label: str) -> tuple[np.ndarray, str, dict[str, Any]]:
        """Crop and/or pad ``image``; the label never changes."""
        from datacur.inkops import crop_and_pad

        result = crop_and_pad(
            image,
            crop=self.crop,
            pad=self.pad,
            threshold=self.threshold,
            margin=self.margin,
            min_count=self.min_count,
        )
        record = {
            "op": "crop_and_pad",
            "crop": self.crop,
            "pad": self.pad,
            "threshold": self.threshold,
            "margin": self.margin,
            "min_count": self.min_count,
        }
        return result, label, record


@dataclass(frozen=True)
class _SynthJob:
    name: str
    source: str
    path: Path | None
    per_class: int
    val_fraction: float
    case: str
    options: dict[str, Any]
    seed: int


@dataclass
class MixPlan:
    """What a recipe will build: every planned item, plus what happened on the way.

    ``notes`` are human lines (skipped optional inputs, exclusions, duplicates, drops).
    """

    recipe: Recipe
    recipe_path: Path | None
    base_dir: Path
    seed: int
    items: list[Item]
    synth_jobs: list[_SynthJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_inputs: list[str] = field(default_factory=list)

    def split_counts(self) -> dict[str, int]:
        """Planned images per split."""
        counts = Counter(str(item.split) for item in self.items)
        return {split: counts.get(split, 0) for split in SPLITS}

    def cap(self) -> CapResult:
        """The plan counted as the fixed script counts."""
        counts = self.split_counts()
        return CapResult(
            self.recipe.name,
            counts["train"],
            counts["val"],
            count_capped(counts["train"], counts["val"]),
            self.recipe.cap,
        )

    def table(self) -> list[tuple[str, str, str, dict[str, int]]]:
        """Rows ``(source, stage, split, {class: count})`` in first-seen order.

        Augmented copies are counted under their parent's class: a flip may still move a
        copy between iv and vi when the image is rendered (the split never changes).
        """
        rows: dict[tuple[str, str, str], Counter[str]] = {}
        for item in self.items:
            key = (item.source, item.stage, str(item.split))
            rows.setdefault(key, Counter())[item.label] += 1
        ordered = sorted(rows, key=lambda k: (SPLITS.index(k[2]), list(rows).index(k)))
        return [(*key, {c: rows[key].get(c, 0) for c in CLASSES}) for key in ordered]


@dataclass(frozen=True)
class MixResult:
    """What :func:`build_variant` wrote."""

    out_dir: Path
    plan: MixPlan
    per_class: dict[str, dict[str, int]]
    cap: CapResult


# --------------------------------------------------------------------------- helpers


def _where(recipe_path: Path | None) -> str:
    return str(recipe_path) if recipe_path is not None else "<recipe>"


def _resolve(base_dir: Path, value: str) -> Path:
    path = Path(os.path.expandvars(os.path.expanduser(value)))
    return path if path.is_absolute() else base_dir / path


def _stable(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def _rng(seed: int, *keys: str) -> np.random.Generator:
    # Keyed on (seed, stage, input) so adding an input does not reshuffle the others.
    return np.random.default_rng([seed, *(_stable(key) for key in keys)])


class _Hashes:
    """SHA-256 and ink pHash per file, computed once."""

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers
        self._sha: dict[Path, str] = {}
        self._phash: dict[Path, int] = {}

    def sha(self, path: Path) -> str:
        if path not in self._sha:
            self._sha[path] = sha256_file(path)
        return self._sha[path]

    def phashes(self, paths: Sequence[Path]) -> np.ndarray:
        missing = sorted({path for path in paths if path not in self._phash})
        for path, value in zip(
            missing, parallel_map(_ink_phash_file, missing, workers=self._workers), strict=True
        ):
            self._phash[path] = value
        return np.array([self._phash[path] for path in paths], dtype=np.uint64)


def _ink_phash_file(path: Path) -> int:
    from datacur.dedupe import ink_phash

    return ink_phash(read_image_gray(path))


def _water_fill(current: dict[str, int], extra: int) -> dict[str, int]:
    """Add ``extra`` to the smallest classes first, levelling them; returns the additions."""
    added = dict.fromkeys(current, 0)
    if not current:
        return added
    for _ in range(extra):
        label = min(current, key=lambda c: (current[c] + added[c], CLASS_INDEX[c]))
        added[label] += 1
    return added


def _even_take(available: dict[str, int], total: int) -> dict[str, int]:
    """Spread ``total`` over classes as evenly as availability allows (water-filling)."""
    take = dict.fromkeys(available, 0)
    remaining = total
    while remaining > 0:
        open_classes = [c for c in available if take[c] < available[c]]
        if not open_classes:
            break
        share = max(1, remaining // len(open_classes))
        for label in sorted(open_classes, key=lambda c: (take[c], CLASS_INDEX[c])):
            if remaining == 0:
                break
            step = min(share, available[label] - take[label], remaining)
            take[label] += step
            remaining -= step
    return take


def _floor8(value: int) -> int:
    return (value // BATCH_SIZE) * BATCH_SIZE


def _ceil8(value: int) -> int:
    return math.ceil(value / BATCH_SIZE) * BATCH_SIZE


# --------------------------------------------------------------------------- planning


def _load_input(
    index: int, config: InputConfig, base_dir: Path, where: str, plan: MixPlan
) -> list[Item] | None:
    """Real items of a variant/folder input, or None when an optional input is absent."""
    assert config.path is not None
    path = _resolve(base_dir, config.path)
    key = f"{where}: inputs[{index}] ({config.name})"
    if not path.exists():
        if config.optional:
            plan.skipped_inputs.append(config.name)
            plan.notes.append(f"input {config.name}: skipped, {path} not found (optional)")
            return None
        raise RecipeError(
            f"{key}.path: {path} not found. Fix the path (relative to the recipe's folder) or "
            "set optional: true."
        )
    try:
        if config.kind == "variant":
            items = items_from_variant(path, source=config.name)
        else:
            items = items_from_folder(path, source=config.name, split=None)
    except DatacurError as err:
        raise RecipeError(f"{key}: {err}") from err
    if config.split in ("train", "val"):
        items = [replace(item, split=config.split) for item in items]
    elif config.split == "auto":
        items = [replace(item, split=None) for item in items]
    if config.classes is not None:
        items = [item for item in items if item.label in config.classes]
    return items


def _synth_per_class(config: InputConfig, budget: int, where: str, index: int) -> int:
    assert config.synth is not None
    if config.synth.per_class is not None:
        return config.synth.per_class
    classes = len(config.classes or CLASSES)
    if config.count is not None:
        wanted = config.count
    elif config.share is not None:
        wanted = math.floor(config.share * budget)
    elif config.per_class is not None:
        return config.per_class
    else:
        raise RecipeError(
            f"{where}: inputs[{index}] ({config.name}).synth.per_class: a synth input needs "
            "synth.per_class or a count, share or per_class to size it. Add one."
        )
    per_class = max(1, math.ceil(wanted / classes))
    if per_class * classes > MAX_IMAGES:  # checked before any item is built
        raise RecipeError(
            f"{where}: inputs[{index}] ({config.name}): asks {per_class:,} synthesised images "
            f"per class, over the {MAX_IMAGES:,}-image cap. Lower count, share or the cap."
        )
    return per_class


def _synth_items(config: InputConfig, job: _SynthJob) -> list[Item]:
    n_val = round(job.per_class * job.val_fraction)
    counts = {"train": job.per_class - n_val, "val": n_val}
    items = []
    for split in SPLITS:
        for label in CLASSES:
            if config.classes is not None and label not in config.classes:
                continue
            for k in range(counts[split]):
                placeholder = f"{_SYNTH_PREFIX}{job.name}>/{split}/{label}/{k:06d}"
                items.append(
                    Item(
                        label=label,
                        split=split if config.split == "keep" else config.split,
                        file=Path(placeholder),
                        name=f"{label}-{split}-{k:06d}",
                        source=config.name,
                        origin=placeholder,
                    )
                )
    return items


def _exclude(items: list[Item], plan: MixPlan, hashes: _Hashes, where: str) -> list[Item]:
    exclude = plan.recipe.exclude
    if not exclude.folders or not items:
        return items
    from datacur.dedupe import near_duplicate_pairs

    banned: list[Path] = []
    for index, folder in enumerate(exclude.folders):
        path = _resolve(plan.base_dir, folder)
        if not path.is_dir():
            raise RecipeError(
                f"{where}: exclude.folders[{index}]: {path} not found. Restore it (for "
                "datasets/dev-test: git checkout datasets/dev-test) or remove the entry."
            )
        banned.extend(item.file for item in items_from_folder(path, source="exclude", split=None))
    banned_sha = {hashes.sha(path) for path in banned}
    keep = [hashes.sha(item.file) not in banned_sha for item in items]
    if exclude.max_distance >= 0:
        pairs = near_duplicate_pairs(
            hashes.phashes([item.file for item in items]),
            max_distance=exclude.max_distance,
            other=hashes.phashes(banned),
        )
        for i, _j, _d in pairs:
            keep[i] = False
    removed = Counter(item.source for item, kept in zip(items, keep, strict=True) if not kept)
    for source, count in sorted(removed.items()):
        plan.notes.append(
            f"input {source}: {count} image(s) excluded as identical or near-identical to "
            f"{', '.join(exclude.folders)}"
        )
    return [item for item, kept in zip(items, keep, strict=True) if kept]


def _dedupe(items: list[Item], step: DedupeStep, plan: MixPlan, hashes: _Hashes) -> list[Item]:
    from datacur.devtest import twin_clusters

    if not items or not (step.exact or step.near):
        return items
    shas = [hashes.sha(item.file) if step.exact else f"#{i}" for i, item in enumerate(items)]
    phashes = (
        hashes.phashes([item.file for item in items])
        if step.near
        else np.zeros(len(items), dtype=np.uint64)
    )
    clusters = twin_clusters(shas, phashes, max_distance=step.max_distance if step.near else -1)
    labels_of: dict[int, set[str]] = {}
    for item, cluster in zip(items, clusters, strict=True):
        labels_of.setdefault(cluster, set()).add(item.label)
    kept, seen = [], set()
    duplicates = conflicting = 0
    for item, cluster in zip(items, clusters, strict=True):
        if step.conflicting == "drop_all" and len(labels_of[cluster]) > 1:
            conflicting += 1
            continue
        if cluster in seen:
            duplicates += 1
            continue
        seen.add(cluster)
        kept.append(item)
    plan.notes.append(
        f"dedupe: {duplicates} duplicate(s) removed (first kept), {conflicting} image(s) "
        "removed from twin groups with conflicting labels"
    )
    return kept


def _read_list(path: Path, where: str, index: int) -> list[str]:
    if not path.is_file():
        raise RecipeError(
            f"{where}: steps[{index}].drop.lists: {path} not found. Fix the path or remove it."
        )
    text = read_text_utf8(path, error=RecipeError)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        column = next((c for c in ("origin", "path") if c in (reader.fieldnames or [])), None)
        if column is None:
            raise RecipeError(
                f"{where}: steps[{index}].drop.lists: {path} has no origin or path column. "
                "Give a CSV with one of them, or a text file with one entry per line."
            )
        return [row[column] for row in reader if row[column]]
    entries = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [entry for entry in entries if entry]


def _match_keys(item: Item) -> set[str]:
    """Names a list or journal may use for an item: its origin, the origin without its first
    folder, and the file's path inside its input (split/class/name for a variant, class/name
    for a folder)."""
    relative = item.origin.split("/", 1)[1] if "/" in item.origin else item.origin
    parts = item.file.parts
    return {item.origin, relative, "/".join(parts[-3:]), "/".join(parts[-2:])}


def _review(
    items: list[Item], step: ReviewStep, index: int, plan: MixPlan, where: str
) -> list[Item]:
    """Apply a review journal's drops and relabels to the items of the chosen inputs."""
    from datacur.journal import read_journal

    path = _resolve(plan.base_dir, step.journal)
    if not path.is_file():
        raise RecipeError(
            f"{where}: steps[{index}].review.journal: {path} not found. Fix the path, or "
            "write one with `datacur review`."
        )
    try:
        decisions = read_journal(path)
    except DatacurError as err:
        raise RecipeError(f"{where}: steps[{index}].review.journal: {err}") from err
    chosen = set(step.inputs) if step.inputs is not None else None
    kept: list[Item] = []
    used: set[str] = set()
    dropped = relabelled = 0
    for item in items:
        if chosen is not None and item.source not in chosen:
            kept.append(item)
            continue
        hits = sorted(_match_keys(item) & decisions.keys())
        used.update(hits)
        decision = decisions[hits[0]] if hits else None
        if decision is None or decision.action == "keep":
            kept.append(item)
            continue
        if decision.action == "drop":
            dropped += 1
            continue
        relabelled += 1
        kept.append(
            replace(item, label=decision.to, transform=f"relabel {item.label}->{decision.to}")
        )
    changes = sum(1 for d in decisions.values() if d.action != "keep")
    unmatched = sum(1 for key, d in decisions.items() if d.action != "keep" and key not in used)
    plan.notes.append(
        f"review: {dropped} image(s) dropped and {relabelled} relabelled from {path.name}; "
        f"{unmatched} of its {changes} changes matched nothing (already excluded, or not in "
        "the inputs)"
    )
    return kept


def _drop(items: list[Item], step: DropStep, index: int, plan: MixPlan, where: str) -> list[Item]:
    wanted = set(step.files)
    for entry in step.lists:
        wanted.update(_read_list(_resolve(plan.base_dir, entry), where, index))
    if not wanted:
        return items

    kept = [item for item in items if not _match_keys(item) & wanted]
    matched = set().union(*(_match_keys(item) & wanted for item in items)) if items else set()
    plan.notes.append(
        f"drop: {len(items) - len(kept)} image(s) dropped; {len(wanted)} listed, "
        f"{len(wanted - matched)} matched nothing (already excluded, or not in the inputs)"
    )
    return kept


def _take(
    items: list[Item], config: InputConfig, index: int, plan: MixPlan, where: str
) -> list[Item]:
    mode = config.take_mode
    if mode == "all":
        return items
    available = Counter(item.label for item in items)
    classes = [c for c in (config.classes or CLASSES) if available.get(c, 0) or mode != "count"]
    key = f"{where}: inputs[{index}] ({config.name})"
    if mode == "per_class":
        assert config.per_class is not None
        short = [c for c in (config.classes or CLASSES) if available.get(c, 0) < config.per_class]
        if short:
            have = ", ".join(f"{c} {available.get(c, 0)}" for c in short)
            raise RecipeError(
                f"{key}.per_class: asks {config.per_class} per class but only {have} are left "
                "after exclusion, dedupe and drop. Lower per_class, or add images with an "
                "augment step or fill."
            )
        wanted = dict.fromkeys(config.classes or CLASSES, config.per_class)
    else:
        total = (
            config.count
            if mode == "count"
            else math.floor((config.share or 0.0) * share_budget(plan.recipe.cap))
        )
        assert total is not None
        if total > len(items):
            raise RecipeError(
                f"{key}.{mode}: asks {total} images but only {len(items)} are left after "
                "exclusion, dedupe and drop. Lower it, or add images with an augment step or "
                "fill (for synth inputs raise synth.per_class)."
            )
        wanted = _even_take({c: available.get(c, 0) for c in classes}, total)
    rng = _rng(plan.seed, "take", config.name)
    chosen: set[int] = set()
    for label in CLASSES:
        members = [i for i, item in enumerate(items) if item.label == label]
        n = wanted.get(label, 0)
        if n >= len(members):
            chosen.update(members)
        elif n > 0:
            chosen.update(members[int(j)] for j in rng.choice(len(members), n, replace=False))
    return [item for i, item in enumerate(items) if i in chosen]


def _assign_splits(items: list[Item], plan: MixPlan) -> list[Item]:
    pending = [i for i, item in enumerate(items) if item.split is None]
    if not pending:
        return items
    policy = plan.recipe.split
    result = list(items)
    groups: dict[str, list[int]] = {}
    for i in pending:
        item = items[i]
        group = item.writer if policy.group_by == "writer" and item.writer else item.origin
        groups.setdefault(f"{item.source}\x00{group}", []).append(i)
    rng = _rng(plan.seed, "split")
    if all(len(members) == 1 for members in groups.values()):
        # No groups to keep together: stratify by class instead.
        for label in CLASSES:
            members = [i for i in pending if items[i].label == label]
            n_val = round(len(members) * policy.val_fraction)
            order = rng.permutation(len(members))
            val = {members[int(j)] for j in order[:n_val]}
            for i in members:
                result[i] = replace(items[i], split="val" if i in val else "train")
        return result
    keys = sorted(groups)
    target = round(len(pending) * policy.val_fraction)
    n_val = 0
    for j in rng.permutation(len(keys)):
        members = groups[keys[int(j)]]
        to_val = n_val + len(members) <= target
        n_val += len(members) if to_val else 0
        for i in members:
            result[i] = replace(items[i], split="val" if to_val else "train")
    return result


def _inputs_of(names: Sequence[str] | None, recipe: Recipe, skipped: list[str]) -> set[str]:
    chosen = set(names) if names is not None else {item.name for item in recipe.inputs}
    return chosen - set(skipped)


def _load_pipeline(value: str, plan: MixPlan) -> Any:
    from datacur.augment import load_pipeline

    return load_pipeline(_resolve(plan.base_dir, value))


def _augment(items: list[Item], step: AugmentStep, index: int, plan: MixPlan) -> list[Item]:
    from datacur.augment import augment_items

    pipeline = _load_pipeline(step.pipeline, plan)
    inputs = _inputs_of(step.inputs, plan.recipe, plan.skipped_inputs)
    children: list[Item] = []
    for split in step.splits:
        parents = [
            item
            for item in items
            if item.stage == "input" and item.source in inputs and item.split == split
        ]
        children.extend(
            augment_items(
                parents,
                pipeline,
                copies=step.copies or 0,
                per_class_target=step.per_class_target,
                seed=_stable(f"{plan.seed}:augment:{index}:{split}"),
                stage=f"s{index}",
            )
        )
    return items + children


def _fill(items: list[Item], plan: MixPlan, where: str) -> list[Item]:
    from datacur.augment import augment_items, plan_children_counts

    fill = plan.recipe.fill_config
    if fill is None:
        return items
    pipeline_path = fill.pipeline
    if pipeline_path is None:
        last = [s.augment for s in plan.recipe.steps if s.augment is not None][-1]
        pipeline_path = last.pipeline
        inputs_default: Sequence[str] | None = last.inputs
    else:
        inputs_default = None
    pipeline = _load_pipeline(pipeline_path, plan)
    inputs = _inputs_of(
        fill.inputs if fill.inputs is not None else inputs_default,
        plan.recipe,
        plan.skipped_inputs,
    )
    counts = Counter(str(item.split) for item in items)
    train, val = counts.get("train", 0), counts.get("val", 0)
    cap = plan.recipe.cap
    limits = {"train": train, "val": val}
    if set(fill.splits) == {"train"}:
        limits["train"] = _floor8(cap - _ceil8(val))
    elif set(fill.splits) == {"val"}:
        limits["val"] = _floor8(cap - _ceil8(train))
    else:
        share_val = val / max(1, train + val)
        limits["val"] = max(val, _floor8(round(cap * share_val)))
        limits["train"] = _floor8(cap - _ceil8(limits["val"]))
    children: list[Item] = []
    for split in fill.splits:
        extra = limits[split] - counts.get(split, 0)
        if extra <= 0:
            continue
        parents = [
            item
            for item in items
            if item.stage == "input" and item.source in inputs and item.split == split
        ]
        fillable = {item.label for item in parents} & set(pipeline.composes)
        if not fillable:
            raise RecipeError(
                f"{where}: fill: no {split} image of inputs {', '.join(sorted(inputs))} can be "
                "augmented by its pipeline. Name other fill.inputs or another pipeline."
            )
        current = Counter(item.label for item in items if item.split == split)
        needs = _water_fill({c: current.get(c, 0) for c in CLASSES if c in fillable}, extra)
        pairs = plan_children_counts(
            [item.label for item in parents], needs, seed=_stable(f"{plan.seed}:fill:{split}")
        )
        per_parent = Counter(index for index, _ in pairs)
        # augment_items with copies=1 per pair keeps naming and seeding in one place.
        for index, copies in sorted(per_parent.items()):
            children.extend(
                augment_items(
                    [parents[index]],
                    pipeline,
                    copies=copies,
                    seed=_stable(f"{plan.seed}:fill:{split}"),
                    stage="fill",
                )
            )
    plan.notes.append(f"fill: {len(children)} augmented copies added to reach the cap")
    return items + children


def _check(plan: MixPlan, where: str) -> None:
    counts = Counter((str(item.split), item.label) for item in plan.items)
    missing = [
        f"{split}/{c}" for split in SPLITS for c in CLASSES if counts.get((split, c), 0) == 0
    ]
    if missing:
        raise RecipeError(
            f"{where}: the plan leaves {', '.join(missing)} empty, but the fixed script needs "
            "every class in train and val. Add inputs for them, or use split: auto with a "
            "val_fraction > 0."
        )
    result = plan.cap()
    if result.over:
        raise CapExceededError(
            f"{where}: the plan counts {result.counted:,} ({result.train_images:,} train + "
            f"{result.val_images:,} val, rounded up to batches of {BATCH_SIZE}) against a cap "
            f"of {result.limit:,}: over by {-result.headroom:,}. Lower counts, shares, copies "
            "or per_class_target (or drop fixed augmentation and use fill: true, which stops "
            "at the cap)."
        )


def plan_mix(
    recipe: Recipe | Path,
    *,
    seed: int | None = None,
    base_dir: Path | None = None,
    workers: int | None = None,
) -> MixPlan:
    """Plan a recipe without writing anything.

    Args:
        recipe: a :class:`Recipe` or the path of a recipe YAML file.
        seed: overrides the recipe's ``seed``.
        base_dir: folder that relative paths are resolved against (default: the recipe
            file's folder, or the current folder for a Recipe object).
        workers: processes that hash images (default: up to 2; see :func:`build_variant`).

    Raises:
        ConfigError / RecipeError: invalid recipe, missing inputs, impossible takes.
        CapExceededError: the plan would go over the cap.

    Example:
        >>> plan = plan_mix(Path("recipes/clean.yaml"))  # doctest: +SKIP
        >>> plan.cap().counted  # doctest: +SKIP
    """
    recipe_path: Path | None = None
    if not isinstance(recipe, Recipe):
        recipe_path = Path(recipe)
        recipe = load_recipe(recipe_path)
    if base_dir is None:
        base_dir = recipe_path.parent if recipe_path is not None else Path.cwd()
    where = _where(recipe_path)
    plan = MixPlan(
        recipe=recipe,
        recipe_path=recipe_path,
        base_dir=base_dir,
        seed=recipe.seed if seed is None else seed,
        items=[],
    )
    hashes = _Hashes(workers)
    real: list[Item] = []
    synth_items: dict[str, list[Item]] = {}
    for index, config in enumerate(recipe.inputs):
        if config.kind == "synth":
            assert config.synth is not None
            path = _resolve(base_dir, config.synth.path) if config.synth.path else None
            if path is not None and not path.exists():
                if config.optional:
                    plan.skipped_inputs.append(config.name)
                    plan.notes.append(f"input {config.name}: skipped, {path} not found (optional)")
                    continue
                raise RecipeError(
                    f"{where}: inputs[{index}] ({config.name}).synth.path: {path} not found. "
                    "Fix the path (relative to the recipe's folder) or set optional: true."
                )
            from datacur.sources.base import registered_sources

            if config.synth.source not in registered_sources():
                raise RecipeError(
                    f"{where}: inputs[{index}] ({config.name}).synth.source: unknown source "
                    f"{config.synth.source!r}. Use one of "
                    f"{', '.join(sorted(registered_sources()))}."
                )
            job = _SynthJob(
                name=config.name,
                source=config.synth.source,
                path=path,
                per_class=_synth_per_class(config, share_budget(recipe.cap), where, index),
                val_fraction=config.synth.val_fraction,
                case=config.synth.case,
                options=dict(config.synth.options),
                seed=_stable(f"{plan.seed}:synth:{config.name}"),
            )
            plan.synth_jobs.append(job)
            synth_items[config.name] = _synth_items(config, job)
            continue
        loaded = _load_input(index, config, base_dir, where, plan)
        if loaded is not None:
            real.extend(loaded)

    real = _exclude(real, plan, hashes, where)
    for index, step in enumerate(recipe.steps):
        if step.dedupe is not None:
            real = _dedupe(real, step.dedupe, plan, hashes)
        elif step.drop is not None:
            real = _drop(real, step.drop, index, plan, where)
        elif step.review is not None:
            real = _review(real, step.review, index, plan, where)

    taken: list[Item] = []
    for index, config in enumerate(recipe.inputs):
        if config.name in plan.skipped_inputs:
            continue
        pool = synth_items.get(config.name)
        if pool is None:
            pool = [item for item in real if item.source == config.name]
        taken.extend(_take(pool, config, index, plan, where))

    items = unique_names(_assign_splits(taken, plan), prefix_source=True)
    for index, step in enumerate(recipe.steps):
        if step.crop_and_pad is not None:
            items = _crop_pad(items, step.crop_and_pad, plan)
        elif step.augment is not None:
            items = _augment(items, step.augment, index, plan)
    items = _fill(items, plan, where)
    plan.items = items
    _check(plan, where)
    return plan


def _crop_pad(items: list[Item], step: CropPadStep, plan: MixPlan) -> list[Item]:
    inputs = _inputs_of(step.inputs, plan.recipe, plan.skipped_inputs)
    op = CropPadOp(step.crop, step.pad, step.threshold, step.margin, step.min_count)
    return [item.with_ops(op) if item.source in inputs else item for item in items]


# --------------------------------------------------------------------------- building


def _run_synth(plan: MixPlan, workdir: Path) -> dict[str, Item]:
    """Generate every synth input; map each placeholder file to a generated item."""
    from datacur.synth import synthesize

    mapping: dict[str, Item] = {}
    for job in plan.synth_jobs:
        out = workdir / job.name
        with warnings.catch_warnings():
            # synth warns when a source cannot honour the case; the recipe's case is recorded.
            warnings.simplefilter("ignore", UserWarning)
            synthesize(
                job.source,
                out,
                per_class=job.per_class,
                val_fraction=job.val_fraction,
                case=job.case,
                seed=job.seed,
                path=job.path,
                source_options=job.options or None,
            )
        generated = items_from_variant(out, source=job.name)
        counters: Counter[tuple[str, str]] = Counter()
        for item in generated:
            k = counters[(str(item.split), item.label)]
            counters[(str(item.split), item.label)] += 1
            mapping[f"{_SYNTH_PREFIX}{job.name}>/{item.split}/{item.label}/{k:06d}"] = item
    return mapping


def _resolved_recipe(plan: MixPlan, out_dir: Path) -> str:
    data = plan.recipe.model_dump(mode="json")
    data["seed"] = plan.seed
    target = Path(out_dir).resolve()

    def rel(value: str) -> str:
        return os.path.relpath(_resolve(plan.base_dir, value).resolve(), target)

    map_recipe_paths(data, rel)
    header = (
        "# Resolved recipe that built this variant (seed included); paths are relative to\n"
        "# this folder, so `datacur mix <this file>` rebuilds it.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def build_variant(
    recipe: Recipe | Path | MixPlan,
    out_dir: Path,
    *,
    seed: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    base_dir: Path | None = None,
    workers: int | None = None,
) -> MixResult:
    """Build the variant a recipe describes, atomically; never over the cap.

    Args:
        recipe: a :class:`Recipe`, a recipe YAML path, or a plan from :func:`plan_mix`
            (then ``seed`` and ``base_dir`` must be None: the plan fixed them).
        out_dir: the new variant folder (built in ``<out_dir>.partial``).
        seed: overrides the recipe's seed; same recipe and seed give a byte-identical
            variant.
        overwrite: replace ``out_dir`` if it exists.
        progress: ``progress(done, total)`` after each image.
        base_dir: see :func:`plan_mix`.
        workers: render processes (default: up to 2); 1 renders in this process, which
            is what a caller holding threads (a UI, TensorFlow) should ask for. The bytes
            do not depend on it.

    Raises:
        ConfigError / RecipeError / CapExceededError: before anything is written.
        DatacurError: ``out_dir`` exists and ``overwrite`` is false.

    Example:
        >>> build_variant(Path("recipes/clean.yaml"), Path("datasets/clean"))  # doctest: +SKIP
    """
    if isinstance(recipe, MixPlan):
        if seed is not None or base_dir is not None:
            raise ValueError("a MixPlan already fixes seed and base_dir")
        plan = recipe
    else:
        plan = plan_mix(recipe, seed=seed, base_dir=base_dir, workers=workers)
    out_dir = check_output_dir(Path(out_dir), overwrite=overwrite)
    with atomic_output_dir(out_dir, overwrite=overwrite) as partial:
        with tempfile.TemporaryDirectory(
            prefix=f".{out_dir.name}.synth-", dir=partial.parent
        ) as workdir:
            items = plan.items
            if plan.synth_jobs:
                mapping = _run_synth(plan, Path(workdir))
                items = [_bind_synth(item, mapping) for item in items]
            rows = write_items(items, partial, progress=progress, workers=workers)
        write_manifest(partial, rows)
        atomic_write_text(partial / "recipe.yaml", _resolved_recipe(plan, out_dir))
    per_class: dict[str, dict[str, int]] = {split: dict.fromkeys(CLASSES, 0) for split in SPLITS}
    for row in rows:
        per_class[row.split][row.label] += 1
    return MixResult(out_dir=out_dir, plan=plan, per_class=per_class, cap=plan.cap())


def _bind_synth(item: Item, mapping: dict[str, Item]) -> Item:
    key = str(item.file)
    if not key.startswith(_SYNTH_PREFIX):
        return item
    generated = mapping[key]
    return replace(
        item,
        file=generated.file,
        origin=generated.origin,
        writer=generated.writer,
        transform=generated.transform,
        parent=item.parent if item.parent_name else generated.parent,
    )
