"""Messages a new user reads (issue 23): no Python `None` in them, and an empty answer that
says where the answers are."""

import json
from pathlib import Path

import pytest
import typer
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


COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_show_no_value_type_in_help(command: str) -> None:
    """`--force <bool>` read as if the flag took a value; only real values show a type."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert "--help" in result.stdout


def test_options_with_values_keep_their_type() -> None:
    result = runner.invoke(app, ["mix", "--help"], env={"COLUMNS": "200"})
    assert "<int>" in result.stdout and "<path>" in result.stdout


def test_apply_calls_images_without_a_decision_unchanged_not_undecided(
    tmp_path: Path, make_variant
) -> None:
    from datacur.journal import Journal

    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    with Journal(tmp_path / "review.jsonl") as journal:
        journal.record("drop", "train/i/i_0.png", label="i")
    args = ["apply", str(variant), str(tmp_path / "review.jsonl"), "--out", str(tmp_path / "o")]
    payload = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert "undecided" not in payload
    assert payload["unchanged"] == payload["images"] and payload["dropped"] == 1
    table = runner.invoke(app, [*args[:-1], str(tmp_path / "o2")], env={"COLUMNS": "200"})
    assert "undecided" not in table.stdout and "no decision" in table.stdout


def _letters(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    for letter in ("I", "V", "X"):
        (folder / letter).mkdir(parents=True)
        for k in range(2):
            image = Image.new("L", (28, 28), 255)
            ImageDraw.Draw(image).line((8 + k, 4, 14, 24), fill=0, width=3)
            image.save(folder / letter / f"{letter}{k}.png")
    Image.new("L", (4, 4), 0).save(folder / "I" / "tiny.png")  # skipped, with a warning
    return folder


@pytest.mark.filterwarnings("always::UserWarning")
def test_warnings_are_one_rich_line_not_python_s_format(tmp_path: Path) -> None:
    letters = _letters(tmp_path / "letters")
    args = ["synth", "--source", "folder", "--path", str(letters), "--out", str(tmp_path / "s")]
    result = runner.invoke(app, [*args, "--per-class", "1", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.stderr and "tiny.png" in result.stderr
    assert "UserWarning" not in result.stderr and "warnings.warn" not in result.stderr


def test_counts_of_one_are_singular() -> None:
    from datacur.wording import count_noun

    assert count_noun(1, "epoch") == "1 epoch"
    assert count_noun(100, "epoch") == "100 epochs"
    assert count_noun(0, "run") == "0 runs"
