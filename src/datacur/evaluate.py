"""Score a variant with the competition's fixed model: the exact port and the fast path.

Both paths keep the 2021 script's semantics (DESIGN.md "The fixed evaluator, exactly"):
the same files in the same loader order (``image_dataset_from_directory`` with
``seed=123``), the same per-epoch shuffle (a ``tf.data`` shuffle, buffer 64, seed 123),
the same model, optimiser and loss, batch size 8, and the same checkpoint rule (the first
epoch with the highest ``val_accuracy`` wins, reloaded before scoring).

* ``exact=True`` runs the straight port: files decoded from disk every epoch, plain ``fit``.
* the default fast path decodes every image once into memory (bit-identical arrays, see
  :mod:`datacur.decode`), feeds batches by index through the *same* shuffle op, runs
  several steps per call (``steps_per_execution``), validates in large batches (order- and
  batch-size-free: BatchNorm is in inference mode) and pins TensorFlow's thread pools to
  what a batch of 8 can use (:func:`configure_threads`). It reproduces the exact path's
  training losses and predictions (tested). XLA (``jit_compile=True``) is opt-in: it
  changes only floating-point rounding, and on this CPU it is no faster (below).

Speed (``benchmarks/evaluate_speed.py --levers``, 2 cores, TF 2.21 with oneDNN, batch 8, ms
per training step of the fixed model, data in memory): TF's default threads 14.4; one
intra-op thread with two inter-op threads 9.8 (the default here), with one 11.5 (each of
two workers); XLA 10.1 with default threads, 12.4 with one thread, plus its compile time;
the JAX backend 10.7. Per image, batch 16 costs 1.35 ms and batch 32 1.44 ms against
1.44 ms at batch 8 (one thread): a packed multi-seed step has nothing to gain per core.
Drawing the epoch orders up front instead of shuffling in the pipeline was measured
side by side in a later session and was slower (16.4-17.2 against 14.4-14.5 ms a step,
on a day this machine ran every step about a third slower than above): not kept.
Floating-point sums depend on the thread layout, so a seed's numbers are the same on the
fast and exact paths under the same thread pools (tested), and a statistically equivalent
draw under other pools.

Seeds: ``keras.utils.set_random_seed(seed)`` seeds Python, NumPy and TF together, because
under Keras 3 ``tf.random.set_seed`` alone no longer fixes the initial weights.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from datacur.cap import measure_cap, require_under_cap
from datacur.check import require_readable
from datacur.errors import EvaluationError
from datacur.labels import CLASSES
from datacur.model import (
    BATCH_SIZE,
    DEFAULT_MODEL,
    IMAGE_SIZE,
    MODELS,
    build_model,
    compile_fixed_model,
)
from datacur.variant import (
    compute_content_hash,
    list_folder_images,
    list_variant_images,
)

__all__ = [
    "LOADER_SEED",
    "EpochLog",
    "RunResult",
    "TestScore",
    "configure_threads",
    "evaluate_seeds",
    "evaluate_variant",
    "library_versions",
]

LOADER_SEED = 123
"""The ``seed=`` the competition script passes to ``image_dataset_from_directory``."""

SHUFFLE_BUFFER = BATCH_SIZE * 8
"""The Keras loader's shuffle buffer when a batch size is given (``batch_size * 8``)."""

VAL_BATCH = 256
"""Validation/test batch size on the fast path; accuracy does not depend on it."""

DEFAULT_STEPS_PER_EXECUTION = 16

DEFAULT_JIT_COMPILE = False
"""XLA is opt-in: no faster per step than oneDNN here (10.1 vs 9.8 ms), and it compiles first."""

ProgressCallback = Callable[["EpochLog"], None]


@dataclass(frozen=True)
class EpochLog:
    """What one finished epoch reports to a progress callback."""

    seed: int
    epoch: int  # 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float


@dataclass
class TestScore:
    """One trained model scored on one test set (or on val when the run had none)."""

    __test__ = False  # a result type, not a pytest test class

    test_name: str | None
    test_hash: str | None
    test_accuracy: float | None
    test_loss: float | None
    scored_on: str  # "test" or "val"
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]
    predictions: list[tuple[str, str, str]]
    probabilities: Any = None  # float32 (N, 10) softmax of the logits; not in to_dict
    n_images: int = 0
    twins_exact: int | None = None  # test images byte-identical to a train/val image
    twins_near: int | None = None  # test images with only an ink-pHash twin there
    accuracy_without_twins: float | None = None
    twin_pairs: list[tuple[str, str, str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the probability array)."""
        values = {k: v for k, v in self.__dict__.items() if k != "probabilities"}
        values["predictions"] = [list(p) for p in self.predictions]
        values["twin_pairs"] = [list(p) for p in self.twin_pairs]
        return values


@dataclass
class RunResult:
    """One training run of the fixed model on a variant, with everything the store keeps."""

    variant: str
    variant_hash: str
    test_name: str | None
    test_hash: str | None
    seed: int
    epochs: int
    path: str  # "fast" or "exact"
    model: str
    best_epoch: int  # 1-based
    val_accuracy: float
    val_loss: float
    test_accuracy: float | None
    test_loss: float | None
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]  # rows: true class, columns: predicted, CLASSES order
    scored_on: str  # "test" or "val": which split per-class and confusion describe
    curves: dict[str, list[float]]
    timings: dict[str, float]
    versions: dict[str, str]
    counts: dict[str, int]
    predictions: list[tuple[str, str, str]] = field(default_factory=list)
    """(path, true label, predicted label) for every scored image."""
    scores: list[TestScore] = field(default_factory=list)
    """Every test set scored from this training, in ``--test`` order; the flat test fields
    above repeat the first one (what a single ``--test`` always reported)."""
    checkpoint: str | None = None
    """A copy of the best-val weights kept for the model store (``keep_dir``), if any."""
    fingerprints: Any = None
    """The variant's :class:`datacur.leakage.Fingerprints` (for the store; not in to_dict)."""
    train_per_class_accuracy: dict[str, float] | None = None
    """Per-class accuracy of the best checkpoint on its own train split (inference mode),
    for the generalization gap in the report (issue 27 D5); None when not measured."""
    val_per_class_accuracy: dict[str, float] | None = None
    """Per-class accuracy of the best checkpoint on val; None when not measured."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        values = asdict(replace(self, scores=[], fingerprints=None))
        values.pop("fingerprints")
        values["scores"] = [score.to_dict() for score in self.scores]
        return values


# --------------------------------------------------------------------------- helpers


def library_versions() -> dict[str, str]:
    """Versions that can change a run's numbers, recorded with every result."""
    import keras
    import tensorflow as tf

    from datacur import __version__

    return {
        "datacur": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def _per_class_and_confusion(
    true_idx: np.ndarray, pred_idx: np.ndarray
) -> tuple[dict[str, float], list[list[int]]]:
    n = len(CLASSES)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (true_idx, pred_idx), 1)
    per_class = {}
    for index, label in enumerate(CLASSES):
        total = int(confusion[index].sum())
        per_class[label] = float(confusion[index, index] / total) if total else float("nan")
    return per_class, confusion.tolist()


class _EpochReporter:
    """Builds the Keras callback that forwards each epoch's logs to ``progress``."""

    @staticmethod
    def make(progress: ProgressCallback | None, seed: int, epochs: int) -> Any:
        import keras

        class Reporter(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                if progress is None:
                    return
                logs = logs or {}
                progress(
                    EpochLog(
                        seed=seed,
                        epoch=epoch + 1,
                        epochs=epochs,
                        loss=float(logs.get("loss", float("nan"))),
                        accuracy=float(logs.get("accuracy", float("nan"))),
                        val_loss=float(logs.get("val_loss", float("nan"))),
                        val_accuracy=float(logs.get("val_accuracy", float("nan"))),
                        seconds=time.perf_counter() - self._start,
                    )
                )

        return Reporter()


def _loader(directory: Path, *, shuffle: bool) -> Any:
    """The competition's ``image_dataset_from_directory`` call, verbatim but quiet."""
    import keras

    return keras.utils.image_dataset_from_directory(
        str(directory),
        labels="inferred",
        label_mode="categorical",
        class_names=list(CLASSES),
        shuffle=shuffle,
        seed=LOADER_SEED,
        batch_size=BATCH_SIZE,
        image_size=IMAGE_SIZE,
        verbose=False,
    )


def _curves(history: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return {key: [float(value) for value in history.get(key, [])] for key in keys}


def _fit_best(
    model: Any, train: Any, valid: Any, epochs: int, workdir: Path, callbacks: list[Any]
) -> tuple[Any, float]:
    """Fit as the script does and reload the checkpoint with the best ``val_accuracy``.

    Returns the Keras history and the training seconds. Keras's notice that its own
    ``shuffle`` argument is ignored for ``tf.data`` input is silenced: the dataset shuffles,
    exactly as in the script.
    """
    import warnings

    import keras

    checkpoint_path = workdir / "best_model.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(checkpoint_path),
        monitor="val_accuracy",
        mode="max",
        save_best_only=True,
        save_weights_only=True,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
        history = model.fit(
            train,
            validation_data=valid,
            epochs=epochs,
            callbacks=[checkpoint, *callbacks],
            verbose=0,
        )
    seconds = time.perf_counter() - started
    model.load_weights(str(checkpoint_path))
    return history, seconds


def _best_epoch(val_accuracy: Sequence[float]) -> int:
    """1-based epoch ModelCheckpoint keeps: the first with the highest val accuracy."""
    return int(np.argmax(np.asarray(val_accuracy))) + 1


# --------------------------------------------------------------------------- the two paths


@dataclass
class _Scored:
    """Predictions of the best checkpoint on one folder (a test set, or val)."""

    paths: list[str]
    true_idx: np.ndarray
    logits: np.ndarray
    loss: float | None
    accuracy: float | None


@dataclass
class _Trained:
    history: dict[str, list[float]]
    val_loss: float
    val_accuracy: float
    scored: list[_Scored]  # one per test set; [val] when there is none
    timings: dict[str, float]
    train_per_class: dict[str, float] | None = None
    val_per_class: dict[str, float] | None = None


def _per_class_of(true_idx: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Per-class accuracy of logits against class indices (NaN for an absent class)."""
    per_class, _confusion = _per_class_and_confusion(
        np.asarray(true_idx, dtype=np.int64), np.argmax(np.asarray(logits), axis=1)
    )
    return per_class


def _keep(workdir: Path, keep_path: Path | None) -> None:
    """Copy the reloaded best checkpoint out of the temporary folder before it goes."""
    if keep_path is not None:
        from datacur.modelstore import copy_checkpoint

        copy_checkpoint(workdir / "best_model.weights.h5", keep_path)


def _train_exact(
    variant_dir: Path,
    test_dirs: Sequence[Path],
    *,
    seed: int,
    epochs: int,
    workdir: Path,
    callbacks: list[Any],
    model_name: str = DEFAULT_MODEL,
    keep_path: Path | None = None,
) -> _Trained:
    """The straight port of the 2021 script (Keras 3 spelling), decoding from disk."""
    import keras

    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    train = _loader(variant_dir / "train", shuffle=True)
    valid = _loader(variant_dir / "val", shuffle=True)
    tests = [_loader(test_dir, shuffle=False) for test_dir in test_dirs]

    model = compile_fixed_model(build_model(model_name))
    model.evaluate(valid, verbose=0)  # the script scores the untrained model first
    history, train_seconds = _fit_best(model, train, valid, epochs, workdir, callbacks)
    _keep(workdir, keep_path)
    val_loss, val_acc = model.evaluate(valid, verbose=0)
    scored = []
    for test in tests or [_loader(variant_dir / "val", shuffle=False)]:
        test_loss = test_acc = None
        if tests:
            test_loss, test_acc = model.evaluate(test, verbose=0)
        logits = model.predict(test, verbose=0)
        true_idx = np.concatenate([np.argmax(y.numpy(), axis=1) for _, y in test])
        scored.append(
            _Scored(
                paths=list(test.file_paths),
                true_idx=true_idx,
                logits=np.asarray(logits),
                loss=None if test_loss is None else float(test_loss),
                accuracy=None if test_acc is None else float(test_acc),
            )
        )
    # The generalization gap (issue 27 D5), measured only after everything above, so the
    # training and every number it reports are exactly what they were: train and val
    # predicted once more in inference mode, unshuffled, in the script's batches of 8.
    per_split: dict[str, dict[str, float]] = {}
    for split in ("train", "val"):
        if split == "val" and not tests:
            per_split[split] = _per_class_of(scored[0].true_idx, scored[0].logits)
            continue
        loader = _loader(variant_dir / split, shuffle=False)
        split_logits = model.predict(loader, verbose=0)
        split_true = np.concatenate([np.argmax(y.numpy(), axis=1) for _, y in loader])
        per_split[split] = _per_class_of(split_true, split_logits)
    return _Trained(
        history=_curves(history.history),
        val_loss=float(val_loss),
        val_accuracy=float(val_acc),
        scored=scored,
        train_per_class=per_split["train"],
        val_per_class=per_split["val"],
        timings={
            "decode_s": 0.0,
            "train_s": train_seconds,
            "total_s": time.perf_counter() - started,
        },
    )


def _labels_from_paths(paths: Sequence[str], root: Path) -> np.ndarray:
    """Class index of each loader path (``<root>/<class>/...``)."""
    index = {label: i for i, label in enumerate(CLASSES)}
    return np.array(
        [index[Path(path).relative_to(root).parts[0]] for path in paths], dtype=np.int64
    )


def decode_folder(test_dir: Path) -> tuple[list[str], np.ndarray]:
    """The loader's file order of a ``<class>/`` folder and its decoded images."""
    from datacur.decode import decode_images

    paths = list(_loader(test_dir, shuffle=False).file_paths)
    return paths, decode_images(paths)


def predict_folder(
    model: Any, test_dir: Path, decoded: tuple[list[str], np.ndarray] | None = None
) -> _Scored:
    """Score a compiled model on a ``<class>/`` folder as the fast path does.

    The same decoding (:mod:`datacur.decode`), batches of ``VAL_BATCH`` and ops as the
    in-training prediction, so a stored checkpoint reproduces it bit for bit.
    """
    import tensorflow as tf

    paths, test_x = decoded if decoded is not None else decode_folder(test_dir)
    true_idx = _labels_from_paths(paths, test_dir)
    test_y = np.eye(len(CLASSES), dtype=np.float32)[true_idx]
    test_ds = tf.data.Dataset.from_tensor_slices((test_x, test_y)).batch(VAL_BATCH)
    logits = np.asarray(model.predict(test_ds, verbose=0))
    if getattr(model, "jit_compile", False):  # XLA may round its fused loss differently
        test_loss, test_acc = model.evaluate(test_ds, verbose=0)
    else:
        test_loss, test_acc = _evaluate_logits(model, logits, test_y, true_idx)
    return _Scored(paths, true_idx, logits, float(test_loss), float(test_acc))


def _evaluate_logits(
    model: Any, logits: np.ndarray, y: np.ndarray, true_idx: np.ndarray
) -> tuple[float, float]:
    """``model.evaluate``'s loss and accuracy from ``model.predict``'s logits, bit for bit.

    One forward pass instead of two (``score`` spent 1.5-2.3 s of CPU on the second). The
    same arithmetic as Keras 3's test step: the compiled loss per batch of ``VAL_BATCH``
    (mean over the batch), averaged by a ``Mean`` weighted by batch size; accuracy as
    float32 correct / n. ``tests/test_score_speed.py`` checks it against ``evaluate``.
    """
    import keras

    tracker = keras.metrics.Mean()
    for start in range(0, len(logits), VAL_BATCH):
        batch = slice(start, start + VAL_BATCH)
        tracker.update_state(model.loss(y[batch], logits[batch]), sample_weight=len(logits[batch]))
    correct = np.float32(np.count_nonzero(np.argmax(logits, axis=1) == true_idx))
    return float(tracker.result()), float(correct / np.float32(max(len(logits), 1)))


def _train_fast(
    variant_dir: Path,
    test_dirs: Sequence[Path],
    *,
    seed: int,
    epochs: int,
    workdir: Path,
    callbacks: list[Any],
    jit_compile: bool,
    steps_per_execution: int,
    model_name: str = DEFAULT_MODEL,
    keep_path: Path | None = None,
) -> _Trained:
    """Same procedure as :func:`_train_exact`, with decoded arrays and compiled steps."""
    import keras
    import tensorflow as tf

    from datacur.decode import decode_images

    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    # The loader's own file order (its NumPy shuffle with seed 123); no decoding happens here.
    train_paths = list(_loader(variant_dir / "train", shuffle=True).file_paths)
    val_paths = list(_loader(variant_dir / "val", shuffle=False).file_paths)

    train_x = decode_images(train_paths)
    val_x = decode_images(val_paths)
    decoded_tests = [decode_folder(Path(test_dir)) for test_dir in test_dirs]
    decode_seconds = time.perf_counter() - started

    n_classes = len(CLASSES)
    train_y = np.eye(n_classes, dtype=np.float32)[
        _labels_from_paths(train_paths, variant_dir / "train")
    ]
    val_true = _labels_from_paths(val_paths, variant_dir / "val")
    val_y = np.eye(n_classes, dtype=np.float32)[val_true]

    train_x_t = tf.constant(train_x)
    train_y_t = tf.constant(train_y)

    @tf.autograph.experimental.do_not_convert  # plain ops, nothing for AutoGraph to convert
    def gather_batch(idx: Any) -> tuple[Any, Any]:
        return tf.gather(train_x_t, idx), tf.gather(train_y_t, idx)

    # The same shuffle op as the loader's (buffer 64, seed 123, reshuffled every epoch),
    # applied to positions instead of file names: shuffles ignore element values, so each
    # epoch visits the images in the exact order the competition script does.
    train = (
        tf.data.Dataset.range(len(train_paths))
        .shuffle(buffer_size=SHUFFLE_BUFFER, seed=LOADER_SEED)
        .batch(BATCH_SIZE)
        .map(gather_batch)
        .prefetch(tf.data.AUTOTUNE)
    )
    valid = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(VAL_BATCH)

    model = compile_fixed_model(
        build_model(model_name), jit_compile=jit_compile, steps_per_execution=steps_per_execution
    )
    history, train_seconds = _fit_best(model, train, valid, epochs, workdir, callbacks)
    _keep(workdir, keep_path)
    val_loss, val_acc = model.evaluate(valid, verbose=0)

    if test_dirs:
        scored = [
            predict_folder(model, Path(test_dir), decoded)
            for test_dir, decoded in zip(test_dirs, decoded_tests, strict=True)
        ]
    else:
        logits = model.predict(valid, verbose=0)
        scored = [_Scored(val_paths, val_true, np.asarray(logits), None, None)]
    # The generalization gap (issue 27 D5), measured only after everything above, so the
    # training and every number it reports are exactly what they were. Per-class accuracy
    # does not depend on image order, so the decoded train arrays serve as they are.
    val_logits = scored[0].logits if not test_dirs else model.predict(valid, verbose=0)
    train_logits = model.predict(
        tf.data.Dataset.from_tensor_slices(train_x).batch(VAL_BATCH), verbose=0
    )
    train_true = _labels_from_paths(train_paths, variant_dir / "train")
    return _Trained(
        history=_curves(history.history),
        val_loss=float(val_loss),
        val_accuracy=float(val_acc),
        scored=scored,
        train_per_class=_per_class_of(train_true, train_logits),
        val_per_class=_per_class_of(val_true, val_logits),
        timings={
            "decode_s": decode_seconds,
            "train_s": train_seconds,
            "total_s": time.perf_counter() - started,
        },
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32 (the probabilities stored per image)."""
    logits = np.asarray(logits, dtype=np.float32)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def make_test_score(
    scored: _Scored,
    *,
    test_dir: Path | None,
    test_hash: str | None,
    twins: Sequence[Any] | None = None,
) -> TestScore:
    """A :class:`TestScore` from one folder's predictions (and its twins, when checked)."""
    from datacur.leakage import accuracy_without

    pred_idx = np.argmax(scored.logits, axis=1)
    per_class, confusion = _per_class_and_confusion(scored.true_idx, pred_idx)
    score = TestScore(
        test_name=Path(test_dir).resolve().name if test_dir is not None else None,
        test_hash=test_hash,
        test_accuracy=scored.accuracy,
        test_loss=scored.loss,
        scored_on="test" if test_dir is not None else "val",
        per_class_accuracy=per_class,
        confusion=confusion,
        predictions=[
            (os.fspath(path), CLASSES[int(t)], CLASSES[int(p)])
            for path, t, p in zip(scored.paths, scored.true_idx, pred_idx, strict=True)
        ],
        probabilities=softmax(scored.logits),
        n_images=len(scored.paths),
    )
    if twins is not None:
        score.twins_exact = sum(1 for pair in twins if pair.kind == "exact")
        score.twins_near = sum(1 for pair in twins if pair.kind == "near")
        score.accuracy_without_twins = accuracy_without(
            scored.paths, scored.true_idx, pred_idx, twins
        )
        score.twin_pairs = [
            (pair.test_path, pair.variant_path, pair.kind, pair.distance) for pair in twins
        ]
    return score


# --------------------------------------------------------------------------- public API


def configure_threads(cores: int | None) -> None:
    """Pin TensorFlow's thread pools for one training on ``cores`` cores (before TF runs).

    A batch of 8 is too small to split one op across cores: intra-op parallelism costs more
    in hand-offs than it gains (14.4 ms a step with TF's default pools, 9.8 ms with one
    intra-op thread, on 2 cores). Independent ops (a layer's weight and input gradients,
    the shortcut branch) do run side by side, so a training gets one intra-op thread and
    ``cores`` inter-op threads: one training alone uses every core, and two trainings on
    two cores get one each.
    """
    if not cores:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:  # TF already initialised in this process: keep its pools
        pass


def _as_test_dirs(test_dir: Path | Sequence[Path] | None) -> list[Path]:
    if test_dir is None:
        return []
    if isinstance(test_dir, (str, os.PathLike)):
        return [Path(test_dir)]
    return [Path(folder) for folder in test_dir]


def evaluate_variant(
    variant_dir: Path,
    *,
    test_dir: Path | Sequence[Path] | None = None,
    seed: int = 0,
    epochs: int = 100,
    exact: bool = False,
    jit_compile: bool = DEFAULT_JIT_COMPILE,
    steps_per_execution: int = DEFAULT_STEPS_PER_EXECUTION,
    progress: ProgressCallback | None = None,
    variant_name: str | None = None,
    model: str = DEFAULT_MODEL,
    keep_dir: Path | None = None,
    check_twins: bool = True,
) -> RunResult:
    """Train the fixed model on a variant and score it, as the competition script does.

    Args:
        variant_dir: folder with ``train/<class>/`` and ``val/<class>/``.
        test_dir: optional folder of ``<class>/`` images to score the best checkpoint on
            (the label book, ``datasets/dev-test``, ...), or a list of such folders: one
            training, every test set scored from the same checkpoint. Without it only val
            is scored.
        seed: names the run: ``keras.utils.set_random_seed(seed)`` fixes the initial weights
            and the per-epoch shuffles.
        epochs: training epochs (the competition used 100).
        exact: run the straight port (slow) instead of the fast path.
        jit_compile, steps_per_execution: fast-path compilation options (no effect on the
            procedure; without XLA the fast path reproduces the exact path's numbers).
        progress: called after every epoch with an :class:`EpochLog`.
        variant_name: name recorded for the variant (default: the folder name).
        model: registry name of the model (``datacur.model.MODELS``); ``fixed`` is the
            competition's. Every model gets the same data, optimiser and checkpoint rule.
        keep_dir: copy the best-val weights into this folder (``result.checkpoint``) for
            the model store; :func:`datacur.store.save_run` files it under the run id.
        check_twins: count exact and near twins between the variant and each test set
            (:mod:`datacur.leakage`) before training.

    Returns:
        A :class:`RunResult`; ``result.scores`` holds one :class:`TestScore` per test set.

    Raises:
        VariantError: the variant or test folder is not usable (layout, empty class).
        CapExceededError: the variant counts over 10,000 (checked before any training).
        EvaluationError: ``epochs`` < 1.

    Example:
        >>> result = evaluate_variant(
        ...     Path("datasets/dcai-2021"), test_dir=Path("datasets/label-book"), seed=0
        ... )
    """
    variant_dir = Path(variant_dir)
    test_dirs = _as_test_dirs(test_dir)
    if epochs < 1:
        raise EvaluationError(f"epochs must be >= 1 (received {epochs}).")
    if model not in MODELS:
        raise EvaluationError(
            f"unknown model {model!r}; choose one of {', '.join(MODELS)} (see `datacur models`)."
        )
    images = list_variant_images(variant_dir)
    require_under_cap(measure_cap(variant_dir))
    test_images = [list_folder_images(folder) for folder in test_dirs]
    require_readable([*images, *(image for group in test_images for image in group)])
    variant_hash = compute_content_hash(images)
    test_hashes = [compute_content_hash(group) for group in test_images]
    twins: list[Any] = [None] * len(test_dirs)
    prints = None
    if check_twins and (test_dirs or keep_dir is not None):
        from datacur.leakage import find_twins, fingerprint

        prints = None
        if keep_dir is not None:  # the store keeps a variant's fingerprints once per content
            from datacur.modelstore import read_variant_fingerprints

            prints = read_variant_fingerprints(Path(keep_dir), variant_hash)
        if prints is None:
            prints = fingerprint([image.path for image in images])
        twins = [
            find_twins(prints, fingerprint([image.path for image in group]))
            for group in test_images
        ]

    keep_path = None
    if keep_dir is not None:
        from datacur.modelstore import pending_checkpoint_path

        keep_path = pending_checkpoint_path(Path(keep_dir), variant_hash, seed)
    callbacks = [_EpochReporter.make(progress, seed, epochs)]
    with tempfile.TemporaryDirectory(prefix="datacur-eval-") as tmp:
        if exact:
            trained = _train_exact(
                variant_dir,
                test_dirs,
                seed=seed,
                epochs=epochs,
                workdir=Path(tmp),
                callbacks=callbacks,
                model_name=model,
                keep_path=keep_path,
            )
        else:
            trained = _train_fast(
                variant_dir,
                test_dirs,
                seed=seed,
                epochs=epochs,
                workdir=Path(tmp),
                callbacks=callbacks,
                jit_compile=jit_compile,
                steps_per_execution=steps_per_execution,
                model_name=model,
                keep_path=keep_path,
            )

    folders: list[Path | None] = list(test_dirs) or [None]
    hashes: list[str | None] = list(test_hashes) or [None]
    scores = [
        make_test_score(scored, test_dir=folder, test_hash=test_hash, twins=pairs)
        for scored, folder, test_hash, pairs in zip(
            trained.scored, folders, hashes, twins or [None], strict=True
        )
    ]
    first = scores[0]
    timings = dict(trained.timings)
    timings["per_epoch_s"] = timings["train_s"] / epochs
    counts = {
        "train": sum(1 for image in images if image.split == "train"),
        "val": sum(1 for image in images if image.split == "val"),
        "test": len(test_images[0]) if test_images else 0,
    }
    return RunResult(
        variant=variant_name or variant_dir.resolve().name,
        variant_hash=variant_hash,
        test_name=first.test_name,
        test_hash=first.test_hash,
        seed=seed,
        epochs=epochs,
        path="exact" if exact else "fast",
        model=model,
        best_epoch=_best_epoch(trained.history["val_accuracy"]),
        val_accuracy=trained.val_accuracy,
        val_loss=trained.val_loss,
        test_accuracy=first.test_accuracy,
        test_loss=first.test_loss,
        per_class_accuracy=first.per_class_accuracy,
        confusion=first.confusion,
        scored_on=first.scored_on,
        curves=trained.history,
        timings=timings,
        versions=library_versions(),
        counts=counts,
        predictions=list(first.predictions),
        scores=scores,
        checkpoint=None if keep_path is None else os.fspath(keep_path),
        fingerprints=prints,
        train_per_class_accuracy=trained.train_per_class,
        val_per_class_accuracy=trained.val_per_class,
    )


# --------------------------------------------------------------------------- several seeds


def _seed_worker(
    variant_dir: Path,
    seed: int,
    options: dict[str, Any],
    threads: int,
    events: Any,
) -> RunResult:
    """Run one seed in a worker process with pinned thread pools, streaming epoch logs."""
    from datacur._tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    configure_threads(threads)
    return evaluate_variant(variant_dir, seed=seed, progress=events.put, **options)


def evaluate_seeds(
    variant_dir: Path,
    seeds: Sequence[int],
    *,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    **options: Any,
) -> list[RunResult]:
    """Evaluate one variant under several seeds, one training per core.

    Seeds run in separate processes (``spawn``), each with TensorFlow pinned to
    ``cpu_count // jobs`` cores (:func:`configure_threads`); one job trains in this process
    on every core. Each seed is an independent, ordinary run:
    ``evaluate_seeds(v, [3])`` and ``evaluate_variant(v, seed=3)`` are the same procedure.

    Args:
        variant_dir: the variant.
        seeds: seeds to run.
        jobs: worker processes (default: one per core, at most one per seed). ``1`` runs
            in this process.
        progress: receives every :class:`EpochLog` (from all workers, in arrival order).
        on_result: called with each finished run as soon as it finishes (store it there,
            so an interrupted sweep keeps the runs that completed).
        **options: passed to :func:`evaluate_variant` (``test_dir``, ``epochs``, ...).

    Returns:
        Results in the order of ``seeds``.
    """
    import queue
    from concurrent.futures import FIRST_COMPLETED, wait

    from datacur.workers import threads_per_worker, worker_pool

    seeds = list(seeds)
    cores = os.cpu_count() or 1
    jobs = max(1, min(jobs or cores, len(seeds)))
    if jobs == 1:
        configure_threads(cores)
        results = []
        for seed in seeds:
            result = evaluate_variant(variant_dir, seed=seed, progress=progress, **options)
            if on_result is not None:
                on_result(result)
            results.append(result)
        return results

    threads = threads_per_worker(jobs)
    by_seed: dict[int, RunResult] = {}
    with worker_pool(jobs) as workers:
        pending = {
            workers.pool.submit(
                _seed_worker, Path(variant_dir), seed, options, threads, workers.events
            )
            for seed in seeds
        }
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    log = workers.events.get_nowait()
                except queue.Empty:
                    break
                if progress is not None:
                    progress(log)
            for future in done:
                result = future.result()
                by_seed[result.seed] = result
                if on_result is not None:
                    on_result(result)
    return [by_seed[seed] for seed in seeds]
