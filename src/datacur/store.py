"""The SQLite results database: one row per training run, one per run x test set, and the
leaderboard over them.

Runs are keyed by the variant's content hash (images + labels + splits), so a changed
variant is a new entry even under the same name; each test-set score is keyed by the test
set's content hash, so one training can be scored on many test sets (``evaluate --test A
--test B``, later ``datacur score``). Each run is written in one transaction at the end of
training, in WAL mode with a busy timeout: concurrent writers (parallel seeds, a sweep)
queue rather than lose rows, and a Ctrl-C mid-training leaves no partial row.

The file carries datacur's ``application_id`` and its schema version in ``user_version``;
it is validated before any training (:func:`prepare_store`): another program's SQLite file
is refused and never modified, and a schema-1 database is migrated in one transaction.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datacur.errors import StoreError

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_RESULTS_DB",
    "RESULTS_DB_ENV",
    "SCHEMA_VERSION",
    "LeaderboardRow",
    "StoredRun",
    "default_results_db",
    "leaderboard",
    "load_runs",
    "open_store",
    "prepare_store",
    "save_run",
    "save_scores",
]

RESULTS_DB_ENV = "DATACUR_RESULTS_DB"
DEFAULT_RESULTS_DB = Path("datasets/results.db")
SCHEMA_VERSION = 2
"""1: one ``runs`` table, one test score per training. 2: ``runs`` (one row per training)
and ``run_tests`` (one row per training x test set), so one training scores many test sets."""

APPLICATION_ID = 0x64437572
"""``PRAGMA application_id`` of a datacur results database ("dCur"): set on create, checked
on every open, so another program's SQLite file is recognised and left untouched."""

BUSY_TIMEOUT_MS = 60_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    variant TEXT NOT NULL,
    variant_hash TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT 'fixed',
    path TEXT NOT NULL,
    seed INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    best_epoch INTEGER NOT NULL,
    val_accuracy REAL NOT NULL,
    val_loss REAL NOT NULL,
    curves_json TEXT NOT NULL,
    timings_json TEXT NOT NULL,
    versions_json TEXT NOT NULL,
    counts_json TEXT NOT NULL,
    checkpoint TEXT,
    extra_json TEXT NOT NULL DEFAULT '{}'
)""",
    """CREATE TABLE IF NOT EXISTS run_tests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'evaluate',
    test_name TEXT,
    test_hash TEXT,
    n_images INTEGER,
    test_accuracy REAL,
    test_loss REAL,
    scored_on TEXT NOT NULL,
    per_class_json TEXT NOT NULL,
    confusion_json TEXT NOT NULL,
    predictions_json TEXT NOT NULL,
    twins_exact INTEGER,
    twins_near INTEGER,
    accuracy_without_twins REAL,
    twins_json TEXT NOT NULL DEFAULT '[]'
)""",
    "CREATE INDEX IF NOT EXISTS runs_variant ON runs (variant_hash, model, epochs)",
    "CREATE INDEX IF NOT EXISTS run_tests_run ON run_tests (run_id, test_hash)",
)

_V1_COLUMNS = frozenset(
    {"variant_hash", "test_hash", "test_accuracy", "per_class_json", "predictions_json"}
)
"""Columns that identify a schema-1 ``runs`` table (written before application ids)."""

_RUN_JSON = ("curves", "timings", "versions", "counts", "extra")
_TEST_JSON = ("per_class", "confusion", "predictions", "twins")


def default_results_db() -> Path:
    """``$DATACUR_RESULTS_DB`` if set, else ``datasets/results.db``."""
    return Path(os.environ.get(RESULTS_DB_ENV) or DEFAULT_RESULTS_DB)


def _not_datacur(db_path: Path, why: str) -> StoreError:
    return StoreError(
        f"{db_path}: not a datacur results database ({why}); it was left untouched. Point "
        f"--db or {RESULTS_DB_ENV} at another file, or move this one away."
    )


def _schema_version(connection: sqlite3.Connection, db_path: Path) -> int:
    """The datacur schema version of an open database: 0 for an empty one.

    Raises:
        StoreError: not SQLite, another program's database, or a newer datacur's.
    """
    try:
        app_id = connection.execute("PRAGMA application_id").fetchone()[0]
        user_version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        }
    except sqlite3.DatabaseError as err:
        raise _not_datacur(db_path, f"not an SQLite file: {err}") from err
    if app_id == APPLICATION_ID:
        if user_version > SCHEMA_VERSION:
            raise StoreError(
                f"{db_path}: written by a newer datacur (schema {user_version}, this one reads "
                f"up to {SCHEMA_VERSION}). Upgrade datacur (pip install -U datacur)."
            )
        return int(user_version)
    if app_id != 0:
        raise _not_datacur(db_path, f"SQLite application id {app_id:#x} belongs to another program")
    if not tables:
        return 0
    if tables == {"meta", "runs"}:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
        version = connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        if version is not None and version[0] == "1" and columns >= _V1_COLUMNS:
            return 1
    raise _not_datacur(db_path, f"it holds other tables: {', '.join(sorted(tables))}")


def _migrate(connection: sqlite3.Connection, version: int) -> None:
    """Bring a schema-0 (empty) or schema-1 database to the current schema (in a transaction).

    Schema 1 kept one test score inline in ``runs``; its rows become a ``runs`` row (same
    id) plus one ``run_tests`` row each. Twin counts were not measured then: they stay NULL
    ("not checked"), never 0.
    """
    if version == 1:
        connection.execute("DROP INDEX IF EXISTS runs_variant")
        connection.execute("ALTER TABLE runs RENAME TO runs_v1")
    for statement in _SCHEMA:
        connection.execute(statement)
    if version == 1:
        connection.execute(
            """INSERT INTO runs (id, created_at, variant, variant_hash, model, path, seed, epochs,
            best_epoch, val_accuracy, val_loss, curves_json, timings_json, versions_json,
            counts_json, checkpoint, extra_json)
            SELECT id, created_at, variant, variant_hash, model, path, seed, epochs, best_epoch,
            val_accuracy, val_loss, curves_json, timings_json, versions_json, counts_json, NULL,
            extra_json FROM runs_v1 ORDER BY id"""
        )
        connection.execute(
            """INSERT INTO run_tests (run_id, created_at, source, test_name, test_hash, n_images,
            test_accuracy, test_loss, scored_on, per_class_json, confusion_json,
            predictions_json)
            SELECT id, created_at, 'evaluate', test_name, test_hash,
            json_extract(counts_json, '$.test'), test_accuracy, test_loss, scored_on,
            per_class_json, confusion_json, predictions_json FROM runs_v1 ORDER BY id"""
        )
        connection.execute("DROP TABLE runs_v1")
    connection.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _resolve(db_path: Path | None) -> Path:
    return Path(db_path) if db_path is not None else default_results_db()


def _read_only(db_path: Path, detail: str) -> StoreError:
    return StoreError(
        f"{db_path}: the results database is read-only ({detail}). Make it writable "
        f"(chmod u+w on the file and its folder) or point --db or {RESULTS_DB_ENV} at a "
        "writable file."
    )


def prepare_store(db_path: Path | None = None) -> Path:
    """Create, upgrade and validate the results database for writing; return its path.

    Call it before any training (evaluate and sweep do), so a run is never lost to a
    database that turns out unusable at the end. A new file gets datacur's application id;
    a schema-1 file is migrated in one transaction; another program's SQLite file is
    refused and never modified.

    Raises:
        StoreError: the file is not SQLite, belongs to another program, was written by a
            newer datacur, or cannot be written (read-only file or folder).
    """
    db_path = _resolve(db_path)
    if db_path.is_dir():
        raise StoreError(f"{db_path}: is a folder, not a results database. Give a file path.")
    if db_path.exists():
        with _connect(db_path, readonly=True) as connection:
            version = _schema_version(connection, db_path)
        if not os.access(db_path, os.R_OK | os.W_OK):
            raise _read_only(db_path, "the file has no write permission")
        folder = db_path.parent
    else:
        folder = db_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"{folder}: cannot create the results database's folder ({err.strerror}). "
                f"Choose another --db or set {RESULTS_DB_ENV}."
            ) from err
        version = 0
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _read_only(db_path, f"its folder {folder} is not writable")
    if version == SCHEMA_VERSION:
        return db_path
    with _connect(db_path, readonly=False) as connection:
        try:
            connection.execute("BEGIN IMMEDIATE")
            version = _schema_version(connection, db_path)  # another process may have won
            if version < SCHEMA_VERSION:
                _migrate(connection, version)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return db_path


@contextmanager
def _connect(db_path: Path, *, readonly: bool) -> Iterator[sqlite3.Connection]:
    try:
        if readonly:
            connection = sqlite3.connect(
                f"{db_path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
            )
        else:
            connection = sqlite3.connect(
                db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
    except (sqlite3.Error, OSError) as err:
        raise StoreError(
            f"{db_path}: cannot open the results database ({err}). Check the path or set "
            f"{RESULTS_DB_ENV}."
        ) from err
    try:
        connection.row_factory = sqlite3.Row
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.DatabaseError as err:
            raise _not_datacur(db_path, f"not an SQLite file: {err}") from err
        yield connection
    finally:
        connection.close()


@contextmanager
def open_store(
    db_path: Path | None = None, *, readonly: bool = False
) -> Iterator[sqlite3.Connection]:
    """Open the results database (validated and, for writing, created or upgraded).

    ``readonly=True`` never creates or changes the file, except to upgrade a schema-1
    database (datacur's own) before it is read; the database must exist.

    Raises:
        StoreError: see :func:`prepare_store`.
    """
    db_path = _resolve(db_path)
    if readonly:
        with _connect(db_path, readonly=True) as connection:
            version = _schema_version(connection, db_path)
        if version == 1:
            if not os.access(db_path, os.W_OK):
                raise _read_only(
                    db_path, "it was written by an older datacur and must be upgraded once"
                )
            prepare_store(db_path)
        with _connect(db_path, readonly=True) as connection:
            yield connection
        return
    prepare_store(db_path)
    with _connect(db_path, readonly=False) as connection:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.OperationalError as err:
            raise _read_only(db_path, str(err)) from err
        yield connection


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _test_rows(result: Any) -> list[dict[str, Any]]:
    """One ``run_tests`` row per scored test set of a RunResult (or an equivalent object)."""
    scores = list(getattr(result, "scores", None) or [result])
    return [_score_row(score, source="evaluate") for score in scores]


def _score_row(score: Any, *, source: str) -> dict[str, Any]:
    counts = getattr(score, "counts", None) or {}
    return {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "test_name": score.test_name,
        "test_hash": score.test_hash,
        "n_images": getattr(score, "n_images", None) or counts.get("test"),
        "test_accuracy": score.test_accuracy,
        "test_loss": score.test_loss,
        "scored_on": score.scored_on,
        "per_class_json": _dumps(score.per_class_accuracy),
        "confusion_json": _dumps(score.confusion),
        "predictions_json": _dumps([list(p) for p in score.predictions]),
        "twins_exact": getattr(score, "twins_exact", None),
        "twins_near": getattr(score, "twins_near", None),
        "accuracy_without_twins": getattr(score, "accuracy_without_twins", None),
        "twins_json": _dumps([list(p) for p in getattr(score, "twin_pairs", None) or []]),
    }


def _insert(connection: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    cursor = connection.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", tuple(row.values())
    )
    return int(cursor.lastrowid or 0)


GAP_KEYS = ("train_per_class_accuracy", "val_per_class_accuracy")
"""Keys of ``runs.extra_json`` holding the best checkpoint's per-class accuracy on its own
train and val splits (issue 27 D5). Runs stored before them lack the keys (shown as "—")."""


def _split_accuracies(result: Any) -> dict[str, Any]:
    """The run's train and val per-class accuracy, for ``extra_json`` (when measured)."""
    return {
        key: dict(value) for key in GAP_KEYS if (value := getattr(result, key, None)) is not None
    }


def save_run(
    result: Any, db_path: Path | None = None, *, extra: dict[str, Any] | None = None
) -> int:
    """Insert one :class:`datacur.evaluate.RunResult` (or an equivalent object); return its id.

    The training goes to ``runs`` and each scored test set to ``run_tests``, all in a single
    ``BEGIN IMMEDIATE`` transaction, so a run is stored whole or not at all, and concurrent
    writers wait for each other (up to a minute) instead of failing. A checkpoint the run
    kept (``result.checkpoint``) and its per-image predictions move into the model store
    beside the database (:mod:`datacur.modelstore`) under the new run id.
    """
    db_path = _resolve(db_path)
    counts = dict(result.counts)
    counts.pop("test", None)
    run_row = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "variant": result.variant,
        "variant_hash": result.variant_hash,
        "model": result.model,
        "path": result.path,
        "seed": result.seed,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "val_accuracy": result.val_accuracy,
        "val_loss": result.val_loss,
        "curves_json": _dumps(result.curves),
        "timings_json": _dumps(result.timings),
        "versions_json": _dumps(result.versions),
        "counts_json": _dumps(counts),
        "checkpoint": None,
        "extra_json": _dumps({**_split_accuracies(result), **(extra or {})}),
    }
    test_rows = _test_rows(result)
    with open_store(db_path) as connection:
        try:
            connection.execute("BEGIN IMMEDIATE")
            run_id = _insert(connection, "runs", run_row)
            for test_row in test_rows:
                _insert(connection, "run_tests", {"run_id": run_id, **test_row})
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    _keep_files(result, db_path, run_id)
    return run_id


def _keep_files(result: Any, db_path: Path, run_id: int) -> None:
    """Move the run's checkpoint and predictions into the model store (after the commit)."""
    from datacur import modelstore

    scores = list(getattr(result, "scores", None) or [])
    for score in scores:
        if getattr(score, "probabilities", None) is not None:
            modelstore.write_predictions(db_path, run_id, score)
    prints = getattr(result, "fingerprints", None)
    if prints is not None:
        modelstore.write_variant_fingerprints(db_path, result.variant_hash, prints)
    checkpoint = getattr(result, "checkpoint", None)
    if checkpoint:
        relative = modelstore.keep_checkpoint(db_path, run_id, Path(checkpoint), result)
        with open_store(db_path) as connection:
            connection.execute("UPDATE runs SET checkpoint = ? WHERE id = ?", (relative, run_id))


def save_scores(
    run_id: int, scores: Sequence[Any], db_path: Path | None = None, *, source: str = "score"
) -> list[int]:
    """Add test-set scores of an existing run (``datacur score``); return their row ids.

    A run has one row per test set content: a test set it was already scored on keeps its
    row (a stored checkpoint reproduces it bit for bit), so scoring twice never counts a
    training twice in the leaderboard or a comparison.
    """
    db_path = _resolve(db_path)
    rows = [_score_row(score, source=source) for score in scores]
    with open_store(db_path) as connection:
        try:
            connection.execute("BEGIN IMMEDIATE")
            ids = []
            for row in rows:
                existing = connection.execute(
                    "SELECT id FROM run_tests WHERE run_id = ? AND test_hash IS ?",
                    (run_id, row["test_hash"]),
                ).fetchone()
                if existing is not None:
                    ids.append(int(existing[0]))
                else:
                    ids.append(_insert(connection, "run_tests", {"run_id": run_id, **row}))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    from datacur import modelstore

    for score in scores:
        if getattr(score, "probabilities", None) is not None:
            modelstore.write_predictions(db_path, run_id, score)
    return ids


@dataclass(frozen=True)
class StoredRun:
    """One training scored on one test set, as read back from the database.

    ``id`` is the training's run id (shared by every test set it was scored on); ``score_id``
    names this test-set row. JSON columns are decoded.
    """

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
    score_id: int = 0
    source: str = "evaluate"
    checkpoint: str | None = None
    twins_exact: int | None = None
    twins_near: int | None = None
    accuracy_without_twins: float | None = None
    twins: list[list[Any]] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Test accuracy, or val accuracy when the run had no test set."""
        return self.test_accuracy if self.test_accuracy is not None else self.val_accuracy

    @property
    def train_per_class(self) -> dict[str, float] | None:
        """The best checkpoint's per-class accuracy on its own train split (None for runs
        stored before it was measured)."""
        return self.extra.get("train_per_class_accuracy")

    @property
    def val_per_class(self) -> dict[str, float] | None:
        """The best checkpoint's per-class accuracy on val (None for older runs)."""
        return self.extra.get("val_per_class_accuracy")

    @property
    def twins_checked(self) -> bool:
        """Whether the test set was checked for twins of the variant (runs before schema 2
        were not)."""
        return self.test_hash is not None and self.twins_exact is not None

    @property
    def leaky(self) -> bool:
        """The test set shares exact or near twins with the variant's train or val."""
        return bool((self.twins_exact or 0) + (self.twins_near or 0))


_SELECT = """SELECT r.id, r.created_at, r.variant, r.variant_hash, t.test_name, t.test_hash,
r.model, r.path, r.seed, r.epochs, r.best_epoch, r.val_accuracy, r.val_loss, t.test_accuracy,
t.test_loss, t.scored_on, t.per_class_json, t.confusion_json, r.curves_json, r.timings_json,
r.versions_json, r.counts_json, t.predictions_json, r.extra_json, t.id AS score_id, t.source,
r.checkpoint, t.twins_exact, t.twins_near, t.accuracy_without_twins, t.twins_json, t.n_images
FROM runs AS r JOIN run_tests AS t ON t.run_id = r.id"""


def _to_run(row: sqlite3.Row) -> StoredRun:
    values = dict(row)
    for name in (*_RUN_JSON, *_TEST_JSON):
        values[name] = json.loads(values.pop(f"{name}_json"))
    n_images = values.pop("n_images")
    if n_images is not None:
        values["counts"] = {**values["counts"], "test": n_images}
    return StoredRun(**values)


def _exists(db_path: Path) -> bool:
    return db_path.exists()


def load_runs(
    db_path: Path | None = None,
    *,
    variant: str | None = None,
    variant_hash: str | None = None,
    test_name: str | None = None,
    model: str | None = None,
    run_ids: Sequence[int] | None = None,
) -> list[StoredRun]:
    """Read runs, one :class:`StoredRun` per training x test set, optionally filtered;
    oldest first.

    A database file that does not exist holds no runs: reading never creates one (a typo
    in ``--db`` must not leave an empty database behind), and never changes another
    program's file.
    """
    db_path = _resolve(db_path)
    if not _exists(db_path):
        return []
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("r.variant", variant),
        ("r.variant_hash", variant_hash),
        ("t.test_name", test_name),
        ("r.model", model),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if run_ids:
        clauses.append(f"r.id IN ({', '.join('?' for _ in run_ids)})")
        params.extend(run_ids)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with open_store(db_path, readonly=True) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "run_tests" not in tables:  # an empty database: nothing stored yet
            return []
        rows = connection.execute(f"{_SELECT} {where} ORDER BY r.id, t.id", params).fetchall()
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
    twins_exact: int | None = None
    twins_near: int | None = None
    mean_without_twins: float | None = None
    """Mean accuracy over the test images with no twin in train/val (leaky scores only)."""

    @property
    def scored_on(self) -> str:
        return self.test_name or "val"

    @property
    def leaky(self) -> bool:
        return bool((self.twins_exact or 0) + (self.twins_near or 0))

    @property
    def twins_label(self) -> str:
        """``0`` (checked, none), ``3+1`` (exact+near: leaky), ``?`` (never checked), or ``—``."""
        if self.test_name is None:
            return "—"
        if self.twins_exact is None:
            return "?"
        if not self.leaky:
            return "0"
        return f"{self.twins_exact}+{self.twins_near}"


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
        without = [
            run.accuracy_without_twins for run in runs if run.accuracy_without_twins is not None
        ]
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
                twins_exact=latest.twins_exact,
                twins_near=latest.twins_near,
                mean_without_twins=(
                    statistics.fmean(without) if without and latest.leaky else None
                ),
            )
        )
    rows.sort(key=lambda row: (-row.mean if not math.isnan(row.mean) else math.inf, row.variant))
    return rows
