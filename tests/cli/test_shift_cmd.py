"""`datacur shift-suite`: one success, errors on stderr with exit 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.variant import list_folder_images

runner = CliRunner()
app = build_app()


@pytest.fixture
def dev_test(tmp_path: Path, make_image_folder: Callable[..., Path]) -> Path:
    return make_image_folder(tmp_path / "dev-test", n=1, size=48)


def test_builds_the_chosen_folders(tmp_path: Path, dev_test: Path) -> None:
    out = tmp_path / "datasets"
    args = ["shift-suite", "--out", str(out), "--dev-test", str(dev_test)]
    only = ["--only", "shift-thick", "--only", "shift-low-contrast"]
    result = runner.invoke(app, [*args, *only, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == {"shift-thick": 10, "shift-low-contrast": 10}
    assert len(list_folder_images(out / "shift-thick")) == 10
    table = runner.invoke(app, [*args, "--only", "shift-small"])
    assert table.exit_code == 0 and "shift-small" in table.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--only", "shift-thick"], "already exists. Pass --force"),
        (["--only", "shift-huge"], "unknown shift-suite folder(s) shift-huge"),
        (["--only", "shift-chars74k-writers"], "Pass --chars74k"),
    ],
    ids=["exists-without-force", "unknown-folder", "writers-without-chars74k"],
)
def test_errors_exit_1_with_one_line(
    tmp_path: Path, dev_test: Path, extra: list[str], message: str
) -> None:
    (tmp_path / "shift-thick").mkdir()
    args = ["shift-suite", "--out", str(tmp_path), "--dev-test", str(dev_test), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output
    assert not list((tmp_path / "shift-thick").iterdir())
