"""Validate a variant's layout and files, file by file, against what the Keras loader does.

Errors are what would stop or corrupt training (a missing class folder, a file the loader
picks up but cannot decode); warnings are what the loader silently skips or reads in a way
the user may not expect (``.DS_Store``, a ``.webp``, an RGBA image whose transparent
background TensorFlow turns black, a 1x2 px crop).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datacur.errors import DatacurError, HostileInputError, VariantError
from datacur.io import open_image, require_regular_file
from datacur.labels import CLASSES, SPLITS
from datacur.variant import KERAS_IMAGE_EXTENSIONS, VariantImage, check_link

__all__ = [
    "MIN_SIDE",
    "CheckReport",
    "Finding",
    "check_image_file",
    "check_variant",
    "require_readable",
]

MIN_SIDE = 8
"""Images with a side shorter than this (pixels) are flagged as tiny."""

_OTHER_IMAGE_EXTENSIONS = (".tif", ".tiff", ".webp", ".jfif", ".ppm", ".pgm", ".heic")
_UNUSUAL_MODES = {
    "RGBA": "RGBA: TensorFlow drops the alpha channel, so a transparent background "
    "becomes whatever colour is stored under it (often black). Flatten it on white.",
    "LA": "grayscale+alpha: TensorFlow drops the alpha channel (a transparent background "
    "may turn black). Flatten it on white.",
    "P": "palette image: read as RGB by TensorFlow; fine unless it has transparency.",
    "I;16": "16-bit image: TensorFlow scales it to 8 bits; check the contrast survives.",
    "I;16B": "16-bit image: TensorFlow scales it to 8 bits; check the contrast survives.",
    "I": "32-bit integer image: unusual for PNG; re-save as 8-bit grayscale.",
    "CMYK": "CMYK image: colours may be converted unexpectedly; re-save as grayscale.",
    "1": "1-bit image: fine for TensorFlow, but unusual; re-save as 8-bit grayscale.",
}


@dataclass(frozen=True)
class Finding:
    """One problem with one path."""

    path: str
    severity: str  # "error" or "warning"
    code: str
    message: str


@dataclass(frozen=True)
class CheckReport:
    """All findings for a variant, plus what the loader will read."""

    variant: str
    images: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing would stop or corrupt training."""
        return not self.errors


def check_image_file(path: Path) -> list[Finding]:
    """Check one file the Keras loader would read (by extension): decodable, size, mode.

    Raises:
        DatacurError: the file is not a regular file, or exceeds Pillow's decompression-bomb
            limit (hostile input stops the check rather than becoming one more finding).
    """
    findings: list[Finding] = []
    where = str(path)
    if require_regular_file(path).st_size == 0:
        return [Finding(where, "error", "empty-file", "empty file (0 bytes). Remove it.")]
    try:
        with open_image(path) as image:
            image.load()
            mode, (width, height) = image.mode, image.size
            frames = getattr(image, "n_frames", 1)
    except HostileInputError:
        raise
    except DatacurError as err:
        return [
            Finding(
                where,
                "error",
                "unreadable",
                f"cannot be decoded ({err.__cause__ or err}); the loader would crash on it. "
                "Remove or re-save it.",
            )
        ]
    if path.suffix != path.suffix.lower():
        findings.append(
            Finding(
                where,
                "warning",
                "upper-case-extension",
                f"upper-case extension {path.suffix!r}: Keras reads it, other tools may not. "
                f"Rename to {path.suffix.lower()!r}.",
            )
        )
    if min(width, height) < MIN_SIDE:
        findings.append(
            Finding(
                where,
                "warning",
                "tiny",
                f"tiny image ({width}x{height} px): it carries almost no information at 32x32. "
                "Check it is a real numeral, else drop it.",
            )
        )
    if mode in _UNUSUAL_MODES:
        findings.append(Finding(where, "warning", f"mode-{mode}", _UNUSUAL_MODES[mode]))
    if frames > 1:
        findings.append(
            Finding(
                where,
                "warning",
                "animated",
                f"animated image ({frames} frames): the loader keeps only the first.",
            )
        )
    return findings


def _check_files(split_dir: Path, label: str) -> tuple[int, list[Finding]]:
    """Walk one class folder as the loader does; return (images read, findings)."""
    findings: list[Finding] = []
    count = 0
    class_dir = split_dir / label
    for root, dirs, files in sorted(os.walk(class_dir), key=lambda entry: entry[0]):
        root_path = Path(root)
        if root_path != class_dir:
            findings.append(
                Finding(
                    str(root_path),
                    "warning",
                    "nested-folder",
                    f"sub-folder inside a class folder: the loader reads its images as "
                    f"'{label}'. Move them up or out.",
                )
            )
        dirs.sort()
        for name in sorted(files):
            path = root_path / name
            lower = name.lower()
            if lower.endswith(KERAS_IMAGE_EXTENSIONS):
                check_link(path, split_dir.parent)
                count += 1
                findings.extend(check_image_file(path))
                if name.startswith("."):
                    findings.append(
                        Finding(
                            str(path),
                            "warning",
                            "hidden-image",
                            "hidden file that the loader still reads. Rename or remove it.",
                        )
                    )
            elif lower.endswith(_OTHER_IMAGE_EXTENSIONS):
                findings.append(
                    Finding(
                        str(path),
                        "warning",
                        "skipped-format",
                        f"{path.suffix} images are skipped by the Keras loader. Convert to PNG "
                        "if it should count.",
                    )
                )
            else:
                kind = "hidden file" if name.startswith(".") else "not an image"
                findings.append(
                    Finding(
                        str(path),
                        "warning",
                        "not-an-image",
                        f"{kind}; the loader skips it. Remove it to keep the variant clean.",
                    )
                )
    if count == 0:
        findings.append(
            Finding(
                str(class_dir),
                "error",
                "empty-class",
                f"no image of '{label}': the fixed script needs every class. Add images.",
            )
        )
    return count, findings


def check_variant(variant_dir: Path, *, splits: Sequence[str] = SPLITS) -> CheckReport:
    """Check a variant's layout and every file in it.

    Raises:
        VariantError: ``variant_dir`` does not exist or is not a folder (nothing to check).
    """
    variant_dir = Path(variant_dir)
    if not variant_dir.is_dir():
        raise VariantError(
            f"{variant_dir}: folder not found. Give the path of a dataset variant "
            "(a folder with train/ and val/)."
        )
    findings: list[Finding] = []
    images = 0
    for split in splits:
        split_dir = variant_dir / split
        check_link(split_dir, variant_dir)
        if not split_dir.is_dir():
            findings.append(
                Finding(
                    str(split_dir),
                    "error",
                    "missing-split",
                    f"no {split}/ folder: a variant holds train/<class>/ and val/<class>/.",
                )
            )
            continue
        for entry in sorted(split_dir.iterdir()):
            if entry.is_dir() and entry.name.startswith("."):
                continue
            if entry.is_dir() and entry.name not in CLASSES:
                findings.append(
                    Finding(
                        str(entry),
                        "error",
                        "unknown-class",
                        f"'{entry.name}' is not a class ({' '.join(CLASSES)}). "
                        "Rename or remove it.",
                    )
                )
            elif entry.is_file():
                findings.append(
                    Finding(
                        str(entry),
                        "warning",
                        "stray-file",
                        "file outside any class folder: the loader ignores it. Move or remove it.",
                    )
                )
        for label in CLASSES:
            if not (split_dir / label).is_dir():
                findings.append(
                    Finding(
                        str(split_dir / label),
                        "error",
                        "missing-class",
                        f"missing class folder '{label}'. Create it and add images.",
                    )
                )
                continue
            check_link(split_dir / label, variant_dir)
            count, class_findings = _check_files(split_dir, label)
            images += count
            findings.extend(class_findings)
    return CheckReport(str(variant_dir), images, tuple(findings))


def require_readable(images: Iterable[VariantImage]) -> None:
    """Raise on the first image the loader would fail to decode (before any training).

    Raises:
        VariantError: naming the file and the fix.
    """
    for image in images:
        for finding in check_image_file(image.path):
            if finding.severity == "error":
                raise VariantError(f"{finding.path}: {finding.message}")
