"""Find what is wrong with a variant: out-of-fold predictions, cleanlab, image checks -> issues.csv.

``find_noise`` trains the fixed model by stratified K-fold over train+val (cached by the
variant's content hash), runs cleanlab on the out-of-fold ``pred_probs`` and on embeddings
(label issues, outliers, near duplicates), merges the model-free checks of
:mod:`datacur.imagechecks`, measures label-free junk features (:mod:`datacur.junk`) and
fuses every detector into one score per image (:mod:`datacur.fusion`). It ranks two
queues (issue 21): ``bad`` images (one row per image, by fused score) and ``hygiene``
(twins: leakage, duplicates, one image under two labels; one row per pair).
TensorFlow, Keras and cleanlab are imported inside functions so ``datacur --help`` is fast.
"""

from __future__ import annotations

import csv
import hashlib
import io as _io
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from datacur.errors import DatacurError, VariantError
from datacur.imagechecks import (
    HYGIENE_ISSUES,
    ISSUE_TYPES,
    ImageCheckOptions,
    ImageIssue,
    check_images,
    relative_path,
)
from datacur.io import atomic_write_bytes, atomic_write_text
from datacur.labels import CLASS_INDEX, CLASSES
from datacur.variant import VariantImage, compute_content_hash, list_variant_images
from datacur.wording import count_noun

if TYPE_CHECKING:
    from datacur.fusion import FusionWeights
    from datacur.junk import JunkFeatures

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_FOLDS",
    "FULL_EPOCHS",
    "ISSUE_COLUMNS",
    "QUEUES",
    "SHORT_EPOCHS",
    "DetectorTable",
    "FoldPredictions",
    "IssueRow",
    "NoiseReport",
    "ProgressEvent",
    "compute_detectors",
    "compute_fold_predictions",
    "find_model_issues",
    "find_noise",
    "fold_cache_path",
    "load_fold_predictions",
    "model_features",
    "rank_issues",
    "read_issues_csv",
    "save_fold_predictions",
    "summarize_issues",
    "write_issues_csv",
]

DEFAULT_FOLDS = 5
SHORT_EPOCHS = 15
"""Epochs per fold of the default short schedule. Aimed at 5 folds of the starter data in
under 15 minutes on 2 cores (estimated ~8 min idle from per-epoch timings, not yet measured
end to end: ``benchmarks/noise_quality.py --starter``)."""
FULL_EPOCHS = 100
"""The competition's schedule: 100 epochs."""
DEFAULT_CACHE_DIR = Path("datasets/.cache/noise")
CACHE_FORMAT = 1

ISSUE_COLUMNS: tuple[str, ...] = (
    "rank",
    "path",
    "split",
    "label",
    "suggested",
    "issue",
    "score",
    "reason",
    "issues",
    "variant",
    "queue",
    "partner",
)
"""Columns of ``issues.csv``: ``issue`` is the most severe problem, ``issues`` all of them;
``queue`` is ``bad`` or ``hygiene`` and ``rank`` counts within it; ``partner`` is the other
image of a twin pair (hygiene rows)."""
_REQUIRED_COLUMNS = ISSUE_COLUMNS[:-2]  # files written before the queues lack the last two
QUEUES: tuple[str, ...] = ("bad", "hygiene")
"""The review queues, in the order issues.csv lists them."""
BAD_SHARE = 0.2
"""Besides every image a detector flags, the bad queue lists the top BAD_SHARE of images by
fused score, so an image that no single detector flags can still be reviewed."""
JUNK_FORMAT = 1


@dataclass(frozen=True)
class ProgressEvent:
    """Training progress: ``epoch`` of ``epochs`` finished in ``fold`` (0-based) of ``folds``.

    ``epoch == epochs`` also means the fold is done.
    """

    fold: int
    folds: int
    epoch: int
    epochs: int


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class FoldPredictions:
    """Out-of-fold predictions for every image of a variant, in variant order.

    Attributes:
        pred_probs: float32 (N, 10), softmax of each image's held-out fold model.
        features: float32 (N, folds * 256): each fold model's L2-normalised pooled
            embedding of the image, concatenated (one space shared by all images).
        fold_of: int16 (N,), the fold each image was held out in.
    """

    pred_probs: np.ndarray
    features: np.ndarray
    fold_of: np.ndarray


@dataclass(frozen=True)
class IssueRow:
    """One row of ``issues.csv``: one flagged image and its problems, most severe first."""

    rank: int
    path: str
    split: str
    label: str
    suggested: str
    issue: str
    score: float
    reason: str
    issues: str
    variant: str
    queue: str = "bad"
    partner: str = ""


@dataclass(frozen=True)
class DetectorTable:
    """Every detector's score for every readable image (higher = more suspicious).

    Attributes:
        paths: variant-relative paths, variant order. labels: int (N,) given classes.
        names: column names; values: float64 (N, len(names)).
        suggested: per image, the class a relabel would move it to ("" for none).
        fused: float64 (N,) the fused score in (0, 1).
        mislabelled: bool (N,) the evidence favours the suggested class over the given one.
    """

    paths: tuple[str, ...]
    labels: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray
    suggested: tuple[str, ...]
    fused: np.ndarray
    mislabelled: np.ndarray


@dataclass(frozen=True)
class NoiseReport:
    """What ``find_noise`` found: ranked rows plus how they were computed."""

    variant: str
    content_hash: str
    images: int
    rows: list[IssueRow]
    model_used: bool
    schedule: str
    folds: int
    epochs: int
    cached: bool
    oof_accuracy: float | None
    cache_path: str = ""
    detectors: DetectorTable | None = None


# --------------------------------------------------------------------------- model part


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(len(CLASSES), dtype=np.float32)[labels]


def _fold_seed(seed: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0] % (2**31 - 1))


def _train_fold(
    images: np.ndarray,
    labels: np.ndarray,
    train_index: np.ndarray,
    *,
    fold: int,
    folds: int,
    epochs: int,
    seed: int,
    jit_compile: bool,
    report: Callable[[int], None] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train one fold model; return softmax (N, 10) and normalised embeddings (N, 256)."""
    import keras

    from datacur.evaluate import DEFAULT_STEPS_PER_EXECUTION
    from datacur.model import BATCH_SIZE, build_fixed_model, compile_fixed_model, embedding_model

    keras.utils.set_random_seed(_fold_seed(seed, fold))
    model = build_fixed_model()
    # Several steps per call cut Keras's per-step Python overhead (the maths is unchanged,
    # as on evaluate's fast path); XLA only on request, it compiles for about a minute.
    compile_fixed_model(
        model, jit_compile=jit_compile, steps_per_execution=DEFAULT_STEPS_PER_EXECUTION
    )
    callbacks = []
    if report is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: report(epoch + 1))
        )
    model.fit(
        images[train_index],
        _one_hot(labels[train_index]),
        batch_size=BATCH_SIZE,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    # One pass for logits and pooled embeddings (the embedding model shares the backbone),
    # by direct calls in batches: predict() would retrace a new function per fold model.
    both = keras.Model(model.input, [model.output, embedding_model(model).output])
    outputs = [both(images[i : i + 256], training=False) for i in range(0, len(images), 256)]
    logits = np.concatenate([np.asarray(out[0]) for out in outputs])
    embeddings = np.concatenate([np.asarray(out[1]) for out in outputs])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    embeddings = embeddings / np.maximum(norms, 1e-12)
    return probs.astype(np.float32), embeddings.astype(np.float32)


def _fold_job(args: dict[str, Any]) -> tuple[int, np.ndarray, np.ndarray]:
    """Worker-process entry: train one fold, post epoch events on the queue."""
    threads = args.pop("threads")
    queue = args.pop("queue")
    from datacur.evaluate import configure_threads

    configure_threads(threads)  # the evaluator's pools: one intra-op thread, `threads` inter-op
    fold = args["fold"]

    def report(epoch: int) -> None:
        queue.put((fold, epoch))

    probs, embeddings = _train_fold(report=report, **args)
    return fold, probs, embeddings


def compute_fold_predictions(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int = DEFAULT_FOLDS,
    epochs: int = SHORT_EPOCHS,
    seed: int = 0,
    jobs: int = 1,
    jit_compile: bool = False,
    progress: ProgressCallback | None = None,
) -> FoldPredictions:
    """Train the fixed model on K stratified folds and predict each held-out fold.

    Args:
        images: float32 (N, 32, 32, 3) in [0, 255], decoded as the Keras loader does.
        labels: int (N,) class indices.
        folds: number of stratified folds (each class needs at least this many images).
        epochs: epochs per fold (no best-val checkpoint: the final weights predict).
        seed: fold split and per-fold ``keras.utils.set_random_seed`` derive from it.
        jobs: folds trained in parallel worker processes (1 = in this process).
        jit_compile: XLA-compile training: faster steps, but about a minute of compiling
            per fold on 2 cores, so it pays only for long schedules.
        progress: called after every epoch of every fold.

    Raises:
        VariantError: a class has fewer images than ``folds``.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=len(CLASSES))
    too_few = [f"'{CLASSES[k]}' ({counts[k]})" for k in range(len(CLASSES)) if counts[k] < folds]
    if too_few:
        raise VariantError(
            f"{folds}-fold noise needs at least {folds} images per class across train+val; "
            f"too few in {', '.join(too_few)}. Use fewer --folds or add images."
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(labels)), labels))
    fold_of = np.zeros(len(labels), dtype=np.int16)
    for fold, (_train, test) in enumerate(splits):
        fold_of[test] = fold

    def emit(fold: int, epoch: int) -> None:
        if progress is not None:
            progress(ProgressEvent(fold, folds, epoch, epochs))

    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    common: dict[str, Any] = {
        "folds": folds,
        "epochs": epochs,
        "seed": seed,
        "jit_compile": jit_compile,
    }
    if jobs <= 1:
        for fold, (train, _test) in enumerate(splits):

            def report(epoch: int, fold: int = fold) -> None:
                emit(fold, epoch)

            results[fold] = _train_fold(
                images,
                labels,
                train,
                fold=fold,
                folds=folds,
                epochs=epochs,
                seed=seed,
                jit_compile=jit_compile,
                report=report,
            )
    else:
        results = _run_parallel(images, labels, splits, jobs=jobs, emit=emit, common=common)

    pred_probs = np.zeros((len(labels), len(CLASSES)), dtype=np.float32)
    for fold, (_train, test) in enumerate(splits):
        pred_probs[test] = results[fold][0][test]
    features = np.concatenate([results[fold][1] for fold in range(folds)], axis=1)
    features /= np.sqrt(folds)  # unit norm overall: cosine = mean of per-fold cosines
    return FoldPredictions(pred_probs, features.astype(np.float32), fold_of)


def _run_parallel(
    images: np.ndarray,
    labels: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    jobs: int,
    emit: Callable[[int, int], None],
    common: dict[str, Any],
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    import multiprocessing
    import queue as queue_module
    import time

    from datacur.workers import threads_per_worker

    # spawn, not fork: TensorFlow's threads do not survive a fork. A multiprocessing Pool,
    # not a ProcessPoolExecutor: leaving its block (Ctrl-C, a failed fold) terminates the
    # workers instead of waiting minutes for running folds; one fold per worker process
    # returns TensorFlow's memory after each fold.
    context = multiprocessing.get_context("spawn")
    threads = threads_per_worker(jobs)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    with context.Manager() as manager, context.Pool(jobs, maxtasksperchild=1) as pool:
        events = manager.Queue()
        pending = [
            pool.apply_async(
                _fold_job,
                (
                    {
                        "images": images,
                        "labels": labels,
                        "train_index": train,
                        "fold": fold,
                        "threads": threads,
                        "queue": events,
                        **common,
                    },
                ),
            )
            for fold, (train, _test) in enumerate(splits)
        ]

        def drain() -> None:
            while True:
                try:
                    fold, epoch = events.get_nowait()
                except queue_module.Empty:
                    return
                emit(fold, epoch)

        while pending:
            time.sleep(0.2)
            drain()
            for job in [job for job in pending if job.ready()]:
                pending.remove(job)
                fold, probs, embeddings = job.get()  # re-raises a worker's exception
                results[fold] = (probs, embeddings)
        drain()
    return results


# --------------------------------------------------------------------------- cache


def fold_cache_path(
    cache_dir: Path, content_hash: str, paths: Sequence[str], *, folds: int, epochs: int, seed: int
) -> Path:
    """The ``.npz`` file caching a variant's fold predictions for these settings.

    Keyed on the content hash (pixels, labels, splits) and the file names, so renaming a
    file or changing a setting misses the cache instead of returning misaligned rows.
    """
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_FORMAT}\n{content_hash}\n{folds}\n{epochs}\n{seed}\n".encode())
    digest.update("\n".join(paths).encode("utf-8"))
    return Path(cache_dir) / f"{content_hash[:16]}-{digest.hexdigest()[:16]}.npz"


def save_fold_predictions(path: Path, predictions: FoldPredictions, paths: Sequence[str]) -> None:
    """Write fold predictions as a plain ``.npz`` (no pickle), atomically."""
    buffer = _io.BytesIO()
    np.savez(
        buffer,
        pred_probs=predictions.pred_probs,
        features=predictions.features,
        fold_of=predictions.fold_of,
        paths=np.array(list(paths), dtype=np.str_),
    )
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_fold_predictions(path: Path, paths: Sequence[str]) -> FoldPredictions | None:
    """Read a cached ``.npz``; ``None`` when absent, unreadable, or for other files."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if data["paths"].tolist() != list(paths):
                return None
            return FoldPredictions(
                data["pred_probs"].astype(np.float32),
                data["features"].astype(np.float32),
                data["fold_of"].astype(np.int16),
            )
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is recomputed, not trusted


# --------------------------------------------------------------------------- cleanlab part


def find_model_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    features: np.ndarray | None,
    images: Sequence[VariantImage],
    paths: Sequence[str],
    *,
    k: int = 10,
    outlier_threshold: float = 0.37037,
    duplicate_threshold: float = 0.13,
) -> list[ImageIssue]:
    """Label issues from out-of-fold ``pred_probs``; outliers and near duplicates from features.

    Label issues: ``cleanlab.filter.find_label_issues`` (confident learning, prune by noise
    rate), scored ``1 - self_confidence`` and suggesting the most probable class. Outliers
    and near duplicates follow cleanlab Datalab's rules on a cosine k-NN graph of the
    features (Datalab itself needs the Hugging Face ``datasets`` package, which datacur does
    not install): an outlier's mean distance to its k neighbours is above
    ``Q3 + (1/outlier_threshold - 1) * IQR``, scored by ``cleanlab.outlier.OutOfDistribution``;
    a near duplicate is nearer than ``duplicate_threshold`` times the median nearest-neighbour
    distance to an earlier image (which stays unflagged).

    Args:
        labels: int (N,) given class indices.
        pred_probs: float (N, 10) out-of-fold probabilities.
        features: float (N, D) embeddings, or None to skip outliers and near duplicates.
        images, paths: the images (split, label) and their variant-relative paths.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.shape != (len(labels), len(CLASSES)):
        raise ValueError(
            f"pred_probs must have shape ({len(labels)}, {len(CLASSES)}), got {pred_probs.shape}"
        )
    issues: list[ImageIssue] = []

    def add(
        index: int,
        issue: str,
        confidence: float,
        reason: str,
        suggested: str = "",
        partner: str = "",
    ) -> None:
        score = round(ISSUE_TYPES[issue] * float(np.clip(confidence, 0.0, 1.0)), 6)
        image = images[index]
        issues.append(
            ImageIssue(
                paths[index], image.split, image.label, issue, score, reason, suggested, partner
            )
        )

    mask = find_label_issues(labels, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1)
    quality = get_label_quality_scores(labels, pred_probs, method="self_confidence")
    predicted = pred_probs.argmax(axis=1)
    for index in np.flatnonzero(mask).tolist():
        guess = int(predicted[index])
        if guess == labels[index]:
            continue
        add(
            index,
            "label",
            1.0 - float(quality[index]),
            f"out-of-fold model gives '{CLASSES[labels[index]]}' "
            f"{pred_probs[index, labels[index]]:.0%} and '{CLASSES[guess]}' "
            f"{pred_probs[index, guess]:.0%}",
            suggested=CLASSES[guess],
        )

    if features is not None and len(labels) > 2:
        _add_embedding_issues(features, paths, add, k, outlier_threshold, duplicate_threshold)
    return issues


def _add_embedding_issues(
    features: np.ndarray,
    paths: Sequence[str],
    add: Callable[..., None],
    k: int,
    outlier_threshold: float,
    duplicate_threshold: float,
) -> None:
    from cleanlab.outlier import OutOfDistribution
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(features, dtype=np.float64)
    k = max(1, min(k, len(features) - 1))
    knn = NearestNeighbors(n_neighbors=k, metric="cosine").fit(features)
    distances, neighbours = knn.kneighbors()  # excludes each point itself
    distances = np.maximum(distances, 0.0)
    ood_scores = OutOfDistribution(params={"k": k}).fit_score(features=features, verbose=False)
    mean_distance = distances.mean(axis=1)
    q1, q3 = np.percentile(mean_distance, [25, 75])
    limit = q3 + (1.0 / outlier_threshold - 1.0) * (q3 - q1)
    median_distance = float(np.median(mean_distance))
    for index in np.flatnonzero(mean_distance > limit).tolist():
        add(
            index,
            "outlier",
            1.0 - float(ood_scores[index]),
            f"unlike the rest: mean embedding distance to its {k} nearest images "
            f"{mean_distance[index]:.3f} (median {median_distance:.3f})",
        )
    nearest = distances[:, 0]
    radius = duplicate_threshold * max(float(np.median(nearest)), 1e-12)
    for index in range(len(features)):
        partner = int(neighbours[index, 0])
        if nearest[index] < radius and partner < index:
            add(
                index,
                "embedding_duplicate",
                1.0 - nearest[index] / radius / 2,
                f"embedding almost identical to {paths[partner]} "
                f"(cosine distance {nearest[index]:.4f} < {radius:.4f})",
                partner=paths[partner],
            )


# --------------------------------------------------------------------------- detectors


SUGGEST_K = 20
"""Neighbours whose labels vote for the relabel suggestion."""
EMBED_K = 40
"""Neighbours for the embedding k-NN columns: on the dcai-2021 journal's tuning half, k=40
ranked better than 10 or 20 (p@100 of the disagreement column 0.60 vs 0.56 and 0.57)."""


def model_features(
    labels: np.ndarray, predictions: FoldPredictions, *, k: int = EMBED_K
) -> tuple[tuple[str, ...], np.ndarray]:
    """Detector columns from out-of-fold predictions (higher = more suspicious).

    ``model_given_low`` is 1 - the held-out model's probability of the given label (cleanlab's
    self-confidence), ``model_other_max`` the most probable other class's probability,
    ``model_entropy`` the prediction's entropy, and ``embed_knn_distance`` /
    ``embed_knn_disagree`` the k-NN outlier and label-disagreement scores in the fold
    models' embedding space.
    """
    from datacur.junk import knn_features

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(predictions.pred_probs, dtype=np.float64)
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -1.0
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    knn = knn_features(predictions.features, labels, k=k)
    names = (
        "model_given_low",
        "model_other_max",
        "model_entropy",
        "embed_knn_distance",
        "embed_knn_disagree",
    )
    return names, np.column_stack([1.0 - given, others.max(axis=1), entropy, knn])


def junk_cache_path(
    cache_dir: Path, content_hash: str, paths: Sequence[str], book_key: str
) -> Path:
    """The ``.npz`` caching a variant's label-free junk features (keyed like the folds)."""
    digest = hashlib.sha256()
    digest.update(f"junk v{JUNK_FORMAT}\n{content_hash}\n{book_key}\n".encode())
    digest.update("\n".join(paths).encode("utf-8"))
    return Path(cache_dir) / f"{content_hash[:16]}-junk-{digest.hexdigest()[:16]}.npz"


def _load_junk(path: Path, paths: Sequence[str]) -> JunkFeatures | None:
    from datacur.junk import JunkFeatures

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if data["paths"].tolist() != list(paths):
                return None
            return JunkFeatures(
                tuple(data["names"].tolist()),
                data["values"].astype(np.float64),
                tuple(data["nearest_book"].tolist()),
            )
    except (OSError, ValueError, KeyError):
        return None


def _save_junk(path: Path, junk: JunkFeatures, paths: Sequence[str]) -> None:
    buffer = _io.BytesIO()
    np.savez(
        buffer,
        names=np.array(junk.names, dtype=np.str_),
        values=junk.values,
        nearest_book=np.array(junk.nearest_book, dtype=np.str_),
        paths=np.array(list(paths), dtype=np.str_),
    )
    atomic_write_bytes(Path(path), buffer.getvalue())


def measure_variant_junk(
    images: Sequence[VariantImage],
    paths: Sequence[str],
    labels: np.ndarray,
    *,
    label_book: Path | None,
    content_hash: str,
    cache_dir: Path | None,
) -> JunkFeatures:
    """Label-free junk features of readable images, cached next to the fold predictions."""
    from datacur.io import read_image_gray
    from datacur.junk import measure_junk, read_label_book

    book = read_label_book(label_book) if label_book is not None else None
    book_key = "none"
    if book is not None:
        book_key = hashlib.sha256(book[0].tobytes() + book[1].tobytes()).hexdigest()[:16]
    cache_path = None
    if cache_dir is not None:
        cache_path = junk_cache_path(Path(cache_dir), content_hash, paths, book_key)
        cached = _load_junk(cache_path, paths)
        if cached is not None:
            return cached
    arrays = [read_image_gray(image.path) for image in images]
    junk = measure_junk(arrays, labels, book=book)
    if cache_path is not None:
        _save_junk(cache_path, junk, paths)
    return junk


def compute_detectors(
    paths: Sequence[str],
    labels: np.ndarray,
    junk: JunkFeatures,
    predictions: FoldPredictions | None,
    *,
    weights: FusionWeights | None = None,
) -> DetectorTable:
    """Join the junk and model columns, fuse them and pick a relabel suggestion per image.

    The suggestion is the out-of-fold model's most probable other class when it beats the
    given label; without a model, the class of the nearest label-book exemplar when that is
    not the given one.
    """
    from datacur.fusion import DEFAULT_WEIGHTS, LABEL_FREE_WEIGHTS, score_fusion

    labels = np.asarray(labels, dtype=np.int64)
    names = list(junk.names)
    values = [junk.values]
    suggested = [
        book if book and book != CLASSES[label] else ""
        for book, label in zip(junk.nearest_book, labels.tolist(), strict=True)
    ]
    mislabelled = np.array([bool(s) for s in suggested], dtype=bool)
    if predictions is not None:
        model_names, model_values = model_features(labels, predictions)
        names += model_names
        values.append(model_values)
        # The model's probabilities plus the labels of the image's nearest neighbours in the
        # embedding: on the dcai-2021 journal's tuning half this names the right class for
        # 12 of 16 relabels (the model alone 9); always the best class other than the given.
        votes = _neighbour_votes(predictions.features, labels, k=SUGGEST_K)
        support = np.asarray(predictions.pred_probs, dtype=np.float64) + votes
        rows = np.arange(len(labels))
        others = support.copy()
        others[rows, labels] = -np.inf
        best = others.argmax(axis=1)
        suggested = [CLASSES[int(k)] for k in best.tolist()]
        mislabelled = others[rows, best] > support[rows, labels]
    table = np.concatenate(values, axis=1) if values else np.zeros((len(labels), 0))
    if weights is None:
        weights = DEFAULT_WEIGHTS if predictions is not None else LABEL_FREE_WEIGHTS
    fused = score_fusion(names, table, weights)
    return DetectorTable(
        tuple(paths), labels, tuple(names), table, tuple(suggested), fused, mislabelled
    )


def _neighbour_votes(features: np.ndarray, labels: np.ndarray, *, k: int) -> np.ndarray:
    """float (N, 10): share of each class among an image's k nearest others (cosine)."""
    from sklearn.neighbors import NearestNeighbors

    votes = np.zeros((len(labels), len(CLASSES)))
    if len(labels) < 2:
        return votes
    k = max(1, min(k, len(labels) - 1))
    knn = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(features)
    _distances, neighbours = knn.kneighbors()
    for column in range(k):
        votes[np.arange(len(labels)), labels[neighbours[:, column]]] += 1.0 / k
    return votes


def _fused_entries(
    table: DetectorTable, weights: FusionWeights, flagged: set[str]
) -> tuple[dict[str, tuple[float, str, str]], list[int]]:
    """Per path (fused score, reason, suggestion); plus the unflagged images to add."""
    from datacur.fusion import rank_normalize

    ranks = rank_normalize(table.values)
    coef = np.array([weights.coef.get(name, 0.0) for name in table.names])
    contributions = coef * (ranks - 0.5)
    entries: dict[str, tuple[float, str, str]] = {}
    for index, path in enumerate(table.paths):
        top = np.argsort(-contributions[index], kind="stable")[:3]
        signals = ", ".join(
            f"{table.names[c]} p{round(100 * ranks[index, c])}"
            for c in top.tolist()
            if contributions[index, c] > 0
        )
        reason = f"fused score {table.fused[index]:.3f}" + (f" ({signals})" if signals else "")
        entries[path] = (float(table.fused[index]), reason, table.suggested[index])
    keep = max(1, round(BAD_SHARE * len(table.paths)))
    order = np.argsort(-table.fused, kind="stable")[:keep]
    extra = [int(i) for i in order.tolist() if table.paths[int(i)] not in flagged]
    return entries, sorted(extra)


# --------------------------------------------------------------------------- ranking


def rank_issues(
    issues: Sequence[ImageIssue],
    *,
    variant: str = "",
    fused: Mapping[str, tuple[float, str, str]] | None = None,
) -> list[IssueRow]:
    """Merge issues into two ranked queues: ``bad`` (per image), then ``hygiene`` (per pair).

    A bad row's ``issue`` and ``suggested`` come from its most severe issue (a suggestion
    from a less severe one is used when the most severe has none); ``reason`` joins every
    reason, most severe first. Its score is the issue score, or, when ``fused`` gives the
    image a fused score, that score (an unreadable file stays at 1.0, a blank page at least
    0.99: certain problems stay on top). ``fused`` maps path -> (score, reason,
    suggestion) and also adds images that no detector flagged. A hygiene row is one twin
    pair (``path`` is the copy to drop, ``partner`` the one to keep), scored by its most
    severe issue. Ties break by path; ``rank`` counts from 1 in each queue.
    """
    fused = fused or {}
    rows: list[IssueRow] = []
    by_path: dict[str, list[ImageIssue]] = defaultdict(list)
    by_pair: dict[tuple[str, str], list[ImageIssue]] = defaultdict(list)
    for issue in issues:
        if issue.issue in HYGIENE_ISSUES:
            # Either orientation is the same pair (pHash and embedding may disagree on it).
            first, second = sorted((issue.path, issue.partner))
            by_pair[(first, second)].append(issue)
        else:
            by_path[issue.path].append(issue)
    merged: list[tuple[float, str, IssueRow]] = []
    for path, found in by_path.items():
        found.sort(key=lambda item: (-item.score, item.issue))
        top = found[0]
        score = top.score
        reasons = [f"{item.issue}: {item.reason}" for item in found]
        suggested = next((item.suggested for item in found if item.suggested), "")
        if path in fused:
            fused_score, fused_reason, fused_suggestion = fused[path]
            score = fused_score
            if top.issue == "unreadable":
                score = 1.0
            elif top.issue == "blank":
                score = max(score, 0.99)
            reasons.append(fused_reason)
            suggested = fused_suggestion or suggested  # model + neighbours beat cleanlab's argmax
        kinds = ";".join(dict.fromkeys(item.issue for item in found))
        merged.append(
            (
                round(score, 6),
                path,
                IssueRow(
                    0,
                    path,
                    top.split,
                    top.label,
                    suggested,
                    top.issue,
                    round(score, 6),
                    "; ".join(reasons),
                    kinds,
                    variant,
                ),
            )
        )
    merged.sort(key=lambda entry: (-entry[0], entry[1]))
    rows.extend(replace(row, rank=rank) for rank, (_s, _p, row) in enumerate(merged, start=1))
    pairs: list[tuple[float, str, str, IssueRow]] = []
    for found in by_pair.values():
        found.sort(key=lambda item: (-item.score, item.issue))
        top = found[0]
        path, partner = top.path, top.partner
        pairs.append(
            (
                top.score,
                path,
                partner,
                IssueRow(
                    0,
                    path,
                    top.split,
                    top.label,
                    next((item.suggested for item in found if item.suggested), ""),
                    top.issue,
                    top.score,
                    "; ".join(f"{item.issue}: {item.reason}" for item in found),
                    ";".join(dict.fromkeys(item.issue for item in found)),
                    variant,
                    queue="hygiene",
                    partner=partner,
                ),
            )
        )
    pairs.sort(key=lambda entry: (-entry[0], entry[1], entry[2]))
    rows.extend(replace(row, rank=rank) for rank, (*_k, row) in enumerate(pairs, start=1))
    return rows


def summarize_issues(rows: Sequence[IssueRow]) -> dict[str, Counter[str]]:
    """Count flagged images per issue type (every type an image has) and class."""
    table: dict[str, Counter[str]] = {}
    for row in rows:
        for issue in row.issues.split(";"):
            table.setdefault(issue, Counter())[row.label] += 1
    return dict(sorted(table.items(), key=lambda item: -ISSUE_TYPES.get(item[0], 0)))


def write_issues_csv(rows: Sequence[IssueRow], path: Path) -> Path:
    """Write ``issues.csv`` (columns :data:`ISSUE_COLUMNS`) atomically; return its path."""
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ISSUE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        record["score"] = f"{row.score:.6f}"
        writer.writerow(record)
    atomic_write_text(Path(path), buffer.getvalue())
    return Path(path)


def _queue_of(issue: str) -> str:
    return "hygiene" if issue in HYGIENE_ISSUES else "bad"


def read_issues_csv(path: Path, *, queue: str | None = None) -> list[IssueRow]:
    """Read an ``issues.csv`` written by :func:`write_issues_csv`.

    Args:
        path: the file. A file written before the queues existed reads too (each row's
            queue follows from its issue type).
        queue: keep only this queue's rows (``bad`` or ``hygiene``); None keeps all.

    Raises:
        DatacurError: the file is missing or lacks a column, naming the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DatacurError(f"{path}: file not found. Run `datacur noise VARIANT --out {path}`.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatacurError(
                f"{path}: not an issues file (missing column(s) {', '.join(missing)}). "
                "Give a file written by `datacur noise`."
            )
        rows = []
        for line, record in enumerate(reader, start=2):
            try:
                rows.append(
                    IssueRow(
                        rank=int(record["rank"]),
                        path=record["path"],
                        split=record["split"],
                        label=record["label"],
                        suggested=record["suggested"],
                        issue=record["issue"],
                        score=float(record["score"]),
                        reason=record["reason"],
                        issues=record["issues"],
                        variant=record["variant"],
                        queue=record.get("queue") or _queue_of(record["issue"]),
                        partner=record.get("partner") or "",
                    )
                )
            except (TypeError, ValueError) as err:
                raise DatacurError(
                    f"{path}: line {line}: bad value ({err}). Re-run `datacur noise`."
                ) from err
    if queue is not None:
        if queue not in QUEUES:
            raise DatacurError(f"unknown queue {queue!r}; expected one of {', '.join(QUEUES)}.")
        rows = [row for row in rows if row.queue == queue]
    return rows


# --------------------------------------------------------------------------- facade


def find_noise(
    variant_dir: Path,
    *,
    folds: int = DEFAULT_FOLDS,
    epochs: int = SHORT_EPOCHS,
    seed: int = 0,
    jobs: int = 1,
    use_model: bool = True,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    jit_compile: bool = False,
    options: ImageCheckOptions | None = None,
    progress: ProgressCallback | None = None,
    label_book: Path | None = None,
    weights: FusionWeights | None = None,
) -> NoiseReport:
    """Find bad images (label issues, junk) and hygiene problems (twins) in a variant.

    Args:
        variant_dir: a dataset variant (train/ and val/ with one folder per class).
        folds: stratified folds over train+val for out-of-fold predictions.
        epochs: epochs per fold (:data:`SHORT_EPOCHS` by default; :data:`FULL_EPOCHS` is
            the competition's schedule).
        seed: fold split and weight initialisation.
        jobs: folds trained in parallel processes.
        use_model: False runs only the model-free checks and junk features (no training).
        cache_dir: where fold predictions and junk features are cached (None: no cache;
            a run without the model caches nothing).
        jit_compile: XLA-compile the fold training (pays only for long schedules).
        options: thresholds of the image checks.
        progress: called after every epoch of every fold.
        label_book: folder of trusted exemplars (``<class>/*.png``) for the anchor
            distances; None leaves those columns out.
        weights: fusion weights (:mod:`datacur.fusion`); None: the shipped ones.

    Returns:
        A :class:`NoiseReport`; write it with :func:`write_issues_csv`.

    Raises:
        VariantError: the folder is not a variant, or a class is too small for ``folds``.

    Example:
        >>> report = find_noise(Path("datasets/dcai-2021"), folds=5, epochs=15)  # doctest: +SKIP
    """
    if folds < 2:
        raise DatacurError(f"--folds must be at least 2 (received {folds}).")
    if epochs < 1:
        raise DatacurError(f"--epochs must be at least 1 (received {epochs}).")
    variant_dir = Path(variant_dir)
    images = list_variant_images(variant_dir)
    paths = [relative_path(image, variant_dir) for image in images]
    issues, stats = check_images(images, variant_dir, options=options)
    content_hash = compute_content_hash(images)
    report_args: dict[str, Any] = {
        "variant": str(variant_dir),
        "content_hash": content_hash,
        "images": len(images),
        "folds": folds,
        "epochs": epochs,
    }
    usable = [index for index, stat in enumerate(stats) if stat.readable]
    use_images = [images[index] for index in usable]
    use_paths = [paths[index] for index in usable]
    labels = np.array([CLASS_INDEX[image.label] for image in use_images], dtype=np.int64)
    junk = measure_variant_junk(
        use_images,
        use_paths,
        labels,
        label_book=label_book,
        content_hash=content_hash,
        cache_dir=cache_dir if use_model else None,  # --no-model leaves no files behind
    )
    if not use_model:
        table = compute_detectors(use_paths, labels, junk, None, weights=weights)
        return NoiseReport(
            rows=_rank_with_fusion(issues, table, use_images, weights, str(variant_dir.resolve())),
            model_used=False,
            schedule="none (image checks and junk features only)",
            cached=False,
            oof_accuracy=None,
            detectors=table,
            **report_args,
        )

    cache_path = None
    predictions = None
    if cache_dir is not None:
        cache_path = fold_cache_path(
            Path(cache_dir), content_hash, use_paths, folds=folds, epochs=epochs, seed=seed
        )
        predictions = load_fold_predictions(cache_path, use_paths)
    cached = predictions is not None
    if predictions is None:
        from datacur.decode import decode_images

        arrays = decode_images([image.path for image in use_images])
        predictions = compute_fold_predictions(
            arrays,
            labels,
            folds=folds,
            epochs=epochs,
            seed=seed,
            jobs=jobs,
            jit_compile=jit_compile,
            progress=progress,
        )
        if cache_path is not None:
            save_fold_predictions(cache_path, predictions, use_paths)
    issues.extend(
        find_model_issues(
            labels, predictions.pred_probs, predictions.features, use_images, use_paths
        )
    )
    table = compute_detectors(use_paths, labels, junk, predictions, weights=weights)
    accuracy = float(np.mean(predictions.pred_probs.argmax(axis=1) == labels))
    schedule = (
        f"full ({count_noun(epochs, 'epoch')} per fold, the competition's)"
        if epochs >= FULL_EPOCHS
        else f"short ({count_noun(epochs, 'epoch')} per fold; the competition trains {FULL_EPOCHS})"
    )
    return NoiseReport(
        rows=_rank_with_fusion(issues, table, use_images, weights, str(variant_dir.resolve())),
        model_used=True,
        schedule=schedule,
        cached=cached,
        oof_accuracy=accuracy,
        cache_path=str(cache_path or ""),
        detectors=table,
        **report_args,
    )


def _rank_with_fusion(
    issues: list[ImageIssue],
    table: DetectorTable,
    images: Sequence[VariantImage],
    weights: FusionWeights | None,
    variant: str,
) -> list[IssueRow]:
    """Add the fused score to the bad queue and the top fused images nobody flagged; rank."""
    from datacur.fusion import DEFAULT_WEIGHTS, LABEL_FREE_WEIGHTS

    if weights is None:
        weights = (
            DEFAULT_WEIGHTS
            if any(n.startswith("model_") for n in table.names)
            else (LABEL_FREE_WEIGHTS)
        )
    flagged = {issue.path for issue in issues if issue.issue not in HYGIENE_ISSUES}
    fused, extra = _fused_entries(table, weights, flagged)
    issues = list(issues)
    for index in extra:
        image = images[index]
        suggestion = table.suggested[index]
        likely = bool(table.mislabelled[index])
        issues.append(
            ImageIssue(
                table.paths[index],
                image.split,
                image.label,
                "label" if likely else "junk",
                0.0,
                f"no single check flags it; the fused score ranks it in the top {BAD_SHARE:.0%}",
                suggestion,
            )
        )
    return rank_issues(issues, variant=variant, fused=fused)
