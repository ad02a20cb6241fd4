"""``chars74k``: letters I, V, X, i, v, x from Chars74K (de Campos, Babu, Varma 2009).

Reads the native EnglishHnd tree ``English/Hnd/Img/SampleNNN/imgNNN-KKK.png`` (NNN the
class: 019 I, 032 V, 034 X, 045 i, 058 v, 060 x; KKK the writer, 55 of them) or the
``EnglishHnd.tgz`` archive directly, and with ``kind="fnt"`` the EnglishFnt font renderings
``English/Fnt/SampleNNN/imgNNN-KKKKK.png`` (KKKKK names the font, used as the writer).

Fifteen of the 55 handwriting writers are held out (:data:`HELD_OUT_WRITERS`, a seeded draw):
``datasets/shift-chars74k-writers`` is composed from them alone, so the source never yields
them unless asked (``writers="held-out"`` or ``"all"``) and a recipe may not ask (issue 20).
"""

from __future__ import annotations

import io as _io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from datacur.errors import DatacurError, SourceError
from datacur.io import read_image_gray
from datacur.sources.base import Glyph, register_source
from datacur.variant import check_link

__all__ = [
    "HELD_OUT_COUNT",
    "HELD_OUT_SEED",
    "HELD_OUT_WRITERS",
    "HND_WRITERS",
    "KINDS",
    "MAX_MEMBER_BYTES",
    "SAMPLE_LETTERS",
    "WRITER_CHOICES",
    "Chars74kSource",
    "draw_held_out_writers",
]

SAMPLE_LETTERS: dict[int, tuple[str, str]] = {
    19: ("I", "upper"),
    32: ("V", "upper"),
    34: ("X", "upper"),
    45: ("I", "lower"),
    58: ("V", "lower"),
    60: ("X", "lower"),
}
"""Chars74K class number (1-10 digits, 11-36 A-Z, 37-62 a-z) -> (letter, case)."""

MAX_MEMBER_BYTES = 16 << 20
"""Largest archive member read as one letter image (Chars74K's are about 20 KB)."""

KINDS: dict[str, str] = {"hnd": "English/Hnd/Img", "fnt": "English/Fnt"}
"""Which Chars74K set: handwritten (``hnd``) or computer fonts (``fnt``), and its folder."""

HND_WRITERS = 55
"""Writers of EnglishHnd, numbered 001..055."""

HELD_OUT_SEED = 20
HELD_OUT_COUNT = 15

HELD_OUT_WRITERS: frozenset[str] = frozenset(
    # = draw_held_out_writers() (seed 20, 15 of 55); a test keeps the two equal.
    (
        "hnd-002",
        "hnd-004",
        "hnd-006",
        "hnd-012",
        "hnd-018",
        "hnd-021",
        "hnd-026",
        "hnd-037",
        "hnd-041",
        "hnd-043",
        "hnd-047",
        "hnd-049",
        "hnd-050",
        "hnd-054",
        "hnd-055",
    )
)
"""EnglishHnd writers no recipe may train on: ``datasets/shift-chars74k-writers`` is made
from them. Fonts (``kind="fnt"``) are not affected."""

WRITER_CHOICES: tuple[str, ...] = ("train", "held-out", "all")
"""Which handwriting writers a source yields: all but the held-out ones (``train``, the
default and the only choice a recipe accepts), only the held-out ones, or every writer."""


def draw_held_out_writers(
    *, seed: int = HELD_OUT_SEED, count: int = HELD_OUT_COUNT, writers: int = HND_WRITERS
) -> tuple[str, ...]:
    """Draw ``count`` of the ``writers`` EnglishHnd writers with ``seed``, sorted.

    Example:
        >>> draw_held_out_writers()[:3]
        ('hnd-002', 'hnd-004', 'hnd-006')
    """
    rng = np.random.default_rng(seed)
    picked = rng.choice(np.arange(1, writers + 1), size=count, replace=False)
    return tuple(f"hnd-{int(number):03d}" for number in sorted(picked))


_FILE = re.compile(r"Sample(\d{3})/img(\d{3})-(\d{3,5})\.png$", re.IGNORECASE)
_GET_IT = (
    "Download EnglishHnd.tgz (or EnglishFnt.tgz) from "
    "https://info-ee.surrey.ac.uk/CVSSP/demos/chars74k/ and pass the archive, or the folder "
    "that holds English/, with --path."
)


class Chars74kSource:
    """Glyphs from a Chars74K folder tree or ``.tgz`` archive.

    Args:
        path: the archive, the folder holding ``English/``, or the ``Img``/``Fnt`` folder.
        kind: ``hnd`` (handwritten, the default) or ``fnt`` (fonts).
        writers: ``train`` (every writer but :data:`HELD_OUT_WRITERS`), ``held-out`` (only
            those) or ``all``; applies to ``hnd`` only.
    """

    name = "chars74k"

    def __init__(self, path: Path, *, kind: str = "hnd", writers: str = "train") -> None:
        if kind not in KINDS:
            raise SourceError(f"chars74k: kind must be one of {', '.join(KINDS)} ({kind!r}).")
        if writers not in WRITER_CHOICES:
            raise SourceError(
                f"chars74k: writers must be one of {', '.join(WRITER_CHOICES)} ({writers!r})."
            )
        self.path = Path(path)
        self.kind = kind
        self.writers = writers
        self.options: dict[str, Any] = {"path": str(path), "kind": kind, "writers": writers}
        if not self.path.exists():
            raise SourceError(f"{self.path}: not found. {_GET_IT}")
        if self.path.is_file() and not self.path.name.lower().endswith((".tgz", ".tar.gz", ".tar")):
            raise SourceError(f"{self.path}: expected a .tgz archive or a folder. {_GET_IT}")

    def __iter__(self) -> Iterator[Glyph]:
        if self.path.is_file():
            yield from self._from_archive()
        else:
            yield from self._from_folder(self._find_root())

    def _find_root(self) -> Path:
        suffix = KINDS[self.kind]
        parts = suffix.split("/")
        for depth in range(len(parts) + 1):
            candidate = self.path.joinpath(*parts[depth:])
            if (candidate / "Sample019").is_dir() or (candidate / "Sample045").is_dir():
                return candidate
        raise SourceError(
            f"{self.path}: no Chars74K {self.kind} folders found (expected {suffix}/Sample019/ "
            f"and the other classes of I, V, X, i, v, x). {_GET_IT}"
        )

    def _wanted(self, match: re.Match[str]) -> bool:
        """A file of one of the six letters, by a writer this source may yield."""
        if int(match.group(1)) not in SAMPLE_LETTERS:
            return False
        if self.kind != "hnd" or self.writers == "all":
            return True
        held_out = f"hnd-{match.group(3)}" in HELD_OUT_WRITERS
        return held_out if self.writers == "held-out" else not held_out

    def _glyph(self, image: np.ndarray, match: re.Match[str], where: str) -> Glyph | None:
        sample = int(match.group(1))
        if sample not in SAMPLE_LETTERS:
            return None
        letter, case = SAMPLE_LETTERS[sample]
        return Glyph(
            image=image,
            letter=letter,
            case=case,
            writer=f"{self.kind}-{match.group(3)}",
            origin=f"chars74k:{where}",
        )

    def _from_folder(self, root: Path) -> Iterator[Glyph]:
        for sample in sorted(SAMPLE_LETTERS):
            folder = root / f"Sample{sample:03d}"
            if not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                match = _FILE.search(f"{folder.name}/{file.name}")
                if match is None or not self._wanted(match):
                    continue
                try:
                    check_link(file, self.path)  # the same link rule as variants
                    image = read_image_gray(file)
                except DatacurError as err:
                    raise SourceError(str(err)) from err
                glyph = self._glyph(image, match, f"{folder.name}/{file.name}")
                if glyph is not None:
                    yield glyph

    def _from_archive(self) -> Iterator[Glyph]:
        prefix = KINDS[self.kind]
        try:
            archive = tarfile.open(self.path)  # noqa: SIM115 (closed by the with below)
        except (tarfile.TarError, OSError) as err:
            raise SourceError(
                f"{self.path}: not a readable tar archive ({err}). {_GET_IT}"
            ) from err
        found = 0
        with archive:
            members = sorted(
                (m for m in archive.getmembers() if m.isfile() and prefix in m.name),
                key=lambda m: m.name,
            )
            for member in members:
                match = _FILE.search(member.name)
                if match is None or not self._wanted(match):
                    continue
                if member.size > MAX_MEMBER_BYTES:
                    raise SourceError(
                        f"{self.path}:{member.name}: member of {member.size:,} bytes is over the "
                        f"{MAX_MEMBER_BYTES:,}-byte limit for one letter image. Use the "
                        f"official archive. {_GET_IT}"
                    )
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                data = handle.read(MAX_MEMBER_BYTES + 1)
                where = f"{self.path}:{member.name}"
                try:
                    image = read_image_gray(_io.BytesIO(data), where=where)
                except DatacurError as err:
                    raise SourceError(str(err)) from err
                where = member.name.split(prefix + "/", 1)[-1]
                glyph = self._glyph(image, match, where)
                if glyph is not None:
                    found += 1
                    yield glyph
        if not found:
            raise SourceError(
                f"{self.path}: the archive holds no {prefix}/SampleNNN/ images of I, V, X, i, "
                f"v, x. {_GET_IT}"
            )


def _open(path: Path | None = None, **options: Any) -> Chars74kSource:
    if path is None:
        raise SourceError(f"chars74k: needs --path. {_GET_IT}")
    unknown = sorted(set(options) - {"kind", "writers"})
    if unknown:
        raise SourceError(
            f"chars74k: unknown option(s) {', '.join(unknown)}; expected kind or writers."
        )
    return Chars74kSource(path, **options)


def register() -> None:
    """Add ``chars74k`` to the source registry."""
    register_source(
        "chars74k",
        _open,
        description=(
            "Chars74K EnglishHnd (or EnglishFnt): the English/Hnd/Img tree or EnglishHnd.tgz "
            "(--path)"
        ),
        needs_path=True,
    )
