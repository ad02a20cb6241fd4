"""Chars74K reader: the native EnglishHnd tree, the EnglishHnd.tgz archive, EnglishFnt."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import SourceError
from datacur.sources.chars74k import (
    HELD_OUT_WRITERS,
    Chars74kSource,
    draw_held_out_writers,
)

SAMPLES = {19: ("I", "upper"), 32: ("V", "upper"), 45: ("I", "lower"), 7: None}


def make_tree(root: Path, prefix: str = "English/Hnd/Img", writers: int = 2) -> Path:
    """A tiny native tree: white 40x30 RGB images with a black bar; class 007 is a digit."""
    for sample in SAMPLES:
        folder = root / prefix / f"Sample{sample:03d}"
        folder.mkdir(parents=True)
        for writer in range(1, writers + 1):
            image = np.full((30, 40, 3), 255, np.uint8)
            image[5:25, 18 + writer : 22 + writer] = 0
            Image.fromarray(image).save(folder / f"img{sample:03d}-{writer:03d}.png")
    return root


def make_tgz(root: Path) -> Path:
    return make_tgz_of(root)


def make_tgz_of(root: Path, writers: int = 2) -> Path:
    tree = make_tree(root / "staging", writers=writers)
    archive_path = root / "EnglishHnd.tgz"
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(tree / "English", arcname="English")
    return archive_path


@pytest.mark.parametrize(
    "where",
    ["root", "img-folder", "archive"],
    ids=["folder-holding-English", "Img-folder", "EnglishHnd.tgz"],
)
def test_tree_and_archive_give_the_same_glyphs(tmp_path: Path, where: str) -> None:
    if where == "archive":
        path = make_tgz(tmp_path)
    else:
        root = make_tree(tmp_path)
        path = root if where == "root" else root / "English" / "Hnd" / "Img"
    glyphs = list(Chars74kSource(path, writers="all"))  # hnd-002 is a held-out writer
    assert [(g.letter, g.case, g.writer) for g in glyphs] == [
        ("I", "upper", "hnd-001"),
        ("I", "upper", "hnd-002"),
        ("V", "upper", "hnd-001"),
        ("V", "upper", "hnd-002"),
        ("I", "lower", "hnd-001"),
        ("I", "lower", "hnd-002"),
    ]
    assert glyphs[0].origin == "chars74k:Sample019/img019-001.png"
    assert glyphs[0].image.shape == (30, 40) and glyphs[0].image.min() == 0


def test_held_out_writers_are_the_seeded_draw() -> None:
    assert tuple(sorted(HELD_OUT_WRITERS)) == draw_held_out_writers()
    assert len(HELD_OUT_WRITERS) == 15 and "hnd-002" in HELD_OUT_WRITERS


@pytest.mark.parametrize(
    ("writers", "expected"),
    [("train", {"hnd-001", "hnd-003"}), ("held-out", {"hnd-002"}), ("all", None)],
    ids=["train-default", "held-out-only", "all"],
)
def test_writers_option_keeps_held_out_writers_apart(
    tmp_path: Path, writers: str, expected: set[str] | None
) -> None:
    for path in (make_tree(tmp_path / "tree", writers=3), make_tgz_of(tmp_path, writers=3)):
        glyphs = list(Chars74kSource(path, writers=writers))
        assert {g.writer for g in glyphs} == (expected or {"hnd-001", "hnd-002", "hnd-003"})
    assert {g.writer for g in Chars74kSource(tmp_path / "tree")} == {"hnd-001", "hnd-003"}


def test_unknown_writers_choice(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="writers must be one of train, held-out, all"):
        Chars74kSource(make_tree(tmp_path), writers="some")


def test_fonts_in_their_own_layout(tmp_path: Path) -> None:
    root = make_tree(tmp_path, prefix="English/Fnt", writers=1)
    glyphs = list(Chars74kSource(root, kind="fnt"))
    assert {g.writer for g in glyphs} == {"fnt-001"} and len(glyphs) == 3
    with pytest.raises(SourceError, match="no Chars74K hnd folders"):
        list(Chars74kSource(root))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: p, "no Chars74K hnd folders"),
        (lambda p: (p / "x.txt", (p / "x.txt").write_text("x"))[0], "expected a .tgz"),
    ],
    ids=["missing", "empty-folder", "not-an-archive"],
)
def test_bad_paths_say_where_to_get_the_data(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(SourceError, match=match) as info:
        list(Chars74kSource(make(tmp_path)))
    assert "EnglishHnd.tgz" in str(info.value)


def test_archive_without_letters(tmp_path: Path) -> None:
    empty = tmp_path / "EnglishHnd.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(SourceError, match="holds no"):
        list(Chars74kSource(empty))


@pytest.mark.integration
def test_real_chars74k_copy(shared_data: Path) -> None:
    training = list(Chars74kSource(shared_data / "chars74k"))
    assert len(training) == 240 and len({g.writer for g in training}) == 40
    assert not {g.writer for g in training} & HELD_OUT_WRITERS
    glyphs = list(Chars74kSource(shared_data / "chars74k", writers="all"))
    assert len(glyphs) == 330
    assert len({g.writer for g in glyphs}) == 55
    assert Counter((g.letter, g.case) for g in glyphs) == {
        (letter, case): 55 for letter in "IVX" for case in ("upper", "lower")
    }
    assert glyphs[0].image.shape == (900, 1200)
