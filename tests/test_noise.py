"""noise: cleanlab logic on synthetic pred_probs, ranking, issues.csv, cache, tiny training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import DatacurError, VariantError
from datacur.fusion import FusionWeights
from datacur.imagechecks import ImageIssue, relative_path
from datacur.labels import CLASS_INDEX, CLASSES
from datacur.noise import (
    FoldPredictions,
    compute_fold_predictions,
    find_model_issues,
    find_noise,
    fold_cache_path,
    load_fold_predictions,
    rank_issues,
    read_issues_csv,
    save_fold_predictions,
    summarize_issues,
    write_issues_csv,
)
from datacur.variant import VariantImage, compute_content_hash, list_variant_images


def _synthetic(n: int = 300, flips: int = 30, seed: int = 0):
    """Confident, mostly right pred_probs; ``flips`` given labels changed to another class."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(10), n // 10)
    pred_probs = rng.dirichlet(np.full(10, 0.3), n) * 0.3
    pred_probs[np.arange(n), truth] += 0.7
    pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.choice(n, flips, replace=False)
    labels[flipped] = (truth[flipped] + rng.integers(1, 10, flips)) % 10
    centres = rng.normal(0, 5, (10, 16))
    features = centres[truth] + rng.normal(0, 1, (n, 16))
    images = [
        VariantImage("train", CLASSES[label], Path(f"train/{CLASSES[label]}/{k:03d}.png"))
        for k, label in enumerate(labels)
    ]
    paths = [image.path.as_posix() for image in images]
    return labels, truth, pred_probs, features, images, paths, flipped


def test_injected_label_flips_are_flagged_with_the_true_class() -> None:
    labels, truth, pred_probs, _features, images, paths, flipped = _synthetic()
    issues = find_model_issues(labels, pred_probs, None, images, paths)
    flagged = {paths.index(issue.path): issue for issue in issues if issue.issue == "label"}
    recall = len(set(flagged) & set(flipped.tolist())) / len(flipped)
    precision = len(set(flagged) & set(flipped.tolist())) / max(len(flagged), 1)
    assert recall >= 0.9
    assert precision >= 0.9
    for index, issue in flagged.items():
        if index in flipped:
            assert issue.suggested == CLASSES[truth[index]]
        assert "out-of-fold model gives" in issue.reason


def test_outlier_and_embedding_duplicate_from_features() -> None:
    labels, _truth, pred_probs, features, images, paths, _ = _synthetic(flips=0)
    features[7] = np.random.default_rng(1).normal(0, 100, 16)
    features[9] = features[8] * 1.000001
    issues = find_model_issues(labels, pred_probs, features, images, paths)
    kinds = {(issue.path, issue.issue) for issue in issues}
    assert (paths[7], "outlier") in kinds
    assert (paths[9], "embedding_duplicate") in kinds
    assert (paths[8], "embedding_duplicate") not in kinds  # the first copy is kept
    twin = next(i for i in issues if i.issue == "embedding_duplicate")
    assert twin.partner == paths[8]
    outlier = next(i for i in issues if i.path == paths[7] and i.issue == "outlier")
    assert outlier.score == max(i.score for i in issues if i.issue == "outlier")


def test_pred_probs_shape_is_checked() -> None:
    labels, _t, pred_probs, _f, images, paths, _ = _synthetic()
    with pytest.raises(ValueError, match="shape"):
        find_model_issues(labels, pred_probs[:, :5], None, images, paths)


def test_rank_merges_per_image_most_severe_first() -> None:
    issues = [
        ImageIssue("train/i/a.png", "train", "i", "outlier", 0.3, "odd"),
        ImageIssue("train/i/a.png", "train", "i", "label", 0.8, "looks like ii", "ii"),
        ImageIssue("train/v/b.png", "train", "v", "blank", 0.9, "no ink"),
        ImageIssue("train/x/c.png", "train", "x", "tiny", 0.8, "5x5"),
    ]
    rows = rank_issues(issues, variant="/v")
    assert [row.path for row in rows] == ["train/v/b.png", "train/i/a.png", "train/x/c.png"]
    assert [row.rank for row in rows] == [1, 2, 3]
    merged = rows[1]
    assert (merged.issue, merged.suggested, merged.issues) == ("label", "ii", "label;outlier")
    assert merged.reason == "label: looks like ii; outlier: odd"
    summary = summarize_issues(rows)
    assert summary["label"]["i"] == 1 and summary["outlier"]["i"] == 1
    assert next(iter(summary)) == "blank"


def test_issues_csv_round_trip_is_byte_stable(tmp_path: Path) -> None:
    rows = rank_issues(
        [ImageIssue("val/iv/a, b.png", "val", "iv", "label", 0.5, 'says "vi"', "vi")],
        variant="/some/variant",
    )
    first = write_issues_csv(rows, tmp_path / "a.csv").read_bytes()
    assert read_issues_csv(tmp_path / "a.csv") == rows
    assert write_issues_csv(rows, tmp_path / "b.csv").read_bytes() == first


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "file not found"), ("path,label\nx,i\n", "missing column")],
    ids=["missing", "wrong-columns"],
)
def test_read_issues_csv_errors(tmp_path: Path, content: str | None, match: str) -> None:
    target = tmp_path / "issues.csv"
    if content is not None:
        target.write_text(content)
    with pytest.raises(DatacurError, match=match):
        read_issues_csv(target)


def test_image_checks_only(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    Image.new("L", (30, 30), 255).save(variant / "train/iv/blank.png")
    report = find_noise(variant, use_model=False, cache_dir=None)
    assert not report.model_used and report.oof_accuracy is None
    assert report.images == 31
    blank = next(row for row in report.rows if row.path == "train/iv/blank.png")
    assert blank.issue == "blank" and blank.rank == 1
    assert blank.variant == str(variant.resolve())


def _cache_synthetic(variant: Path, cache_dir: Path, *, folds: int, epochs: int, seed: int):
    images = list_variant_images(variant)
    paths = [relative_path(image, variant) for image in images]
    labels = np.array([CLASS_INDEX[image.label] for image in images])
    pred_probs = np.full((len(images), 10), 0.01, dtype=np.float32)
    pred_probs[np.arange(len(images)), labels] = 0.91
    pred_probs[0] = 0.01
    pred_probs[0, 5] = 0.91  # train/i/i_0.png looks like a 'vi'
    predictions = FoldPredictions(
        pred_probs,
        np.random.default_rng(0).normal(size=(len(images), 8)).astype(np.float32),
        np.zeros(len(images), dtype=np.int16),
    )
    path = fold_cache_path(
        cache_dir, compute_content_hash(images), paths, folds=folds, epochs=epochs, seed=seed
    )
    save_fold_predictions(path, predictions, paths)
    return path, predictions, paths


def test_cached_predictions_skip_training(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=3, n_val=2)
    cache = tmp_path / "cache"
    _cache_synthetic(variant, cache, folds=2, epochs=3, seed=4)
    report = find_noise(variant, folds=2, epochs=3, seed=4, cache_dir=cache)
    assert report.cached and report.model_used
    assert "short (3 epochs per fold" in report.schedule
    row = next(row for row in report.rows if row.path == "train/i/i_0.png")
    assert "label" in row.issues and row.suggested == "vi"
    again = find_noise(variant, folds=2, epochs=3, seed=4, cache_dir=cache)
    assert again.rows == report.rows


def test_cache_misses_on_other_files_or_damage(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    path, predictions, paths = _cache_synthetic(variant, tmp_path, folds=2, epochs=1, seed=0)
    loaded = load_fold_predictions(path, paths)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.pred_probs, predictions.pred_probs)
    assert load_fold_predictions(path, paths[::-1]) is None
    path.write_bytes(b"garbage")
    assert load_fold_predictions(path, paths) is None
    assert load_fold_predictions(tmp_path / "absent.npz", paths) is None


def test_too_few_images_per_class_for_the_folds() -> None:
    labels = np.repeat(np.arange(10), 2)
    images = np.zeros((20, 32, 32, 3), dtype=np.float32)
    with pytest.raises(VariantError, match="at least 3 images per class"):
        compute_fold_predictions(images, labels, folds=3, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"folds": 1}, "--folds"), ({"epochs": 0}, "--epochs")], ids=str
)
def test_bad_settings(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(DatacurError, match=match):
        find_noise(tmp_path, **kwargs)


@pytest.mark.slow
def test_tiny_training_end_to_end_then_cached(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    events = []
    cache = tmp_path / "cache"
    report = find_noise(
        variant,
        folds=2,
        epochs=1,
        seed=0,
        cache_dir=cache,
        jit_compile=False,
        progress=events.append,
    )
    assert report.model_used and not report.cached
    assert report.oof_accuracy is not None and 0 <= report.oof_accuracy <= 1
    assert [(e.fold, e.epoch) for e in events] == [(0, 1), (1, 1)]
    names = sorted(path.name for path in cache.glob("*.npz"))
    assert len(names) == 2 and sum("-junk-" in name for name in names) == 1  # folds + junk
    again = find_noise(variant, folds=2, epochs=1, seed=0, cache_dir=cache, jit_compile=False)
    assert again.cached and again.rows == report.rows


@pytest.mark.slow
def test_parallel_folds_in_worker_processes() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 2)
    images = rng.uniform(0, 255, (20, 32, 32, 3)).astype(np.float32)
    events = []
    predictions = compute_fold_predictions(
        images, labels, folds=2, epochs=1, seed=0, jobs=2, progress=events.append
    )
    assert predictions.pred_probs.shape == (20, 10)
    np.testing.assert_allclose(predictions.pred_probs.sum(axis=1), 1.0, rtol=1e-5)
    assert predictions.features.shape == (20, 2 * 256)
    assert sorted((e.fold, e.epoch) for e in events) == [(0, 1), (1, 1)]
    assert sorted(np.bincount(predictions.fold_of).tolist()) == [10, 10]


def test_same_variant_gives_byte_identical_issues_csv(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=3, n_val=2)
    cache = tmp_path / "cache"
    _cache_synthetic(variant, cache, folds=2, epochs=1, seed=0)
    outputs = [
        write_issues_csv(
            find_noise(variant, folds=2, epochs=1, seed=0, cache_dir=cache).rows,
            tmp_path / f"issues{k}.csv",
        ).read_bytes()
        for k in range(2)
    ]
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") > 1


def test_two_queues_and_a_twin_pair_is_one_row(tmp_path: Path) -> None:
    issues = [
        ImageIssue("train/i/a.png", "train", "i", "label", 0.5, "like ii", "ii"),
        ImageIssue("val/v/b.png", "val", "v", "leakage", 0.9, "twin", partner="train/v/c.png"),
        ImageIssue(
            "train/x/d.png", "train", "x", "conflicting_label", 0.95, "copy", "v", "train/v/c.png"
        ),
        ImageIssue("train/x/d.png", "train", "x", "blank", 0.2, "no ink"),
        # The same pair seen the other way round by the embedding: still one row.
        ImageIssue(
            "train/v/c.png", "train", "v", "embedding_duplicate", 0.3, "emb", "", "train/x/d.png"
        ),
    ]
    rows = rank_issues(issues, variant="/v")
    assert [(row.queue, row.rank, row.path, row.partner) for row in rows] == [
        ("bad", 1, "train/i/a.png", ""),
        ("bad", 2, "train/x/d.png", ""),
        ("hygiene", 1, "train/x/d.png", "train/v/c.png"),
        ("hygiene", 2, "val/v/b.png", "train/v/c.png"),
    ]
    assert rows[2].issues == "conflicting_label;embedding_duplicate"
    # A leakage-scored 0.9 twin never pushes a bad image down: the queues rank apart.
    write_issues_csv(rows, tmp_path / "issues.csv")
    assert read_issues_csv(tmp_path / "issues.csv") == rows
    assert [row.path for row in read_issues_csv(tmp_path / "issues.csv", queue="hygiene")] == [
        "train/x/d.png",
        "val/v/b.png",
    ]


def test_fused_score_orders_the_bad_queue() -> None:
    issues = [
        ImageIssue("train/i/a.png", "train", "i", "outlier", 0.6, "odd"),
        ImageIssue("train/i/b.png", "train", "i", "junk", 0.0, "top fused"),
        ImageIssue("train/i/c.png", "train", "i", "blank", 0.9, "no ink"),
    ]
    fused = {
        "train/i/a.png": (0.2, "fused score 0.200", ""),
        "train/i/b.png": (0.7, "fused score 0.700", "ii"),
        "train/i/c.png": (0.1, "fused score 0.100", ""),
    }
    rows = rank_issues(issues, variant="/v", fused=fused)
    assert [(row.path, row.score) for row in rows] == [
        ("train/i/c.png", 0.99),  # a blank page stays on top whatever the fusion says
        ("train/i/b.png", 0.7),
        ("train/i/a.png", 0.2),
    ]
    assert rows[1].suggested == "ii" and rows[1].reason.endswith("fused score 0.700")


def test_old_issues_csv_without_queue_columns_still_reads(tmp_path: Path) -> None:
    header = "rank,path,split,label,suggested,issue,score,reason,issues,variant\n"
    (tmp_path / "old.csv").write_text(
        header
        + "1,val/v/b.png,val,v,,leakage,0.9,twin,leakage,/v\n"
        + "2,train/i/a.png,train,i,ii,label,0.5,like ii,label,/v\n"
    )
    rows = read_issues_csv(tmp_path / "old.csv")
    assert [(row.path, row.queue) for row in rows] == [
        ("val/v/b.png", "hygiene"),
        ("train/i/a.png", "bad"),
    ]
    with pytest.raises(DatacurError, match="unknown queue"):
        read_issues_csv(tmp_path / "old.csv", queue="other")


def test_label_free_scan_ranks_planted_junk_first_and_twins_apart(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder
) -> None:
    import shutil

    variant = make_variant(tmp_path / "v", n_train=3, n_val=1, size=48)
    book = make_image_folder(tmp_path / "book", n=1, seed=9)
    page = np.full((48, 48), 250, dtype=np.uint8)
    for y in range(6, 42, 6):
        page[y : y + 2, 20:22] = 170  # a faint dotted stroke
    Image.fromarray(page).save(variant / "train/vi/dotted.png")
    shutil.copyfile(variant / "train/x/x_0.png", variant / "val/x/leak.png")
    shutil.copyfile(variant / "train/ii/ii_0.png", variant / "train/iii/twin.png")
    # Weights that trust the dotted-stroke columns (the shipped ones are fitted on a journal).
    weights = FusionWeights({"faint": 2.0, "contrast_low": 1.0, "components": 1.0})
    report = find_noise(variant, use_model=False, cache_dir=None, label_book=book, weights=weights)
    assert report.detectors is not None and "book_margin" in report.detectors.names
    bad = [row for row in report.rows if row.queue == "bad"]
    hygiene = [row for row in report.rows if row.queue == "hygiene"]
    assert bad[0].path == "train/vi/dotted.png"
    assert [row.rank for row in bad] == list(range(1, len(bad) + 1))
    pairs = {(row.path, row.partner) for row in hygiene}
    assert ("val/x/leak.png", "train/x/x_0.png") in pairs
    twin_rows = [row for row in hygiene if "train/iii/twin.png" in (row.path, row.partner)]
    assert len(twin_rows) == 1 and twin_rows[0].issue == "conflicting_label"
    assert not any(row.issue in ("leakage", "conflicting_label") for row in bad)
    again = find_noise(variant, use_model=False, cache_dir=None, label_book=book, weights=weights)
    assert again.rows == report.rows


def test_suggestion_combines_the_model_and_the_neighbours_labels() -> None:
    from datacur.junk import JunkFeatures
    from datacur.noise import compute_detectors

    labels = np.array([0] * 6 + [1] * 6)
    probs = np.full((12, 10), 0.02, dtype=np.float32)
    probs[np.arange(12), labels] = 0.82
    # Image 0 is labelled 'i'; the model hesitates between 'iii' and 'ii', but its
    # neighbours in the embedding are all 'ii': the suggestion is 'ii'.
    probs[0] = 0.02
    probs[0, 2], probs[0, 1], probs[0, 0] = 0.4, 0.38, 0.06
    features = np.zeros((12, 4), dtype=np.float32)
    features[:6, 0] = 1.0
    features[6:, 1] = 1.0
    features[0] = (0.0, 1.0, 0.01, 0.0)
    features += np.random.default_rng(0).normal(0, 0.01, features.shape).astype(np.float32)
    junk = JunkFeatures(("ink_low",), np.zeros((12, 1)), ("",) * 12)
    paths = [f"train/x/{k}.png" for k in range(12)]
    table = compute_detectors(
        paths, labels, junk, FoldPredictions(probs, features, np.zeros(12, dtype=np.int16))
    )
    assert table.suggested[0] == "ii" and bool(table.mislabelled[0])
    assert not table.mislabelled[1:].any()
    assert all(s and s != CLASSES[label] for s, label in zip(table.suggested, labels, strict=True))
    assert "model_given_low" in table.names and table.fused.shape == (12,)
