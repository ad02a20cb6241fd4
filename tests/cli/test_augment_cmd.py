"""``datacur augment`` through the CLI: one success, one error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from datacur.cli import build_app

REPO = Path(__file__).resolve().parents[2]


def test_augment_success(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "in", n_train=1, n_val=1)
    result = CliRunner().invoke(
        build_app(),
        [
            "augment",
            str(variant),
            "--pipeline",
            str(REPO / "recipes" / "augment" / "geometry.yaml"),
            "--out",
            str(tmp_path / "out"),
            "--per-class-target",
            "3",
            "--split",
            "train",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["parents"] == 20 and payload["children"] == 20  # train only: 1 -> 3
    assert (tmp_path / "out" / "manifest.csv").is_file()


def test_augment_bad_pipeline_is_an_error(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "in", n_train=1, n_val=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nsteps:\n  - transform: Nope\n")
    result = CliRunner().invoke(
        build_app(),
        ["augment", str(variant), "--pipeline", str(bad), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "unknown transform 'Nope'" in result.stderr
    assert not (tmp_path / "out").exists()
