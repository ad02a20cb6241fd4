"""Time the fixed evaluator against the straight competition script, in one run.

Prints, on the same data and epochs:
  1. the straight 2021 script (tests/reference/competition_script.py), one run;
  2. `datacur evaluate`'s default fast path, one run (as the CLI runs it: this process's
     thread pools pinned by `configure_threads`), and the ratio to (1); then the same with
     XLA (opt-in) for comparison;
  3. fast multi-seed throughput (`--seeds` runs, one worker per core) in runs/hour, and the
     ratio to running the straight script once per seed, one after another;
  4. peak resident memory of each phase.

With `--levers`, first prints the per-step cost of the fixed model's training step (data in
memory, batch 8 unless named) under each lever: TensorFlow's default threads, one
intra-op thread with one or two inter-op threads, XLA, and per image at batch 16 and 32 (the
most a packed multi-seed step could gain per core), and the JAX backend when installed.

With `--memory`, evaluates a 10,000-count variant (hard links to the starter images) for
one epoch in a fresh process and prints its peak RSS (the target is 4 GB).

With `--accuracy`, also trains `--accuracy-seeds` seeds of the exact path and of the fast
path for `--accuracy-epochs` (100 = the competition schedule) and prints means, spreads and
a Welch t-test; those runs go to the results DB given by --db so they can be re-read.

Usage:
    .venv/bin/python benchmarks/evaluate_speed.py --epochs 10 --levers
    .venv/bin/python benchmarks/evaluate_speed.py --skip-timing --accuracy --accuracy-epochs 100
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datacur.evaluate import RunResult

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _run_python_json(code: str) -> dict:
    """Run ``code`` in a fresh Python process; return the JSON object on its last stdout line.

    A fresh process per measurement makes every timing include TensorFlow's start-up and
    every peak-memory figure belong to that run alone.
    """
    import json
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def time_straight_script(variant: Path, test: Path, epochs: int, seed: int) -> tuple[float, float]:
    """Run the straight script in a fresh process; return (seconds, test accuracy)."""
    code = (
        "import json, sys, tempfile, time, warnings\n"
        "warnings.filterwarnings('ignore')\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.reference.competition_script import run_competition_script\n"
        "start = time.perf_counter()\n"
        f"out = run_competition_script({str(variant)!r}, {str(test)!r}, epochs={epochs}, "
        f"seed={seed}, checkpoint_dir=tempfile.mkdtemp())\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, "
        "'test_accuracy': float(out['test_accuracy'])}))\n"
    )
    result = _run_python_json(code)
    return result["seconds"], result["test_accuracy"]


def time_fast_single(
    variant: Path, test: Path, epochs: int, seed: int, *, jit_compile: bool = False
) -> tuple[float, float]:
    """One fast-path run in a fresh process, as `datacur evaluate` runs it (in-process,
    thread pools pinned); fair: the time includes decoding and any compile."""
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from datacur._tf import import_tensorflow_quietly\n"
        "import_tensorflow_quietly()\n"
        "from datacur.evaluate import evaluate_seeds\n"
        "start = time.perf_counter()\n"
        f"[r] = evaluate_seeds(Path({str(variant)!r}), [{seed}], jobs=1, "
        f"test_dir=Path({str(test)!r}), epochs={epochs}, jit_compile={jit_compile})\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, "
        "'test_accuracy': r.test_accuracy, 'timings': r.timings}))\n"
    )
    result = _run_python_json(code)
    timings = result["timings"]
    # Where the time goes: the rest of the run is start-up (model build, loader listing).
    print(
        f"    of which decode {timings['decode_s']:.1f} s, fit {timings['train_s']:.1f} s "
        f"(first epoch's tracing included), scoring and start-up "
        f"{result['seconds'] - timings['decode_s'] - timings['train_s']:.1f} s",
        flush=True,
    )
    return result["seconds"], result["test_accuracy"]


def time_fast_many(variant: Path, test: Path, epochs: int, seeds: list[int]) -> float:
    """Wall time of `evaluate_seeds` over `seeds` with one worker per core."""
    from datacur.evaluate import evaluate_seeds

    start = time.perf_counter()
    evaluate_seeds(variant, seeds, test_dir=test, epochs=epochs)
    return time.perf_counter() - start


LEVERS: list[tuple[str, dict]] = [
    ("TF default threads (2 intra, 2 inter)", {}),
    ("1 intra-op, 2 inter-op threads (default path)", {"intra": 1, "inter": 2}),
    ("1 intra-op, 1 inter-op thread (one of 2 workers)", {"intra": 1, "inter": 1}),
    ("XLA, TF default threads", {"jit": True}),
    ("XLA, 1 intra-op, 1 inter-op thread", {"jit": True, "intra": 1, "inter": 1}),
    ("batch 16, 1 intra-op, 1 inter-op thread", {"batch": 16, "intra": 1, "inter": 1}),
    ("batch 32, 1 intra-op, 1 inter-op thread", {"batch": 32, "intra": 1, "inter": 1}),
    ("JAX backend, XLA, its default threads", {"backend": "jax", "jit": True}),
]


def time_lever(lever: dict, images: int = 2048) -> dict:
    """ms per training step and per image of the fixed model under one lever (fresh process).

    Random data in memory, `steps_per_execution=16`, one warm-up epoch, then two timed.
    """
    batch = lever.get("batch", 8)
    threads = ""
    if "intra" in lever:
        threads = (
            "tf.config.threading.set_intra_op_parallelism_threads({intra})\n"
            "tf.config.threading.set_inter_op_parallelism_threads({inter})\n"
        ).format(**lever)
    code = (
        "import json, os, time\n"
        f"os.environ['KERAS_BACKEND'] = {lever.get('backend', 'tensorflow')!r}\n"
        "from datacur._tf import import_tensorflow_quietly\n"
        "tf = import_tensorflow_quietly()\n" + threads + "import keras, numpy as np\n"
        "from datacur.model import build_model, compile_fixed_model\n"
        "keras.utils.set_random_seed(0)\n"
        f"model = compile_fixed_model(build_model('fixed'), jit_compile={lever.get('jit', False)}, "
        "steps_per_execution=16)\n"
        "rng = np.random.default_rng(0)\n"
        f"x = rng.uniform(0, 255, ({images}, 32, 32, 3)).astype('float32')\n"
        f"y = np.eye(10, dtype='float32')[rng.integers(0, 10, {images})]\n"
        f"model.fit(x, y, batch_size={batch}, epochs=1, verbose=0)\n"
        "start = time.perf_counter()\n"
        f"model.fit(x, y, batch_size={batch}, epochs=2, verbose=0)\n"
        "seconds = (time.perf_counter() - start) / 2\n"
        f"print(json.dumps({{'ms_step': seconds / ({images} / {batch}) * 1e3, "
        f"'us_image': seconds / {images} * 1e6}}))\n"
    )
    return _run_python_json(code)


def time_lever_pair(lever: dict) -> float:
    """ms per step of each of two trainings under ``lever`` run at the same time (one per core).

    This is what a step costs a worker when `--seeds` keeps both cores busy: two trainings
    share the memory bandwidth and caches of this machine, so each is slower than alone.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        figures = list(pool.map(lambda _: time_lever(lever), range(2)))
    return statistics.fmean(figure["ms_step"] for figure in figures)


def print_levers() -> dict[str, float]:
    """Print each lever's cost; return the cheapest single and paired ms/step at batch 8."""
    import importlib.util

    print("levers: the fixed model's training step, data in memory, 16 steps per call")
    single: list[float] = []
    for name, lever in LEVERS:
        if lever.get("backend") == "jax" and importlib.util.find_spec("jax") is None:
            print(f"  {name:<50} skipped (pip install jax to measure it)")
            continue
        figures = time_lever(lever)
        print(
            f"  {name:<50} {figures['ms_step']:6.1f} ms/step  {figures['us_image']:6.0f} us/image"
        )
        if lever.get("batch", 8) == 8:
            single.append(figures["ms_step"])
    paired = time_lever_pair({"intra": 1, "inter": 1})
    print(f"  {'two trainings at once, 1 intra + 1 inter each':<50} {paired:6.1f} ms/step each")
    return {"single_ms": min(single), "paired_ms": paired}


def print_ceilings(variant: Path, epochs: int, straight_s: float, floors: dict[str, float]) -> None:
    """The best ratios any procedure-preserving path could reach here, from the step floors.

    Generous on purpose: it counts only the training steps at the cheapest measured step
    cost (no start-up, no decoding, no validation, no checkpoint), so a target above the
    ceiling cannot be met on this machine without changing what is computed.
    """
    import math

    from datacur.variant import list_variant_images

    train = sum(1 for image in list_variant_images(variant) if image.split == "train")
    steps = epochs * math.ceil(train / 8)
    single_s = steps * floors["single_ms"] / 1000
    paired_s = steps * floors["paired_ms"] / 1000  # two such runs finish in this time
    straight_rate = 3600 / straight_s
    print(
        f"ceilings ({steps} training steps, nothing else counted): one run >= {single_s:.1f} s "
        f"-> at most x{straight_s / single_s:.2f} (target x2.5); two at once -> at most "
        f"{2 * 3600 / paired_s:.0f} runs/h = x{2 * 3600 / paired_s / straight_rate:.2f} "
        "the straight script's throughput (target x4)"
    )


def build_capped_variant(source: Path, out: Path, *, train: int = 7000, val: int = 3000) -> Path:
    """A 10,000-count variant made of hard links to the starter images, cycled per class."""
    from datacur.labels import CLASSES
    from datacur.variant import list_variant_images

    images = list_variant_images(source)
    for split, total in (("train", train), ("val", val)):
        pool = [image for image in images if image.split == split]
        for index in range(total):
            image = pool[index % len(pool)]
            target = out / split / image.label / f"{index:05d}{image.path.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(image.path, target)
        for label in CLASSES:
            (out / split / label).mkdir(parents=True, exist_ok=True)
    return out


def peak_memory_10k(source: Path, test: Path, epochs: int) -> float:
    """Peak RSS (MB) of a fresh process evaluating a 10,000-count variant on the fast path."""

    with tempfile.TemporaryDirectory() as tmp:
        variant = build_capped_variant(source, Path(tmp) / "capped")
        code = (
            "import json, resource\n"
            "from pathlib import Path\n"
            "from datacur.evaluate import evaluate_variant\n"
            f"r = evaluate_variant(Path({str(variant)!r}), test_dir=Path({str(test)!r}), "
            f"epochs={epochs})\n"
            "print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss "
            "/ 1024, 'train': r.counts['train'], 'val': r.counts['val'], "
            "'s_per_epoch': r.timings['per_epoch_s']}))\n"
        )
        result = _run_python_json(code)
    print(
        f"10,000-count variant ({result['train']} train + {result['val']} val), {epochs} epoch(s): "
        f"peak RSS {result['peak_mb']:.0f} MB (limit 4,096 MB), {result['s_per_epoch']:.1f} s/epoch"
    )
    return result["peak_mb"]


def _train_one(variant: Path, test: Path, epochs: int, seed: int, exact: bool) -> RunResult:
    """One run in a worker process pinned to one thread (one training per core)."""
    from datacur._tf import import_tensorflow_quietly
    from datacur.evaluate import configure_threads, evaluate_variant

    import_tensorflow_quietly()
    configure_threads(1)
    return evaluate_variant(variant, test_dir=test, seed=seed, epochs=epochs, exact=exact)


def accuracy_comparison(
    variant: Path, test: Path, epochs: int, seeds: list[int], db: Path, *, jobs: int = 2
) -> None:
    """Train every (path, seed) pair not yet in ``db`` in one pool, then compare the paths."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from scipy import stats

    from datacur.store import load_runs, save_run
    from datacur.variant import compute_content_hash, list_variant_images

    # Runs of other variants (a sweep sharing the DB) must not count: match the content hash.
    variant_hash = compute_content_hash(list_variant_images(variant))

    def stored(label: str) -> list:
        return [
            run
            for run in load_runs(db)
            if run.variant_hash == variant_hash
            and run.path == label
            and run.epochs == epochs
            and run.seed in seeds
            and run.test_name == test.name
        ]

    todo = [
        (seed, exact)
        for exact in (False, True)
        for seed in seeds
        if seed not in {run.seed for run in stored("exact" if exact else "fast")}
    ]
    if todo:
        print(f"training {len(todo)} runs of {epochs} epochs, {jobs} at a time: {todo}", flush=True)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [
                pool.submit(_train_one, variant, test, epochs, seed, exact) for seed, exact in todo
            ]
            for future in as_completed(futures):
                result = future.result()
                save_run(result, db)
                print(
                    f"  {result.path} seed {result.seed}: test {result.test_accuracy:.4f} "
                    f"val {result.val_accuracy:.4f} ({result.timings['per_epoch_s']:.1f} s/epoch)",
                    flush=True,
                )
    scores: dict[str, list[float]] = {}
    vals: dict[str, list[float]] = {}
    for label in ("fast", "exact"):
        runs = stored(label)
        scores[label] = [run.test_accuracy for run in runs]
        vals[label] = [run.val_accuracy for run in runs]
        print(
            f"{label:>5}: test acc {statistics.fmean(scores[label]):.4f} ± "
            f"{statistics.stdev(scores[label]):.4f} (seeds {[r.seed for r in runs]}: "
            f"{[round(s, 4) for s in scores[label]]}); val acc "
            f"{statistics.fmean(vals[label]):.4f} ± {statistics.stdev(vals[label]):.4f}"
        )
    for name, data in (("test", scores), ("val", vals)):
        welch = stats.ttest_ind(data["fast"], data["exact"], equal_var=False)
        difference = statistics.fmean(data["fast"]) - statistics.fmean(data["exact"])
        print(
            f"{name}: fast - exact = {difference:+.4f}; Welch t-test p = {welch.pvalue:.3f} "
            f"({'indistinguishable' if welch.pvalue > 0.05 else 'DIFFERENT'} at 5%)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", type=Path, default=ROOT / "datasets" / "dcai-2021")
    parser.add_argument("--test", type=Path, default=ROOT / "datasets" / "label-book")
    parser.add_argument("--epochs", type=int, default=10, help="timing schedule (default 10)")
    parser.add_argument("--seeds", type=int, default=4, help="runs for the throughput figure")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--levers", action="store_true", help="per-step cost of each lever")
    parser.add_argument("--memory", action="store_true", help="peak RSS on a 10,000 variant")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--accuracy-epochs", type=int, default=100)
    parser.add_argument("--accuracy-seeds", type=int, default=3)
    parser.add_argument(
        "--accuracy-jobs", type=int, default=2, help="trainings at once (one per core)"
    )
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "datacur-bench-accuracy.db"
    )
    args = parser.parse_args()
    print(f"data: {args.variant} (test: {args.test}); cores: {os.cpu_count()}")

    floors = print_levers() if args.levers else None
    if not args.skip_timing:
        print(f"timing schedule: {args.epochs} epochs, seed 0")
        straight_s, straight_acc = time_straight_script(args.variant, args.test, args.epochs, 0)
        print(f"straight competition script:   {straight_s:7.1f} s  (test acc {straight_acc:.3f})")
        fast_s, fast_acc = time_fast_single(args.variant, args.test, args.epochs, 0)
        print(
            f"datacur evaluate (fast path):  {fast_s:7.1f} s  (test acc {fast_acc:.3f})  "
            f"speed-up x{straight_s / fast_s:.2f}"
        )
        xla_s, xla_acc = time_fast_single(args.variant, args.test, args.epochs, 0, jit_compile=True)
        print(
            f"fast path with XLA (opt-in):   {xla_s:7.1f} s  (test acc {xla_acc:.3f})  "
            f"speed-up x{straight_s / xla_s:.2f}"
        )
        seeds = list(range(args.seeds))
        many_s = time_fast_many(args.variant, args.test, args.epochs, seeds)
        fast_rate = len(seeds) / many_s * 3600
        straight_rate = 3600 / straight_s
        print(
            f"fast, {len(seeds)} seeds on all cores: {many_s:7.1f} s = {fast_rate:.1f} runs/h vs "
            f"straight one after another {straight_rate:.1f} runs/h: throughput "
            f"x{fast_rate / straight_rate:.2f}"
        )
        if floors is not None:
            print_ceilings(args.variant, args.epochs, straight_s, floors)
        print(
            f"peak RSS: this process {_peak_mb():.0f} MB, largest child "
            f"{_peak_mb(resource.RUSAGE_CHILDREN):.0f} MB"
        )
    if args.memory:
        peak_memory_10k(args.variant, args.test, epochs=1)
    if args.accuracy:
        accuracy_comparison(
            args.variant,
            args.test,
            args.accuracy_epochs,
            list(range(args.accuracy_seeds)),
            args.db,
            jobs=args.accuracy_jobs,
        )


if __name__ == "__main__":
    main()
