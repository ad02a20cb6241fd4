"""``datacur noise``: find label issues, junk, duplicates and leakage; write issues.csv."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, SeedOption, err_console, out_console
from datacur.cli.review_cmd import DEFAULT_LABEL_BOOK
from datacur.errors import DatacurError
from datacur.labels import CLASSES
from datacur.wording import count_noun

if TYPE_CHECKING:
    from datacur.noise import NoiseReport, ProgressEvent

# datacur.noise loads NumPy, Pillow and imagehash, so it is imported inside the command (every
# `datacur ... --help` would otherwise pay for it); these mirror its defaults, and
# tests/cli/test_startup.py checks that they still do.
DEFAULT_FOLDS = 5
SHORT_EPOCHS = 15
FULL_EPOCHS = 100
DEFAULT_CACHE_DIR = Path("datasets/.cache/noise")


def noise(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the ranked issues.")] = Path(
        "issues.csv"
    ),
    folds: Annotated[int, typer.Option(help="Stratified folds over train+val.")] = DEFAULT_FOLDS,
    epochs: Annotated[
        int | None,
        typer.Option(help=f"Epochs per fold [default: {SHORT_EPOCHS}, the short schedule]."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help=f"The competition's {FULL_EPOCHS} epochs per fold.")
    ] = False,
    jobs: Annotated[int, typer.Option(help="Folds trained in parallel processes.")] = 1,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Image checks only: no training, seconds.")
    ] = False,
    cache_dir: Annotated[
        Path, typer.Option(help="Cache of fold predictions, keyed by variant content.")
    ] = DEFAULT_CACHE_DIR,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write it.")
    ] = False,
    jit: Annotated[
        bool,
        typer.Option("--jit", help="XLA-compile training: ~1 min per fold, pays for long runs."),
    ] = False,
    label_book: Annotated[
        Path | None,
        typer.Option(
            help="Trusted exemplars (`<class>/*.png`) for the anchor distances "
            f"[default: {DEFAULT_LABEL_BOOK} when it exists]."
        ),
    ] = None,
    no_label_book: Annotated[
        bool, typer.Option("--no-label-book", help="Leave the label-book anchors out.")
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(help="Fusion weights JSON (benchmarks/noise_quality.py --save-weights)."),
    ] = None,
    seed: SeedOption = 0,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Rank what is wrong with VARIANT into issues.csv and print a summary per issue and class.

    Trains the fixed model on K stratified folds of train+val (out-of-fold predictions, a
    short schedule unless --full), runs cleanlab on them (label issues, outliers, near
    duplicates) and image checks (unreadable, blank, tiny, extreme aspect, duplicates,
    train/val leakage, one image under two labels), measures label-free junk features (ink
    statistics, label-book anchors, k-NN scores) and fuses all into one score per image.
    issues.csv holds two queues: `bad` images (drop or relabel candidates, by fused score)
    and `hygiene` (twins: one row per pair). Fold predictions and junk features are cached,
    so a second run takes seconds.

    Example: datacur noise datasets/dcai-2021 --out issues.csv --jobs 2
    """
    if full and epochs is not None:
        raise DatacurError("Give either --full or --epochs, not both.")
    if out.exists() and not force:
        raise DatacurError(f"{out}: already exists. Choose another --out or pass --force.")
    if jobs < 1:
        raise DatacurError(f"--jobs must be at least 1 (received {jobs}).")
    chosen_epochs = FULL_EPOCHS if full else (epochs if epochs is not None else SHORT_EPOCHS)
    if not no_model:
        _require_folds(variant, folds)  # before one progress bar per fold is built
    if label_book is not None and not label_book.is_dir():
        raise DatacurError(
            f"{label_book}: no such folder. Fix --label-book or pass --no-label-book."
        )
    book = None if no_label_book else label_book
    if book is None and not no_label_book and DEFAULT_LABEL_BOOK.is_dir():
        book = DEFAULT_LABEL_BOOK
    fusion_weights = None
    if weights is not None:
        from datacur.fusion import FusionWeights

        fusion_weights = FusionWeights.from_json(weights)
    with _progress_bars(folds, chosen_epochs, enabled=not no_model) as on_progress:
        from datacur.noise import find_noise, write_issues_csv

        report = find_noise(
            variant,
            folds=folds,
            epochs=chosen_epochs,
            seed=seed,
            jobs=jobs,
            use_model=not no_model,
            cache_dir=None if no_cache else cache_dir,
            jit_compile=jit,
            progress=on_progress,
            label_book=book,
            weights=fusion_weights,
        )
    write_issues_csv(report.rows, out)
    if as_json:
        out_console.print_json(json.dumps(_as_dict(report, out)))
        return
    _print_summary(report, out)


def _require_folds(variant: Path, folds: int) -> None:
    """Check --folds against the variant's smallest class (each fold needs one of each)."""
    from collections import Counter

    from datacur.variant import list_variant_images

    if folds < 2:
        raise DatacurError(f"--folds must be at least 2 (received {folds}).")
    counts = Counter(image.label for image in list_variant_images(variant))
    smallest = min(counts.get(label, 0) for label in CLASSES)
    if folds > smallest:
        raise DatacurError(
            f"{variant}: --folds {folds} needs at least {folds} images in every class, and the "
            f"smallest class has {smallest}. Use --folds {max(2, min(smallest, DEFAULT_FOLDS))}."
        )


class _progress_bars:
    """Context manager giving a progress callback: one bar for all folds, one per fold."""

    def __init__(self, folds: int, epochs: int, *, enabled: bool) -> None:
        self.folds, self.epochs, self.enabled = folds, epochs, enabled
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.tasks: dict[int, TaskID] = {}

    def __enter__(self) -> Callable[[ProgressEvent], None] | None:
        if not self.enabled:
            # no folds to count: a spinner, so the seconds of image checks are not a blank screen
            self.status = err_console.status("Checking images (--no-model: no training)...")
            self.status.start()
            return None
        self.progress.start()
        self.total = self.progress.add_task(
            f"{count_noun(self.folds, 'fold')} x {count_noun(self.epochs, 'epoch')}",
            total=self.folds * self.epochs,
        )
        for fold in range(self.folds):
            self.tasks[fold] = self.progress.add_task(
                f"  fold {fold + 1}/{self.folds}", total=self.epochs, start=False
            )
        return self.update

    def update(self, event: ProgressEvent) -> None:
        if event.epoch == 1:
            self.progress.start_task(self.tasks[event.fold])
        self.progress.update(self.tasks[event.fold], completed=event.epoch)
        self.progress.update(
            self.total,
            completed=sum(task.completed for task in self.progress.tasks if task.id != self.total),
        )

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
        else:
            self.status.stop()


def _as_dict(report: NoiseReport, out: Path) -> dict[str, object]:
    from datacur.noise import QUEUES, summarize_issues

    return {
        "variant": report.variant,
        "content_hash": report.content_hash,
        "images": report.images,
        "flagged": len(report.rows),
        "queues": {queue: sum(row.queue == queue for row in report.rows) for queue in QUEUES},
        "out": str(out),
        "model_used": report.model_used,
        "schedule": report.schedule,
        "folds": report.folds if report.model_used else None,
        "cached": report.cached,
        "oof_accuracy": report.oof_accuracy,
        "summary": {issue: dict(counts) for issue, counts in summarize_issues(report.rows).items()},
    }


def _print_summary(report: NoiseReport, out: Path) -> None:
    from datacur.noise import summarize_issues

    summary = summarize_issues(report.rows)
    table = Table(title=f"Flagged images per issue and class in {report.variant}")
    table.add_column("issue", no_wrap=True)
    for label in CLASSES:
        table.add_column(label, justify="right")
    table.add_column("total", justify="right", style="bold", no_wrap=True, min_width=5)
    for issue, counts in summary.items():
        table.add_row(
            issue,
            *[str(counts.get(label, 0) or "") for label in CLASSES],
            str(sum(counts.values())),
        )
    out_console.print(table)
    if report.model_used:
        source = "cached fold predictions" if report.cached else "trained"
        out_console.print(
            f"model: {report.folds}-fold, schedule {report.schedule}; {source}; "
            f"out-of-fold accuracy {report.oof_accuracy:.1%}"
        )
    else:
        out_console.print("model: not used (--no-model): image checks only")
    bad = sum(row.queue == "bad" for row in report.rows)
    hygiene = len(report.rows) - bad
    out_console.print(
        f"wrote {out}: {bad:,} bad-image candidates of {report.images:,} images (most likely "
        f"first) and {hygiene:,} twin pairs. Next: datacur review {out} "
        f"(then --kind hygiene)"
    )


def register(app: typer.Typer) -> None:
    """Add ``noise`` to the root app."""
    app.command(name="noise")(noise)
