"""Train and val per-class accuracy kept with every run, for the generalization gap
(issue 27 D5): measured from the reloaded best checkpoint, stored in the run record.

One tiny training per path (10 classes x 3 train / 2 val images, the small-cnn stand-in
model, 1 epoch).
"""

from pathlib import Path

import numpy as np
import pytest

from datacur.labels import CLASSES

pytestmark = pytest.mark.slow

MODEL = "small-cnn"


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datacur.io import write_png
    from tests.conftest import draw_numeral

    root = tmp_path_factory.mktemp("gap")
    rng = np.random.default_rng(5)
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for label in CLASSES:
            for k in range(n):
                folder = root / ("v" / Path(split) if split != "test" else Path("test")) / label
                write_png(folder / f"{label}{k}.png", draw_numeral(label, rng))
    return root / "v"


def _per_class(true: list[str], predicted: list[str]) -> dict[str, float]:
    return {
        label: float(
            np.mean([p == label for t, p in zip(true, predicted, strict=True) if t == label])
        )
        for label in CLASSES
    }


def _count_weighted(per_class: dict[str, float], folder: Path) -> float:
    counts = {label: len(list((folder / label).glob("*.png"))) for label in CLASSES}
    return sum(per_class[label] * counts[label] for label in CLASSES) / sum(counts.values())


def test_fast_path_keeps_what_the_kept_checkpoint_predicts_on_train_and_val(
    variant: Path, tmp_path: Path
) -> None:
    from datacur.evaluate import evaluate_variant, library_versions, predict_folder
    from datacur.model import compile_fixed_model
    from datacur.modelstore import load_checkpoint, model_store_dir
    from datacur.store import load_runs, save_run

    db = tmp_path / "results.db"
    result = evaluate_variant(
        variant,
        test_dir=variant.parent / "test",
        seed=0,
        epochs=1,
        model=MODEL,
        keep_dir=model_store_dir(db),
    )
    run_id = save_run(result, db)
    model = compile_fixed_model(
        load_checkpoint(db, run_id, model=MODEL, versions=library_versions())
    )
    for split, stored in (
        ("train", result.train_per_class_accuracy),
        ("val", result.val_per_class_accuracy),
    ):
        scored = predict_folder(model, variant / split)
        predicted = [CLASSES[i] for i in np.argmax(scored.logits, axis=1)]
        true = [CLASSES[i] for i in scored.true_idx]
        assert stored == _per_class(true, predicted), split
    # val per class, weighted by the class counts, is the val accuracy evaluate reports
    assert _count_weighted(result.val_per_class_accuracy, variant / "val") == pytest.approx(
        result.val_accuracy, abs=1e-6
    )
    (stored_run,) = load_runs(db)
    assert stored_run.train_per_class == result.train_per_class_accuracy
    assert stored_run.val_per_class == result.val_per_class_accuracy
    # the test score is untouched: per class it still describes the test set
    assert result.scored_on == "test" and len(result.predictions) == 20


def test_exact_path_measures_train_and_val_per_class_too(variant: Path) -> None:
    from datacur.evaluate import evaluate_variant

    result = evaluate_variant(variant, seed=1, epochs=1, model=MODEL, exact=True)
    for per_class in (result.train_per_class_accuracy, result.val_per_class_accuracy):
        assert per_class is not None and set(per_class) == set(CLASSES)
        assert all(0.0 <= value <= 1.0 for value in per_class.values())
    assert _count_weighted(result.val_per_class_accuracy, variant / "val") == pytest.approx(
        result.val_accuracy, abs=1e-6
    )
    # without a test set, val is what the run scored: the two per-class tables agree
    assert result.scored_on == "val"
    assert result.val_per_class_accuracy == result.per_class_accuracy
