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


def install_fake_evaluator(monkeypatch: Any) -> list[dict[str, Any]]:
    """Replace ``evaluate_variant`` (in-process runs only) with a fake; return its call log.

    The fake scores ``0.5 + images / 1000 + seed / 100``, reports one epoch, hashes the
    real variant and test folders like the real one, and fails for folders named
    ``broken*`` with an EvaluationError.
    """
    import datacur.evaluate
    from datacur.errors import EvaluationError
    from datacur.evaluate import EpochLog
    from datacur.variant import compute_content_hash, list_folder_images, list_variant_images

    calls: list[dict[str, Any]] = []

    def evaluate_variant(variant_dir: Path, *, seed: int = 0, **options: Any) -> RunResult:
        calls.append({"variant_dir": Path(variant_dir), "seed": seed, **options})
        images = list_variant_images(variant_dir)
        test_dir = options.get("test_dir")
        if Path(variant_dir).name.startswith("broken"):
            raise EvaluationError(f"{variant_dir}: cannot train (fake failure)")
        progress = options.get("progress")
        if progress is not None:
            progress(EpochLog(seed, 1, options["epochs"], 1.0, 0.5, 1.0, 0.5, 0.1))
        return fake_run(
            options.get("variant_name") or Path(variant_dir).name,
            seed,
            0.5 + len(images) / 1000 + seed / 100,
            variant_hash=compute_content_hash(images),
            epochs=options["epochs"],
            test_name=Path(test_dir).resolve().name if test_dir else None,
            test_hash=compute_content_hash(list_folder_images(test_dir)) if test_dir else None,
            model=options.get("model", "fixed"),
        )

    monkeypatch.setattr(datacur.evaluate, "evaluate_variant", evaluate_variant)
    return calls
