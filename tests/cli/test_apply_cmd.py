"""``datacur apply`` through CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.journal import Journal

runner = CliRunner()


def test_apply_writes_a_new_variant(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    with Journal(tmp_path / "review.jsonl") as journal:
        journal.record("drop", "train/i/i_0.png", label="i")
        journal.record("relabel", "train/v/v_1.png", label="v", to="x")
    out = tmp_path / "out"
    args = ["apply", str(variant), str(tmp_path / "review.jsonl"), "--out", str(out)]
    result = runner.invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["dropped"], payload["relabelled"], payload["images"]) == (1, 1, 29)
    assert (out / "train/x/v_1.png").exists()
    again = runner.invoke(build_app(), [*args, "--force"])
    assert again.exit_code == 0 and "relabelled" in again.stdout


def test_apply_rejects_a_journal_for_another_variant(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    with Journal(tmp_path / "review.jsonl") as journal:
        journal.record("drop", "train/i/not_here.png", label="i")
    result = runner.invoke(
        build_app(),
        ["apply", str(variant), str(tmp_path / "review.jsonl"), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "not_here.png" in result.stderr
    assert not (tmp_path / "o").exists()
