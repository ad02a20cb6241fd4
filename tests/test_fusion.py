"""fusion: fixed journal halves, deterministic fitting and scoring, journal truth, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datacur.errors import DatacurError
from datacur.fusion import (
    FusionWeights,
    fit_fusion,
    journal_half,
    load_journal_truth,
    precision_at,
    rank_normalize,
    recall_at,
    score_fusion,
)

NAMES = ("useful", "noise", "inverted")


def _table(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Columns: one that tracks the positives, one random, one that tracks them backwards."""
    rng = np.random.default_rng(seed)
    positives = rng.random(n) < 0.15
    useful = positives * 1.0 + rng.normal(0, 0.3, n)
    values = np.column_stack([useful, rng.normal(0, 1, n), -useful + rng.normal(0, 0.5, n)])
    return values, positives


def test_journal_half_is_a_fixed_function_of_the_file_name() -> None:
    # Pinned: changing the split would silently move images between tuning and reporting.
    assert journal_half("train/ii/ab2ddcea-ce5d-11eb-b317-38f9d35ea60f.png") == journal_half(
        "val/v/ab2ddcea-ce5d-11eb-b317-38f9d35ea60f.png"
    )
    halves = [journal_half(f"train/i/{k:04d}.png") for k in range(1000)]
    assert 450 < halves.count("tune") < 550
    assert [journal_half(f"train/i/{k:04d}.png") for k in range(6)] == [
        journal_half(f"x/{k:04d}.png") for k in range(6)
    ]


def test_fit_recovers_the_signs_and_is_deterministic() -> None:
    values, positives = _table()
    use = np.arange(len(values)) % 2 == 0
    free = fit_fusion(NAMES, values, positives, use=use, nonnegative=False)
    assert free.coef["useful"] > 1.0 and free.coef["inverted"] < -1.0
    assert abs(free.coef["noise"]) < abs(free.coef["useful"]) / 3
    first = fit_fusion(NAMES, values, positives, use=use, nonnegative=True)
    second = fit_fusion(NAMES, values, positives, use=use, nonnegative=True)
    assert first.to_json() == second.to_json()
    assert first.coef["useful"] > 1.0 and first.coef["inverted"] == 0.0  # signs kept >= 0
    scores = score_fusion(NAMES, values, first)
    np.testing.assert_array_equal(scores, score_fusion(NAMES, values, second))
    held_out = np.flatnonzero(~use)
    order = [int(i) for i in held_out[np.argsort(-scores[held_out], kind="stable")]]
    truth = {int(i) for i in held_out if positives[i]}
    assert precision_at(order, truth, 20) >= 0.8  # held-out half: the fit generalises


def test_score_skips_columns_the_data_lacks_and_ranks_are_scale_free() -> None:
    values, _ = _table(50)
    weights = FusionWeights({"useful": 2.0, "model_given_low": 5.0})
    scores = score_fusion(NAMES, values, weights)
    np.testing.assert_allclose(scores, score_fusion(NAMES, values * 1000 + 7, weights))
    assert np.all((scores > 0) & (scores < 1))
    ranks = rank_normalize(np.array([[3.0], [1.0], [2.0], [2.0]]))
    assert ranks[:, 0].tolist() == [1.0, 0.25, 0.625, 0.625]


def test_weights_json_round_trip_and_errors(tmp_path: Path) -> None:
    weights = FusionWeights({"a": 1.5, "b": -0.25}, intercept=-2.0, note="test")
    path = tmp_path / "w.json"
    path.write_text(weights.to_json())
    assert FusionWeights.from_json(path) == weights
    assert json.loads(path.read_text())["version"] == 1
    with pytest.raises(DatacurError, match="not found"):
        FusionWeights.from_json(tmp_path / "gone.json")
    (tmp_path / "bad.json").write_text('{"coef": 3}')
    with pytest.raises(DatacurError, match="not a fusion weights file"):
        FusionWeights.from_json(tmp_path / "bad.json")


def test_fit_refuses_a_one_sided_tuning_half() -> None:
    values, _ = _table(20)
    with pytest.raises(DatacurError, match="only one kind"):
        fit_fusion(NAMES, values, np.zeros(20, dtype=bool))


def _write_journal(path: Path, lines: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"version": 1, **line}) + "\n" for line in lines))
    return path


def test_journal_truth_coverage(tmp_path: Path) -> None:
    paths = ["train/i/a.png", "train/i/b.png", "train/v/c.png", "val/x/d.png"]
    sweep = _write_journal(
        tmp_path / "sweep.jsonl",
        [
            {"action": "drop", "path": "train/i/a.png", "label": "i"},
            {"action": "relabel", "path": "train/v/c.png", "label": "v", "to": "x"},
            {"action": "drop", "path": "train/ii/gone.png", "label": "ii"},
        ],
    )
    truth = load_journal_truth(sweep, paths)
    assert truth.positives == {"train/i/a.png", "train/v/c.png"}  # gone.png is not in it
    assert truth.covered == set(paths)  # only changes recorded: a full sweep
    assert dict(truth.relabel_to) == {"train/v/c.png": "x"}
    partial = _write_journal(
        tmp_path / "partial.jsonl",
        [
            {"action": "keep", "path": "train/i/b.png", "label": "i"},
            {"action": "drop", "path": "val/x/d.png", "label": "x"},
        ],
    )
    truth = load_journal_truth(partial, paths)
    assert truth.covered == {"train/i/b.png", "val/x/d.png"}
    assert truth.positives == {"val/x/d.png"}


def test_precision_and_recall_at_k() -> None:
    order = ["a", "b", "c", "d"]
    assert precision_at(order, {"a", "c"}, 2) == 0.5
    assert precision_at(order, {"a", "c"}, 10) == 0.5  # capped at the list
    assert recall_at(order, {"a", "c", "z"}, 3) == pytest.approx(2 / 3)
    assert np.isnan(recall_at(order, set(), 3))
