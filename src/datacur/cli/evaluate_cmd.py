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

from datacur.cli._common import DbOption, JsonOption, check_seed, err_console, out_console
from datacur.errors import EvaluationError, StoreError
from datacur.labels import CLASSES
from datacur.wording import count_noun


def _render_runs(results: list, db_path: Path | None) -> None:
    from datacur.evaluate import RunResult

    runs: list[RunResult] = results
    first = runs[0]
    scored_on = ", ".join(score.test_name or "val" for score in first.scores) or (
        first.test_name or "val"
    )
    title = (
        f"{first.variant} — {first.model} model, {count_noun(first.epochs, 'epoch')}, "
        f"{first.path} path, scored on {scored_on}"
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
    if len(first.scores) > 1:
        out_console.print(render_test_sets(runs))
    if db_path is not None:
        err_console.print(f"Stored {len(runs)} run(s) in {db_path}")


def render_twins(runs: list) -> None:
    """One stderr line per test set: how many of its images have a twin in train/val."""
    for score in runs[0].scores:
        if score.twins_exact is None:
            continue
        err_console.print(twins_line(score), highlight=False, markup=False)


def twins_line(score: object) -> str:
    exact, near = getattr(score, "twins_exact", 0), getattr(score, "twins_near", 0)
    text = (
        f"{getattr(score, 'test_name', None)}: {exact} exact and {near} near twin(s) of "
        "train/val images"
    )
    if exact or near:
        without = getattr(score, "accuracy_without_twins", None)
        text += (
            " — LEAKY: the score counts memorised images"
            + (f" (accuracy without them {without:.4f})" if without is not None else "")
            + "; see `datacur check VARIANT --against TEST`"
        )
    return text


def render_test_sets(runs: list) -> Table:
    """One row per test set scored from the same trainings: mean over seeds, twins."""
    table = Table(title="Test sets (one training, every test set; mean over seeds)")
    for column in ("test set", "acc", "± sd", "twins (exact+near)", "acc w/o twins"):
        table.add_column(column, justify="right" if column != "test set" else "left")
    for index, score in enumerate(runs[0].scores):
        values = [run.scores[index].test_accuracy or 0.0 for run in runs]
        without = [
            run.scores[index].accuracy_without_twins
            for run in runs
            if run.scores[index].accuracy_without_twins is not None
        ]
        twins = (
            "—"
            if score.twins_exact is None
            else f"{score.twins_exact}+{score.twins_near}"
            + (" leaky" if score.twins_exact + score.twins_near else "")
        )
        table.add_row(
            escape(score.test_name or "val"),
            f"{statistics.fmean(values):.4f}",
            f"{statistics.stdev(values):.4f}" if len(values) > 1 else "—",
            twins,
            f"{statistics.fmean(without):.4f}" if without else "—",
        )
    return table


def evaluate(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    test: Annotated[
        list[Path] | None,
        typer.Option(
            "--test",
            help="Folder of `<class>/` images to score the best checkpoint on "
            "(e.g. datasets/label-book, datasets/dev-test); repeat it to score several test "
            "sets from the same training. Without it, only val is scored.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(callback=check_seed, help="Seed of the (first) run.")] = 0,
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
    no_keep: Annotated[
        bool,
        typer.Option(
            "--no-keep",
            help="Do not keep the best checkpoint in the model store beside the database "
            "(then `datacur score` cannot reuse the run).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Train the competition's fixed model on VARIANT and score it.

    Same data order, model, optimiser and best-val checkpoint as the 2021 script; the
    default path decodes once, runs 16 steps per call and pins the thread pools to
    what a batch of 8 can use (same numbers, faster; see benchmarks/evaluate_speed.py),
    --exact runs the straight port. Refuses a variant over the 10,000 cap before training.
    Every run is written to the results database (see `datacur leaderboard`), one score per
    --test set, with the count of test images that have a twin in train or val; its best
    checkpoint is kept beside the database for `datacur score` unless --no-keep.

    Example: datacur evaluate datasets/raw --test datasets/dev-test --test datasets/label-book
    """
    from datacur.cap import measure_cap, require_under_cap
    from datacur.check import require_readable
    from datacur.evaluate import EpochLog, RunResult, evaluate_seeds
    from datacur.model import MODELS
    from datacur.modelstore import model_store_dir
    from datacur.store import default_results_db, prepare_store, save_run
    from datacur.variant import list_folder_images, list_variant_images

    if seeds < 1:
        raise EvaluationError(f"--seeds must be >= 1 (received {seeds}).")
    if model not in MODELS:
        raise EvaluationError(
            f"unknown --model {model!r}; choose one of {', '.join(MODELS)} (see `datacur models`)."
        )
    # Fail on bad input before any process starts or any TensorFlow import.
    with err_console.status(f"Checking {variant}..."):  # seconds on 10,000 images
        require_readable(list_variant_images(variant))  # a bomb or truncated file: before TF
        require_under_cap(measure_cap(variant))
        tests = list(test or [])
        for folder in tests:
            list_folder_images(folder)
    names = [folder.resolve().name for folder in tests]
    if len(set(names)) != len(names):
        raise EvaluationError(
            f"--test folders must have different names (received {', '.join(names)}); "
            "scores are listed by folder name."
        )
    # TensorFlow only now, so a wrong path fails in a second, not after a 20-30 s import
    from datacur._tf import import_tensorflow_quietly

    import_tensorflow_quietly(announce=True)
    db_path = None if no_store else (db or default_results_db())
    keep_dir = None
    if db_path is not None:
        prepare_store(db_path)  # a foreign or read-only database fails now, not after training
        if not no_keep:
            keep_dir = model_store_dir(db_path)
            try:
                keep_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"{keep_dir}: cannot create the model store ({err.strerror}). Make the "
                    "folder writable, or pass --no-keep."
                ) from err
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
            test_dir=tests or None,
            keep_dir=keep_dir,
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
            "tests": [score.test_name for score in results[0].scores],
            "epochs": epochs,
            "path": results[0].path,
            "model": results[0].model,
            "runs": [
                {
                    **{
                        k: v for k, v in run.to_dict().items() if k not in ("predictions", "scores")
                    },
                    "scores": [
                        {k: v for k, v in score.to_dict().items() if k != "predictions"}
                        for score in run.scores
                    ],
                }
                for run in results
            ],
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        render_twins(results)
        _render_runs(results, db_path)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the root app."""
    app.command(name="evaluate")(evaluate)
