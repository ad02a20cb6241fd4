"""The report's generalization gap: train, val and every test set per class, and the gaps
(issue 27 D5), from fabricated runs."""

from __future__ import annotations

import re
from pathlib import Path

from datacur.evaluate import TestScore
from datacur.labels import CLASSES
from datacur.report import build_report
from datacur.store import load_runs, save_run, save_scores
from tests._report_fakes import fake_run


def _gap_rows(page: str) -> dict[str, list[str]]:
    """The gap table's rows by first cell (``class`` for the header)."""
    section = page.split("<h2>Generalization gap per class</h2>", 1)[1].split("<h2>", 1)[0]
    table = re.search(r"<table>.*?</table>", section, re.S)
    assert table is not None
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S):
        cells = [re.sub(r"<.*?>", "", cell) for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)]
        rows[cells[0]] = cells[1:]
    return rows


def _shift_score(accuracy: float) -> TestScore:
    return TestScore(
        test_name="shift-x",
        test_hash="shift-hash",
        test_accuracy=accuracy,
        test_loss=1.0,
        scored_on="test",
        per_class_accuracy={label: accuracy for label in CLASSES},
        confusion=[[2 if i == j else 0 for j in range(10)] for i in range(10)],
        predictions=[],
        n_images=20,
    )


def test_gap_table_shows_train_val_and_each_test_set_with_the_gaps(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    seeds = {0: (1.0, 0.8, 0.6), 1: (0.9, 0.7, 0.7)}  # seed: train, val, dev-test per class
    for seed, (train, val, test) in seeds.items():
        val_per_class = {label: val for label in CLASSES}
        if seed == 0:
            val_per_class["iv"] = 0.5
        run_id = save_run(
            fake_run(
                "demo",
                seed,
                test,
                train_per_class_accuracy={label: train for label in CLASSES},
                val_per_class_accuracy=val_per_class,
            ),
            db,
        )
        if seed == 0:  # one training also scored later on a shift set
            save_scores(run_id, [_shift_score(0.4)], db)
    stored = load_runs(db)
    assert stored[0].train_per_class == {label: 1.0 for label in CLASSES}
    assert stored[0].val_per_class is not None and stored[0].val_per_class["iv"] == 0.5

    page = build_report("demo", db_path=db, out_dir=tmp_path / "rep", cwd=tmp_path).html
    rows = _gap_rows(page.read_text())
    assert rows["class"] == [
        "train",
        "val",
        "dev-test",
        "train − dev-test",
        "val − dev-test",
        "shift-x",
        "train − shift-x",
        "val − shift-x",
    ]
    # means over the two trainings: train 0.95, val 0.75, dev-test 0.65; shift-x 0.40 (seed 0)
    assert rows["i"] == ["0.95", "0.75", "0.65", "+0.30", "+0.10", "0.40", "+0.55", "+0.35"]
    # val of iv: (0.5 + 0.7) / 2 = 0.60, below dev-test
    assert rows["iv"] == ["0.95", "0.60", "0.65", "+0.30", "-0.05", "0.40", "+0.55", "+0.20"]
    assert set(rows) == {"class", *CLASSES}
    assert "means over 2 trainings (seeds 0, 1)" in page.read_text()


def test_old_runs_without_train_and_val_show_a_dash(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    save_run(fake_run("old", 0, 0.6), db)  # stored before train/val per class existed
    (stored,) = load_runs(db)
    assert stored.train_per_class is None and stored.val_per_class is None
    assert "train_per_class_accuracy" not in stored.extra

    page = build_report("old", db_path=db, out_dir=tmp_path / "rep", cwd=tmp_path).html
    text = page.read_text()
    rows = _gap_rows(text)
    assert rows["x"] == ["—", "—", "0.60", "—", "—"]
    assert "stored before train and val accuracy per class were measured" in text


def test_a_mix_of_old_and_new_runs_uses_the_new_ones_for_train_and_val(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    save_run(fake_run("mixed", 0, 0.6), db)
    save_run(
        fake_run(
            "mixed",
            1,
            0.8,
            train_per_class_accuracy={label: 1.0 for label in CLASSES},
            val_per_class_accuracy={label: 0.9 for label in CLASSES},
        ),
        db,
    )
    text = build_report("mixed", db_path=db, out_dir=tmp_path / "rep", cwd=tmp_path).html
    page = text.read_text()
    # test over both trainings (0.70); train and val from the one that measured them
    assert _gap_rows(page)["ii"] == ["1.00", "0.90", "0.70", "+0.30", "+0.20"]
    assert "1 training stored before train and val accuracy per class" in page
