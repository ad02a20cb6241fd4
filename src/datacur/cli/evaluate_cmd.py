"""``datacur evaluate``: train the fixed model on a variant, show and store the score."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, err_console, out_console
from datacur.errors import EvaluationError
from datacur.labels import CLASSES
from datacur.wording import count_noun


def _render_runs(results: list, db_path: Path | None) -> None:
    from datacur.evaluate import RunResult

    runs: list[RunResult] = results
    first = runs[0]
    title = (
        f"{first.variant} — {first.model} model, {count_noun(first.epochs, 'epoch')}, "
        f"{first.path} path, "
        f"scored on {first.test_name or 'val'}"
    )
    table = Table(title=escape(title))
    for column in ("seed", "best epoch", "val acc", "test acc", "s/epoch", "total"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            str(run.seed),
            str(run.best_epoch),
            f"{run.val_accuracy:.4f}",
            "—" if run.test_accuracy is None else f"{run.test_accuracy:.4f}",
            f"{run.timings['per_epoch_s']:.2f}",
            f"{run.timings['total_s']:.0f} s",
        )
    if len(runs) > 1:
        scores = [
            run.test_accuracy if run.test_accuracy is not None else run.val_accuracy for run in runs
        ]
        table.add_section()
        table.add_row(
            "mean ± sd",
            "",
            f"{statistics.fmean(r.val_accuracy for r in runs):.4f}",
            f"{statistics.fmean(scores):.4f} ± {statistics.stdev(scores):.4f}",
            "",
            "",
        )
    out_console.print(table)

    per_class = Table(title=f"Per-class accuracy on {first.scored_on} (mean over seeds)")
    for label in CLASSES:
        per_class.add_column(label, justify="right")
    per_class.add_row(
        *(
            f"{statistics.fmean(run.per_class_accuracy[label] for run in runs):.2f}"
            for label in CLASSES
        )
    )
    out_console.print(per_class)
    if db_path is not None:
        err_console.print(f"Stored {len(runs)} run(s) in {db_path}")


def evaluate(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    test: Annotated[
        Path | None,
        typer.Option(
            "--test",
            help="Folder of `<class>/` images to score the best checkpoint on "
            "(e.g. datasets/label-book, datasets/dev-test). Without it, only val is scored.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the (first) run.")] = 0,
    seeds: Annotated[
        int,
        typer.Option(help="Number of seeds to run: seed, seed+1, ... (in parallel processes)."),
    ] = 1,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs (competition: 100).")] = 100,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="Run the straight port of the competition script (slower)."),
    ] = False,
    model: Annotated[
        str,
        typer.Option(
            help="Model to train: fixed (the competition's, default), resnet50, small-cnn. "
            "See `datacur models`."
        ),
    ] = "fixed",
    jobs: Annotated[
        int | None,
        typer.Option(help="Worker processes for --seeds (default: one per core)."),
    ] = None,
    db: DbOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write the runs to the results database.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Train the competition's fixed model on VARIANT and score it.

    Same data order, model, optimiser and best-val checkpoint as the 2021 script; the
    default path decodes once, runs 16 steps per call and pins the thread pools to
    what a batch of 8 can use (same numbers, faster; see benchmarks/evaluate_speed.py),
    --exact runs the straight port. Refuses a variant over the 10,000 cap before training.
    Every run is written to the results database (see `datacur leaderboard`).

    Example: datacur evaluate datasets/dcai-2021 --test datasets/label-book --seeds 2 --epochs 10
    """
    from datacur.cap import measure_cap, require_under_cap
    from datacur.evaluate import EpochLog, RunResult, evaluate_seeds
    from datacur.model import MODELS
    from datacur.store import default_results_db, save_run
    from datacur.variant import list_folder_images, list_variant_images

    if seeds < 1:
        raise EvaluationError(f"--seeds must be >= 1 (received {seeds}).")
    if model not in MODELS:
        raise EvaluationError(
            f"unknown --model {model!r}; choose one of {', '.join(MODELS)} (see `datacur models`)."
        )
    # Fail on bad input before any process starts or any TensorFlow import.
    with err_console.status(f"Checking {variant}..."):  # seconds on 10,000 images
        list_variant_images(variant)
        require_under_cap(measure_cap(variant))
        if test is not None:
            list_folder_images(test)
    # TensorFlow only now, so a wrong path fails in a second, not after a 20-30 s import
    from datacur._tf import import_tensorflow_quietly

    import_tensorflow_quietly(announce=True)
    db_path = None if no_store else (db or default_results_db())
    seed_list = list(range(seed, seed + seeds))

    progress = Progress(
        SpinnerColumn(),  # moves while decoding, before the first epoch moves the bar
        TextColumn("[bold]seed {task.fields[seed]}"),
        BarColumn(),
        TextColumn("epoch {task.completed:>3.0f}/{task.total:.0f}"),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=as_json,
    )
    tasks = {
        s: progress.add_task("train", total=epochs, seed=s, metrics="decoding…") for s in seed_list
    }

    def on_epoch(log: EpochLog) -> None:
        progress.update(
            tasks[log.seed],
            completed=log.epoch,
            metrics=(
                f"loss {log.loss:.3f}  acc {log.accuracy:.3f}  val acc {log.val_accuracy:.3f}"
            ),
        )

    def on_result(result: RunResult) -> None:
        if db_path is not None:
            save_run(result, db_path)

    with progress:
        results = evaluate_seeds(
            variant,
            seed_list,
            jobs=jobs,
            progress=on_epoch,
            on_result=on_result,
            test_dir=test,
            epochs=epochs,
            exact=exact,
            model=model,
            variant_name=variant.resolve().name,
        )

    if as_json:
        payload = {
            "variant": results[0].variant,
            "variant_hash": results[0].variant_hash,
            "test": results[0].test_name,
            "epochs": epochs,
            "path": results[0].path,
            "model": results[0].model,
            "runs": [
                {k: v for k, v in run.to_dict().items() if k != "predictions"} for run in results
            ],
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        _render_runs(results, db_path)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the root app."""
    app.command(name="evaluate")(evaluate)
