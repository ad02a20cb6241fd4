import multiprocessing
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from datacur.errors import StoreError
from datacur.evaluate import RunResult
from datacur.labels import CLASSES
from datacur.store import (
    APPLICATION_ID,
    RESULTS_DB_ENV,
    SCHEMA_VERSION,
    default_results_db,
    leaderboard,
    load_runs,
    prepare_store,
    save_run,
)


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


# --------------------------------------------------------------------------- schema 2


GOLDEN_V1 = Path(__file__).parent / "files" / "results-v1.db"
"""Written by the schema-1 store (datacur before run_tests): 3 runs, one without a test set."""


def fake_score(test_name: str, accuracy: float, **changes):
    from datacur.evaluate import TestScore

    score = TestScore(
        test_name=test_name,
        test_hash=f"t-{test_name}",
        test_accuracy=accuracy,
        test_loss=1.0,
        scored_on="test",
        per_class_accuracy={label: accuracy for label in CLASSES},
        confusion=[[0] * 10 for _ in range(10)],
        predictions=[("a.png", "i", "i")],
        n_images=4,
        twins_exact=0,
        twins_near=0,
    )
    return replace(score, **changes)


def test_a_schema_1_database_is_migrated_with_its_runs_and_ids(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    db.write_bytes(GOLDEN_V1.read_bytes())
    runs = load_runs(db)
    assert [(run.id, run.variant, run.seed, run.test_name) for run in runs] == [
        (1, "raw", 0, "dev-test"),
        (2, "raw", 1, "dev-test"),
        (3, "no-test", 0, None),
    ]
    assert runs[0].extra == {"note": "v1"} and runs[0].counts["test"] == 20
    assert runs[1].test_accuracy == 0.7 and runs[0].predictions == [["a.png", "i", "ii"]]
    assert runs[0].twins_exact is None and not runs[0].twins_checked  # never measured
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert "runs_v1" not in tables and {"runs", "run_tests"} <= tables
    assert save_run(fake_run("clean"), db) == 4  # ids continue after the migrated ones
    assert [row.variant for row in leaderboard(db, test_name="dev-test")] == ["raw", "clean"]


def test_one_training_stores_one_row_per_test_set(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run = fake_run(
        scores=[fake_score("dev-test", 0.9), fake_score("shift-blur", 0.6, twins_exact=2)]
    )
    run_id = save_run(run, db)
    rows = load_runs(db)
    assert [(row.id, row.test_name, row.test_accuracy) for row in rows] == [
        (run_id, "dev-test", 0.9),
        (run_id, "shift-blur", 0.6),
    ]
    assert rows[1].leaky and not rows[0].leaky and rows[0].twins_checked
    board = leaderboard(db)
    assert {(row.test_name, row.runs) for row in board} == {("dev-test", 1), ("shift-blur", 1)}
    assert next(row for row in board if row.test_name == "shift-blur").twins_exact == 2
    assert load_runs(db, test_name="shift-blur")[0].score == 0.6


def _file_state(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda c: c.execute("CREATE TABLE users (id INTEGER, name TEXT)"),
            "other tables: users",
        ),
        (lambda c: c.execute("PRAGMA application_id = 1234"), "application id 0x4d2"),
    ],
    ids=["foreign-tables", "foreign-application-id"],
)
def test_another_programs_database_is_refused_and_left_untouched(
    tmp_path: Path, make, match: str
) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as connection:
        make(connection)
    before = _file_state(db)
    for attempt in (
        lambda: prepare_store(db),
        lambda: leaderboard(db),
        lambda: save_run(fake_run(), db),
    ):
        with pytest.raises(StoreError, match=f"not a datacur results database.*{match}"):
            attempt()
    assert _file_state(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no store


def test_a_read_only_database_has_its_own_message(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run(), db)
    real_access = os.access
    monkeypatch.setattr(
        "datacur.store.os.access",
        lambda path, mode: (
            False if Path(path) == db and mode & os.W_OK else real_access(path, mode)
        ),
    )
    with pytest.raises(StoreError, match=r"r\.db: the results database is read-only.*chmod"):
        prepare_store(db)
    assert len(load_runs(db)) == 1  # reading still works


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run(), db)
    with sqlite3.connect(db) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer datacur"):
        load_runs(db)
