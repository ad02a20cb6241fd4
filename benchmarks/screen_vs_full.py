"""Price a screened sweep against the full sweep, from stored runs, for one set of variants.

Reads the results database (no training): the full sweep is every variant under every seed
at --epochs; the screen is :func:`datacur.screen.replay_screen` with the same rungs, eta
and seeds as ``datacur sweep --screen`` (the finalists' full runs are the full sweep's own).
Prints the CPU time of each (the recorded time of each run: a sweep pins each training to
one core, so a run's time is its CPU cost), the ratio, and the two winners: the issue's goal
is a ratio of at most 1/3 with the same winner, or one within the full winner's seed sd.

Every run both need must be stored: score the variants with ``datacur sweep ... --epochs
100 --seeds 3`` and, for the short rungs, ``--epochs 20 --seeds 1`` and ``--epochs 40
--seeds 1`` (or just ``datacur sweep --screen`` plus the full sweep); missing runs are
listed and the script exits 2. Variants are matched by run name (the newest run per name,
epochs and seed counts), so keep one recipe version per name in the database.

Usage:
    .venv/bin/python benchmarks/screen_vs_full.py --db datasets/results.db --test dev-test
    .venv/bin/python benchmarks/screen_vs_full.py --test dev-test --rungs 10,20 --eta 2 \\
        --variants best best-minus-fill best-minus-review
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from rich.console import Console

from datacur.cli.screen_view import screen_table
from datacur.screen import (
    BEST_VAL_NOTE,
    DEFAULT_ETA,
    DEFAULT_RUNG_EPOCHS,
    parse_rungs,
    plan_rungs,
    replay_screen,
)
from datacur.store import default_results_db, load_runs

GOAL = 1 / 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None, help="results database")
    parser.add_argument("--test", required=True, help="test set name (e.g. dev-test)")
    parser.add_argument("--model", default="fixed")
    parser.add_argument(
        "--variants",
        nargs="*",
        default=None,
        help="variant names (default: all with --epochs runs on --test)",
    )
    parser.add_argument("--rungs", default=",".join(map(str, DEFAULT_RUNG_EPOCHS)))
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screen-seeds", type=int, default=1)
    parser.add_argument("--eta", type=int, default=DEFAULT_ETA)
    args = parser.parse_args(argv)

    db = args.db or default_results_db()
    if not Path(db).is_file():
        print(f"{db}: no results database. Pass --db.", file=sys.stderr)
        return 2
    runs = load_runs(db, test_name=args.test, model=args.model)
    seeds = list(range(args.seed, args.seed + args.seeds))
    rungs = plan_rungs(
        parse_rungs(args.rungs), epochs=args.epochs, seeds=seeds, screen_seeds=args.screen_seeds
    )
    newest = {(run.variant, run.epochs, run.seed): run for run in runs}
    names = args.variants or sorted({run.variant for run in runs if run.epochs == args.epochs})
    if len(names) < 2:
        print(f"{db}: fewer than 2 variants with {args.epochs}-epoch runs on {args.test}.",
              file=sys.stderr)  # fmt: skip
        return 2
    needed = {(n, r.epochs, s) for n in names for r in rungs for s in r.seeds}
    needed |= {(n, args.epochs, s) for n in names for s in seeds}
    missing = sorted(needed - set(newest))
    if missing:
        print(f"{len(missing)} run(s) missing in {db} on {args.test} (variant, epochs, seed):",
              file=sys.stderr)  # fmt: skip
        for key in missing:
            print(f"  {key}", file=sys.stderr)
        return 2

    def seconds(run: object) -> float:
        timings = getattr(run, "timings", {}) or {}
        return float(timings.get("total_s") or timings.get("train_s") or 0.0)

    full_s = sum(seconds(newest[(n, args.epochs, s)]) for n in names for s in seeds)
    full = {n: [newest[(n, args.epochs, s)].score for s in seeds] for n in names}
    means = {n: statistics.fmean(scores) for n, scores in full.items()}
    sds = {n: statistics.stdev(s) if len(s) > 1 else 0.0 for n, s in full.items()}
    full_winner = min(names, key=lambda n: (-means[n], n))
    replay = replay_screen(runs, names, rungs, eta=args.eta)
    screen_winner = replay.winner
    assert screen_winner is not None  # every needed run is there

    console = Console(width=160)
    console.print(screen_table(replay))
    schedule = " -> ".join(f"{r.epochs} ep x {len(r.seeds)} seed(s)" for r in rungs)
    ratio = replay.cpu_s / full_s if full_s else float("nan")
    same = screen_winner == full_winner
    within = means[screen_winner] >= means[full_winner] - sds[full_winner]
    lines = [
        f"variants: {len(names)} on {args.test}, model {args.model}, db {db}",
        f"full sweep ({len(names)} x {len(seeds)} seeds x {args.epochs} ep): "
        f"{full_s / 3600:.2f} CPU h",
        f"screened ({schedule}, eta {args.eta}): {replay.cpu_s / 3600:.2f} CPU h",
        f"ratio screened/full: {ratio:.3f} (goal <= {GOAL:.3f}: "
        f"{'met' if ratio <= GOAL else 'not met'})",
        f"full winner: {full_winner} {means[full_winner]:.4f} ± {sds[full_winner]:.4f}",
        f"screen winner: {screen_winner} {means[screen_winner]:.4f} "
        f"({'same' if same else 'different'}; within the full winner's sd: "
        f"{'yes' if within else 'no'})",
        f"Note: {BEST_VAL_NOTE}",
    ]
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
