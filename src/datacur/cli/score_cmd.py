"""``datacur score``: score stored runs on test sets with their kept checkpoints (no training)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, err_console, out_console


def score(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Run ids (see `datacur runs list`), or a variant (folder, stored name or "
            "hash prefix) for every stored run of it that kept a checkpoint."
        ),
    ],
    test: Annotated[
        list[Path],
        typer.Option("--test", help="Folder of `<class>/` images to score on; repeat it."),
    ],
    db: DbOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Print the scores without storing them.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Score stored runs on test sets with their kept best checkpoints; never trains.

    Each (run, test set) gets the row `evaluate` would have written (same columns, keyed by
    the test set's content hash, with its twin counts), so `compare`, `leaderboard` and
    `report` use it like any other. A checkpoint saved under another model name or
    Keras/TensorFlow version is refused.

    Example: datacur score 12 13 --test datasets/shift-blur --test datasets/label-book
    """
    from datacur.score import find_runs_to_score, score_runs
    from datacur.store import default_results_db, prepare_store

    db_path = db or default_results_db()
    if not db_path.exists():
        from datacur.errors import StoreError

        raise StoreError(
            f"{db_path}: no results database. Train and store runs with `datacur evaluate`, "
            "or point --db at the database that holds them."
        )
    if not no_store:
        prepare_store(db_path)
    run_ids = find_runs_to_score(targets, db_path)
    variant_dir = next((Path(t) for t in targets if Path(t).is_dir()), None)
    for folder in test:
        if not folder.is_dir():
            from datacur.errors import VariantError

            raise VariantError(f"{folder}: test folder not found. Give a folder of <class>/.")
    # score_runs imports TensorFlow itself, after forking its fingerprinting workers.
    results = score_runs(
        run_ids,
        test,
        db_path=db_path,
        variant_dir=variant_dir,
        store=not no_store,
        announce=True,
    )
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "run": result.run_id,
                        "variant": result.variant,
                        "seed": result.seed,
                        "seconds": result.seconds,
                        "timings": result.timings,
                        "scores": [
                            {k: v for k, v in s.to_dict().items() if k != "predictions"}
                            for s in result.scores
                        ],
                    }
                    for result in results
                ],
                separators=(",", ":"),
            )
        )
        return
    from datacur.cli.evaluate_cmd import twins_line

    for score_ in results[0].scores:
        if score_.twins_exact is not None:
            err_console.print(twins_line(score_), highlight=False, markup=False)
    table = Table(title=f"Stored runs scored with their checkpoints ({db_path})")
    for column in ("run", "variant", "seed", "epochs", "test set", "acc", "twins", "acc w/o twins"):
        table.add_column(column, justify="left" if column in ("variant", "test set") else "right")
    for result in results:
        for s in result.scores:
            twins = "?" if s.twins_exact is None else f"{s.twins_exact}+{s.twins_near}"
            leaky = bool((s.twins_exact or 0) + (s.twins_near or 0))
            table.add_row(
                str(result.run_id),
                escape(result.variant),
                str(result.seed),
                str(result.epochs),
                escape(s.test_name or ""),
                f"{s.test_accuracy:.4f}",
                twins + (" leaky" if leaky else ""),
                "—"
                if not leaky or s.accuracy_without_twins is None
                else f"{s.accuracy_without_twins:.4f}",
            )
    out_console.print(table)
    if not no_store:
        err_console.print(
            f"Stored {sum(len(r.scores) for r in results)} score(s) in {db_path} (a run keeps "
            "its row for a test set it was already scored on)",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``score`` to the root app."""
    app.command(name="score")(score)
