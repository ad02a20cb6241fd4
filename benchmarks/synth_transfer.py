"""Does synth-only data transfer to real numerals? Train the fixed model on synthesised
variants and score the best checkpoint on the real starter val set.

For each source (``strokes``, and ``chars74k`` when its data is present) this builds a
synth-only variant with :func:`datacur.synth.synthesize`, trains the fixed model on it with
:func:`datacur.evaluate.evaluate_variant` (a short schedule: ``--epochs``, default 10,
instead of the competition's 100; the best-val checkpoint is picked on the synthetic val)
and prints the accuracy on ``datasets/dcai-2021/val`` (813 real images). With
``--baseline`` it also trains on the real starter train split with the same schedule.

Run: ``.venv/bin/python benchmarks/synth_transfer.py [--epochs 10] [--per-class 200]``.

Measured here (2 cores shared with other jobs; 200/class = 2,000 images, 10 epochs, seed 0,
one seed each, accuracy on the 813 real starter val images):

- synth code of commit 8220e7d: strokes 0.614, chars74k 0.606.
- synth code of commit 8306c84 (long numerals squeezed, more serif bars, photo-glyph fixes,
  strokes writers drawn from the synth seed): strokes 0.550, chars74k 0.590.

Per-class accuracies moved by up to 0.3 between the two runs and the best epoch was the
last or next-to-last, so at this schedule one seed cannot tell the two apart; compare with
``--seeds 3`` and more epochs before drawing conclusions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow start-up chatter is not the result

REPO = Path(__file__).resolve().parents[1]
CHARS74K = REPO.parent / "shared" / "data" / "chars74k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", type=Path, default=REPO / "datasets" / "dcai-2021" / "val")
    parser.add_argument("--sources", nargs="+", default=["strokes", "chars74k"])
    parser.add_argument("--baseline", action="store_true", help="Also train on starter train.")
    parser.add_argument(
        "--seeds", type=int, default=1, help="Training seeds per variant (mean and spread)."
    )
    args = parser.parse_args()

    from datacur.evaluate import evaluate_variant
    from datacur.synth import synthesize

    rows: list[tuple[str, int, float, float | None, float]] = []
    with tempfile.TemporaryDirectory(prefix="synth-transfer-") as scratch:
        for source in args.sources:
            path = None
            if source == "chars74k":
                if not CHARS74K.is_dir():
                    print(f"skip chars74k: {CHARS74K} not found")
                    continue
                path = CHARS74K
            variant = Path(scratch) / source
            synthesize(source, variant, path=path, per_class=args.per_class, seed=args.seed)
            scores = []
            for seed in range(args.seed, args.seed + args.seeds):
                started = time.perf_counter()
                result = evaluate_variant(
                    variant, test_dir=args.test, seed=seed, epochs=args.epochs
                )
                seconds = time.perf_counter() - started
                scores.append(result.test_accuracy or 0.0)
                rows.append(
                    (
                        f"{source} (seed {seed})",
                        result.best_epoch,
                        result.val_accuracy,
                        result.test_accuracy,
                        seconds,
                    )
                )
                print(
                    f"{source}, seed {seed}: real-val accuracy {result.test_accuracy:.3f} "
                    f"(synthetic val {result.val_accuracy:.3f}, best epoch "
                    f"{result.best_epoch}/{args.epochs}, {seconds:.0f} s)",
                    flush=True,
                )
                per_class = {k: round(v, 2) for k, v in result.per_class_accuracy.items()}
                print("  per class:", per_class)
            if len(scores) > 1:
                print(
                    f"{source}: mean {statistics.mean(scores):.3f} "
                    f"sd {statistics.stdev(scores):.3f}"
                )
        if args.baseline:
            train_only = Path(scratch) / "starter-train"
            _starter_train_variant(REPO / "datasets" / "dcai-2021", train_only)
            started = time.perf_counter()
            result = evaluate_variant(
                train_only, test_dir=args.test, seed=args.seed, epochs=args.epochs
            )
            rows.append(
                (
                    "starter train (real)",
                    result.best_epoch,
                    result.val_accuracy,
                    result.test_accuracy,
                    time.perf_counter() - started,
                )
            )

    print(f"\nsynth-only transfer, {args.per_class}/class, {args.epochs} epochs, seed {args.seed}")
    print(f"{'trained on':<22} {'best ep':>7} {'own val':>8} {'real val':>9} {'seconds':>8}")
    for name, epoch, val, test, seconds in rows:
        test_text = "-" if test is None else f"{test:.3f}"
        print(f"{name:<22} {epoch:>7} {val:>8.3f} {test_text:>9} {seconds:>8.0f}")


def _starter_train_variant(starter: Path, out: Path) -> None:
    """Starter train as train, and (so the script has a val) the label book as val."""
    import shutil

    shutil.copytree(starter / "train", out / "train")
    shutil.copytree(starter.parent / "label-book", out / "val")


if __name__ == "__main__":
    main()
