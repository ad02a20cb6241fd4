"""report A B: the comparison page, from runs written through the store API (no training)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import datacur.report
from datacur.cli import build_app
from datacur.compare_report import (
    build_comparison_report,
    describe_recipe,
    diff_recipes,
    split_right_wrong,
    tally_predictions,
)
from datacur.errors import StoreError, VariantError
from datacur.evaluate import TestScore
from datacur.labels import CLASSES
from datacur.store import save_run
from datacur.variant import MANIFEST_COLUMNS, compute_content_hash, list_variant_images
from tests._report_fakes import fake_run

RAW_RECIPE = """version: 1
name: raw
description: starter as released
seed: 0
cap: 10000
fill: false
inputs:
- {name: starter, kind: variant, path: ../dcai-2021, split: keep}
steps: []
split: {val_fraction: 0.2, group_by: writer}
"""

BEST_RECIPE = """version: 1
name: best
description: reviewed and filled
seed: 0
cap: 10000
fill: {pipeline: ../augment/flip-mixed.yaml, inputs: [starter], splits: [train]}
inputs:
- {name: starter, kind: variant, path: ../dcai-2021, split: auto}
- {name: labelbook, kind: folder, path: ../label-book, split: train}
steps:
- review: {journal: ../reviews/dcai-2021.jsonl}
- dedupe: {exact: true, near: true, max_distance: 4}
split: {val_fraction: 0.1, group_by: origin}
"""

# Planted per-seed outcomes on dev-test, by image (class i, images 0..3):
#   i_0: raw wrong in both seeds, best right in both   -> "best right, raw wrong"
#   i_1: raw right in both, best wrong in both         -> "raw right, best wrong"
#   i_2: raw wrong in seed 0 only (1 of 2: a tie)      -> not listed
#   i_3: both right in both seeds                      -> not listed
WRONG = {
    ("raw", 0): {"i_0", "i_2"},
    ("raw", 1): {"i_0"},
    ("best", 0): {"i_1"},
    ("best", 1): {"i_1"},
}
SCORES = {("raw", 0): 0.50, ("raw", 1): 0.54, ("best", 0): 0.99, ("best", 1): 0.70}
SCORES |= {("mid", 0): 0.60, ("mid", 1): 0.62}  # mid gets every image right


def _write_manifest(variant: Path, source: str) -> None:
    rows = []
    for image in list_variant_images(variant):
        path = image.path.relative_to(variant).as_posix()
        copy = image.split == "train" and image.path.stem.endswith("_0")
        rows.append(
            {
                "path": path,
                "split": image.split,
                "label": image.label,
                "source": source,
                "origin": f"{source}-origin/{path}",
                "parent": "train/x/parent.png" if copy else "",
            }
        )
    with (variant / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _score(test: Path, name: str, variant: str, seed: int, with_probabilities: bool) -> TestScore:
    predictions = []
    for label in CLASSES[:2]:
        for k in range(4):
            file = f"{label}_{k}"
            wrong = file in WRONG.get((variant, seed), set()) if name == "dev-test" else False
            predicted = "v" if wrong else label
            predictions.append((str(test / label / f"{file}.png"), label, predicted))
    probabilities = np.zeros((len(predictions), len(CLASSES)), dtype=np.float32)
    for row, (_path, _true, predicted) in enumerate(predictions):
        probabilities[row, CLASSES.index(predicted)] = 1.0
    accuracy = SCORES[(variant, seed)] - (0.1 if name != "dev-test" else 0.0)
    return TestScore(
        test_name=name,
        test_hash=f"{name}-hash",
        test_accuracy=accuracy,
        test_loss=1.0,
        scored_on="test",
        per_class_accuracy={label: accuracy for label in CLASSES},
        confusion=[[4 if i == j else 0 for j in range(10)] for i in range(10)],
        predictions=predictions,
        probabilities=probabilities if with_probabilities else None,
        n_images=len(predictions),
        twins_exact=0,
        twins_near=0,
    )


@pytest.fixture
def two_variants(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder: Callable[..., Path]
) -> tuple[Path, Path, Path]:
    """datasets/raw and datasets/best (recipes and manifests), dev-test and shift-thin test
    folders, and 2 seeds of each variant in ``results.db`` with planted predictions."""
    raw = make_variant(tmp_path / "datasets" / "raw", n_train=2, n_val=1, seed=0)
    best = make_variant(tmp_path / "datasets" / "best", n_train=3, n_val=1, seed=5)
    (raw / "recipe.yaml").write_text(RAW_RECIPE)
    (best / "recipe.yaml").write_text(BEST_RECIPE)
    _write_manifest(raw, "starter")
    _write_manifest(best, "labelbook")
    test = make_image_folder(tmp_path / "datasets" / "dev-test", classes=CLASSES[:2], n=4)
    db = tmp_path / "results.db"
    for name, folder in (("raw", raw), ("best", best)):
        variant_hash = compute_content_hash(list_variant_images(folder))
        for seed in (0, 1):
            scores = [
                _score(test, test_name, name, seed, with_probabilities=name == "best")
                for test_name in ("dev-test", "shift-thin")
            ]
            first = scores[0]
            run = fake_run(
                name,
                seed,
                first.test_accuracy,
                variant_hash=variant_hash,
                test_name=first.test_name,
                test_hash=first.test_hash,
                predictions=first.predictions,
                scores=scores,
            )
            save_run(run, db)
    return raw, best, db


def _gallery(page: str, heading: str) -> list[str]:
    """Paths (figure titles) listed under the <h3> that starts with ``heading``."""
    match = re.search(rf"<h3>{re.escape(heading)}.*?</h3>(.*?)(?=<h[23]|<p>|$)", page, re.S)
    assert match, f"no section {heading!r}"
    return re.findall(r'<figure title="([^"]+)"', match.group(1))


def test_comparison_page_lists_both_variants_and_right_wrong_images(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    _raw, _best, db = two_variants
    result = build_comparison_report(["raw", "best"], db_path=db, cwd=tmp_path)
    assert result.out_dir == tmp_path / "reports" / "compare-raw-vs-best"
    assert result.runs == 4 and set(result.images) == {"class_delta", "balance"}
    page = result.html.read_text()
    assert result.title == "Comparison: raw vs best"
    for name in ("raw", "best"):
        assert f"<li>{name}: " in page  # hash, trainings, seeds
    # accuracy per test set, the shift mean and the paired verdict
    assert "<td>dev-test</td>" in page and "<td>shift-thin</td>" in page
    assert "shift mean (1 shift-* sets)" in page
    assert "+32.5 pts" in page  # best − raw on dev-test: (0.99 + 0.70 − 0.50 − 0.54) / 2
    # the planted images, each in the right list; the 1-of-2 tie in neither
    dev = tmp_path / "datasets" / "dev-test" / "i"
    assert _gallery(page, "best right, raw wrong") == [str(dev / "i_0.png")]
    assert _gallery(page, "raw right, best wrong") == [str(dev / "i_1.png")]
    assert str(dev / "i_2.png") not in page and str(dev / "i_3.png") not in page
    assert "1 image(s) are split evenly" in page
    assert "raw: v ✗ 0/2" in page and "best: i ✓ 2/2" in page
    # the thumbnails are embedded: 2 plots + 2 gallery images
    assert page.count("<img") == 2 + 2
    # raw's runs kept no csv.gz (no probabilities): read from the database, and said so
    assert any("raw: 2 run(s) on dev-test have no predictions csv.gz" in n for n in result.notes)


def test_intervals_never_leave_0_1(tmp_path: Path, two_variants: tuple[Path, Path, Path]) -> None:
    _raw, _best, db = two_variants
    page = build_comparison_report(
        ["raw", "best"], db_path=db, cwd=tmp_path, out_dir=tmp_path / "rep"
    ).html.read_text()
    intervals = re.findall(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\] n=", page)
    assert len(intervals) == 4  # 2 variants x 2 test sets
    # best's seeds 0.99 and 0.70: the raw t interval is about [-0.99, 2.68]
    assert ("0.000", "1.000") in intervals
    for low, high in intervals:
        assert 0.0 <= float(low) <= float(high) <= 1.0


def test_balance_sources_and_recipe_sentences(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    raw, best, db = two_variants
    result = build_comparison_report(
        [str(raw), str(best)], db_path=db, cwd=tmp_path, out_dir=tmp_path / "rep"
    )
    page = result.html.read_text()
    # raw: 2 train + 1 val per class = 30 images; best: 3 + 1 = 40
    assert "<td>raw train</td>" + "<td>2</td>" * 10 + "<td>20</td>" in page
    assert "<td>best train</td>" + "<td>3</td>" * 10 + "<td>30</td>" in page
    # sources side by side (train / val): raw has no labelbook, best no starter
    assert "<td>labelbook</td><td>copy</td><td>—</td><td>10 / 0</td>" in page
    assert "<td>starter</td><td>original</td><td>10 / 10</td><td>—</td>" in page
    assert "raw (baseline): recipe raw (starter as released)" in page
    assert "best changes raw&#x27;s recipe:" in page
    assert "adds input labelbook (folder label-book, split train, all)" in page
    assert "steps: adds review (dcai-2021), dedupe (exact+near ≤4)" in page
    assert "val 10% by origin instead of val 20% by writer" in page


@pytest.mark.parametrize(
    ("targets", "error", "match"),
    [
        (["raw", "999"], StoreError, r"^run 999: no such run in .*`datacur leaderboard`"),
        (["raw", "nothing"], VariantError, r"^nothing: not a variant folder.*datacur evaluate"),
        (["raw", "datasets/fresh"], StoreError, r"^datasets/fresh: no runs of this.*evaluate"),
        (["raw", "raw"], VariantError, "same variant content"),
    ],
    ids=["unknown-run", "unknown-name", "folder-without-runs", "same-twice"],
)
def test_missing_runs_give_one_line_errors_and_no_output(
    tmp_path: Path,
    two_variants: tuple[Path, Path, Path],
    make_variant: Callable[..., Path],
    targets: list[str],
    error: type[Exception],
    match: str,
) -> None:
    _raw, _best, db = two_variants
    make_variant(tmp_path / "datasets" / "fresh", n_train=1, n_val=1, seed=9)  # never scored
    out = tmp_path / "rep"
    with pytest.raises(error, match=match) as caught:
        build_comparison_report(targets, db_path=db, cwd=tmp_path, out_dir=out)
    assert "\n" not in str(caught.value)
    assert not out.exists() and not out.with_name("rep.partial").exists()


def test_unknown_focus_test_set_names_the_shared_ones(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    _raw, _best, db = two_variants
    with pytest.raises(StoreError, match=r"--test label-book: .*shared: dev-test, shift-thin"):
        build_comparison_report(["raw", "best"], db_path=db, cwd=tmp_path, test_name="label-book")


def test_a_failure_while_writing_leaves_no_folder(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _raw, _best, db = two_variants
    out = tmp_path / "rep"

    def broken_page(*_args: object, **_kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(datacur.report, "_page", broken_page)
    with pytest.raises(OSError, match="disk full"):
        build_comparison_report(["raw", "best"], db_path=db, cwd=tmp_path, out_dir=out)
    assert not out.exists() and not out.with_name("rep.partial").exists()


def test_run_id_target_stands_for_its_training(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    _raw, _best, db = two_variants
    # run 3 is best's seed 0 (runs: raw 0, raw 1, best 0, best 1)
    result = build_comparison_report(
        ["raw", "3"], db_path=db, cwd=tmp_path, out_dir=tmp_path / "rep"
    )
    assert result.runs == 3
    page = result.html.read_text()
    assert "+49.0 pts" in page  # 0.99 − 0.50: paired on the one shared seed
    assert "<li>best: " in page and "seeds 0</li>" in page


def test_tally_and_split_pure() -> None:
    first = tally_predictions(
        [[("a", "i", "i"), ("b", "v", "x")], [("a", "i", "i"), ("b", "v", "x")]]
    )
    second = tally_predictions(
        [[("a", "i", "ii"), ("b", "v", "v")], [("a", "i", "ii"), ("b", "v", "x")]]
    )
    assert first["b"].predicted == "x" and second["b"].right == 1
    only_first, only_second, ties = split_right_wrong(first, second)
    assert [pair[0].path for pair in only_first] == ["a"]
    assert only_second == [] and ties == 1  # b: second is 1 of 2


def test_recipe_diff_pure() -> None:
    import yaml

    raw, best = yaml.safe_load(RAW_RECIPE), yaml.safe_load(BEST_RECIPE)
    assert diff_recipes(raw, raw) == []
    changes = diff_recipes(raw, best)
    assert "fill to 10000 with flip-mixed copies of starter instead of no fill" in changes
    assert "drops input labelbook" in diff_recipes(best, raw)
    assert describe_recipe(raw).startswith("recipe raw (starter as released): inputs starter")


runner = CliRunner()


def test_cli_compares_two_targets_and_refuses_a_missing_one(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, best, db = two_variants
    out = tmp_path / "rep"
    args = ["report", str(raw), str(best), "--db", str(db), "--out", str(out), "--test", "dev-test"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "Comparison: raw vs best: 4 run(s)" in result.stdout
    assert (out / "index.html").is_file() and (out / "class_delta.png").is_file()
    missing = ["report", str(raw), "999", "--db", str(db), "--out", str(tmp_path / "x")]
    result = runner.invoke(build_app(), missing)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: run 999: no such run")
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()


def test_three_variants_each_against_the_baseline(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], make_variant: Callable[..., Path]
) -> None:
    _raw, _best, db = two_variants
    mid = make_variant(tmp_path / "datasets" / "mid", n_train=1, n_val=1, seed=7)
    test = tmp_path / "datasets" / "dev-test"
    variant_hash = compute_content_hash(list_variant_images(mid))
    for seed in (0, 1):
        scores = [_score(test, name, "mid", seed, True) for name in ("dev-test", "shift-thin")]
        run = fake_run("mid", seed, scores[0].test_accuracy, variant_hash=variant_hash)
        save_run(replace(run, test_name="dev-test", test_hash="dev-test-hash", scores=scores), db)
    result = build_comparison_report(
        ["raw", "best", "mid"], db_path=db, cwd=tmp_path, out_dir=tmp_path / "rep"
    )
    page = result.html.read_text()
    assert result.title == "Comparison: raw vs best vs mid" and result.runs == 6
    assert "Δ best − raw" in page and "Δ mid − raw" in page and "Δ mid − best" not in page
    dev = test / "i"
    assert _gallery(page, "mid right, raw wrong") == [str(dev / "i_0.png")]  # i_2 is a tie
    assert _gallery(page, "raw right, mid wrong") == []
    assert "mid vs raw: +9.0 points on dev-test" in page


def test_same_runs_give_byte_identical_pages(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    _raw, _best, db = two_variants
    first, second = (
        build_comparison_report(["raw", "best"], db_path=db, cwd=tmp_path, out_dir=tmp_path / out)
        for out in ("a", "b")
    )
    for name in ("index.html", "class_delta.png", "balance.png"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes()
