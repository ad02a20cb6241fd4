"""``datacur leaderboard``: variants ranked by mean score over their seeds."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, out_console


def leaderboard(
    test: Annotated[
        str | None, typer.Option("--test", help="Only runs scored on this test set (folder name).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List variants ranked by mean test accuracy, with the spread over seeds.

    One row per variant content, test set, model and schedule: runs are only comparable
    within those. Runs without a test set are ranked by val accuracy (shown as 'val').
    'twins' counts the test images with an exact+near twin in the variant's train/val
    (LEAKY; the mean without them is shown beside it); '?': stored before twins were counted.

    Example: datacur leaderboard --test dev-test
    """
    from datacur.store import default_results_db
    from datacur.store import leaderboard as build_leaderboard

    db_path = db or default_results_db()
    rows = build_leaderboard(db_path, test_name=test, model=model)
    if as_json:
        typer.echo(
            json.dumps([{**asdict(row), "leaky": row.leaky} for row in rows], separators=(",", ":"))
        )
        return
    table = Table(title=f"Leaderboard ({db_path})")
    for column, justify in (
        ("#", "right"),
        ("variant", "left"),
        ("scored on", "left"),
        ("model", "left"),
        ("epochs", "right"),
        ("runs", "right"),
        ("mean", "right"),
        ("± sd", "right"),
        ("best", "right"),
        ("mean val", "right"),
        ("twins", "right"),
        ("mean w/o twins", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, row in enumerate(rows, start=1):
        table.add_row(
            str(rank),
            escape(row.variant),
            row.scored_on,
            row.model,
            str(row.epochs),
            str(row.runs),
            f"{row.mean:.4f}",
            f"{row.std:.4f}",
            f"{row.best:.4f}",
            f"{row.mean_val:.4f}",
            row.twins_label + (" LEAKY" if row.leaky else ""),
            "—" if row.mean_without_twins is None else f"{row.mean_without_twins:.4f}",
        )
    if not rows:
        out_console.print(_no_rows_message(db_path, test, model), highlight=False)
        return
    out_console.print(table)


def _no_rows_message(db_path: Path, test: str | None, model: str | None) -> str:
    """Why the board is empty: no runs at all, or none under the filters (naming those that
    do have runs, so `--test X` on a database of dev-test runs is not "No runs yet")."""
    from datacur.store import leaderboard as build_leaderboard

    if test is None and model is None:
        return "No runs yet. Score a variant with `datacur evaluate`."
    everything = build_leaderboard(db_path)
    if not everything:
        return "No runs yet. Score a variant with `datacur evaluate`."
    asked = ", ".join(
        f"{flag} {value}" for flag, value in (("--test", test), ("--model", model)) if value
    )
    tests = sorted({row.scored_on for row in everything})
    models = sorted({row.model for row in everything})
    return (
        f"No runs with {asked}. Runs exist on test sets: {', '.join(tests)}; "
        f"models: {', '.join(models)}."
    )


def register(app: typer.Typer) -> None:
    """Add ``leaderboard`` to the root app."""
    app.command(name="leaderboard")(leaderboard)
