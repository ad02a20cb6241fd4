"""The SQLite results database: one row per training run, and the leaderboard over them.

Runs are keyed by the variant's content hash (images + labels + splits), so a changed
variant is a new entry even under the same name. Each run is written in one transaction at
the end of training, in WAL mode with a busy timeout: concurrent writers (parallel seeds, a
sweep) queue rather than lose rows, and a Ctrl-C mid-training leaves no partial row.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datacur.errors import StoreError

__all__ = [
    "DEFAULT_RESULTS_DB",
    "RESULTS_DB_ENV",
    "LeaderboardRow",
    "StoredRun",
    "default_results_db",
    "leaderboard",
    "load_runs",
    "open_store",
    "save_run",
]

RESULTS_DB_ENV = "DATACUR_RESULTS_DB"
DEFAULT_RESULTS_DB = Path("datasets/results.db")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    variant TEXT NOT NULL,
    variant_hash TEXT NOT NULL,
    test_name TEXT,
    test_hash TEXT,
    model TEXT NOT NULL DEFAULT 'fixed',
    path TEXT NOT NULL,
    seed INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    best_epoch INTEGER NOT NULL,
    val_accuracy REAL NOT NULL,
    val_loss REAL NOT NULL,
    test_accuracy REAL,
    test_loss REAL,
    scored_on TEXT NOT NULL,
    per_class_json TEXT NOT NULL,
    confusion_json TEXT NOT NULL,
    curves_json TEXT NOT NULL,
    timings_json TEXT NOT NULL,
    versions_json TEXT NOT NULL,
    counts_json TEXT NOT NULL,
    predictions_json TEXT NOT NULL,
    extra_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_variant ON runs (variant_hash, test_hash, model, epochs);
"""

_JSON_FIELDS = (
    "per_class",
    "confusion",
    "curves",
    "timings",
    "versions",
    "counts",
    "predictions",
    "extra",
)


def default_results_db() -> Path:
    """``$DATACUR_RESULTS_DB`` if set, else ``datasets/results.db``."""
    return Path(os.environ.get(RESULTS_DB_ENV) or DEFAULT_RESULTS_DB)


@contextmanager
def open_store(db_path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """Open (creating if needed) the results database and yield a connection.

    Raises:
        StoreError: the file cannot be opened or is not a datacur results database.
    """
    db_path = Path(db_path) if db_path is not None else default_results_db()
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except (sqlite3.Error, OSError) as err:
        raise StoreError(
            f"{db_path}: cannot open the results database ({err}). Check the path or set "
            f"{RESULTS_DB_ENV}."
        ) from err
    try:
        try:
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{db_path}: not a datacur results database ({err}). Point --db or "
                f"{RESULTS_DB_ENV} at another file, or move this one away."
            ) from err
        yield connection
    finally:
        connection.close()


def save_run(
    result: Any, db_path: Path | None = None, *, extra: dict[str, Any] | None = None
) -> int:
    """Insert one :class:`datacur.evaluate.RunResult` (or an equivalent object); return its id.

    The insert is a single ``BEGIN IMMEDIATE`` transaction, so a run is stored whole or not
    at all, and concurrent writers wait for each other (up to a minute) instead of failing.
    """
    row = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "variant": result.variant,
        "variant_hash": result.variant_hash,
        "test_name": result.test_name,
        "test_hash": result.test_hash,
        "model": result.model,
        "path": result.path,
        "seed": result.seed,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "val_accuracy": result.val_accuracy,
        "val_loss": result.val_loss,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "scored_on": result.scored_on,
        "per_class_json": json.dumps(result.per_class_accuracy),
        "confusion_json": json.dumps(result.confusion),
        "curves_json": json.dumps(result.curves),
        "timings_json": json.dumps(result.timings),
        "versions_json": json.dumps(result.versions),
        "counts_json": json.dumps(result.counts),
        "predictions_json": json.dumps([list(p) for p in result.predictions]),
        "extra_json": json.dumps(extra or {}),
    }
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    with open_store(db_path) as connection:
        try:
            connection.execute("BEGIN IMMEDIATE")
            cursor = connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({placeholders})", tuple(row.values())
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class StoredRun:
    """A run as read back from the database (JSON columns decoded)."""

    id: int
    created_at: str
    variant: str
    variant_hash: str
    test_name: str | None
    test_hash: str | None
    model: str
    path: str
    seed: int
    epochs: int
    best_epoch: int
    val_accuracy: float
    val_loss: float
    test_accuracy: float | None
    test_loss: float | None
    scored_on: str
    per_class: dict[str, float]
    confusion: list[list[int]]
    curves: dict[str, list[float]]
    timings: dict[str, float]
    versions: dict[str, str]
    counts: dict[str, int]
    predictions: list[list[str]]
    extra: dict[str, Any]

    @property
    def score(self) -> float:
        """Test accuracy, or val accuracy when the run had no test set."""
        return self.test_accuracy if self.test_accuracy is not None else self.val_accuracy


def _to_run(row: sqlite3.Row) -> StoredRun:
    values = dict(row)
    for name in _JSON_FIELDS:
        values[name] = json.loads(values.pop(f"{name}_json"))
    return StoredRun(**values)


def load_runs(
    db_path: Path | None = None,
    *,
    variant: str | None = None,
    variant_hash: str | None = None,
    test_name: str | None = None,
    model: str | None = None,
    run_ids: Sequence[int] | None = None,
) -> list[StoredRun]:
    """Read runs, optionally filtered; oldest first.

    A database file that does not exist holds no runs: reading never creates one (a typo
    in ``--db`` must not leave an empty database behind).
    """
    if not (Path(db_path) if db_path is not None else default_results_db()).exists():
        return []
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("variant", variant),
        ("variant_hash", variant_hash),
        ("test_name", test_name),
        ("model", model),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if run_ids:
        clauses.append(f"id IN ({', '.join('?' for _ in run_ids)})")
        params.extend(run_ids)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with open_store(db_path) as connection:
        rows = connection.execute(f"SELECT * FROM runs {where} ORDER BY id", params).fetchall()
    return [_to_run(row) for row in rows]


@dataclass(frozen=True)
class LeaderboardRow:
    """One variant (on one test set, model and schedule) summarised over its seeds."""

    variant: str
    variant_hash: str
    test_name: str | None
    model: str
    epochs: int
    runs: int
    seeds: tuple[int, ...]
    mean: float
    std: float
    best: float
    mean_val: float

    @property
    def scored_on(self) -> str:
        return self.test_name or "val"


def leaderboard(
    db_path: Path | None = None, *, test_name: str | None = None, model: str | None = None
) -> list[LeaderboardRow]:
    """Group runs by (variant hash, test set, model, epochs), ranked by mean score.

    The score is test accuracy (val accuracy for runs without a test set); the spread is the
    sample standard deviation over runs (0 for a single run).
    """
    groups: dict[tuple[str, str | None, str, int], list[StoredRun]] = {}
    for run in load_runs(db_path, test_name=test_name, model=model):
        key = (run.variant_hash, run.test_hash, run.model, run.epochs)
        groups.setdefault(key, []).append(run)
    rows = []
    for runs in groups.values():
        scores = [run.score for run in runs]
        latest = runs[-1]
        rows.append(
            LeaderboardRow(
                variant=latest.variant,
                variant_hash=latest.variant_hash,
                test_name=latest.test_name,
                model=latest.model,
                epochs=latest.epochs,
                runs=len(runs),
                seeds=tuple(sorted({run.seed for run in runs})),
                mean=statistics.fmean(scores),
                std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
                best=max(scores),
                mean_val=statistics.fmean(run.val_accuracy for run in runs),
            )
        )
    rows.sort(key=lambda row: (-row.mean if not math.isnan(row.mean) else math.inf, row.variant))
    return rows
