"""Stored checkpoints, `score`, per-image predictions and the leakage guard (issue 27).

One tiny training (10 classes x 2 train / 1 val images, the small-cnn stand-in model, 1
epoch) scored on two test sets, one of them with planted twins of train images.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from datacur.errors import StoreError
from datacur.labels import CLASSES

pytestmark = pytest.mark.slow

MODEL = "small-cnn"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from datacur.evaluate import evaluate_variant
    from datacur.io import read_image_gray, write_png
    from datacur.modelstore import model_store_dir
    from datacur.store import save_run
    from tests.conftest import draw_numeral

    root = tmp_path_factory.mktemp("score")
    rng = np.random.default_rng(3)
    for label in CLASSES:
        for k in range(2):
            write_png(root / "v" / "train" / label / f"{label}{k}.png", draw_numeral(label, rng))
        write_png(root / "v" / "val" / label / f"{label}.png", draw_numeral(label, rng))
        for test in ("clean-test", "shift-leaky"):
            image = draw_numeral(label, rng).copy()
            image[-1, -1] = 200 + CLASSES.index(label)  # crude drawings can repeat byte for byte
            write_png(root / test / label / f"{label}.png", image)
    # Planted twins: two byte-identical copies of train images, one near copy (a speck of
    # paper noise in a corner changes the bytes, not the ink hash).
    leaky = root / "shift-leaky"
    shutil.copyfile(root / "v/train/ii/ii0.png", leaky / "ii" / "copy.png")
    shutil.copyfile(root / "v/train/x/x1.png", leaky / "x" / "copy.png")
    near = read_image_gray(root / "v/train/v/v0.png").copy()
    near[0, 0] = 250
    write_png(leaky / "v" / "near.png", near)

    db = root / "results.db"
    result = evaluate_variant(
        root / "v",
        test_dir=[root / "clean-test", leaky],
        seed=0,
        epochs=1,
        model=MODEL,
        keep_dir=model_store_dir(db),
    )
    run_id = save_run(result, db)
    return {"root": root, "db": db, "result": result, "run_id": run_id}


def test_one_training_scores_every_test_set_and_counts_planted_twins(trained) -> None:
    from datacur.store import load_runs

    result = trained["result"]
    clean, leaky = result.scores
    assert (clean.test_name, leaky.test_name) == ("clean-test", "shift-leaky")
    assert clean.twins_exact == 0 and leaky.twins_exact == 2
    # crude drawn strokes can be near twins by chance (e.g. two bars): the planted ones on top
    planted = {
        (Path(t).parent.name, Path(t).name, Path(v).name, kind)
        for t, v, kind, _ in leaky.twin_pairs
        if Path(t).name in ("copy.png", "near.png")
    }
    assert planted == {
        ("ii", "copy.png", "ii0.png", "exact"),
        ("x", "copy.png", "x1.png", "exact"),
        ("v", "near.png", "v0.png", "near"),
    }
    assert leaky.twins_near >= 1
    assert leaky.n_images == 13 and clean.n_images == 10
    # the flat fields are the first test set's, as a single --test always reported
    assert result.test_name == "clean-test" and result.test_accuracy == clean.test_accuracy
    rows = load_runs(trained["db"])
    assert [(row.id, row.test_name, row.twins_exact) for row in rows] == [
        (trained["run_id"], "clean-test", 0),
        (trained["run_id"], "shift-leaky", 2),
    ]
    assert rows[1].leaky and rows[1].twins_near == leaky.twins_near
    assert rows[1].accuracy_without_twins == leaky.accuracy_without_twins


def test_the_checkpoint_is_kept_with_its_sidecar(trained) -> None:
    from datacur.modelstore import list_checkpoints, run_folder

    folder = run_folder(trained["db"], trained["run_id"])
    sidecar = json.loads((folder / "checkpoint.json").read_text())
    assert sidecar["model"] == MODEL and sidecar["seed"] == 0 and sidecar["epochs"] == 1
    assert sidecar["variant_hash"] == trained["result"].variant_hash
    assert sidecar["versions"]["keras"] and sidecar["versions"]["tensorflow"]
    (stored,) = list_checkpoints(trained["db"])
    assert stored.run_id == trained["run_id"] and stored.bytes > 0
    assert not list(folder.parent.glob(".pending-*"))  # moved, not copied


def test_a_stored_checkpoint_scores_bit_identically_and_writes_evaluate_rows(trained) -> None:
    from datacur.modelstore import read_predictions
    from datacur.score import score_runs
    from datacur.store import load_runs

    root, db, result = trained["root"], trained["db"], trained["result"]
    (scored,) = score_runs(
        [trained["run_id"]], [root / "clean-test", root / "shift-leaky"], db_path=db
    )
    for fresh, original in zip(scored.scores, result.scores, strict=True):
        assert np.array_equal(fresh.probabilities, original.probabilities)
        assert fresh.predictions == original.predictions
        assert fresh.test_accuracy == original.test_accuracy
        assert fresh.confusion == original.confusion
        assert (fresh.twins_exact, fresh.twins_near) == (original.twins_exact, original.twins_near)
    # already scored on these test sets: one row per run and test set, never a second one
    rows = load_runs(db, test_name="shift-leaky")
    assert [(row.source, row.test_accuracy) for row in rows] == [
        ("evaluate", result.scores[1].test_accuracy)
    ]
    predictions, probabilities = read_predictions(db, trained["run_id"], rows[0].test_hash)
    assert predictions == result.scores[1].predictions
    assert np.array_equal(probabilities, result.scores[1].probabilities)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.update(model="fixed"), "checkpoint is of model 'fixed'"),
        (lambda s: s["versions"].update(keras="2.15.0"), "saved with keras 2.15.0"),
    ],
    ids=["model-name", "keras-version"],
)
def test_a_mismatched_checkpoint_is_refused(trained, tmp_path: Path, change, match) -> None:
    from datacur.modelstore import model_store_dir, run_folder
    from datacur.score import score_runs

    db = tmp_path / "results.db"
    shutil.copyfile(trained["db"], db)
    shutil.copytree(model_store_dir(trained["db"]), model_store_dir(db))
    sidecar_path = run_folder(db, trained["run_id"]) / "checkpoint.json"
    sidecar = json.loads(sidecar_path.read_text())
    change(sidecar)
    sidecar_path.write_text(json.dumps(sidecar))
    with pytest.raises(StoreError, match=match):
        score_runs([trained["run_id"]], [trained["root"] / "clean-test"], db_path=db)


def test_evaluate_and_score_on_the_command_line(trained, tmp_path: Path) -> None:
    """evaluate --test A --test B prints a row per test set and the twins; score reuses the
    checkpoint; compare lists both test sets and the shift mean from those rows."""
    from typer.testing import CliRunner

    from datacur.cli import build_app

    root = trained["root"]
    db = tmp_path / "cli.db"
    runner = CliRunner()
    app = build_app()
    evaluated = runner.invoke(
        app,
        [
            "evaluate", str(root / "v"), "--test", str(root / "clean-test"),
            "--test", str(root / "shift-leaky"), "--model", MODEL, "--epochs", "1",
            "--db", str(db),
        ],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert "clean-test, shift-leaky" in evaluated.stdout
    assert "Test sets (one training" in evaluated.stdout
    assert "shift-leaky: 2 exact and" in evaluated.stderr and "LEAKY" in evaluated.stderr
    scored = runner.invoke(
        app, ["score", "v", "--test", str(root / "shift-leaky"), "--db", str(db)]
    )
    assert scored.exit_code == 0, scored.output
    assert "leaky" in scored.stdout and "Stored 1 score(s)" in scored.stderr
    compared = runner.invoke(app, ["compare", "v", "--db", str(db), "--model", MODEL])
    assert compared.exit_code == 0, compared.output
    assert "clean-test" in compared.stdout and "shift mean (1)" in compared.stdout
