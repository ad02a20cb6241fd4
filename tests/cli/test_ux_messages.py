"""Messages a new user reads (issue 23): no Python `None` in them, and an empty answer that
says where the answers are."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.compare import compare_variants
from datacur.errors import StoreError
from datacur.store import save_run
from tests.test_store import fake_run

runner = CliRunner()
app = build_app()


def test_compare_with_no_matching_runs_names_only_the_filters_given(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run("raw", 0, 0.5), db)
    with pytest.raises(StoreError) as caught:
        compare_variants(["raw", "best"], db_path=db, test_name="dev-test", epochs=100)
    message = str(caught.value)
    assert "None" not in message
    assert "(test=dev-test, epochs=100)" in message and "datacur sweep" in message


def test_compare_cli_on_an_empty_database_says_what_to_run_first(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["compare", "raw", "best", "--test", "dev-test", "--db", str(tmp_path / "r.db")]
    )
    assert result.exit_code == 1
    assert "None" not in result.stderr and "datacur evaluate" in result.stderr


def test_leaderboard_filter_with_no_runs_names_the_test_sets_that_have_runs(
    tmp_path: Path,
) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run("raw", 0, 0.5), db)  # scored on dev-test
    result = runner.invoke(app, ["leaderboard", "--test", "label-book", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "No runs yet" not in result.stdout
    assert "--test label-book" in result.stdout and "dev-test" in result.stdout


def test_leaderboard_on_an_empty_database_says_no_runs_yet(tmp_path: Path) -> None:
    result = runner.invoke(app, ["leaderboard", "--test", "x", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 0 and "No runs yet" in result.stdout
