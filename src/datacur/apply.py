"""Apply a review journal to a variant: a new variant with drops removed and relabels moved.

The input variant is never touched; the output is built in ``<out>.partial`` and renamed
when complete. Each decision is recorded in the new ``manifest.csv`` (``decision``,
``previous_label``, ``previous_path``), dropped images in ``dropped.csv``, and the journal
itself is copied in as ``review.jsonl``.
"""

from __future__ import annotations

import csv
import io as _io
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from datacur.errors import VariantError
from datacur.io import atomic_output_dir, atomic_write_text, sha256_file, verify_image
from datacur.journal import Decision, read_journal
from datacur.labels import CLASSES, SPLITS
from datacur.variant import (
    MANIFEST_COLUMNS,
    ManifestRow,
    VariantImage,
    list_variant_images,
    read_manifest,
    write_manifest,
)

__all__ = ["DECISION_COLUMNS", "ApplyResult", "apply_journal"]

DECISION_COLUMNS: tuple[str, ...] = ("decision", "previous_label", "previous_path")
"""Columns ``apply`` adds to ``manifest.csv``."""

_SHOWN = 5


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply_journal`` wrote."""

    out_dir: str
    images: int
    kept: int
    relabelled: int
    dropped: int
    unchanged: int
    """Images the journal does not mention (never flagged, or flagged and left alone),
    copied as they are; not "undecided": the journal cannot tell which were flagged."""


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return (0, 0)


def _check_journal(
    decisions: dict[str, Decision], by_path: dict[str, VariantImage], journal: Path, variant: Path
) -> None:
    unknown = sorted(path for path in decisions if path not in by_path)
    if unknown:
        shown = ", ".join(unknown[:_SHOWN]) + (
            f" (and {len(unknown) - _SHOWN} more)" if len(unknown) > _SHOWN else ""
        )
        raise VariantError(
            f"{journal}: names {len(unknown)} file(s) not in the variant {variant}: {shown}. "
            "Apply the journal to the variant it was reviewed on (the `variant` column of "
            "issues.csv), or remove those lines."
        )
    stale = sorted(
        path
        for path, decision in decisions.items()
        if decision.label and decision.label != by_path[path].label
    )
    if stale:
        first = stale[0]
        raise VariantError(
            f"{journal}: {len(stale)} decision(s) were made on a different label than the "
            f"variant has now, e.g. {first} is '{by_path[first].label}' in {variant} but "
            f"'{decisions[first].label}' in the journal. Re-review on this variant."
        )


def apply_journal(
    variant_dir: Path, journal_path: Path, out_dir: Path, *, overwrite: bool = False
) -> ApplyResult:
    """Write a new variant at ``out_dir``: ``variant_dir`` with the journal's decisions applied.

    ``drop`` removes an image, ``relabel`` moves it to the new class folder of the same
    split (a name clash gets a ``-from-<label>`` suffix), ``keep`` and images without a decision are
    copied byte for byte.

    Raises:
        VariantError: the journal names a file that is not in the variant, or was made on
            other labels.
        DatacurError: the journal is missing or malformed; ``out_dir`` exists without
            ``overwrite``.

    Example:
        >>> apply_journal(Path("datasets/dcai-2021"), Path("review.jsonl"),
        ...               Path("datasets/reviewed"))  # doctest: +SKIP
    """
    variant_dir, journal_path, out_dir = Path(variant_dir), Path(journal_path), Path(out_dir)
    images = list_variant_images(variant_dir, allow_empty_class=True)
    by_path = {image.path.relative_to(variant_dir).as_posix(): image for image in images}
    decisions = read_journal(journal_path)
    _check_journal(decisions, by_path, journal_path, variant_dir)
    if out_dir.resolve() == variant_dir.resolve():
        raise VariantError(
            f"{out_dir}: is the input variant; apply never edits a variant in place. "
            "Choose another --out."
        )
    old_rows: dict[str, dict[str, str]] = {}
    extra: list[str] = []
    if (variant_dir / "manifest.csv").is_file():
        manifest = read_manifest(variant_dir)
        old_rows = {row["path"]: row for row in manifest}
        if manifest:
            extra = [c for c in manifest[0] if c not in MANIFEST_COLUMNS]
    extra += [c for c in DECISION_COLUMNS if c not in extra]

    counts = {"keep": 0, "relabel": 0, "drop": 0, "": 0}
    rows: list[dict[str, str | int]] = []
    dropped: list[dict[str, str]] = []
    with atomic_output_dir(out_dir, overwrite=overwrite) as partial:
        for split in SPLITS:
            for label in CLASSES:
                (partial / split / label).mkdir(parents=True, exist_ok=True)
        for rel, image in by_path.items():
            decision = decisions.get(rel)
            action = decision.action if decision else ""
            counts[action] += 1
            if decision is not None and action == "drop":
                dropped.append(
                    {
                        "path": rel,
                        "label": image.label,
                        "issue": decision.issue,
                        "time": decision.time,
                    }
                )
                continue
            label = decision.to if decision is not None and action == "relabel" else image.label
            target = Path(image.split) / label / image.path.name
            if action == "relabel" and (partial / target).exists():
                target = target.with_name(
                    f"{image.path.stem}-from-{image.label}{image.path.suffix}"
                )
            verify_image(image.path)  # fully decoded: a truncated file is refused, not copied
            shutil.copyfile(image.path, partial / target)
            row = dict(old_rows.get(rel) or _fresh_row(image, rel, variant_dir))
            row.update(
                path=target.as_posix(),
                label=label,
                decision=action,
                previous_label=image.label if action == "relabel" else "",
                previous_path=rel if target.as_posix() != rel else "",
            )
            rows.append(row)
        write_manifest(partial, rows, extra_columns=extra)
        _write_dropped(partial / "dropped.csv", dropped)
        shutil.copyfile(journal_path, partial / "review.jsonl")
    empty = [
        f"{split}/{label}"
        for split in SPLITS
        for label in CLASSES
        if not any((out_dir / split / label).iterdir())
    ]
    if empty:
        warnings.warn(
            f"{out_dir}: empty class folder(s) {', '.join(empty)}; the fixed script needs an "
            "image of every class in every split.",
            stacklevel=2,
        )
    return ApplyResult(
        out_dir=str(out_dir),
        images=len(rows),
        kept=counts["keep"],
        relabelled=counts["relabel"],
        dropped=counts["drop"],
        unchanged=counts[""],
    )


def _fresh_row(image: VariantImage, rel: str, variant_dir: Path) -> dict[str, str | int]:
    """A manifest row for a variant that has none (a plain competition folder)."""
    width, height = _image_size(image.path)
    return asdict(
        ManifestRow(
            path=rel,
            split=image.split,
            label=image.label,
            source=variant_dir.name,
            origin=f"{variant_dir.name}/{rel}",
            parent="",
            writer="",
            transform="",
            sha256=sha256_file(image.path),
            width=width,
            height=height,
        )
    )


def _write_dropped(path: Path, dropped: list[dict[str, str]]) -> None:
    buffer = _io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["path", "label", "issue", "time"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(sorted(dropped, key=lambda row: row["path"]))
    atomic_write_text(path, buffer.getvalue())
