"""Fake runs for the report, compare and sweep tests: RunResults without training."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from datacur.evaluate import RunResult
from datacur.labels import CLASSES
from datacur.store import save_run


def fake_run(
    variant: str = "raw",
    seed: int = 0,
    test_accuracy: float | None = 0.5,
    *,
    variant_hash: str | None = None,
    epochs: int = 3,
    **changes: Any,
) -> RunResult:
    """A RunResult shaped as evaluate_variant returns it, with a chosen score."""
    run = RunResult(
        variant=variant,
        variant_hash=variant_hash or hashlib.sha256(variant.encode()).hexdigest(),
        test_name="dev-test",
        test_hash="t-hash",
        seed=seed,
        epochs=epochs,
        path="fast",
        model="fixed",
        best_epoch=2,
        val_accuracy=0.6,
        val_loss=1.0,
        test_accuracy=test_accuracy,
        test_loss=1.1,
        per_class_accuracy={label: test_accuracy or 0.5 for label in CLASSES},
        confusion=[
            [3 if i == j else (1 if j == (i + 1) % 10 else 0) for j in range(10)] for i in range(10)
        ],
        scored_on="test",
        curves={
            "loss": [2.0, 1.0, 0.5][:epochs] + [0.4] * max(0, epochs - 3),
            "accuracy": [0.1, 0.4, 0.6][:epochs] + [0.7] * max(0, epochs - 3),
            "val_loss": [2.0, 1.0, 1.1][:epochs] + [1.2] * max(0, epochs - 3),
            "val_accuracy": [0.2, 0.6, 0.5][:epochs] + [0.55] * max(0, epochs - 3),
        },
        timings={"train_s": 3.0, "total_s": 4.0, "per_epoch_s": 1.0},
        versions={"tensorflow": "2.21.0"},
        counts={"train": 40, "val": 20, "test": 20},
        predictions=[("a.png", "i", "ii")],
    )
    return replace(run, **changes)


def store_runs(db: Path, variant: str, scores: dict[int, float], **changes: Any) -> None:
    """Save one fake run per ``{seed: test accuracy}``."""
    for seed, score in scores.items():
        save_run(fake_run(variant, seed, score, **changes), db)
