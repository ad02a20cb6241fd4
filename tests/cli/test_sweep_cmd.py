"""``datacur sweep`` through CliRunner (training replaced by a fake, in-process)."""

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


def test_sweep_runs_resumes_and_reports(
    tmp_path: Path,
    make_variant: Callable[..., Path],
    make_image_folder: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_fake_evaluator(monkeypatch)
    a = make_variant(tmp_path / "small", n_train=2, n_val=1)
    b = make_variant(tmp_path / "large", n_train=3, n_val=2, seed=4)
    test = make_image_folder(tmp_path / "dev-test", n=1)
    db, report = tmp_path / "r.db", tmp_path / "report"
    args = ["sweep", str(a), str(b), "--seeds", "2", "--epochs", "1", "--jobs", "1"]
    args += ["--test", str(test), "--db", str(db), "--report", str(report)]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "4 run(s) trained, 0 already stored" in result.stdout
    # No terminal here, so the live table draws nothing: each finished pair logs a line.
    finished = [line for line in result.stderr.splitlines() if "pairs done" in line]
    assert len(finished) == 4 and finished[-1].split("(")[1].startswith("4/4 pairs done")
    assert (report / "index.html").is_file()
    assert len(load_runs(db)) == 4

    result = runner.invoke(build_app(), [*args, "--force", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["finished"] == 0 and payload["skipped"] == 4
    assert [row["variant"] for row in payload["leaderboard"]] == ["large", "small"]
    assert len(load_runs(db)) == 4


def test_sweep_refuses_existing_report_before_training(
    tmp_path: Path, make_variant: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = install_fake_evaluator(monkeypatch)
    a = make_variant(tmp_path / "a", n_train=1, n_val=1)
    b = make_variant(tmp_path / "b", n_train=2, n_val=1)
    (tmp_path / "report").mkdir()
    args = ["sweep", str(a), str(b), "--epochs", "1", "--jobs", "1"]
    args += ["--db", str(tmp_path / "r.db"), "--report", str(tmp_path / "report")]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "--force" in result.stderr
    assert calls == []


def test_sweep_bad_path_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(build_app(), ["sweep", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: file not found" in result.stderr


def test_sweep_failed_pair_exits_1_after_storing_the_rest(
    tmp_path: Path, make_variant: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_evaluator(monkeypatch)
    broken = make_variant(tmp_path / "broken", n_train=1, n_val=1)
    fine = make_variant(tmp_path / "fine", n_train=1, n_val=1, seed=2)
    db = tmp_path / "r.db"
    args = ["sweep", str(broken), str(fine), "--seeds", "1", "--epochs", "1", "--jobs", "1"]
    result = runner.invoke(build_app(), [*args, "--db", str(db), "--no-report"])
    assert result.exit_code == 1
    assert "1 of 2 pair(s) failed" in result.stderr and "fake failure" in result.stderr
    assert [run.variant for run in load_runs(db)] == ["fine"]


def test_sweep_ray_without_ray_names_the_extra(
    tmp_path: Path, make_variant: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    a = make_variant(tmp_path / "a", n_train=1, n_val=1)
    args = ["sweep", str(a), "--epochs", "1", "--db", str(tmp_path / "r.db"), "--ray"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 1
    assert "pip install 'datacur[ray]'" in result.stderr


@pytest.mark.parametrize(
    ("kind", "epoch", "expected"),
    [
        ("epoch", 9, None),
        ("epoch", 10, "raw seed 1: epoch 10/100"),
        ("failed", None, "raw seed 1: failed: out of memory"),
        ("started", None, None),
    ],
    ids=["epoch-between-milestones", "epoch-milestone", "failed", "started"],
)
def test_plain_progress_line_logs_milestones_only(
    kind: str, epoch: int | None, expected: str | None
) -> None:
    from datacur.cli.sweep_cmd import _Board, plain_progress_line
    from datacur.sweep import SweepEvent

    board = _Board([object()], [0, 1], axis=None)
    message = "out of memory" if kind == "failed" else None
    event = SweepEvent(kind, 0, "raw", seed=1, epoch=epoch, epochs=100, message=message)
    assert plain_progress_line(event, board) == expected
