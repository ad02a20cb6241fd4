"""`datacur show`: one success, errors on stderr with exit 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from datacur.cli import build_app

runner = CliRunner()
app = build_app()


def test_show_writes_a_sheet_next_to_the_variant(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v")
    result = runner.invoke(app, ["show", str(variant), "--per-class", "3", "--split", "train"])
    assert result.exit_code == 0, result.output
    sheet = tmp_path / "v-sheet.png"
    assert sheet.is_file() and str(sheet) in result.stdout.replace("\n", "")
    assert sorted(p.name for p in variant.iterdir()) == ["train", "val"], "variant untouched"


def test_show_to_a_chosen_file(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v")
    target = tmp_path / "sheets" / "v.png"
    result = runner.invoke(app, ["show", str(variant), "--out", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert target.is_file() and '"sheet"' in result.stdout


def test_show_errors(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["show", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "folder not found" in result.stderr
    variant = make_variant(tmp_path / "v")
    result = runner.invoke(app, ["show", str(variant), "--split", "test"])
    assert result.exit_code == 1 and "--split must be one of" in result.stderr
