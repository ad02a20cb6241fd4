"""The model store beside the results database: kept checkpoints and per-image predictions.

``datasets/results.db`` keeps its files in ``datasets/results-models/``::

    run-000042/checkpoint.weights.h5     best-val weights (Keras weights file, never pickle)
    run-000042/checkpoint.json           model name, variant hash, seed, epochs, versions
    run-000042/predictions-<test>.csv.gz path, true, predicted, one probability per class
    variants/<variant hash>.csv.gz       the variant's fingerprints, for the leakage guard

A checkpoint is loaded only by the model and library versions that wrote it: the weights
file holds no architecture, and another Keras or TensorFlow can round differently, so the
stored run's numbers would not be reproduced (issue 27).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datacur.errors import StoreError
from datacur.io import atomic_write_bytes, atomic_write_text, sha256_file
from datacur.labels import CLASSES

__all__ = [
    "CHECKPOINT_FILE",
    "MATCHED_VERSIONS",
    "StoredCheckpoint",
    "keep_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "model_store_dir",
    "pending_checkpoint_path",
    "predictions_path",
    "prune_checkpoints",
    "read_predictions",
    "run_folder",
    "write_predictions",
]

CHECKPOINT_FILE = "checkpoint.weights.h5"
SIDECAR_FILE = "checkpoint.json"
PENDING_PREFIX = ".pending-"
FINGERPRINTS_DIR = "variants"
PENDING_MAX_AGE_S = 3600
MATCHED_VERSIONS = ("keras", "tensorflow")
"""Library versions a checkpoint must be loaded under (they change the numbers)."""


def model_store_dir(db_path: Path) -> Path:
    """``<folder>/<db stem>-models``: the store of ``db_path``."""
    db_path = Path(db_path)
    return db_path.parent / f"{db_path.stem}-models"


def run_folder(db_path: Path, run_id: int) -> Path:
    return model_store_dir(db_path) / f"run-{run_id:06d}"


def pending_checkpoint_path(store_dir: Path, variant_hash: str, seed: int) -> Path:
    """Where a training copies its best weights before the run has an id (unique per process)."""
    name = f"{PENDING_PREFIX}{variant_hash[:12]}-seed{seed}-{os.getpid()}-{os.urandom(4).hex()}"
    return Path(store_dir) / f"{name}.weights.h5"


def keep_checkpoint(db_path: Path, run_id: int, source: Path, result: Any) -> str:
    """Move a pending checkpoint into ``run-<id>/`` with its JSON sidecar; return its path
    relative to the store."""
    folder = run_folder(db_path, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / CHECKPOINT_FILE
    os.replace(source, target)
    sidecar = {
        "version": 1,
        "run_id": run_id,
        "model": result.model,
        "variant": result.variant,
        "variant_hash": result.variant_hash,
        "seed": result.seed,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "path": result.path,
        "versions": dict(result.versions),
        "file": CHECKPOINT_FILE,
        "bytes": target.stat().st_size,
        "sha256": sha256_file(target),
    }
    atomic_write_text(folder / SIDECAR_FILE, json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return f"{folder.name}/{CHECKPOINT_FILE}"


def load_checkpoint(db_path: Path, run_id: int, *, model: str, versions: dict[str, str]) -> Any:
    """Rebuild the run's model and load its stored weights.

    Args:
        db_path: the results database the run is in.
        run_id: the run.
        model: the model name the run record says it trained.
        versions: the versions in use now (:func:`datacur.evaluate.library_versions`).

    Raises:
        StoreError: no checkpoint kept, a damaged sidecar or weights file, or a model name
            or library version that differs from the one that wrote it.
    """
    folder = run_folder(db_path, run_id)
    sidecar_path = folder / SIDECAR_FILE
    weights = folder / CHECKPOINT_FILE
    if not sidecar_path.is_file() or not weights.is_file():
        raise StoreError(
            f"{folder}: run {run_id} has no stored checkpoint (trained with --no-keep, pruned, "
            "or before checkpoints were kept). Re-run `datacur evaluate` on its variant."
        )
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        recorded_model = sidecar["model"]
        recorded = sidecar["versions"]
    except (ValueError, KeyError, TypeError) as err:
        raise StoreError(
            f"{sidecar_path}: damaged checkpoint sidecar ({err}). Prune run {run_id} with "
            "`datacur runs prune --run` and re-run `datacur evaluate`."
        ) from err
    if recorded_model != model:
        raise StoreError(
            f"{sidecar_path}: checkpoint is of model {recorded_model!r} but run {run_id} "
            f"trained {model!r}; refusing to load it. Prune it with `datacur runs prune --run "
            f"{run_id}`."
        )
    mismatched = [
        f"{name} {recorded.get(name)} (now {versions.get(name)})"
        for name in MATCHED_VERSIONS
        if recorded.get(name) != versions.get(name)
    ]
    if mismatched:
        raise StoreError(
            f"{sidecar_path}: checkpoint of run {run_id} was saved with {', '.join(mismatched)}; "
            "refusing to load it, its predictions could differ. Install those versions or "
            "re-run `datacur evaluate`."
        )
    if sidecar.get("sha256") and sha256_file(weights) != sidecar["sha256"]:
        raise StoreError(
            f"{weights}: checkpoint file changed since it was stored (SHA-256 differs). Prune "
            f"it with `datacur runs prune --run {run_id}` and re-run `datacur evaluate`."
        )
    from datacur.model import build_model

    network = build_model(recorded_model)
    try:
        network.load_weights(str(weights))
    except (ValueError, OSError) as err:
        raise StoreError(
            f"{weights}: cannot load the checkpoint ({str(err).splitlines()[0]}). Prune it "
            f"with `datacur runs prune --run {run_id}`."
        ) from err
    return network


def predictions_path(db_path: Path, run_id: int, test_hash: str | None) -> Path:
    tag = test_hash[:16] if test_hash else "val"
    return run_folder(db_path, run_id) / f"predictions-{tag}.csv.gz"


def write_predictions(db_path: Path, run_id: int, score: Any) -> Path:
    """Write one run x test set's per-image predictions (gzipped CSV, byte-deterministic).

    Columns: ``path, true, predicted`` then ``p_<class>`` for each class in CLASSES order
    (float32 softmax probabilities, written with 9 significant digits: exact round trip).
    """
    path = predictions_path(db_path, run_id, score.test_hash)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "true", "predicted", *(f"p_{label}" for label in CLASSES)])
    probabilities = np.asarray(score.probabilities, dtype=np.float32)
    for (image, true, predicted), row in zip(score.predictions, probabilities, strict=True):
        writer.writerow([image, true, predicted, *(f"{value:.9g}" for value in row.tolist())])
    atomic_write_bytes(path, gzip.compress(text.getvalue().encode("utf-8"), mtime=0))
    return path


def read_predictions(
    db_path: Path, run_id: int, test_hash: str | None
) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """Read :func:`write_predictions`'s file: ``(path, true, predicted)`` rows and an
    (N, 10) float32 probability array.

    Raises:
        StoreError: no predictions stored for this run and test set.
    """
    path = predictions_path(db_path, run_id, test_hash)
    if not path.is_file():
        raise StoreError(
            f"{path}: no per-image predictions stored for run {run_id} on this test set. "
            f"Score it with `datacur score {run_id} --test TEST`."
        )
    reader = csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8")))
    next(reader)
    rows, probabilities = [], []
    for row in reader:
        rows.append((row[0], row[1], row[2]))
        probabilities.append([float(value) for value in row[3:]])
    return rows, np.array(probabilities, dtype=np.float32).reshape(-1, len(CLASSES))


@dataclass(frozen=True)
class StoredCheckpoint:
    """One kept checkpoint, as ``datacur runs list`` shows it."""

    run_id: int
    model: str
    variant: str
    variant_hash: str
    seed: int
    epochs: int
    bytes: int
    folder: Path


def list_checkpoints(db_path: Path) -> list[StoredCheckpoint]:
    """Every kept checkpoint in the store of ``db_path``, by run id."""
    store = model_store_dir(db_path)
    if not store.is_dir():
        return []
    found = []
    for folder in sorted(store.glob("run-*")):
        sidecar_path = folder / SIDECAR_FILE
        if not sidecar_path.is_file():
            continue
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
            found.append(
                StoredCheckpoint(
                    run_id=int(sidecar["run_id"]),
                    model=str(sidecar["model"]),
                    variant=str(sidecar["variant"]),
                    variant_hash=str(sidecar["variant_hash"]),
                    seed=int(sidecar["seed"]),
                    epochs=int(sidecar["epochs"]),
                    bytes=(folder / CHECKPOINT_FILE).stat().st_size
                    if (folder / CHECKPOINT_FILE).is_file()
                    else 0,
                    folder=folder,
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found


def prune_checkpoints(
    db_path: Path, *, run_ids: Sequence[int] = (), orphans: bool = True
) -> list[Path]:
    """Delete kept checkpoints; return what was removed.

    Removes the checkpoints of ``run_ids``, and with ``orphans`` those of runs no longer in
    the database plus pending copies a killed training left behind. Predictions stay (they
    are small and the scores in the database refer to them). Only files in the store's own
    naming scheme are touched.
    """
    from datacur.store import load_runs

    store = model_store_dir(db_path)
    if not store.is_dir():
        return []
    known = {run.id for run in load_runs(db_path)} if orphans else set()
    wanted = set(run_ids)
    removed: list[Path] = []
    for stored in list_checkpoints(db_path):
        if stored.run_id in wanted or (orphans and stored.run_id not in known):
            for name in (CHECKPOINT_FILE, SIDECAR_FILE):
                target = stored.folder / name
                if target.exists():
                    target.unlink()
                    removed.append(target)
    if orphans:
        # A pending copy lives for the seconds between a training's end and its save; one
        # older than an hour was left by a killed run (a running one may be writing it now).
        cutoff = time.time() - PENDING_MAX_AGE_S
        for pending in sorted(store.glob(f"{PENDING_PREFIX}*.weights.h5")):
            if pending.stat().st_mtime < cutoff:
                pending.unlink()
                removed.append(pending)
    if removed and wanted:
        from datacur.store import open_store

        with open_store(db_path) as connection:
            connection.executemany(
                "UPDATE runs SET checkpoint = NULL WHERE id = ?", [(i,) for i in sorted(wanted)]
            )
    return removed


def variant_fingerprints_path(store_dir: Path, variant_hash: str) -> Path:
    """Where the store at ``store_dir`` (:func:`model_store_dir`) caches a variant's prints."""
    return Path(store_dir) / FINGERPRINTS_DIR / f"{variant_hash[:16]}.csv.gz"


def write_variant_fingerprints(db_path: Path, variant_hash: str, prints: Any) -> None:
    """Keep a variant's fingerprints once, so `score RUN` can check twins without the folder.

    A file that does not read back as this variant's (damaged, or of an older fingerprint
    version) is replaced.
    """
    from datacur.leakage import write_fingerprints

    store = model_store_dir(db_path)
    if read_variant_fingerprints(store, variant_hash) is None:
        write_fingerprints(variant_fingerprints_path(store, variant_hash), prints, key=variant_hash)


def read_variant_fingerprints(store_dir: Path, variant_hash: str) -> Any | None:
    """The cached fingerprints of a variant, or None (none kept, stale or damaged: a miss)."""
    from datacur.leakage import read_fingerprints

    path = variant_fingerprints_path(store_dir, variant_hash)
    return read_fingerprints(path, key=variant_hash) if path.is_file() else None


def copy_checkpoint(source: Path, target: Path) -> None:
    """Copy a checkpoint file (used by training to keep the best weights past its temp dir)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
