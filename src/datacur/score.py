"""``datacur score``: score stored runs on (new) test sets with their kept checkpoints.

No training: each run's best-val weights are reloaded from the model store
(:mod:`datacur.modelstore`) and predict exactly as the fast path did after training, so a
run-test row written here is the row ``evaluate`` would have written (issue 27).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datacur.errors import EvaluationError, StoreError

__all__ = ["ScoredRun", "find_runs_to_score", "score_runs"]

_ONE_WORKER_MAX = 4000
"""Up to this many images to fingerprint, one worker beside the TensorFlow import."""


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
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase: those shared by every run of the call (``list_s``, ``import_tf_s``,
    ``fingerprint_wait_s``, ``load_checkpoints_s``, ``decode_wait_s``: decoding runs during
    the checkpoint load), then this run's own
    (``twins_s``, ``predict_s``, ``store_s``)."""


def find_runs_to_score(targets: Sequence[str], db_path: Path) -> list[int]:
    """Run ids named by ``targets``: run ids, or variant folders/names/hash prefixes (every
    stored run of that variant that kept a checkpoint).

    Raises:
        StoreError: a target matches no stored run, or its runs kept no checkpoint.
    """
    from datacur.store import load_runs

    def is_run_id(target: str) -> bool:
        return target.isdigit() and not Path(target).exists()

    # Run ids alone (the usual case) read only their rows and skip `compare` (SciPy): a
    # second of the 15 s budget on a loaded machine.
    numbers = [int(target) for target in targets if is_run_id(target)]
    everything = len(numbers) < len(targets)
    runs = load_runs(db_path) if everything else load_runs(db_path, run_ids=numbers)
    by_id = {run.id: run for run in runs}
    ids: list[int] = []
    for target in targets:
        if is_run_id(target):
            if int(target) not in by_id:
                raise StoreError(f"{db_path}: no run {target}. List runs with `datacur runs list`.")
            ids.append(int(target))
            continue
        from datacur.compare import resolve_variants

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
    announce: bool = False,
) -> list[ScoredRun]:
    """Predict every test set with every run's stored checkpoint; store the rows.

    Fast on purpose (issue 27: a 2,000-image test set in under 15 s on 2 cores): the test
    images (and a variant whose cached fingerprints are missing or stale) are fingerprinted
    in forked workers while this process imports TensorFlow; the test images are decoded
    once (one ``tf.data`` map) and predicted in one pass. The numbers are those of the
    slower order of work, bit for bit. Each result's ``timings`` holds the phases.

    Args:
        run_ids: stored runs (each must have kept its checkpoint).
        test_dirs: folders of ``<class>/`` images.
        db_path: the results database (the model store sits beside it).
        variant_dir: the runs' variant folder: fingerprinted (and the store's cache of it
            rebuilt) for the twin check of runs of that content when the cache is missing,
            stale or damaged.
        store: write one run-test row per (run, test set), as ``evaluate`` does.
        on_scored: called after each run.
        announce: show a "Loading TensorFlow..." spinner on a terminal's stderr meanwhile.

    Raises:
        StoreError: a run is missing or its checkpoint is absent or mismatched.
        VariantError: a test folder is unusable.
    """
    from datacur.leakage import start_fingerprint
    from datacur.modelstore import model_store_dir, read_variant_fingerprints
    from datacur.store import load_runs
    from datacur.variant import compute_content_hash, list_folder_images, list_variant_images

    if not test_dirs:
        raise EvaluationError("give at least one --test folder to score on.")
    shared: dict[str, float] = {}
    clock = time.perf_counter()
    test_dirs = [Path(folder) for folder in test_dirs]
    groups = [list_folder_images(folder) for folder in test_dirs]
    # No separate readability pass: fingerprinting and decoding name a bad file.
    test_hashes = [compute_content_hash(group) for group in groups]

    records: dict[int, Any] = {}
    for run in load_runs(db_path, run_ids=list(run_ids)):
        records.setdefault(run.id, run)
    missing = [str(i) for i in run_ids if i not in records]
    if missing:
        raise StoreError(f"{db_path}: no run(s) {', '.join(missing)}. See `datacur runs list`.")
    store_dir = model_store_dir(db_path)
    variant_prints: dict[str, Any] = {}
    for run_id in run_ids:
        variant_hash = records[run_id].variant_hash
        if variant_hash not in variant_prints:
            variant_prints[variant_hash] = read_variant_fingerprints(store_dir, variant_hash)
    rebuild: tuple[str, list[str]] | None = None
    if variant_dir is not None and None in variant_prints.values():
        images = list_variant_images(variant_dir)
        variant_hash = compute_content_hash(images)  # only prints of the runs' own content
        if variant_prints.get(variant_hash, True) is None:
            rebuild = (variant_hash, [str(image.path) for image in images])
    test_paths = [[str(image.path) for image in group] for group in groups]
    everything = [path for paths in test_paths for path in paths]
    if rebuild is not None:
        everything += rebuild[1]
    shared["list_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # Fork the fingerprinting workers before TensorFlow starts its threads, then import it
    # meanwhile: the import is single-threaded, so on 2 cores one worker fingerprints
    # ~4,000 images (1.3 ms each) in the 5 s it takes; a second would only slow it.
    workers = 1 if len(everything) <= _ONE_WORKER_MAX else None
    pending = start_fingerprint(everything, workers=workers)
    try:
        from datacur._tf import import_tensorflow_quietly

        import_tensorflow_quietly(announce=announce)
        shared["import_tf_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        prints = pending.result()
    finally:
        pending.cancel()
    shared["fingerprint_wait_s"] = time.perf_counter() - clock
    return _score_loaded(
        run_ids,
        test_dirs,
        test_hashes,
        _split_prints(prints, [len(paths) for paths in test_paths]),
        records,
        variant_prints,
        rebuild,
        db_path=db_path,
        store=store,
        on_scored=on_scored,
        shared=shared,
    )


def _split_prints(prints: Any, sizes: Sequence[int]) -> list[Any]:
    """Cut one :class:`Fingerprints` into consecutive parts of ``sizes`` (then the rest)."""
    from datacur.leakage import Fingerprints

    parts, start = [], 0
    for size in [*sizes, len(prints.paths) - sum(sizes)]:
        end = start + size
        parts.append(
            Fingerprints(prints.paths[start:end], prints.sha256[start:end], prints.phash[start:end])
        )
        start = end
    return parts


def _score_loaded(
    run_ids: Sequence[int],
    test_dirs: list[Path],
    test_hashes: list[str],
    prints: list[Any],
    records: dict[int, Any],
    variant_prints: dict[str, Any],
    rebuild: tuple[str, list[str]] | None,
    *,
    db_path: Path,
    store: bool,
    on_scored: Callable[[ScoredRun], None] | None,
    shared: dict[str, float],
) -> list[ScoredRun]:
    """:func:`score_runs` once TensorFlow is imported and every image is fingerprinted."""
    import os

    from datacur.evaluate import (
        compile_fixed_model,
        configure_threads,
        decode_folder,
        library_versions,
        make_test_score,
        predict_folder,
    )
    from datacur.leakage import find_twins
    from datacur.modelstore import load_checkpoint, write_variant_fingerprints
    from datacur.store import save_scores

    *test_prints, variant_part = prints
    if rebuild is not None:
        variant_prints[rebuild[0]] = variant_part
        if store:
            write_variant_fingerprints(db_path, rebuild[0], variant_part)
    clock = time.perf_counter()
    configure_threads(os.cpu_count())  # the pools evaluate trains under: the same rounding
    versions = library_versions()
    # The test images decode in TensorFlow's threads (no GIL) while this thread rebuilds
    # the models in Python: on 2 cores most of one hides behind the other.
    with ThreadPoolExecutor(max_workers=1) as background:
        decoding = background.submit(lambda: [decode_folder(folder) for folder in test_dirs])
        # Every checkpoint is checked before any prediction: a mismatch fails it all (and
        # wins over a bad test image, whose error the abandoned decode then keeps).
        models = {
            run_id: load_checkpoint(db_path, run_id, model=records[run_id].model, versions=versions)
            for run_id in run_ids
        }
        shared["load_checkpoints_s"] = time.perf_counter() - clock
        decoded = decoding.result()
    shared["decode_wait_s"] = time.perf_counter() - clock - shared["load_checkpoints_s"]
    results = []
    for run_id in run_ids:
        run = records[run_id]
        started = time.perf_counter()
        timings = dict(shared)
        variant_print = variant_prints[run.variant_hash]
        network = compile_fixed_model(models[run_id])
        scores = []
        twins_s = predict_s = 0.0
        for folder, test_hash, test_print, images in zip(
            test_dirs, test_hashes, test_prints, decoded, strict=True
        ):
            clock = time.perf_counter()
            twins = find_twins(variant_print, test_print) if variant_print is not None else None
            twins_s += time.perf_counter() - clock
            clock = time.perf_counter()
            scored = predict_folder(network, folder, images)
            predict_s += time.perf_counter() - clock
            scores.append(
                make_test_score(scored, test_dir=folder, test_hash=test_hash, twins=twins)
            )
        clock = time.perf_counter()
        if store:
            save_scores(run_id, scores, db_path)
        timings.update(twins_s=twins_s, predict_s=predict_s, store_s=time.perf_counter() - clock)
        result = ScoredRun(
            run_id,
            run.variant,
            run.seed,
            run.epochs,
            run.model,
            scores,
            time.perf_counter() - started,
            timings,
        )
        if on_scored is not None:
            on_scored(result)
        results.append(result)
    return results
