"""Time `datacur score` on a stored run against the training that produced it (issue 27).

In one run, on this machine:
  1. trains the fixed model on a variant (default: datasets/dcai-2021, the 2,880 starter
     images) for --epochs epochs with the checkpoint kept, and measures the training cost
     per epoch; the 100-epoch training it stands for is estimated as per-epoch cost x 100
     plus the decode time (a real 100-epoch run is about an hour here);
  2. builds a --test-size image test set (hard links to starter images, round-robin over
     the classes) and times `datacur score RUN --test DIR` end to end in a fresh process
     (TensorFlow import, checkpoint load, decode, twin check, prediction, storing);
  3. prints both, the ratio, the kept checkpoint's size, and where the scoring time goes:
     the phases `datacur score --json` reports (listing, TensorFlow import, waiting for the
     test fingerprints computed meanwhile, checkpoint load, decode, twins, prediction,
     storing), the rest of the process (Python start, CLI imports, output), and a bare
     `python -c "import tensorflow"` timed in the same run for scale (on a loaded
     machine compare the phases with each other and with that, not with a past run).

Usage:
    .venv/bin/python benchmarks/score_stored.py                 # 2 epochs, 2,000 test images
    .venv/bin/python benchmarks/score_stored.py --epochs 1 --variant datasets/dev-test-variant
    .venv/bin/python benchmarks/score_stored.py --epochs 1 --repeat 3   # median of 3 scorings
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_test_set(source: Path, out_dir: Path, size: int) -> Path:
    """Hard-link ``size`` images of ``source`` (train + val) into ``out_dir/<class>/``."""
    from datacur.labels import CLASSES
    from datacur.variant import list_variant_images

    by_class: dict[str, list[Path]] = {label: [] for label in CLASSES}
    for image in list_variant_images(source):
        by_class[image.label].append(image.path)
    taken = 0
    depth = 0
    while taken < size:
        progressed = False
        for label in CLASSES:
            if depth < len(by_class[label]) and taken < size:
                target = out_dir / label / f"{depth:05d}{by_class[label][depth].suffix}"
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(by_class[label][depth], target)
                taken += 1
                progressed = True
        if not progressed:
            break
        depth += 1
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", type=Path, default=ROOT / "datasets" / "dcai-2021")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="score N times, report the median")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    from datacur._tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    from datacur.evaluate import configure_threads, evaluate_variant
    from datacur.modelstore import list_checkpoints, model_store_dir
    from datacur.store import save_run

    with tempfile.TemporaryDirectory(prefix="datacur-score-bench-") as tmp:
        db = Path(tmp) / "results.db"
        configure_threads(os.cpu_count())
        started = time.perf_counter()
        result = evaluate_variant(
            args.variant, epochs=args.epochs, seed=0, keep_dir=model_store_dir(db)
        )
        train_wall = time.perf_counter() - started
        run_id = save_run(result, db)
        per_epoch = result.timings["per_epoch_s"]
        estimated_100 = per_epoch * 100 + result.timings["decode_s"]
        (stored,) = list_checkpoints(db)

        test = build_test_set(args.variant, Path(tmp) / "test2000", args.test_size)
        n_test = sum(1 for _ in test.rglob("*.png"))
        command = [
            str(Path(sys.executable).parent / "datacur"),
            "score",
            str(run_id),
            "--test",
            str(test),
            "--db",
            str(db),
            "--json",
        ]
        walls, cpus, phases = [], [], []
        for _ in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            if done.returncode:
                sys.exit(f"datacur score failed:\n{done.stderr}")
            phases.append(json.loads(done.stdout)[0]["timings"])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, check=True)
        bare_import = time.perf_counter() - started
    middle = walls.index(statistics.median_low(walls))
    score_wall, score_cpu, timings = walls[middle], cpus[middle], phases[middle]

    print(
        f"variant {args.variant.name}: {result.counts['train']} train + {result.counts['val']} val"
    )
    print(
        f"training: {args.epochs} epoch(s) in {train_wall:.1f} s wall, "
        f"{per_epoch:.2f} s per epoch -> 100 epochs ~ {estimated_100:.0f} s"
    )
    print(f"checkpoint kept: {stored.bytes / 1e6:.2f} MB ({stored.bytes:,} bytes)")
    print(
        f"datacur score on {n_test} test images (fresh process, end to end): {score_wall:.1f} s "
        f"wall, {score_cpu:.1f} s CPU (the machine is shared: compare the per-epoch cost with "
        "the 6.5 s/epoch of an idle 2-core machine)"
    )
    if args.repeat > 1:
        print(f"  (median of {args.repeat}: {', '.join(f'{w:.1f}' for w in walls)} s wall)")
    print("where the scoring time goes (wall s, that run):")
    for name, seconds in timings.items():
        print(f"  {name.removesuffix('_s'):<20} {seconds:6.2f}")
    rest = score_wall - sum(timings.values())
    print(f"  {'python, CLI, output':<20} {rest:6.2f}   (the rest of the process)")
    print(f"  for scale: `python -c 'import tensorflow'` alone took {bare_import:.2f} s")
    print(
        f"ratio: scoring a stored run costs {score_wall / estimated_100:.4f} of retraining "
        f"(x{estimated_100 / score_wall:.0f} faster); target < 15 s: "
        f"{'met' if score_wall < 15 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
