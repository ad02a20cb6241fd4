"""``datacur review`` through CliRunner; the app runs headless with an auto-pilot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.imagechecks import ImageIssue
from datacur.journal import read_journal
from datacur.noise import rank_issues, write_issues_csv
from datacur.review import ReviewApp

runner = CliRunner()


def test_review_records_decisions(
    tmp_path: Path, make_variant: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    issues = write_issues_csv(
        rank_issues(
            [ImageIssue("train/i/i_0.png", "train", "i", "label", 0.9, "like ii", "ii")],
            variant=str(variant),
        ),
        tmp_path / "issues.csv",
    )

    async def keys(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("r", "q")

    def headless_run(self: ReviewApp, **_: object) -> object:
        return App.run(self, headless=True, size=(120, 40), auto_pilot=keys)

    monkeypatch.setattr(ReviewApp, "run", headless_run)  # the CLI imports it lazily
    monkeypatch.setattr("datacur.review.require_terminal", lambda: None)  # CliRunner: no tty
    journal = tmp_path / "review.jsonl"
    result = runner.invoke(
        build_app(), ["review", str(issues), "--journal", str(journal), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reviewed"] == 1
    assert read_journal(journal)["train/i/i_0.png"].to == "ii"


def test_review_of_a_missing_issues_file(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["review", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "datacur noise" in result.stderr


def test_cli_default_label_book_matches_the_library() -> None:
    from datacur import review
    from datacur.cli import review_cmd

    assert review_cmd.DEFAULT_LABEL_BOOK == review.DEFAULT_LABEL_BOOK


def test_review_kind_picks_a_queue_and_an_empty_queue_is_an_error(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    issues = write_issues_csv(
        rank_issues(
            [ImageIssue("train/i/i_0.png", "train", "i", "label", 0.9, "like ii", "ii")],
            variant=str(variant),
        ),
        tmp_path / "issues.csv",
    )
    result = runner.invoke(build_app(), ["review", str(issues), "--kind", "hygiene"])
    assert result.exit_code == 1
    assert "no rows in the 'hygiene' queue" in result.stderr
    result = runner.invoke(build_app(), ["review", str(issues), "--kind", "twins"])
    assert result.exit_code == 1 and "unknown queue 'twins'" in result.stderr
