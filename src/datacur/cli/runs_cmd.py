"""``datacur runs``: the stored runs and their kept checkpoints (list, prune)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, err_console, out_console

runs_app = typer.Typer(
    help="Stored runs and the checkpoints kept beside the results database.\n\n"
    "Example: datacur runs list",
    no_args_is_help=True,
)


@runs_app.command(name="list")
def list_runs(
    variant: Annotated[str | None, typer.Option(help="Only runs of this variant name.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List stored runs: test sets scored, whether the checkpoint is kept, and its size.

    Example: datacur runs list --variant raw
    """
    from datacur.modelstore import list_checkpoints
    from datacur.store import default_results_db, load_runs

    db_path = db or default_results_db()
    rows = load_runs(db_path, variant=variant)
    sizes = {stored.run_id: stored.bytes for stored in list_checkpoints(db_path)}
    by_run: dict[int, list] = {}
    for row in rows:
        by_run.setdefault(row.id, []).append(row)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "run": run_id,
                        "variant": group[0].variant,
                        "variant_hash": group[0].variant_hash,
                        "seed": group[0].seed,
                        "epochs": group[0].epochs,
                        "model": group[0].model,
                        "checkpoint_bytes": sizes.get(run_id),
                        "tests": [row.test_name for row in group],
                    }
                    for run_id, group in by_run.items()
                ],
                separators=(",", ":"),
            )
        )
        return
    if not by_run:
        out_console.print("No runs yet. Score a variant with `datacur evaluate`.")
        return
    table = Table(title=f"Runs ({db_path})")
    for column in ("run", "variant", "model", "seed", "epochs", "scored on", "checkpoint"):
        table.add_column(column, justify="right" if column in ("run", "seed", "epochs") else "left")
    for run_id, group in by_run.items():
        first = group[0]
        size = sizes.get(run_id)
        table.add_row(
            str(run_id),
            escape(first.variant),
            first.model,
            str(first.seed),
            str(first.epochs),
            escape(", ".join(row.test_name or "val" for row in group)),
            "—" if size is None else f"{size / 1e6:.1f} MB",
        )
    out_console.print(table)


@runs_app.command(name="prune")
def prune_runs(
    run: Annotated[
        list[int] | None, typer.Option("--run", help="Delete this run's checkpoint; repeat it.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Delete kept checkpoints: those of --run ids, of runs no longer in the database, and
    copies a killed training left behind. Scores and predictions stay.

    Example: datacur runs prune --run 12
    """
    from datacur.modelstore import prune_checkpoints
    from datacur.store import default_results_db

    db_path = db or default_results_db()
    removed = prune_checkpoints(db_path, run_ids=run or [])
    for path in removed:
        err_console.print(f"removed {path}", highlight=False, markup=False)
    err_console.print(f"Removed {len(removed)} file(s).", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``runs`` group to the root app."""
    app.add_typer(runs_app, name="runs")
