"""review: the Textual app driven headlessly by its pilot: keys in, journal out, resume."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from rich.text import Text
from rich_pixels import Pixels
from textual.widgets import Static

from datacur.errors import DatacurError
from datacur.imagechecks import ImageIssue
from datacur.journal import read_journal
from datacur.noise import rank_issues, write_issues_csv
from datacur.review import ReviewApp, load_review, preview_image

SIZE = (150, 45)


@pytest.fixture
def issues(tmp_path: Path, make_variant: Callable[..., Path], make_image_folder) -> Path:
    """A variant, a label book and an issues.csv with four flagged images."""
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    make_image_folder(tmp_path / "book", n=2, seed=9)
    found = [
        ImageIssue("train/iv/iv_0.png", "train", "iv", "label", 0.8, "looks like vi", "vi"),
        ImageIssue("train/v/v_1.png", "train", "v", "blank", 0.7, "no ink"),
        ImageIssue("val/x/x_0.png", "val", "x", "tiny", 0.6, "only 9x9 px"),
        ImageIssue("train/ii/ii_0.png", "train", "ii", "outlier", 0.5, "odd"),
    ]
    return write_issues_csv(rank_issues(found, variant=str(variant)), tmp_path / "issues.csv")


def _journal_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _app(issues: Path, journal: Path) -> ReviewApp:
    rows, variant = load_review(issues)
    return ReviewApp(rows, journal, variant_dir=variant, label_book=issues.parent / "book")


def test_keys_in_journal_out(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def scenario() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=SIZE) as pilot:
            assert app.current().path == "train/iv/iv_0.png"
            book = app.query_one("#book", Static).content
            texts = [part.plain for part in book.renderables if isinstance(part, Text)]
            assert texts == ["label book: given 'iv'", "label book: suggested 'vi'"]
            assert isinstance(app.query_one("#preview", Static).content, Pixels)
            await pilot.press("r")  # relabel iv -> vi (the suggestion)
            # On disk at once, while the app is still running.
            assert _journal_lines(journal)[-1]["to"] == "vi"
            await pilot.press("d")  # drop the blank one
            await pilot.press("s")  # skip the tiny one
            await pilot.press("t", "i", "x", "enter")  # type a class for the outlier
            assert app.progress.reviewed == 3
            assert "reviewed 3 / 4" in app.sub_title
            await pilot.press("u")  # undo the typed relabel
            assert app.current().path == "train/ii/ii_0.png"
            await pilot.press("k")
            await pilot.press("q")
        assert app.return_value.reviewed == 3

    asyncio.run(scenario())
    lines = _journal_lines(journal)
    assert [(line["action"], line["path"]) for line in lines] == [
        ("relabel", "train/iv/iv_0.png"),
        ("drop", "train/v/v_1.png"),
        ("relabel", "train/ii/ii_0.png"),
        ("undo", "train/ii/ii_0.png"),
        ("keep", "train/ii/ii_0.png"),
    ]
    assert lines[2]["to"] == "ix"
    final = read_journal(journal)
    assert {p: d.action for p, d in final.items()} == {
        "train/iv/iv_0.png": "relabel",
        "train/v/v_1.png": "drop",
        "train/ii/ii_0.png": "keep",
    }


def test_resume_after_an_interrupted_session(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def first() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("k", "d")
            # No q: the session ends abruptly (the pilot tears the app down).

    async def second() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=SIZE) as pilot:
            assert app.progress.reviewed == 2
            assert "reviewed 2 / 4" in app.sub_title
            assert app.current().path == "val/x/x_0.png"  # the first undecided one
            await pilot.press("p", "p")
            assert app.current().path == "train/iv/iv_0.png"
            await pilot.press("s")  # skip jumps over the decided blank image
            assert app.current().path == "val/x/x_0.png"
            await pilot.press("d")
            assert app.current().path == "train/ii/ii_0.png"

    asyncio.run(first())
    asyncio.run(second())
    assert len(read_journal(journal)) == 3


def test_bad_typed_class_and_missing_suggestion(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def scenario() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("n")  # the blank image: no suggestion
            await pilot.press("r")
            assert app.progress.reviewed == 0
            await pilot.press("t", "z", "enter")  # not a class: refused, box stays
            assert app.progress.reviewed == 0
            await pilot.press("escape")
            await pilot.press("?")
            await pilot.press("escape")
            await pilot.press("q")

    asyncio.run(scenario())
    assert not journal.exists() or journal.read_text() == ""


def test_filters_and_sorting(issues: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(issues, tmp_path / "review.jsonl")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f")  # first issue type alphabetically: blank
            assert [row.path for row in app.shown] == ["train/v/v_1.png"]
            await pilot.press("f", "f", "f", "f")  # label, outlier, tiny, back to all
            assert len(app.shown) == 4
            await pilot.press("c")  # first class present: ii
            assert [row.label for row in app.shown] == ["ii"]
            await pilot.press("c", "c", "c", "c")
            assert len(app.shown) == 4
            await pilot.press("o", "o")  # rank -> score -> label
            assert [row.label for row in app.shown] == ["ii", "iv", "v", "x"]
            await pilot.press("q")

    asyncio.run(scenario())


def test_preview_image(tmp_path: Path) -> None:
    Image.new("LA", (200, 100), (0, 0)).save(tmp_path / "a.png")
    image = preview_image(tmp_path / "a.png", max_size=(40, 40))
    assert image is not None and image.size == (40, 20) and image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)  # transparent -> white paper
    (tmp_path / "b.png").write_bytes(b"junk")
    assert preview_image(tmp_path / "b.png", max_size=(10, 10)) is None


def test_preview_refuses_a_decompression_bomb_and_a_fifo(tmp_path: Path) -> None:
    """Issue 22: a hostile file in a flagged row shows as unreadable, never a traceback,
    and a FIFO is not opened (it would block the UI)."""
    from tests.hostile.corpus import bomb_png

    (tmp_path / "bomb.png").write_bytes(bomb_png())
    assert preview_image(tmp_path / "bomb.png", max_size=(40, 40)) is None
    os.mkfifo(tmp_path / "fifo.png")
    assert preview_image(tmp_path / "fifo.png", max_size=(40, 40)) is None


def test_load_review_errors(tmp_path: Path, issues: Path) -> None:
    with pytest.raises(DatacurError, match="does not exist"):
        load_review(issues, variant_dir=tmp_path / "gone")
    empty = write_issues_csv([], tmp_path / "empty.csv")
    with pytest.raises(DatacurError, match="nothing to review"):
        load_review(empty)


def test_load_review_opens_one_queue(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    found = [
        ImageIssue("train/v/v_1.png", "train", "v", "blank", 0.7, "no ink"),
        ImageIssue("val/x/x_0.png", "val", "x", "leakage", 0.9, "twin", partner="train/x/x_1.png"),
    ]
    issues = write_issues_csv(rank_issues(found, variant=str(variant)), tmp_path / "issues.csv")
    bad, _ = load_review(issues)
    hygiene, _ = load_review(issues, kind="hygiene")
    assert [row.path for row in bad] == ["train/v/v_1.png"]
    assert [(row.path, row.partner) for row in hygiene] == [("val/x/x_0.png", "train/x/x_1.png")]
    with pytest.raises(DatacurError, match="unknown queue 'twins'"):
        load_review(issues, kind="twins")
