"""``datacur noise`` through CliRunner: image checks, cached model path, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.imagechecks import relative_path
from datacur.labels import CLASS_INDEX
from datacur.noise import FoldPredictions, fold_cache_path, read_issues_csv, save_fold_predictions
from datacur.variant import compute_content_hash, list_variant_images

runner = CliRunner()


def test_noise_image_checks_only(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    Image.new("L", (30, 30), 255).save(variant / "train/iv/blank.png")
    out = tmp_path / "issues.csv"
    result = runner.invoke(build_app(), ["noise", str(variant), "--no-model", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "blank" in result.stdout and "image checks only" in result.stdout
    rows = read_issues_csv(out)
    assert rows[0].path == "train/iv/blank.png" and rows[0].queue == "bad"
    assert "bad-image candidates" in result.stdout and "--kind hygiene" in result.stdout


def test_noise_uses_cached_fold_predictions(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "v", n_train=3, n_val=2)
    images = list_variant_images(variant)
    paths = [relative_path(image, variant) for image in images]
    labels = np.array([CLASS_INDEX[image.label] for image in images])
    pred_probs = np.full((len(images), 10), 0.01, dtype=np.float32)
    pred_probs[np.arange(len(images)), labels] = 0.91
    pred_probs[0], pred_probs[0, 3] = 0.01, 0.91
    cache = tmp_path / "cache"
    save_fold_predictions(
        fold_cache_path(cache, compute_content_hash(images), paths, folds=2, epochs=2, seed=0),
        FoldPredictions(
            pred_probs,
            np.eye(len(images), 16, dtype=np.float32),
            np.zeros(len(images), dtype=np.int16),
        ),
        paths,
    )
    out = tmp_path / "issues.csv"
    args = [
        "noise",
        str(variant),
        "--folds",
        "2",
        "--epochs",
        "2",
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
        "--json",
    ]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["cached"] is True and payload["schedule"].startswith("short (2 epochs")
    assert payload["summary"]["label"]["i"] == 1
    row = next(row for row in read_issues_csv(out) if row.path == "train/i/i_0.png")
    assert row.suggested == "iv"


def test_noise_refuses_to_overwrite(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    out = tmp_path / "issues.csv"
    out.write_text("keep me")
    result = runner.invoke(build_app(), ["noise", str(variant), "--no-model", "--out", str(out)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert out.read_text() == "keep me"


def test_noise_on_a_folder_that_is_not_a_variant(tmp_path: Path) -> None:
    result = runner.invoke(
        build_app(), ["noise", str(tmp_path / "nope"), "--no-model", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "folder not found" in result.stderr
