"""The image pool that ``augment`` and ``mix`` plan over, and the writer that turns it into files.

An :class:`Item` is one planned output image: where its pixels come from, its label and
split, its provenance (manifest columns) and the operations still to apply. Planning only
builds items (cheap, so ``mix --dry-run`` can show the plan); :func:`write_items` reads,
transforms and encodes them one at a time inside an atomic output folder.
"""

from __future__ import annotations

import functools
import io as _io
import json
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from datacur.errors import DatacurError, VariantError
from datacur.io import (
    encode_png,
    open_image,
    read_image_gray,
    require_regular_file,
    sha256_bytes,
)
from datacur.labels import CLASSES
from datacur.variant import (
    ManifestRow,
    list_class_images,
    list_variant_images,
    read_manifest,
)

__all__ = [
    "Item",
    "Operation",
    "PendingMap",
    "ProgressCallback",
    "default_workers",
    "items_from_folder",
    "items_from_variant",
    "parallel_map",
    "render_item",
    "start_parallel_map",
    "unique_names",
    "write_items",
]

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``, called after each image is written."""


class Operation(Protocol):
    """A pending pixel operation: ``apply(image, label) -> (image, label, record)``.

    ``record`` is a JSON-safe dict saying exactly what was done (for the manifest's
    ``transform`` column); the label may change (a horizontal flip turns iv into vi).
    Operations that are deterministic, label-free and hashable may set a class attribute
    ``cacheable = True`` so their result on a parent is shared by its copies.
    """

    def apply(self, image: np.ndarray, label: str) -> tuple[np.ndarray, str, dict[str, Any]]:
        """Apply the operation to a uint8 (H, W) image of class ``label``."""
        ...


@dataclass(frozen=True)
class Item:
    """One planned output image.

    ``split`` is None until the split policy assigns one. ``file`` is where the pixels are
    read from. ``name`` is the output file stem, unique within a build. ``parent_name`` is
    the ``name`` of the item (in the same build) this one was made from; the manifest's
    ``parent`` column then holds that item's final path. Otherwise ``parent`` is carried
    over from the input's manifest. ``stage`` says how the item entered the plan
    (``input``, ``augment:<pipeline>``, ``fill:<pipeline>``) for plan tables.
    """

    label: str
    split: str | None
    file: Path
    name: str
    source: str
    origin: str
    parent: str = ""
    writer: str = ""
    transform: str = ""
    parent_name: str = ""
    stage: str = "input"
    ops: tuple[Operation, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """A stable identity for seeding: the source name and the origin."""
        return f"{self.source}\x00{self.origin}\x00{self.name}"

    def with_ops(self, *ops: Operation) -> Item:
        """Return a copy with ``ops`` appended to the pending operations."""
        return replace(self, ops=self.ops + ops)

    def out_path(self, label: str | None = None) -> str:
        """The variant-relative output path for this item (``label`` overrides its class)."""
        if self.split is None:
            raise ValueError(f"item {self.name} has no split yet")
        return f"{self.split}/{label or self.label}/{self.name}.png"


def _manifest_by_path(variant_dir: Path) -> dict[str, dict[str, str]]:
    if not (variant_dir / "manifest.csv").is_file():
        return {}
    return {row["path"]: row for row in read_manifest(variant_dir)}


def items_from_variant(
    variant_dir: Path, *, source: str, splits: Sequence[str] = ("train", "val")
) -> list[Item]:
    """Items for every image of a variant, keeping its split and label.

    Provenance (origin, parent, writer, transform) comes from the variant's manifest when it
    has one; otherwise the origin is ``<variant folder name>/<relative path>``.
    """
    variant_dir = Path(variant_dir)
    manifest = _manifest_by_path(variant_dir)
    items = []
    for image in list_variant_images(variant_dir, splits=splits, allow_empty_class=True):
        rel = image.path.relative_to(variant_dir).as_posix()
        row = manifest.get(rel, {})
        items.append(
            Item(
                label=image.label,
                split=image.split,
                file=image.path,
                name=image.path.stem,
                source=source,
                origin=row.get("origin") or f"{variant_dir.name}/{rel}",
                parent=row.get("parent", ""),
                writer=row.get("writer", ""),
                transform=row.get("transform", ""),
            )
        )
    return items


def items_from_folder(folder: Path, *, source: str, split: str | None) -> list[Item]:
    """Items for a ``<class>/`` folder tree (label book, dev-test, any labelled folder).

    Class folders may be missing or empty here (a folder input need not cover every class).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VariantError(
            f"{folder}: folder not found. Give a folder with one sub-folder per class "
            f"({' '.join(CLASSES)})."
        )
    present = {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
    unknown = sorted(present - set(CLASSES))
    if unknown:
        raise VariantError(
            f"{folder}: unknown class folder(s) {', '.join(unknown)}. Class folders must be "
            f"named {' '.join(CLASSES)}; rename or remove the others."
        )
    if not present:
        raise VariantError(
            f"{folder}: no class folders. Expected <class>/ sub-folders ({' '.join(CLASSES)})."
        )
    images = [
        (label, path)
        for label in CLASSES
        if label in present
        for path in list_class_images(folder / label)
    ]
    manifest = _manifest_by_path(folder)
    items = []
    for label, path in images:
        rel = path.relative_to(folder).as_posix()
        row = manifest.get(rel, {})
        items.append(
            Item(
                label=label,
                split=split,
                file=path,
                name=path.stem,
                source=source,
                origin=row.get("origin") or f"{folder.name}/{rel}",
                parent=row.get("parent", ""),
                writer=row.get("writer", ""),
                transform=row.get("transform", ""),
            )
        )
    return items


def unique_names(items: Iterable[Item], *, prefix_source: bool) -> list[Item]:
    """Make output file stems unique (optionally prefixed with the source name).

    Order is kept; a clash gets ``-2``, ``-3`` ... in list order, so the result is
    deterministic for a deterministic input order.
    """
    used: set[str] = set()
    result = []
    for item in items:
        base = (f"{item.source}-{item.name}" if prefix_source else item.name).replace("/", "_")
        name, count = base, 1
        while name in used:
            count += 1
            name = f"{base}-{count}"
        used.add(name)
        result.append(replace(item, name=name))
    return result


def _is_plain_gray_png(path: Path) -> bool:
    try:
        with open_image(path) as image:
            return image.format == "PNG" and image.mode == "L"
    except DatacurError as err:
        if isinstance(err.__cause__, OSError):
            return False  # read_image_gray reports it, naming the file
        raise


def _chain_transform(previous: str, records: list[dict[str, Any]]) -> str:
    if not records:
        return previous
    chain: list[Any] = []
    if previous:
        try:
            loaded = json.loads(previous)
        except json.JSONDecodeError:
            loaded = previous
        chain.extend(loaded if isinstance(loaded, list) else [loaded])
    chain.extend(records)
    return json.dumps(chain, sort_keys=True, separators=(",", ":"))


RENDER_COMPRESS_LEVEL = 1
"""PNG compression of rendered images: level 1 is ~2x faster than 6 on noisy copies."""

_PARALLEL_MIN_ITEMS = 256


@functools.lru_cache(maxsize=64)
def _base_image(
    path: str, stamp: tuple[int, int], ops: tuple[Operation, ...]
) -> tuple[np.ndarray, str, tuple]:
    """Decode ``path`` and apply cacheable leading ops once per parent.

    Augmented copies of one parent sit next to each other in a plan, so the decode and
    crop of the parent are shared by all its copies. ``stamp`` (mtime, size) keeps a
    long-lived process from reusing a stale decode of a rewritten file.
    """
    image = read_image_gray(Path(path))
    records = []
    label = ""
    for op in ops:
        image, label, record = op.apply(image, label)
        records.append(record)
    image.flags.writeable = False
    return image, label, tuple(records)


def render_item(item: Item) -> tuple[bytes, str, dict[str, Any], int, int]:
    """Produce an item's PNG bytes: ``(data, final_label, manifest_fields, width, height)``.

    An item without pending operations whose file is already a grayscale PNG is copied
    byte for byte (so ``raw`` keeps the starter files exactly); anything else is decoded
    with :func:`datacur.io.read_image_gray` (RGBA on white) and re-encoded.
    """
    label = item.label
    if not item.ops and item.file.suffix.lower() == ".png" and _is_plain_gray_png(item.file):
        require_regular_file(item.file)
        data = item.file.read_bytes()
        # Decoded in full, not just opened: a truncated PNG is refused here with its path
        # instead of being copied into the variant and crashing the loader later.
        with open_image(_io.BytesIO(data), where=str(item.file)) as opened:
            opened.load()
            width, height = opened.size
        return data, label, {"transform": item.transform}, width, height
    leading = 0
    while leading < len(item.ops) and getattr(item.ops[leading], "cacheable", False):
        leading += 1
    stat = item.file.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    base, _, cached_records = _base_image(str(item.file), stamp, item.ops[:leading])
    image = base.copy()
    records = list(cached_records)
    for op in item.ops[leading:]:
        image, label, record = op.apply(image, label)
        records.append(record)
    data = encode_png(np.ascontiguousarray(image), compress_level=RENDER_COMPRESS_LEVEL)
    return (
        data,
        label,
        {"transform": _chain_transform(item.transform, records)},
        int(image.shape[1]),
        int(image.shape[0]),
    )


_WORK: Sequence[Item] = ()


def _render_range(bounds: tuple[int, int]) -> list[tuple[bytes, str, dict[str, Any], int, int]]:
    return [render_item(item) for item in _WORK[bounds[0] : bounds[1]]]


def _rendered(items: Sequence[Item], workers: int) -> Iterator[tuple[bytes, str, dict, int, int]]:
    """Render items in order; with ``workers`` > 1, in forked processes (same bytes)."""
    global _WORK
    if workers <= 1 or len(items) < _PARALLEL_MIN_ITEMS or "fork" not in mp.get_all_start_methods():
        yield from (render_item(item) for item in items)
        return
    # Forked workers inherit the plan (pipelines included) instead of unpickling it per
    # item; contiguous chunks keep a parent's copies in one worker (the decode cache).
    _WORK = items
    chunk = 32
    bounds = [(start, min(start + chunk, len(items))) for start in range(0, len(items), chunk)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            for rendered in pool.imap(_render_range, bounds):
                yield from rendered
    finally:
        _WORK = ()


def parallel_map(
    func: Callable[[Any], Any], args: Sequence[Any], *, workers: int | None = None
) -> list[Any]:
    """``[func(a) for a in args]``, in forked processes when there is enough work.

    ``func`` must be a module-level function; results keep the order of ``args``.
    """
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(args) < _PARALLEL_MIN_ITEMS or "fork" not in mp.get_all_start_methods():
        return [func(arg) for arg in args]
    with mp.get_context("fork").Pool(workers) as pool:
        return pool.map(func, args, chunksize=64)


class PendingMap:
    """A :func:`parallel_map` under way (see :func:`start_parallel_map`)."""

    def __init__(self, func: Callable[[Any], Any], args: Sequence[Any], workers: int) -> None:
        self._func, self._args = func, args
        self._pool: Any = None
        self._pending: Any = None
        if (
            workers >= 1
            and len(args) >= _PARALLEL_MIN_ITEMS
            and "fork" in mp.get_all_start_methods()
        ):
            self._pool = mp.get_context("fork").Pool(workers)
            self._pending = self._pool.map_async(func, args, chunksize=64)

    def result(self) -> list[Any]:
        """Wait for the list (computed here when nothing was started); a worker's exception
        is raised here."""
        if self._pool is None:
            return [self._func(arg) for arg in self._args]
        try:
            results = list(self._pending.get())
        finally:
            self.cancel()
        self._func, self._args = (lambda result: result), results
        return results

    def cancel(self) -> None:
        """Stop the workers (idempotent)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
            self._args = ()


def start_parallel_map(
    func: Callable[[Any], Any], args: Sequence[Any], *, workers: int | None = None
) -> PendingMap:
    """Start :func:`parallel_map` now; ``.result()`` waits for its list.

    The workers are forked at once, so the caller can do other work meanwhile (``score``
    imports TensorFlow while the test images are fingerprinted): start it before importing
    TensorFlow, whose threads do not survive a fork. Even one worker runs beside the
    caller. With too little work, no worker or no fork, nothing starts and ``.result()``
    maps in this process.
    """
    return PendingMap(func, args, default_workers() if workers is None else workers)


def default_workers() -> int:
    """Processes to render with: up to 2 (the cores of this machine), 1 on a single core."""
    return max(1, min(2, os.cpu_count() or 1))


def write_items(
    items: Sequence[Item],
    out_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> list[ManifestRow]:
    """Write every item into ``out_dir`` (an open ``*.partial`` folder); return manifest rows.

    Raises:
        ValueError: two items share a name, or an item has no split (planning bugs).
    """
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise ValueError("item names must be unique within a build (call unique_names)")
    rows = []
    final_paths: dict[str, str] = {}
    total = len(items)
    rendered = _rendered(items, default_workers() if workers is None else workers)
    for done, (item, result) in enumerate(zip(items, rendered, strict=True), start=1):
        data, label, fields_, width, height = result
        rel = item.out_path(label)
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        final_paths[item.name] = rel
        rows.append(
            ManifestRow(
                path=rel,
                split=str(item.split),
                label=label,
                source=item.source,
                origin=item.origin,
                parent=item.parent_name or item.parent,
                writer=item.writer,
                transform=str(fields_["transform"]),
                sha256=sha256_bytes(data),
                width=width,
                height=height,
            )
        )
        if progress is not None:
            progress(done, total)
    # Parents may be written after their children (order is by plan): resolve at the end.
    return [
        replace(row, parent=final_paths[item.parent_name])
        if item.parent_name in final_paths
        else row
        for row, item in zip(rows, items, strict=True)
    ]
