"""The fixed evaluator: exactness against the competition script, and its guards.

Training tests use 10 classes x (4 train, 2 val, 2 test) images of 40x40 and 3 epochs (the
third pins the per-epoch shuffles past the first epoch boundary).
"""

from pathlib import Path

import numpy as np
import pytest

from datacur.errors import CapExceededError, EvaluationError, VariantError
from datacur.evaluate import _best_epoch, _per_class_and_confusion, evaluate_variant
from datacur.labels import CLASSES
from tests.reference.competition_script import run_competition_script

SEED = 7
EPOCHS = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from datacur.io import write_png
    from tests.conftest import draw_numeral

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        for label in CLASSES:
            folder = root / "variant" / split / label if split != "test" else root / "test" / label
            for k in range(n):
                write_png(folder / f"{label}_{k}.png", draw_numeral(label, rng, 40))
    return root / "variant", root / "test"


@pytest.fixture(scope="module")
def reference(tiny: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    variant, test = tiny
    checkpoint_dir = tmp_path_factory.mktemp("ckpt")
    return run_competition_script(
        str(variant), str(test), epochs=EPOCHS, seed=SEED, checkpoint_dir=str(checkpoint_dir)
    )


@pytest.mark.slow
def test_exact_path_reproduces_the_competition_script(tiny, reference) -> None:
    variant, test = tiny
    result = evaluate_variant(variant, test_dir=test, seed=SEED, epochs=EPOCHS, exact=True)
    assert result.curves["loss"] == pytest.approx(reference["history"]["loss"], abs=0)
    assert result.curves["val_accuracy"] == reference["history"]["val_accuracy"]
    assert result.test_accuracy == pytest.approx(reference["test_accuracy"], abs=1e-7)
    expected = [CLASSES[i] for i in np.argmax(reference["test_logits"], axis=1)]
    assert [pred for _, _, pred in result.predictions] == expected
    assert result.path == "exact" and result.epochs == EPOCHS


@pytest.mark.slow
def test_default_fast_path_has_the_same_data_order_and_numbers(tiny, reference) -> None:
    """Same shuffles, init and updates: the training losses match to float32 precision.

    The default fast path (decoded arrays, the same shuffle op over positions, several steps per
    call, no XLA) is the script's procedure, not an approximation of it. (Validation runs in
    batches of 256 instead of 8, so val loss may differ in the last digits; accuracy cannot.)
    """
    variant, test = tiny
    result = evaluate_variant(variant, test_dir=test, seed=SEED, epochs=EPOCHS)
    assert result.curves["loss"] == pytest.approx(reference["history"]["loss"], rel=1e-6)
    assert result.curves["accuracy"] == reference["history"]["accuracy"]
    assert result.curves["val_accuracy"] == reference["history"]["val_accuracy"]
    expected = [CLASSES[i] for i in np.argmax(reference["test_logits"], axis=1)]
    assert [pred for _, _, pred in result.predictions] == expected


@pytest.mark.slow
def test_xla_fast_path_scores_and_reports_everything(tiny, reference) -> None:
    """XLA (opt-in) changes only rounding: same procedure, losses within float noise."""
    variant, test = tiny
    logs = []
    result = evaluate_variant(
        variant, test_dir=test, seed=SEED, epochs=EPOCHS, progress=logs.append, jit_compile=True
    )
    assert result.curves["loss"] == pytest.approx(reference["history"]["loss"], rel=1e-3)
    assert [log.epoch for log in logs] == [1, 2, 3]
    assert result.path == "fast" and result.scored_on == "test"
    assert 1 <= result.best_epoch <= EPOCHS
    assert result.best_epoch == _best_epoch(result.curves["val_accuracy"])
    assert sum(map(sum, result.confusion)) == len(result.predictions) == 20
    assert result.counts == {"train": 40, "val": 20, "test": 20}
    assert set(result.per_class_accuracy) == set(CLASSES)
    assert result.versions["tensorflow"] and result.timings["train_s"] > 0
    assert 0.0 <= result.test_accuracy <= 1.0


def test_best_epoch_is_the_first_of_equal_maxima() -> None:
    # ModelCheckpoint saves only on a strict improvement, so ties keep the earlier epoch.
    assert _best_epoch([0.1, 0.5, 0.5, 0.4]) == 2


def test_per_class_accuracy_and_confusion_orientation() -> None:
    true = np.array([0, 0, 1, 9])
    pred = np.array([0, 1, 1, 0])
    per_class, confusion = _per_class_and_confusion(true, pred)
    assert per_class["i"] == 0.5 and per_class["ii"] == 1.0 and per_class["x"] == 0.0
    assert confusion[0][1] == 1 and confusion[9][0] == 1  # rows are true classes
    assert np.isnan(per_class["v"])  # no example of the class


def test_over_the_cap_is_refused_before_training(tmp_path: Path, make_variant, monkeypatch) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    monkeypatch.setattr("datacur.cap.MAX_IMAGES", 10)
    monkeypatch.setattr(
        "datacur.evaluate.measure_cap",
        lambda v: __import__("datacur.cap", fromlist=["measure_cap"]).measure_cap(v, limit=24),
    )
    with pytest.raises(CapExceededError, match="over by 8"):
        evaluate_variant(variant, epochs=1)


def test_bad_inputs_fail_before_training(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    with pytest.raises(EvaluationError, match="epochs must be >= 1"):
        evaluate_variant(variant, epochs=0)
    with pytest.raises(VariantError, match="folder not found"):
        evaluate_variant(variant, test_dir=tmp_path / "missing", epochs=1)
    (variant / "train" / "iv" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(VariantError, match=r"bad\.png"):
        evaluate_variant(variant, epochs=1)


@pytest.mark.slow
def test_seeds_in_worker_processes_are_the_same_runs_as_in_process(tiny) -> None:
    """A seed names one run wherever it trains: worker processes change speed, not results."""
    from datacur.evaluate import evaluate_seeds

    variant, test = tiny
    options = {"test_dir": test, "epochs": 1, "jit_compile": False, "steps_per_execution": 1}
    finished = []
    results = evaluate_seeds(variant, [11, 12], jobs=2, on_result=finished.append, **options)
    assert [r.seed for r in results] == [11, 12]
    assert sorted(r.seed for r in finished) == [11, 12]
    alone = evaluate_variant(variant, seed=12, **options)
    assert results[1].curves["loss"] == pytest.approx(alone.curves["loss"], rel=1e-4)
    assert results[1].curves["loss"] != pytest.approx(results[0].curves["loss"], rel=1e-4)


def test_configure_threads_gives_one_intra_op_thread_and_the_cores_as_inter_op() -> None:
    """A batch of 8 is too small to split one op across cores; independent ops run in
    parallel. Checked in a fresh process: TensorFlow fixes its pools when it first runs."""
    import subprocess
    import sys

    code = (
        "from datacur._tf import import_tensorflow_quietly\n"
        "tf = import_tensorflow_quietly()\n"
        "from datacur.evaluate import configure_threads\n"
        "configure_threads(2)\n"
        "tf.constant(1.0) + 1.0\n"
        "configure_threads(1)  # too late: ignored, not an error\n"
        "t = tf.config.threading\n"
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split()[-2:] == ["1", "2"]


def test_tensorflow_retracing_warnings_do_not_reach_the_user() -> None:
    """``evaluate --seeds 2 --jobs 1`` trains twice in one process; predicting test sets
    of other sizes then makes tf.function warn about retracing on stderr (seen on a real
    run). Expected and not actionable, so TensorFlow's Python logger is set to errors."""
    import logging

    from datacur._tf import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    tf.get_logger().setLevel(logging.WARNING)  # as another import may have left it
    assert import_tensorflow_quietly() is tf
    assert tf.get_logger().getEffectiveLevel() == logging.ERROR
