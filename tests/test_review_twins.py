"""review (issue 23): twins side by side with one key to drop either, an 80x24 layout, no
journal line for a key that changes nothing, an empty view without a stale preview, the
label book found from the variant, and a refusal without a terminal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.table import Table
from rich.text import Text
from textual.widgets import DataTable, Footer, Static
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.errors import DatacurError
from datacur.imagechecks import ImageIssue
from datacur.journal import read_journal
from datacur.noise import rank_issues, write_issues_csv
from datacur.review import ReviewApp, find_label_book, find_twin, load_review

LEAK = ImageIssue(
    "val/x/x_0.png", "val", "x", "leakage", 0.9, "byte-identical to train/x/x_1.png in train"
)
CONFLICT = ImageIssue(
    "train/ii/ii_0.png",
    "train",
    "ii",
    "conflicting_label",
    0.8,
    "near-identical (pHash distance 2) to train/v/v_1.png, labelled 'v'",
    "v",
)
BLANK = ImageIssue("train/v/v_0.png", "train", "v", "blank", 0.7, "no ink")


@pytest.fixture
def issues(tmp_path: Path, make_variant: Callable[..., Path]) -> Path:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    rows = rank_issues([LEAK, CONFLICT, BLANK], variant=str(variant))
    return write_issues_csv(rows, tmp_path / "issues.csv")


def _app(issues: Path, journal: Path, *, kind: str = "hygiene") -> ReviewApp:
    """The twin rows (leakage, two labels) are the hygiene queue; the blank one is ``bad``."""
    rows, variant = load_review(issues, kind=kind)
    return ReviewApp(rows, journal, variant_dir=variant, label_book=None)


def _lines(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(e["action"], e["path"]) for e in map(json.loads, path.read_text().splitlines())]


def test_find_twin_reads_the_partner_from_the_reason(issues: Path) -> None:
    rows = load_review(issues, kind="hygiene")[0] + load_review(issues, kind="bad")[0]
    twins = {row.path: find_twin(row) for row in rows}
    assert twins == {
        "val/x/x_0.png": "train/x/x_1.png",
        "train/ii/ii_0.png": "train/v/v_1.png",
        "train/v/v_0.png": None,
    }


def test_twin_is_shown_beside_the_image_and_w_drops_it(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def scenario() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.current().path == "val/x/x_0.png"
            preview = app.query_one("#preview", Static).content
            assert isinstance(preview, Table) and len(preview.columns) == 2
            cells = [
                str(c.plain) for col in preview.columns for c in col.cells if isinstance(c, Text)
            ]
            assert any("this (d)" in c for c in cells) and any("twin (w)" in c for c in cells)
            assert any("train/x/x_1.png" in c for c in cells)
            await pilot.press("w")  # drop the train twin, keep the val image
            assert _lines(journal) == [("drop", "train/x/x_1.png"), ("keep", "val/x/x_0.png")]
            assert app.current().path == "train/ii/ii_0.png"  # on to the next one
            await pilot.press("d")  # d drops this one of the pair
            await pilot.press("u", "u")  # undo the d, then the w (both of its lines)
            assert read_journal(journal) == {}
            await pilot.press("q")

    asyncio.run(scenario())


def test_w_without_a_twin_records_nothing(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def scenario() -> None:
        app = _app(issues, journal, kind="bad")
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.current().path == "train/v/v_0.png"
            await pilot.press("w")
            await pilot.press("q")

    asyncio.run(scenario())
    assert _lines(journal) == []


def test_a_key_that_changes_nothing_writes_no_line(issues: Path, tmp_path: Path) -> None:
    journal = tmp_path / "review.jsonl"

    async def scenario() -> None:
        app = _app(issues, journal)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("k", "k")  # both decided; cursor rests on the last
            await pilot.press("k", "k")  # past the last image: already kept, nothing new
            await pilot.press("q")

    asyncio.run(scenario())
    assert len(_lines(journal)) == 2


def test_layout_fits_80_by_24(issues: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(issues, tmp_path / "review.jsonl")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            table = app.query_one(DataTable)
            assert table.virtual_size.width <= table.size.width  # no column cut off
            assert table.region.right <= 80
            side = app.query_one("#side")
            assert side.region.bottom <= 23 and side.region.height >= 10
            footer = app.query_one(Footer)
            keys = list(footer.query("FooterKey"))
            assert {key.key for key in keys} >= {"k", "r", "d", "w", "u", "q"}
            assert all(key.region.right <= 80 for key in keys)

    asyncio.run(scenario())


def test_an_empty_view_previews_nothing(issues: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = _app(issues, tmp_path / "review.jsonl")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f")  # issue filter: conflicting_label (only the ii image)
            await pilot.press("c", "c")  # class filter: ii, then x -> nothing matches both
            assert app.shown == []
            preview = app.query_one("#preview", Static).content
            assert isinstance(preview, Text) and "No image matches" in preview.plain

    asyncio.run(scenario())


def test_label_book_is_found_from_the_variant(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no datasets/label-book here
    variant = make_variant(tmp_path / "built" / "v", n_train=1, n_val=1)
    assert find_label_book(variant) is None
    make_image_folder(tmp_path / "books" / "lb", n=1, seed=3)
    (variant / "recipe.yaml").write_text(
        "name: v\ninputs:\n  - name: labelbook\n    kind: variant\n    path: ../../books/lb\n"
    )
    assert find_label_book(variant) == variant / "../../books/lb"
    (variant / "recipe.yaml").unlink()
    make_image_folder(tmp_path / "built" / "label-book", n=1, seed=4)
    assert find_label_book(variant) == tmp_path / "built" / "label-book"


def test_review_without_a_terminal_refuses_in_one_line(issues: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["review", str(issues), "--journal", str(tmp_path / "j.jsonl")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: datacur review needs")
    assert "Traceback" not in result.output and "\x1b[" not in result.stdout
    assert not (tmp_path / "j.jsonl").exists()  # refused before the journal was opened
    rows, variant = load_review(issues)
    app = ReviewApp(rows, tmp_path / "j.jsonl", variant_dir=variant)
    with pytest.raises(DatacurError, match="interactive terminal"):
        app.run()
    assert app.journal._handle is None  # closed, not leaked
