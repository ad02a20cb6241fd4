"""`datacur synth`: one success, errors on stderr with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.cli.synth_cmd import parse_options
from datacur.errors import SourceError
from datacur.variant import read_manifest

runner = CliRunner()
app = build_app()


def test_synth_writes_a_variant_and_a_preview(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    args = ["synth", "--out", str(out), "--per-class", "2", "--option", "writers=4"]
    result = runner.invoke(app, [*args, "--seed", "1", "--preview", "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == {"train": 20, "val": 0}  # round(2 * 0.2) = 0 to val
    assert summary["glyphs"] == 4 * 3 * 6
    assert len(read_manifest(out)) == 20
    assert (out / "preview.png").is_file()


def test_table_output(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    args = ["synth", "--out", str(out), "--per-class", "1", "--val-fraction", "0"]
    result = runner.invoke(app, [*args, "--option", "writers=2", "--case", "upper"])
    assert result.exit_code == 0, result.output
    assert "train" in result.stdout and "36 glyphs from strokes" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--source", "nope"], "unknown glyph source 'nope'"),
        (["--source", "emnist"], "needs --path"),
        (["--source", "chars74k", "--download"], "--download and --cache-dir apply to"),
        (["--option", "writers"], "--option expects KEY=VALUE"),
        (["--case", "title"], "case must be one of"),
    ],
    ids=["unknown-source", "emnist-without-path", "download-not-emnist", "bad-option", "case"],
)
def test_errors_go_to_stderr(tmp_path: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), *extra])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and message in result.stderr
    assert not (tmp_path / "s").exists()


def test_existing_output_without_force(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), "--per-class", "1"])
    assert result.exit_code == 1 and "--force" in result.stderr


def test_parse_options_types() -> None:
    assert parse_options(["a=1", "b=0.5", "c=true", "d=byclass", "min-side=3"]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "byclass",
        "min_side": 3,
    }
    with pytest.raises(SourceError):
        parse_options(["=x"])
