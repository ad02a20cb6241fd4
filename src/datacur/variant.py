"""The dataset variant: the competition's folder layout plus ``manifest.csv`` and ``recipe.yaml``.

A variant is ``<dir>/{train,val}/<class>/*.png``. Which files count is decided exactly as
``keras.utils.image_dataset_from_directory`` decides it (recursive walk, extensions
``.bmp .gif .jpeg .jpg .png`` matched case-insensitively, hidden class folders ignored), so
datacur counts, hashes and trains on the same images the competition script would.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from datacur.errors import HostileInputError, VariantError
from datacur.io import atomic_write_text, read_text_utf8, sha256_file
from datacur.labels import CLASSES, SPLITS

__all__ = [
    "FOLLOW_LINKS_ENV",
    "KERAS_IMAGE_EXTENSIONS",
    "MANIFEST_COLUMNS",
    "ManifestRow",
    "VariantImage",
    "check_link",
    "compute_content_hash",
    "find_manifest_damage",
    "follow_links_default",
    "list_class_images",
    "list_folder_images",
    "list_variant_images",
    "read_manifest",
    "require_variant",
    "write_manifest",
]

KERAS_IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
"""Extensions the Keras loader accepts (``ALLOWLIST_FORMATS``), compared lower-cased."""


@dataclass(frozen=True, order=True)
class VariantImage:
    """One image as the fixed script sees it: split, class label and path."""

    split: str
    label: str
    path: Path


FOLLOW_LINKS_ENV = "DATACUR_FOLLOW_LINKS"
"""Set to ``1`` (``datacur --follow-links`` does) to follow links that stay inside the folder."""


def follow_links_default() -> bool:
    """Whether symbolic links in a variant are followed: ``$DATACUR_FOLLOW_LINKS`` is ``1``."""
    return os.environ.get(FOLLOW_LINKS_ENV, "") == "1"


def check_link(path: Path, root: Path, *, follow_links: bool | None = None) -> None:
    """Refuse ``path`` if it is a symbolic link, unless links are followed and it resolves
    to an existing file or folder inside ``root``.

    A variant is read and copied as a whole, so a link to ``/etc/passwd`` or a private file
    would be copied into new variants; links are therefore refused by default.

    Raises:
        VariantError: a link (default), or with ``follow_links`` a dangling link, a loop, or
            a link that leaves ``root``, naming the link.
    """
    if not os.path.islink(path):
        return
    follow = follow_links_default() if follow_links is None else follow_links
    if not follow:
        raise HostileInputError(
            f"{path}: is a symbolic link; datacur refuses links in a variant or folder (they "
            "can point at any file). Replace it with a copy of the file, or run "
            "`datacur --follow-links ...` to follow links that stay inside the folder."
        )
    try:
        target = Path(path).resolve(strict=True)
    except RuntimeError as err:
        raise HostileInputError(f"{path}: symbolic link loop. Remove the link.") from err
    except FileNotFoundError as err:
        raise HostileInputError(
            f"{path}: dangling symbolic link (its target does not exist). Remove the link."
        ) from err
    except OSError as err:
        raise HostileInputError(
            f"{path}: symbolic link cannot be followed ({err.strerror or err}). Remove the link."
        ) from err
    inside = Path(root).resolve()
    if target != inside and inside not in target.parents:
        raise HostileInputError(
            f"{path}: symbolic link points outside {root} (to {target}); --follow-links follows "
            "only links that stay inside. Copy the file in instead."
        )


def list_class_images(
    class_dir: Path, *, root: Path | None = None, follow_links: bool | None = None
) -> list[Path]:
    """List the files the Keras loader would read from one class folder, in its order.

    Mirrors ``keras.src.utils.dataset_utils.iter_valid_files``: ``os.walk`` sorted by folder,
    file names sorted, extension test on the lower-cased name. Every listed file is checked
    here, the one place all commands list images: a symbolic link is refused (see
    :func:`check_link`; ``root`` is the folder links must stay in, default ``class_dir``),
    and so is anything that is not a regular file (a FIFO named ``x.png`` would block).

    Raises:
        VariantError: a link, a dangling link or loop, or a non-regular file, naming it.
    """
    check_link(Path(class_dir), root or Path(class_dir).parent, follow_links=follow_links)
    root = Path(class_dir) if root is None else Path(root)
    found: list[Path] = []
    for folder, _dirs, files in sorted(os.walk(class_dir), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(KERAS_IMAGE_EXTENSIONS):
                path = Path(folder) / name
                check_link(path, root, follow_links=follow_links)
                try:
                    mode = os.stat(path).st_mode
                except OSError as err:
                    raise VariantError(
                        f"{path}: cannot be read ({err.strerror or err}). Fix or remove it."
                    ) from err
                if not stat.S_ISREG(mode):
                    raise HostileInputError(
                        f"{path}: not a regular file (a FIFO, socket or device named like an "
                        "image). Remove it."
                    )
                found.append(path)
    return found


def require_variant(variant_dir: Path, *, splits: Sequence[str] = SPLITS) -> Path:
    """Check that ``variant_dir`` has the variant layout; return it as a Path.

    Raises:
        VariantError: the folder is missing, or lacks a split folder, naming what to do.
    """
    variant_dir = Path(variant_dir)
    if not variant_dir.exists():
        raise VariantError(f"{variant_dir}: folder not found. Give the path of a dataset variant.")
    if not variant_dir.is_dir():
        raise VariantError(
            f"{variant_dir}: not a folder. A variant is a folder with train/ and val/ inside."
        )
    for split in splits:
        check_link(variant_dir / split, variant_dir)
    missing = [split for split in splits if not (variant_dir / split).is_dir()]
    if missing:
        raise VariantError(
            f"{variant_dir}: not a dataset variant (no {', '.join(s + '/' for s in missing)} "
            f"folder). A variant holds train/<class>/ and val/<class>/ with classes "
            f"{' '.join(CLASSES)}."
        )
    return variant_dir


def list_variant_images(
    variant_dir: Path, *, splits: Sequence[str] = SPLITS, allow_empty_class: bool = False
) -> list[VariantImage]:
    """List every image of a variant, split by split and class by class, in Keras order.

    Raises:
        VariantError: layout problems: a split or class folder is missing, a folder name is
            not a class, or a class folder holds no image (unless ``allow_empty_class``).
    """
    variant_dir = require_variant(variant_dir, splits=splits)
    images: list[VariantImage] = []
    for split in splits:
        images.extend(_list_split(variant_dir / split, split, allow_empty_class, variant_dir))
    return images


def list_folder_images(folder: Path, *, allow_empty_class: bool = False) -> list[VariantImage]:
    """List a single ``<class>/`` folder tree (a test set such as the label book).

    The split recorded for each image is the folder's name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VariantError(
            f"{folder}: folder not found. Give a folder with one sub-folder per class "
            f"({' '.join(CLASSES)})."
        )
    return _list_split(folder, folder.name, allow_empty_class, folder)


def _list_split(
    split_dir: Path, split: str, allow_empty_class: bool, root: Path
) -> list[VariantImage]:
    subdirs = sorted(
        entry.name
        for entry in split_dir.iterdir()
        if entry.is_dir() and not entry.name.startswith(".")
    )
    unknown = [name for name in subdirs if name not in CLASSES]
    if unknown:
        raise VariantError(
            f"{split_dir}: unknown class folder(s) {', '.join(unknown)}. Class folders must be "
            f"named {' '.join(CLASSES)}; rename or remove the others."
        )
    missing = [name for name in CLASSES if name not in subdirs]
    if missing:
        raise VariantError(
            f"{split_dir}: missing class folder(s) {', '.join(missing)}. The fixed script needs "
            "all ten; create them (they may not be empty)."
        )
    images: list[VariantImage] = []
    for label in CLASSES:
        paths = list_class_images(split_dir / label, root=root)
        if not paths and not allow_empty_class:
            raise VariantError(
                f"{split_dir / label}: empty class folder. Add at least one image of "
                f"'{label}' (the fixed script needs every class in every split)."
            )
        images.extend(VariantImage(split, label, path) for path in paths)
    return images


def compute_content_hash(images: Iterable[VariantImage]) -> str:
    """Hash a variant's content: each image's bytes with its split and label, order-free.

    Renaming a file keeps the hash; changing pixels, labels or splits changes it, so the
    results database treats a changed variant as a new entry.
    """
    lines = sorted(f"{image.split}\t{image.label}\t{sha256_file(image.path)}" for image in images)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- manifest.csv


@dataclass(frozen=True)
class ManifestRow:
    """One row of ``manifest.csv``; see DESIGN.md "The one data type".

    ``path`` is relative to the variant folder with forward slashes. ``origin`` names where
    the pixels first came from (a source file, or ``strokes:<seed>``); ``parent`` links an
    augmented or synthesised image to what it was made from; ``transform`` is a JSON string
    of the exact parameters applied (empty for untouched images).
    """

    path: str
    split: str
    label: str
    source: str
    origin: str
    parent: str
    writer: str
    transform: str
    sha256: str
    width: int
    height: int


MANIFEST_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(ManifestRow))


def write_manifest(
    variant_dir: Path,
    rows: Iterable[ManifestRow | Mapping[str, object]],
    *,
    extra_columns: Sequence[str] = (),
) -> Path:
    """Write ``manifest.csv`` sorted by path (deterministic), atomically; return its path.

    ``rows`` may be :class:`ManifestRow` or dicts holding at least the standard columns plus
    ``extra_columns`` (for example ``decision`` after a review is applied).
    """
    columns = list(MANIFEST_COLUMNS) + [c for c in extra_columns if c not in MANIFEST_COLUMNS]
    records = [asdict(row) if isinstance(row, ManifestRow) else dict(row) for row in rows]
    records.sort(key=lambda record: str(record["path"]))
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for record in records:
        writer.writerow({column: record.get(column, "") for column in columns})
    target = Path(variant_dir) / "manifest.csv"
    atomic_write_text(target, buffer.getvalue())
    return target


def read_manifest(variant_dir: Path) -> list[dict[str, str]]:
    """Read ``manifest.csv`` as a list of dicts (all values strings).

    Raises:
        VariantError: no manifest, or it lacks a standard column.
    """
    target = Path(variant_dir) / "manifest.csv"
    if not target.is_file():
        raise VariantError(
            f"{target}: no manifest. Variants written by datacur have one; for a plain folder "
            "run `datacur check` or rebuild it with `datacur mix`."
        )
    with _io.StringIO(read_text_utf8(target, error=VariantError), newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise VariantError(
                f"{target}: missing column(s) {', '.join(missing)}. Rebuild the variant."
            )
        return list(reader)


def find_manifest_damage(variant_dir: Path) -> str | None:
    """Check a variant's files against its ``manifest.csv`` (paths and sha256 column).

    Returns:
        None when every listed file exists with its recorded hash and no image is unlisted;
        otherwise a one-line description of the first problem (for a message or a rebuild).
    """
    variant_dir = Path(variant_dir)
    try:
        rows = read_manifest(variant_dir)
        on_disk = {
            image.path.relative_to(variant_dir).as_posix()
            for image in list_variant_images(variant_dir, allow_empty_class=True)
        }
    except VariantError as err:
        return str(err)
    listed = set()
    for row in rows:
        relative = row["path"]
        listed.add(relative)
        if relative not in on_disk:
            return f"{variant_dir / relative}: listed in manifest.csv but missing"
        if sha256_file(variant_dir / relative) != row["sha256"]:
            return f"{variant_dir / relative}: content differs from manifest.csv's sha256"
    extra = sorted(on_disk - listed)
    if extra:
        return f"{variant_dir / extra[0]}: image not listed in manifest.csv"
    return None
