"""``datacur compare`` through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from datacur.cli import build_app
from tests._report_fakes import store_runs

runner = CliRunner()


def test_compare_table_and_verdicts(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.70, 1: 0.72, 2: 0.68})
    store_runs(db, "clean", {0: 0.78, 1: 0.80, 2: 0.77})
    store_runs(db, "same", {0: 0.71, 1: 0.71, 2: 0.69})
    result = runner.invoke(build_app(), ["compare", "raw", "clean", "same", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "clean is better than raw by +0.0833" in result.stdout
    assert "Cannot tell same from raw" in result.stdout
    assert "Per-class accuracy change vs raw" in result.stdout


def test_compare_json(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.70})
    store_runs(db, "clean", {0: 0.78})
    result = runner.invoke(build_app(), ["compare", "raw", "clean", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [v["variant"] for v in payload["variants"]] == ["raw", "clean"]
    assert payload["variants"][0]["sd"] is None  # NaN written as null
    assert payload["differences"][0]["method"] == "none"


def test_compare_unknown_variant_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.70})
    result = runner.invoke(build_app(), ["compare", "raw", "nope", "--db", str(db)])
    assert result.exit_code == 1
    assert "Error: nope: not a variant folder" in result.stderr
    assert result.stdout == ""


def test_compare_across_models_table(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for model in ("fixed", "small-cnn"):
        store_runs(db, "raw", {0: 0.60, 1: 0.62}, model=model)
        store_runs(db, "best", {0: 0.70, 1: 0.73}, model=model)
    args = ["compare", "raw", "best", "--across-models", "--db", str(db)]
    result = runner.invoke(build_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "small-cnn" in result.stdout and "fixed" in result.stdout
    assert "best is better than raw under every model" in result.stdout
    as_json = runner.invoke(build_app(), [*args, "--json"])
    assert [row["model"] for row in json.loads(as_json.stdout)["rows"]] == ["fixed", "small-cnn"]
    refused = runner.invoke(build_app(), [*args, "--model", "fixed"])
    assert refused.exit_code == 2 and "drop --model" in refused.output


def test_square_brackets_in_variant_names_are_shown_literally(tmp_path: Path) -> None:
    """rich would read ``[bold]`` as markup and drop it from the table."""
    db = tmp_path / "r.db"
    store_runs(db, "raw[bold]", {0: 0.60, 1: 0.62})
    store_runs(db, "best[x]", {0: 0.70, 1: 0.73})
    result = runner.invoke(
        build_app(), ["compare", "raw[bold]", "best[x]", "--db", str(db)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "raw[bold]" in result.stdout and "best[x]" in result.stdout
    board = runner.invoke(build_app(), ["leaderboard", "--db", str(db)], env={"COLUMNS": "200"})
    assert "raw[bold]" in board.stdout
