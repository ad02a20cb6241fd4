"""``datacur mix`` through the CLI: build, dry-run, and errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from typer.testing import CliRunner

from datacur.cli import build_app


def _recipe(root: Path, **body: object) -> Path:
    data = {
        "version": 1,
        "name": "small",
        "inputs": [{"name": "real", "kind": "variant", "path": "v"}],
        **body,
    }
    path = root / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_mix_builds_a_variant(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    make_variant(tmp_path / "v", n_train=2, n_val=1)
    recipe = _recipe(tmp_path)
    result = CliRunner().invoke(
        build_app(), ["mix", str(recipe), "--out", str(tmp_path / "out"), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "cap count 40 of 10,000" in result.stdout
    assert (tmp_path / "out" / "manifest.csv").is_file()
    assert yaml.safe_load((tmp_path / "out" / "recipe.yaml").read_text())["seed"] == 3


def test_mix_dry_run_prints_plan_and_writes_nothing(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    make_variant(tmp_path / "v", n_train=2, n_val=1)
    recipe = _recipe(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        build_app(), ["mix", str(recipe), "--out", str(out), "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["counted"] == 40 and payload["train_images"] == 20
    assert payload["rows"][0]["per_class"]["i"] == 2
    assert not out.exists()
    table = CliRunner().invoke(build_app(), ["mix", str(recipe), "--dry-run"])
    assert "Plan of small" in table.stdout and "viii" in table.stdout


def test_mix_over_the_cap_is_an_error(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    make_variant(tmp_path / "v", n_train=2, n_val=1)
    recipe = _recipe(tmp_path, cap=16)
    out = tmp_path / "out"
    result = CliRunner().invoke(build_app(), ["mix", str(recipe), "--out", str(out)])
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "over by 24" in result.stderr
    assert str(recipe) in result.stderr.replace("\n", "")
    assert not out.exists()


def test_mix_unknown_key_is_an_error(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, shuffle=True)
    result = CliRunner().invoke(build_app(), ["mix", str(recipe), "--dry-run"])
    assert result.exit_code == 1
    assert "shuffle" in result.stderr and "Extra inputs are not permitted" in result.stderr
