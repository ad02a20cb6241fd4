"""``datacur score``: score stored runs on (new) test sets with their kept checkpoints.

No training: each run's best-val weights are reloaded from the model store
(:mod:`datacur.modelstore`) and predict exactly as the fast path did after training, so a
run-test row written here is the row ``evaluate`` would have written (issue 27).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datacur.errors import EvaluationError, StoreError

__all__ = ["ScoredRun", "find_runs_to_score", "score_runs"]


@dataclass
class ScoredRun:
    """One stored run scored on new test sets (``scores`` are :class:`TestScore`)."""

    run_id: int
    variant: str
    seed: int
    epochs: int
    model: str
    scores: list[Any]
    seconds: float


def find_runs_to_score(targets: Sequence[str], db_path: Path) -> list[int]:
    """Run ids named by ``targets``: run ids, or variant folders/names/hash prefixes (every
    stored run of that variant that kept a checkpoint).

    Raises:
        StoreError: a target matches no stored run, or its runs kept no checkpoint.
    """
    from datacur.compare import resolve_variants
    from datacur.store import load_runs

    runs = load_runs(db_path)
    by_id = {run.id: run for run in runs}
    ids: list[int] = []
    for target in targets:
        if target.isdigit() and not Path(target).exists():
            if int(target) not in by_id:
                raise StoreError(f"{db_path}: no run {target}. List runs with `datacur runs list`.")
            ids.append(int(target))
            continue
        (ref,) = resolve_variants([target], runs)
        kept = sorted(
            {run.id for run in runs if run.variant_hash == ref.variant_hash and run.checkpoint}
        )
        if not kept:
            raise StoreError(
                f"{target}: no stored run of this variant kept a checkpoint (trained with "
                "--no-keep or before checkpoints were kept). Run `datacur evaluate` on it."
            )
        ids.extend(kept)
    return list(dict.fromkeys(ids))


def score_runs(
    run_ids: Sequence[int],
    test_dirs: Sequence[Path],
    *,
    db_path: Path,
    variant_dir: Path | None = None,
    store: bool = True,
    on_scored: Callable[[ScoredRun], None] | None = None,
) -> list[ScoredRun]:
    """Predict every test set with every run's stored checkpoint; store the rows.

    Args:
        run_ids: stored runs (each must have kept its checkpoint).
        test_dirs: folders of ``<class>/`` images.
        db_path: the results database (the model store sits beside it).
        variant_dir: the runs' variant folder, for the twin check when the store holds
            no fingerprints of it.
        store: write one run-test row per (run, test set), as ``evaluate`` does.
        on_scored: called after each run.

    Raises:
        StoreError: a run is missing or its checkpoint is absent or mismatched.
        VariantError: a test folder is unusable.
    """
    from datacur.evaluate import (
        compile_fixed_model,
        decode_folder,
        library_versions,
        make_test_score,
        predict_folder,
    )
    from datacur.leakage import find_twins, fingerprint
    from datacur.modelstore import load_checkpoint, read_variant_fingerprints
    from datacur.store import load_runs, save_scores
    from datacur.variant import compute_content_hash, list_folder_images, list_variant_images

    if not test_dirs:
        raise EvaluationError("give at least one --test folder to score on.")
    test_dirs = [Path(folder) for folder in test_dirs]
    groups = [list_folder_images(folder) for folder in test_dirs]
    # No separate readability pass: decoding (below, before any prediction) names a bad file.
    test_hashes = [compute_content_hash(group) for group in groups]
    test_prints = [fingerprint([image.path for image in group]) for group in groups]

    records: dict[int, Any] = {}
    for run in load_runs(db_path, run_ids=list(run_ids)):
        records.setdefault(run.id, run)
    missing = [str(i) for i in run_ids if i not in records]
    if missing:
        raise StoreError(f"{db_path}: no run(s) {', '.join(missing)}. See `datacur runs list`.")
    import os

    from datacur.evaluate import configure_threads

    configure_threads(os.cpu_count())  # the pools evaluate trains under: the same rounding
    versions = library_versions()
    # Every checkpoint is checked before any prediction: a mismatch fails the whole command.
    models = {
        run_id: load_checkpoint(db_path, run_id, model=records[run_id].model, versions=versions)
        for run_id in run_ids
    }
    decoded = [decode_folder(folder) for folder in test_dirs]
    variant_prints: dict[str, Any] = {}
    results = []
    for run_id in run_ids:
        run = records[run_id]
        started = time.perf_counter()
        if run.variant_hash not in variant_prints:
            prints = read_variant_fingerprints(db_path, run.variant_hash)
            if prints is None and variant_dir is not None:
                prints = fingerprint([image.path for image in list_variant_images(variant_dir)])
            variant_prints[run.variant_hash] = prints
        prints = variant_prints[run.variant_hash]
        network = compile_fixed_model(models[run_id])
        scores = []
        for folder, test_hash, test_print, images in zip(
            test_dirs, test_hashes, test_prints, decoded, strict=True
        ):
            twins = find_twins(prints, test_print) if prints is not None else None
            scored = predict_folder(network, folder, images)
            scores.append(
                make_test_score(scored, test_dir=folder, test_hash=test_hash, twins=twins)
            )
        if store:
            save_scores(run_id, scores, db_path)
        result = ScoredRun(
            run_id,
            run.variant,
            run.seed,
            run.epochs,
            run.model,
            scores,
            time.perf_counter() - started,
        )
        if on_scored is not None:
            on_scored(result)
        results.append(result)
    return results
