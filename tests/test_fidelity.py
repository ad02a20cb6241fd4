"""fidelity: short-schedule scores against full ones, on a fabricated results database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.errors import StoreError
from datacur.fidelity import measure_fidelity
from datacur.store import save_run
from tests._report_fakes import fake_run

# {epochs: {variant: [score of seed 0, seed 1, ...]}} on dev-test.
# Full ranking (100): a > c > b > d. At 10 epochs b > c > a > d (rho 0.2); at 20 c > b > a > d
# (rho 0.4, c within a's seed sd at 100); at 40 the full order (rho 1) but seed 1 prefers c.
DEV_TEST = {
    100: {"a": [0.88, 0.90, 0.92], "b": [0.85, 0.85, 0.85], "c": [0.885, 0.885, 0.885],
          "d": [0.60, 0.60, 0.60]},
    10: {"a": [0.60], "b": [0.70], "c": [0.65], "d": [0.50]},
    20: {"a": [0.62], "b": [0.75], "c": [0.80], "d": [0.55]},
    40: {"a": [0.86, 0.83], "b": [0.80, 0.80], "c": [0.84, 0.845], "d": [0.50, 0.50]},
}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    for epochs, variants in DEV_TEST.items():
        for variant, scores in variants.items():
            for seed, score in enumerate(scores):
                save_run(fake_run(variant, seed, score, epochs=epochs), path)
    # another test set with two variants only; another model that must not count
    for variant, score in (("a", 0.7), ("b", 0.8)):
        for epochs in (20, 100):
            save_run(fake_run(variant, 0, score, epochs=epochs, test_name="shift",
                              test_hash="s-hash"), path)  # fmt: skip
    save_run(fake_run("a", 0, 0.1, epochs=10, model="small-cnn"), path)
    return path


def test_fidelity_per_schedule_and_test_set(db: Path) -> None:
    rows = measure_fidelity(db)
    dev = {row.short_epochs: row for row in rows if row.test_name == "dev-test"}
    assert set(dev) == {10, 20, 40}
    assert dev[10].spearman == pytest.approx(0.2) and dev[20].spearman == pytest.approx(0.4)
    assert dev[40].spearman == pytest.approx(1.0)
    assert all(row.full_winner == "a" for row in dev.values())
    assert (dev[10].short_winner, dev[10].same_winner, dev[10].winner_within_spread) == (
        "b", False, False,
    )  # fmt: skip
    assert (dev[20].short_winner, dev[20].same_winner, dev[20].winner_within_spread) == (
        "c", False, True,
    )  # fmt: skip
    assert dev[40].same_winner and dev[40].seeds == (0, 1)
    assert dev[40].agreeing_seeds == (0,) and dev[40].seed_agreement == 0.5
    assert dev[10].short_means == (0.60, 0.70, 0.65, 0.50)  # variants in name order
    assert dev[10].full_means[0] == pytest.approx(0.90)  # the small-cnn run is not counted
    shift = [row for row in rows if row.test_name == "shift"]
    assert len(shift) == 1 and shift[0].short_epochs == 20
    assert shift[0].spearman is None and shift[0].same_winner  # two variants: no rank test


def test_fidelity_filters_and_errors(db: Path, tmp_path: Path) -> None:
    only = measure_fidelity(db, test_name="shift", short_epochs=(20,))
    assert [(row.test_name, row.short_epochs) for row in only] == [("shift", 20)]
    with pytest.raises(StoreError, match=r"no two variants of model fixed have runs on test "):
        measure_fidelity(db, test_name="shift", short_epochs=(10,))
    with pytest.raises(StoreError, match="at both 100 epochs"):
        measure_fidelity(tmp_path / "empty.db")


def test_fidelity_command_table_json_and_error(db: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(
        build_app(), ["fidelity", "--test", "dev-test", "--db", str(db)], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0, table.output
    assert "best-val checkpoint" in table.stdout
    line_10 = next(line for line in table.stdout.splitlines() if "+0.20 (0.80)" in line)
    cells = [cell.strip() for cell in line_10.split("│")[1:-1]]
    assert cells == ["dev-test", "10", "4", "+0.20 (0.80)", "b", "a", "no", "0/1 seeds"]
    assert "within 1 sd" in table.stdout and "1/2 seeds" in table.stdout

    as_json = runner.invoke(build_app(), ["fidelity", "--db", str(db), "--json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert "best-val checkpoint" in payload["note"]
    assert [(r["test"], r["short_epochs"]) for r in payload["rows"]] == [
        ("dev-test", 10), ("dev-test", 20), ("dev-test", 40), ("shift", 20),
    ]  # fmt: skip

    error = runner.invoke(build_app(), ["fidelity", "--db", str(db), "--full", "7"])
    assert error.exit_code == 1
    assert "Error:" in error.stderr and "at both 7 epochs" in error.stderr
