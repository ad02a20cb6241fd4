import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from datacur.errors import StoreError
from datacur.evaluate import RunResult
from datacur.labels import CLASSES
from datacur.store import RESULTS_DB_ENV, default_results_db, leaderboard, load_runs, save_run


def fake_run(
    variant: str = "raw", seed: int = 0, test_accuracy: float | None = 0.5, **changes
) -> RunResult:
    """A RunResult as evaluate_variant returns it, without training."""
    run = RunResult(
        variant=variant,
        variant_hash=f"hash-{variant}",
        test_name="dev-test",
        test_hash="t-hash",
        seed=seed,
        epochs=3,
        path="fast",
        model="fixed",
        best_epoch=2,
        val_accuracy=0.6,
        val_loss=1.0,
        test_accuracy=test_accuracy,
        test_loss=1.1,
        per_class_accuracy={label: 0.5 for label in CLASSES},
        confusion=[[1 if i == j else 0 for j in range(10)] for i in range(10)],
        scored_on="test",
        curves={
            "loss": [2.0, 1.0, 0.5],
            "accuracy": [0.1, 0.4, 0.6],
            "val_loss": [2, 1, 1],
            "val_accuracy": [0.2, 0.6, 0.5],
        },
        timings={"train_s": 3.0, "total_s": 4.0, "per_epoch_s": 1.0},
        versions={"tensorflow": "2.21.0"},
        counts={"train": 40, "val": 20, "test": 20},
        predictions=[("a.png", "i", "ii")],
    )
    return replace(run, **changes)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run = fake_run()
    run_id = save_run(run, db, extra={"note": "x"})
    (stored,) = load_runs(db)
    assert stored.id == run_id
    assert stored.per_class == run.per_class_accuracy
    assert stored.confusion == run.confusion
    assert stored.curves == run.curves
    assert stored.predictions == [["a.png", "i", "ii"]]
    assert stored.extra == {"note": "x"}
    assert stored.score == 0.5
    assert load_runs(db, variant="other") == []


def test_leaderboard_ranks_by_mean_with_spread_per_content_hash(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for seed, acc in enumerate((0.5, 0.7)):
        save_run(fake_run("raw", seed, acc), db)
    for seed, acc in enumerate((0.8, 0.8, 0.9)):
        save_run(fake_run("clean", seed, acc), db)
    save_run(fake_run("no-test", 0, None, test_name=None, test_hash=None), db)
    rows = leaderboard(db, test_name="dev-test")
    assert [row.variant for row in rows] == ["clean", "raw"]
    clean, raw = rows
    assert clean.runs == 3 and clean.seeds == (0, 1, 2)
    assert clean.mean == pytest.approx(0.8333, abs=1e-4)
    assert raw.std == pytest.approx(0.1414, abs=1e-4)
    everything = leaderboard(db)
    assert {row.scored_on for row in everything} == {"dev-test", "val"}


def test_same_name_with_new_content_is_a_new_entry(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run("raw"), db)
    save_run(fake_run("raw", variant_hash="hash-changed"), db)
    assert len(leaderboard(db)) == 2


def _write_many(db: str, worker: int) -> None:
    for seed in range(15):
        save_run(fake_run(f"w{worker}", seed), Path(db))


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(str(db), w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert len(load_runs(db)) == 60


def test_failed_insert_leaves_no_partial_row(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run(seed=0), db)
    broken = fake_run(seed=1, best_epoch=None)  # NOT NULL column: the insert fails
    with pytest.raises(sqlite3.IntegrityError):
        save_run(broken, db)
    assert [run.seed for run in load_runs(db)] == [0]


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a datacur results database"):
        load_runs(db)


def test_default_db_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(RESULTS_DB_ENV, raising=False)
    assert default_results_db() == Path("datasets/results.db")
    monkeypatch.setenv(RESULTS_DB_ENV, str(tmp_path / "x.db"))
    assert default_results_db() == tmp_path / "x.db"


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "results.db"
    assert load_runs(missing) == []
    assert leaderboard(missing) == []
    assert not missing.exists() and not missing.parent.exists()
