"""``compare`` per test set with the shift mean, leak marks, ``runs``, ``check --against``, and
the results database refused before training (issue 20 D1, 22 D5, 27)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.evaluate import TestScore
from datacur.labels import CLASSES
from datacur.store import load_runs, save_run, save_scores
from tests._report_fakes import fake_run

runner = CliRunner()


def _score(name: str, accuracy: float, exact: int | None = 0, near: int | None = 0) -> TestScore:
    return TestScore(
        test_name=name,
        test_hash=f"hash-{name}",
        test_accuracy=accuracy,
        test_loss=1.0,
        scored_on="test",
        per_class_accuracy={label: accuracy for label in CLASSES},
        confusion=[[0] * 10 for _ in range(10)],
        predictions=[("a.png", "i", "i")],
        n_images=100,
        twins_exact=exact,
        twins_near=near,
        accuracy_without_twins=None if not (exact or near) else accuracy - 0.1,
    )


def _store(db: Path, variant: str, seed: int, tests: dict[str, float], **twins) -> int:
    scores = [_score(name, acc, **twins.get(name, {})) for name, acc in tests.items()]
    first = scores[0]
    run = fake_run(
        variant,
        seed,
        first.test_accuracy,
        test_name=first.test_name,
        test_hash=first.test_hash,
        scores=scores,
    )
    return save_run(run, db)


def test_compare_prints_one_row_per_test_set_and_the_shift_mean(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for seed in (0, 1):
        _store(db, "raw", seed, {"dev-test": 0.70, "shift-blur": 0.50, "shift-thin": 0.60})
        _store(
            db,
            "best",
            seed,
            {"dev-test": 0.90, "shift-blur": 0.70, "shift-thin": 0.80},
            **{"dev-test": {"exact": 3, "near": 1}},
        )
    result = runner.invoke(build_app(), ["compare", "raw", "best", "--db", str(db)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = {line.split("│")[1].strip(): line for line in lines if line.count("│") > 3}
    assert {"dev-test", "shift-blur", "shift-thin", "shift mean (2)"} <= set(rows)
    assert "0.5500" in rows["shift mean (2)"] and "0.7500" in rows["shift mean (2)"]
    assert "+0.2000" in rows["shift mean (2)"]
    assert "LEAKY" in rows["dev-test"] and "— / 0.8000" in rows["dev-test"]
    assert "LEAKY" not in rows["shift-blur"]
    # one test set named: the paired comparison, with the leak spelled out
    paired = runner.invoke(
        build_app(), ["compare", "raw", "best", "--test", "dev-test", "--db", str(db)]
    )
    assert paired.exit_code == 0, paired.output
    assert "LEAKY: dev-test shares 3 exact and 1 near twin(s) with best" in paired.stdout


def test_no_shift_test_sets_no_shift_mean_line(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for variant in ("raw", "best"):
        _store(db, variant, 0, {"dev-test": 0.7, "label-book": 0.6})
    result = runner.invoke(build_app(), ["compare", "raw", "best", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "label-book" in result.stdout and "shift mean" not in result.stdout


def test_rows_added_by_score_are_read_by_compare_and_leaderboard(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    ids = {v: _store(db, v, 0, {"dev-test": acc}) for v, acc in (("raw", 0.7), ("best", 0.9))}
    for variant, acc in (("raw", 0.4), ("best", 0.6)):
        save_scores(ids[variant], [_score("shift-new", acc, exact=1, near=0)], db)
    assert [row.source for row in load_runs(db, test_name="shift-new")] == ["score", "score"]
    result = runner.invoke(build_app(), ["compare", "raw", "best", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "shift-new" in result.stdout and "shift mean (1)" in result.stdout
    board = runner.invoke(build_app(), ["leaderboard", "--test", "shift-new", "--db", str(db)])
    assert board.exit_code == 0, board.output
    assert "1+0 LEAKY" in board.stdout and "0.5000" in board.stdout


def test_leaderboard_refuses_another_programs_database_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE photos (id INTEGER)")
    before = other.read_bytes()
    result = runner.invoke(build_app(), ["leaderboard", "--db", str(other)])
    assert result.exit_code == 1
    assert "not a datacur results database" in result.stderr and "photos" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "other.db"
    ]


def test_evaluate_refuses_a_bad_database_before_training(
    tmp_path: Path, make_variant, monkeypatch
) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    bad = tmp_path / "notes.db"
    bad.write_text("shopping list\n" * 50)

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the database")

    monkeypatch.setattr("datacur.evaluate.evaluate_seeds", no_training)
    result = runner.invoke(build_app(), ["evaluate", str(variant), "--db", str(bad)])
    assert result.exit_code == 1, result.output
    assert "notes.db: not a datacur results database (not an SQLite file" in result.stderr
    assert bad.read_text() == "shopping list\n" * 50


def test_runs_list_and_prune(tmp_path: Path) -> None:
    from datacur.modelstore import SIDECAR_FILE, model_store_dir, run_folder

    db = tmp_path / "r.db"
    run_id = _store(db, "raw", 0, {"dev-test": 0.7, "shift-blur": 0.5})
    folder = run_folder(db, run_id)
    folder.mkdir(parents=True)
    (folder / "checkpoint.weights.h5").write_bytes(b"\0" * 2_000_000)
    sidecar = {"model": "fixed", "variant": "raw", "variant_hash": "h", "seed": 0, "epochs": 3}
    (folder / SIDECAR_FILE).write_text(json.dumps({**sidecar, "run_id": run_id}))
    orphan = run_folder(db, 99)
    shutil.copytree(folder, orphan)
    (orphan / SIDECAR_FILE).write_text(json.dumps({**sidecar, "run_id": 99}))
    listed = runner.invoke(build_app(), ["runs", "list", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert "dev-test, shift-blur" in listed.stdout and "2.0 MB" in listed.stdout
    pruned = runner.invoke(build_app(), ["runs", "prune", "--db", str(db)])
    assert pruned.exit_code == 0, pruned.output
    assert not (orphan / "checkpoint.weights.h5").exists()  # run 99 is not in the database
    assert (folder / "checkpoint.weights.h5").exists()
    runner.invoke(build_app(), ["runs", "prune", "--run", str(run_id), "--db", str(db)])
    assert not (folder / "checkpoint.weights.h5").exists()
    assert model_store_dir(db).is_dir()


def test_check_against_prints_planted_twin_pairs(tmp_path: Path, make_variant) -> None:
    from datacur.io import write_png

    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    test = tmp_path / "t"
    source = sorted((variant / "train" / "iv").iterdir())[0]
    for label in CLASSES:
        rng = np.random.default_rng(CLASSES.index(label))
        write_png(test / label / "own.png", (rng.integers(0, 2, (32, 32)) * 255).astype(np.uint8))
    shutil.copyfile(source, test / "iv" / "planted.png")
    result = runner.invoke(build_app(), ["check", str(variant), "--against", str(test)])
    assert result.exit_code == 0, result.output
    assert "planted.png" in result.stdout and source.name in result.stdout
    assert "1 exact" in result.stderr


def test_score_with_no_database_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(), ["score", "1", "--test", str(tmp_path), "--db", str(tmp_path / "none.db")]
    )
    assert result.exit_code == 1
    assert "none.db: no results database" in result.stderr and "Traceback" not in result.output


def test_report_shows_every_test_set_the_shift_mean_and_the_confusion_cells(
    tmp_path: Path,
) -> None:
    from datacur.report import build_report

    db = tmp_path / "r.db"
    confusion = [[5 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[3][5] = 2  # two iv read as vi
    for seed in (0, 1):
        scores = [
            replace(_score("dev-test", 0.9), confusion=confusion),
            replace(
                _score("shift-thin", 0.6, exact=1, near=2),
                predictions=[("gone/iv_1.png", "iv", "vi"), ("gone/x.png", "x", "x")],
            ),
            _score("shift-blur", 0.5),
        ]
        run = fake_run(
            "best", seed, 0.9, test_name="dev-test", test_hash="hash-dev-test", scores=scores
        )
        save_run(run, db)
    result = build_report("best", out_dir=tmp_path / "report", db_path=db, cwd=tmp_path)
    page = result.html.read_text(encoding="utf-8")
    assert "<h2>Test sets</h2>" in page
    for name in ("dev-test", "shift-thin", "shift-blur"):
        assert f"<td>{name}</td>" in page
    assert "<b>Shift mean</b> over 2 shift-* test set(s): <b>0.5500</b>" in page
    assert "1 exact + 2 near: LEAKY" in page and "<td>0.5000</td>" in page  # w/o twins
    # class balance of the dev-test set from its confusion rows: 7 iv, 5 of the others
    assert "<td>dev-test</td><td>5</td><td>5</td><td>5</td><td>7</td>" in page
    assert "What the model confuses" in page
