"""``datacur sweep --screen`` through CliRunner (training replaced by a fake, in-process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.store import load_runs
from tests._report_fakes import install_fake_evaluator

runner = CliRunner()


@pytest.fixture
def three_variants(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder: Callable[..., Path]
) -> list[str]:
    """small < mid < large in images, so the fake evaluator ranks them large, mid, small."""
    paths = [
        make_variant(tmp_path / "small", n_train=1, n_val=1),
        make_variant(tmp_path / "mid", n_train=2, n_val=1, seed=2),
        make_variant(tmp_path / "large", n_train=3, n_val=1, seed=4),
    ]
    test = make_image_folder(tmp_path / "dev-test", n=1)
    args = [str(path) for path in paths]
    return [*args, "--test", str(test), "--db", str(tmp_path / "r.db"), "--jobs", "1"]


def test_screen_prints_who_stopped_where_and_resumes(
    tmp_path: Path, three_variants: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = install_fake_evaluator(monkeypatch)
    args = ["sweep", *three_variants, "--screen", "--rungs", "1,2", "--epochs", "3"]
    args += ["--seeds", "2", "--eta", "2"]
    result = runner.invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # 3 at 1 epoch -> ceil(3/2) = 2 at 2 epochs -> 1 at 3 epochs with both seeds
    assert [(c["variant_name"], c["epochs"], c["seed"]) for c in calls] == [
        ("small", 1, 0), ("mid", 1, 0), ("large", 1, 0),
        ("mid", 2, 0), ("large", 2, 0), ("large", 3, 0), ("large", 3, 1),
    ]  # fmt: skip
    fates = {v["variant"]: (v["dropped_after_epochs"], v["reason"]) for v in payload["variants"]}
    assert fates["small"][0] == 1 and fates["small"][1].startswith("rank 3 of 3")
    assert fates["mid"][0] == 2 and fates["large"] == (None, "finalist")
    assert payload["winner"] == "large" and "best-val checkpoint" in payload["note"]
    assert [r["epochs"] for r in payload["rungs"]] == [1, 2, 3]
    assert payload["rungs"][-1]["seeds"] == [0, 1]
    assert "rung 2/3: 2 variant(s) x 1 seed(s) at 2 epochs: mid, large" in result.stderr
    assert len(load_runs(tmp_path / "r.db")) == 7

    # again, as a table: nothing is trained, the table says who stopped where and why
    calls.clear()
    table = runner.invoke(build_app(), args, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert calls == []
    assert "0 run(s) trained, 7 already stored" in table.stdout
    lines = table.stdout.splitlines()
    small = next(line for line in lines if "small" in line)
    assert "after 1 ep" in small and "rank 3 of 3" in small
    assert "large (winner)" in table.stdout and "best-val checkpoint" in table.stdout


def test_screen_bad_rungs_is_one_line_error(
    three_variants: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = install_fake_evaluator(monkeypatch)
    args = ["sweep", *three_variants, "--screen", "--rungs", "5,2", "--epochs", "3"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 1 and calls == []
    assert "Error: --rungs 5,2 with --epochs 3: the short schedules must be" in result.stderr
    assert "Traceback" not in result.output
