"""How well does `datacur noise` find known faults? And how long does it take on the starter data?

Journal (--journal, issue 21): score the bad-image ranking of a variant against a review
journal (default: recipes/reviews/dcai-2021.jsonl on datasets/dcai-2021). Positives are the
journal's drops and relabels; only images the journal covers count (a journal with `keep`
lines covers the images it decided; one with only drops and relabels is a full sweep and
covers every image of the variant). The images are split by a fixed hash of the file name
into a tuning half (fusion weights are fitted on it) and a reporting half: every figure
below is measured on the reporting half only. Prints p@50/100/200 and recall@300 per
detector, for the fused score (shipped weights and weights refitted on the tuning half),
for plain cleanlab self-confidence and for the bad queue of issues.csv as written; the
scan's wall time; and how often the relabel suggestion equals the journal's target.

Quality (default): build a clean set (the label book plus N trusted starter-train images per
class that the image checks do not flag), split it 75/25 into train/val, inject known faults
with a seeded rng:
  - flip 10% of the labels (moved to a random other class folder)  -> expect `label`
  - blank and nearly blank pages                                     -> expect `blank`
  - non-numerals (circles, triangles, letters, scribbles)            -> expect `outlier`/`label`
  - train images copied into val, byte-exact or resized (near)       -> expect `leakage`
then run `find_noise` and print precision and recall per issue type in the top-k ranked rows
(k = number of injected faults) and overall.

Caveat, stated in the output: the "trusted" starter images are not hand-verified, so a few
real label errors among them count as false positives here.

Timing (--starter): one uncached K-fold `noise` run on datasets/dcai-2021 and its wall time.

Usage:
    .venv/bin/python benchmarks/noise_quality.py --journal recipes/reviews/dcai-2021.jsonl
    .venv/bin/python benchmarks/noise_quality.py --journal recipes/reviews/dcai-2021.jsonl \
        --no-model
    .venv/bin/python benchmarks/noise_quality.py --quick
    .venv/bin/python benchmarks/noise_quality.py --per-class 150 --folds 5 --epochs 15
    .venv/bin/python benchmarks/noise_quality.py --starter --folds 5 --epochs 15 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from datacur.imagechecks import check_images  # noqa: E402
from datacur.io import sha256_file  # noqa: E402
from datacur.labels import CLASSES  # noqa: E402
from datacur.noise import SHORT_EPOCHS, NoiseReport, ProgressEvent, find_noise  # noqa: E402
from datacur.variant import list_class_images, list_folder_images, list_variant_images  # noqa: E402

STARTER = ROOT / "datasets" / "dcai-2021"
LABEL_BOOK = ROOT / "datasets" / "label-book"

EXPECTED: dict[str, set[str]] = {
    "flip": {"label", "conflicting_label"},
    "blank": {"blank"},
    "non_numeral": {"outlier", "label", "blank", "embedding_duplicate", "conflicting_label"},
    "leak": {"leakage"},
}
"""Which reported issue types count as catching each injected fault."""


def _trusted_pool(per_class: int, rng: np.random.Generator) -> list[tuple[str, Path]]:
    """Label book + ``per_class`` starter-train images per class that the image checks pass."""
    book = list_folder_images(LABEL_BOOK)
    book_sha = {sha256_file(image.path) for image in book}
    train = [image for image in list_variant_images(STARTER) if image.split == "train"]
    issues, stats = check_images(train, STARTER)
    flagged = {issue.path for issue in issues}
    pool: list[tuple[str, Path]] = [(image.label, image.path) for image in book]
    seen = set(book_sha)
    for label in CLASSES:
        candidates = [
            (image, stat)
            for image, stat in zip(train, stats, strict=True)
            if image.label == label
            and image.path.relative_to(STARTER).as_posix() not in flagged
            and stat.sha256 not in seen
        ]
        order = rng.permutation(len(candidates))[:per_class]
        for index in sorted(order.tolist()):
            image, stat = candidates[index]
            seen.add(stat.sha256)
            pool.append((label, image.path))
    return pool


def _non_numeral(rng: np.random.Generator, size: int = 200) -> np.ndarray:
    canvas = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(canvas)
    width = int(rng.integers(6, 14))
    kind = int(rng.integers(0, 4))
    lo, hi = size * 0.2, size * 0.8
    if kind == 0:  # circle
        draw.ellipse([lo, lo, hi, hi], outline=0, width=width)
    elif kind == 1:  # triangle
        draw.polygon([(size / 2, lo), (hi, hi), (lo, hi)], outline=0, width=width)
    elif kind == 2:  # a squiggle
        points = [
            (float(x), float(size / 2 + 40 * np.sin(x / 12))) for x in np.linspace(lo, hi, 30)
        ]
        draw.line(points, fill=0, width=width)
    else:  # a filled blob and a dot
        draw.rectangle([lo, lo, hi, size / 2], fill=0)
        draw.ellipse([size / 2 - 10, hi - 10, size / 2 + 10, hi + 10], fill=0)
    return np.asarray(canvas, dtype=np.uint8)


def _blank(rng: np.random.Generator, size: int = 200, speck: bool = False) -> np.ndarray:
    page = np.clip(rng.normal(245, 2, (size, size)), 0, 255).astype(np.uint8)
    if speck:
        page[100:103, 100:103] = 0
    return page


def build_faulty_variant(
    out: Path,
    *,
    per_class: int,
    seed: int,
    flip_fraction: float = 0.10,
    junk: int = 10,
    leaks: int = 10,
) -> dict[str, str]:
    """Write the clean-plus-faults variant; return {relative path: fault kind}."""
    rng = np.random.default_rng(seed)
    pool = _trusted_pool(per_class, rng)
    for split in ("train", "val"):
        for label in CLASSES:
            (out / split / label).mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    split_of = {}
    by_class: dict[str, list[int]] = {}
    for index, (label, _path) in enumerate(pool):
        by_class.setdefault(label, []).append(index)
    for indices in by_class.values():
        order = rng.permutation(indices)
        n_val = max(1, round(len(order) * 0.25))
        for k, index in enumerate(order.tolist()):
            split_of[index] = "val" if k < n_val else "train"
    flips = set(rng.choice(len(pool), round(flip_fraction * len(pool)), replace=False).tolist())
    train_files = []
    for index, (label, path) in enumerate(pool):
        split = split_of[index]
        given = label
        if index in flips:
            given = CLASSES[(CLASSES.index(label) + int(rng.integers(1, 10))) % 10]
        name = f"{index:04d}_{path.name}"
        target = out / split / given / name
        shutil.copyfile(path, target)
        rel = target.relative_to(out).as_posix()
        if index in flips:
            truth[rel] = "flip"
        elif split == "train":
            train_files.append((given, target))
    for k in range(junk):
        label = CLASSES[int(rng.integers(0, 10))]
        split = "train" if k % 3 else "val"
        if k % 2:
            image, kind = _non_numeral(rng), "non_numeral"
        else:
            image, kind = _blank(rng, speck=k % 4 == 0), "blank"
        target = out / split / label / f"junk_{kind}_{k:03d}.png"
        Image.fromarray(image).save(target)
        truth[target.relative_to(out).as_posix()] = kind
    for k, choice in enumerate(rng.choice(len(train_files), leaks, replace=False).tolist()):
        label, source = train_files[choice]
        target = out / "val" / label / f"leak_{k:03d}.png"
        if k % 2:
            with Image.open(source) as image:
                image.resize((int(image.width * 0.9), int(image.height * 0.9))).save(target)
        else:
            shutil.copyfile(source, target)
        truth[target.relative_to(out).as_posix()] = "leak"
    return truth


def score_report(report: NoiseReport, truth: dict[str, str]) -> None:
    # Each queue's top-k, with k its own number of injected faults: bad-image faults are
    # looked for in the bad queue, leaks in the hygiene queue (issue 21: ranked apart).
    bad = [row for row in report.rows if row.queue == "bad"]
    hygiene = [row for row in report.rows if row.queue != "bad"]
    leaks = sum(fault == "leak" for fault in truth.values())
    top = bad[: len(truth) - leaks] + hygiene[:leaks]
    k = len(truth)
    kinds = Counter(truth.values())
    print(
        f"\ninjected faults: {dict(kinds)} (k = {k}: bad-queue top {k - leaks} + hygiene "
        f"top {leaks})"
    )
    print(
        f"flagged images: {len(report.rows)}; precision@k (any issue) = "
        f"{sum(row.path in truth for row in top) / max(len(top), 1):.2f}"
    )
    print(
        f"\n{'issue type':22}{'flagged@k':>10}{'true@k':>8}{'prec@k':>8}"
        f"{'flagged':>9}{'true':>6}{'prec':>7}"
    )
    types = sorted({t for row in report.rows for t in row.issues.split(";")})
    for issue in types:

        def stats(rows, issue=issue):
            hits = [row for row in rows if issue in row.issues.split(";")]
            true = [row for row in hits if issue in EXPECTED.get(truth.get(row.path, ""), set())]
            return len(hits), len(true), (len(true) / len(hits) if hits else float("nan"))

        a, b, c = stats(top)
        d, e, f = stats(report.rows)
        print(f"{issue:22}{a:>10}{b:>8}{c:>8.2f}{d:>9}{e:>6}{f:>7.2f}")
    print(f"\n{'fault':14}{'injected':>9}{'recall@k':>10}{'recall':>8}  caught by")
    by_path = {row.path: row for row in report.rows}
    for kind, expected in EXPECTED.items():
        paths = [path for path, fault in truth.items() if fault == kind]
        if not paths:
            continue
        ranks = {row.path for row in top}

        def caught(path: str, expected=expected) -> bool:
            row = by_path.get(path)
            return row is not None and bool(expected & set(row.issues.split(";")))

        at_k = sum(caught(path) and path in ranks for path in paths) / len(paths)
        overall = sum(caught(path) for path in paths) / len(paths)
        print(
            f"{kind:14}{len(paths):>9}{at_k:>10.2f}{overall:>8.2f}  {', '.join(sorted(expected))}"
        )
    print(
        "\ncaveat: the 'trusted' starter images are not hand-checked; real label errors among "
        "them count as false positives."
    )


KS = (50, 100, 200)
RECALL_K = 300


def _figures(order: list[str], positives: set[str]) -> str:
    from datacur.fusion import precision_at, recall_at

    cells = [f"{precision_at(order, positives, k):>7.2f}" for k in KS]
    return "".join(cells) + f"{recall_at(order, positives, RECALL_K):>8.2f}"


def journal_benchmark(args: argparse.Namespace) -> None:
    """Score the bad-image ranking against a review journal, on its reporting half."""
    from datacur.fusion import (
        DEFAULT_WEIGHTS,
        LABEL_FREE_WEIGHTS,
        fit_fusion,
        journal_half,
        load_journal_truth,
        score_fusion,
    )
    from datacur.noise import DEFAULT_CACHE_DIR

    variant = args.variant
    cache_dir = args.cache_dir or DEFAULT_CACHE_DIR
    book = None if args.no_label_book else args.label_book
    print(
        f"journal {args.journal} on {variant}; folds={args.folds} epochs={args.epochs} "
        f"seed={args.seed} jobs={args.jobs} model={not args.no_model} label book={book} "
        f"cpus={os.cpu_count()}"
    )
    start = time.perf_counter()
    report = find_noise(
        variant,
        folds=args.folds,
        epochs=args.epochs,
        seed=args.seed,
        jobs=args.jobs,
        use_model=not args.no_model,
        cache_dir=cache_dir,
        jit_compile=args.jit,
        progress=_progress(start),
        label_book=book,
    )
    scan = time.perf_counter() - start
    table = report.detectors
    assert table is not None
    accuracy = (
        "" if report.oof_accuracy is None else f"; out-of-fold accuracy {report.oof_accuracy:.1%}"
    )
    print(
        f"scan wall time {scan:.0f} s ({scan / 60:.1f} min; fold predictions "
        f"{'cached' if report.cached else 'trained' if report.model_used else 'not used'})"
        f"; schedule {report.schedule}{accuracy}"
    )
    truth = load_journal_truth(args.journal, table.paths)
    half = np.array([journal_half(path) for path in table.paths])
    positives = np.array([path in truth.positives for path in table.paths])
    report_idx = np.flatnonzero(half == "report")
    report_pos = {table.paths[i] for i in report_idx if positives[i]}
    print(
        f"journal: {len(truth.positives)} positives (drops + relabels) of {len(truth.covered)} "
        f"covered images; reporting half {len(report_idx)} images, {len(report_pos)} positives "
        f"(base rate {len(report_pos) / max(len(report_idx), 1):.1%}); tuning half "
        f"{int((half == 'tune').sum())} images"
    )

    def order_of(score: np.ndarray) -> list[str]:
        ranked = report_idx[np.argsort(-score[report_idx], kind="stable")]
        return [table.paths[i] for i in ranked]

    print(f"\n{'ranking (reporting half)':34}{'p@50':>7}{'p@100':>7}{'p@200':>7}{'r@300':>8}")
    for column, name in enumerate(table.names):
        print(f"{'  ' + name:34}{_figures(order_of(table.values[:, column]), report_pos)}")
    shipped = DEFAULT_WEIGHTS if report.model_used else LABEL_FREE_WEIGHTS
    print(f"{'fused, shipped weights':34}{_figures(order_of(table.fused), report_pos)}")
    fit_start = time.perf_counter()
    fitted = fit_fusion(
        table.names,
        table.values,
        positives,
        use=half == "tune",
        note=f"fitted on the tuning half of {args.journal} over {variant} ({report.schedule})",
    )
    refused = score_fusion(table.names, table.values, fitted)
    refit = time.perf_counter() - fit_start
    print(f"{'fused, refitted on tuning half':34}{_figures(order_of(refused), report_pos)}")
    signed = fit_fusion(table.names, table.values, positives, use=half == "tune", nonnegative=True)
    signed_order = order_of(score_fusion(table.names, table.values, signed))
    print(f"{'  same, weights kept >= 0':34}{_figures(signed_order, report_pos)}")
    from datacur.fusion import rank_normalize

    print(
        f"{'rank average of all columns':34}"
        f"{_figures(order_of(rank_normalize(table.values).mean(axis=1)), report_pos)}"
    )
    bad_rows = [row.path for row in report.rows if row.queue == "bad"]
    as_written = [path for path in bad_rows if journal_half(path) == "report"]
    print(f"{'issues.csv bad queue as written':34}{_figures(as_written, report_pos)}")
    everything = [row.path for row in report.rows if journal_half(row.path) == "report"]
    print(f"{'issues.csv both queues, flat':34}{_figures(everything, report_pos)}")
    print(f"re-fusing (fit + score) took {refit:.2f} s; shipped weights: {shipped.note}")
    # The whole variant without scoring any image with weights fitted on it: fit on each
    # half, score the other (cross-fitting), then rank all images together.
    crossed = np.zeros(len(table.paths))
    for fit_half, score_half in (("tune", "report"), ("report", "tune")):
        weights = fit_fusion(table.names, table.values, positives, use=half == fit_half)
        crossed[half == score_half] = score_fusion(table.names, table.values, weights)[
            half == score_half
        ]
    full_order = [table.paths[i] for i in np.argsort(-crossed, kind="stable")]
    cleanlab_col = list(table.names).index("model_given_low") if report.model_used else None
    print(
        f"\nwhole variant ({len(table.paths)} images, {len(truth.positives)} positives), "
        f"cross-fitted halves:{'':3}{_figures(full_order, set(truth.positives))}"
    )
    if cleanlab_col is not None:
        plain = [table.paths[i] for i in np.argsort(-table.values[:, cleanlab_col], kind="stable")]
        print(
            f"whole variant, plain cleanlab self-confidence:  "
            f"{_figures(plain, set(truth.positives))}"
        )
    relabels = truth.relabel_to
    suggested = dict(zip(table.paths, table.suggested, strict=True))
    in_queue = {row.path: row.suggested for row in report.rows if row.queue == "bad"}
    for which in ("report", "tune"):
        targets = {p: to for p, to in relabels.items() if journal_half(p) == which}
        right = sum(suggested.get(path) == to for path, to in targets.items())
        queued = [path for path in targets if path in in_queue]
        print(
            f"relabel suggestions, {which} half"
            f"{' (the suggestion rule was chosen on this half)' if which == 'tune' else ''}: "
            f"{right} of {len(targets)} journal relabels get the journal's class "
            f"({right / max(len(targets), 1):.0%}); {len(queued)} are in the bad queue, "
            f"{sum(in_queue[p] == targets[p] for p in queued)} of them with the right suggestion"
        )
    if args.save_weights is not None:
        args.save_weights.write_text(fitted.to_json(), encoding="utf-8")
        print(f"wrote {args.save_weights}")
    print("fitted weights: " + json.dumps(dict(fitted.coef)) + f" intercept {fitted.intercept}")


def _progress(start: float):  # type: ignore[no-untyped-def]
    def report(event: ProgressEvent) -> None:
        if event.epoch == event.epochs or event.epoch % 5 == 0:
            print(
                f"  fold {event.fold + 1}/{event.folds} epoch {event.epoch}/{event.epochs} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )

    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 folds, short schedule, 40/class")
    parser.add_argument("--journal", type=Path, default=None, help="score against this journal")
    parser.add_argument("--variant", type=Path, default=STARTER, help="variant of --journal")
    parser.add_argument("--label-book", type=Path, default=LABEL_BOOK)
    parser.add_argument("--no-label-book", action="store_true")
    parser.add_argument("--no-model", action="store_true", help="label-free detectors only")
    parser.add_argument("--save-weights", type=Path, default=None, help="write fitted weights")
    parser.add_argument("--starter", action="store_true", help="time noise on the starter data")
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jit", action="store_true", help="XLA-compile fold training")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="reuse fold predictions (quality mode)"
    )
    args = parser.parse_args()
    if args.quick:
        args.per_class, args.folds, args.epochs = 40, 3, SHORT_EPOCHS
    if args.journal is not None:
        journal_benchmark(args)
        return
    settings = (
        f"folds={args.folds} epochs={args.epochs} jobs={args.jobs} seed={args.seed} "
        f"jit={args.jit} cpus={os.cpu_count()}"
    )
    if args.starter:
        print(f"noise on {STARTER} ({settings}), uncached")
        start = time.perf_counter()
        report = find_noise(
            STARTER,
            folds=args.folds,
            epochs=args.epochs,
            seed=args.seed,
            jobs=args.jobs,
            cache_dir=None,
            jit_compile=args.jit,
            progress=_progress(start),
        )
        elapsed = time.perf_counter() - start
        print(
            f"wall time: {elapsed:.0f} s ({elapsed / 60:.1f} min) for {report.images} images; "
            f"schedule {report.schedule}; out-of-fold accuracy {report.oof_accuracy:.1%}; "
            f"{len(report.rows)} flagged"
        )
        print(Counter(row.issue for row in report.rows))
        return
    with tempfile.TemporaryDirectory(prefix="noise-quality-") as tmp:
        variant = Path(tmp) / "faulty"
        truth = build_faulty_variant(variant, per_class=args.per_class, seed=args.seed)
        n = sum(len(list_class_images(variant / s / c)) for s in ("train", "val") for c in CLASSES)
        print(f"faulty variant: {n} images, per-class {args.per_class} + label book; {settings}")
        start = time.perf_counter()
        report = find_noise(
            variant,
            folds=args.folds,
            epochs=args.epochs,
            seed=args.seed,
            jobs=args.jobs,
            cache_dir=args.cache_dir,
            jit_compile=args.jit,
            progress=_progress(start),
        )
        print(
            f"noise wall time {time.perf_counter() - start:.0f} s"
            f"{' (cached fold predictions)' if report.cached else ''}; schedule {report.schedule}; "
            f"out-of-fold accuracy {report.oof_accuracy:.1%}"
        )
        score_report(report, truth)


if __name__ == "__main__":
    main()
