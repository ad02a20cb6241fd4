"""``datacur report`` through CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.variant import compute_content_hash, list_variant_images
from tests._report_fakes import store_runs

runner = CliRunner()


def test_report_writes_page(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v")
    db = tmp_path / "r.db"
    variant_hash = compute_content_hash(list_variant_images(variant))
    store_runs(db, "v", {0: 0.7, 1: 0.72}, variant_hash=variant_hash)
    out = tmp_path / "rep"
    args = ["report", str(variant), "--out", str(out), "--db", str(db), "--json"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["runs"] == 2 and Path(payload["html"]) == out / "index.html"
    assert (out / "curves.png").is_file()
    assert "not found on disk" in result.stderr  # the fake predictions name a.png


def test_report_existing_out_needs_force(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v")
    out = tmp_path / "rep"
    out.mkdir()
    args = ["report", str(variant), "--out", str(out), "--db", str(tmp_path / "r.db")]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "--force" in result.stderr
