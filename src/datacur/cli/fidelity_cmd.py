"""``datacur fidelity``: how well 10/20/40-epoch scores predict the 100-epoch ones."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, out_console


def fidelity(
    test: Annotated[
        str | None,
        typer.Option("--test", help="Only runs scored on this test set (folder name)."),
    ] = None,
    short: Annotated[
        str, typer.Option(help="Short schedules to judge, in epochs (comma-separated).")
    ] = "10,20,40",
    full: Annotated[int, typer.Option(min=1, help="The full schedule in epochs.")] = 100,
    model: Annotated[str, typer.Option(help="Only runs of this model.")] = "fixed",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Say, per test set, how well short schedules predict the full schedule.

    From stored runs: for each short schedule, the variants scored at both it and --full,
    the Spearman rank correlation of their mean scores, whether the short schedule's best
    variant is the full schedule's (or within one seed sd of it), and the share of seeds
    whose one-seed short winner is the full winner. The fixed evaluator keeps the best-val
    checkpoint, so a short schedule is a different measurement, not an early look.

    Example: datacur fidelity --test dev-test --short 10,20,40 --full 100
    """
    from datacur.fidelity import BEST_VAL_NOTE, measure_fidelity
    from datacur.screen import parse_rungs
    from datacur.store import default_results_db

    db_path = db or default_results_db()
    rows = measure_fidelity(
        db_path, test_name=test, model=model, short_epochs=parse_rungs(short), full_epochs=full
    )
    if as_json:
        payload = {
            "note": BEST_VAL_NOTE,
            "rows": [
                {
                    "test": row.test_name,
                    "model": row.model,
                    "short_epochs": row.short_epochs,
                    "full_epochs": row.full_epochs,
                    "variants": list(row.variants),
                    "short_means": list(row.short_means),
                    "full_means": list(row.full_means),
                    "spearman": row.spearman,
                    "p_value": row.p_value,
                    "short_winner": row.short_winner,
                    "full_winner": row.full_winner,
                    "same_winner": row.same_winner,
                    "winner_within_spread": row.winner_within_spread,
                    "seed_agreement": row.seed_agreement,
                    "seeds": list(row.seeds),
                }
                for row in rows
            ],
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
        return
    table = Table(title=f"Short schedules against {full} epochs, model {model} ({db_path})")
    for column, justify in (
        ("test set", "left"),
        ("epochs", "right"),
        ("variants", "right"),
        ("Spearman (p)", "right"),
        ("short winner", "left"),
        (f"{full}-epoch winner", "left"),
        ("same winner", "left"),
        ("one-seed picks it", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        rho = "—" if row.spearman is None else f"{row.spearman:+.2f} ({row.p_value:.2f})"
        if row.same_winner:
            same = "yes"
        elif row.winner_within_spread:
            same = "no (within 1 sd)"
        else:
            same = "no"
        agreement = (
            "—"
            if row.seed_agreement is None
            else f"{len(row.agreeing_seeds)}/{len(row.seeds)} seeds"
        )
        table.add_row(
            escape(row.test_name or "val"),
            str(row.short_epochs),
            str(len(row.variants)),
            rho,
            escape(row.short_winner),
            escape(row.full_winner),
            same,
            agreement,
        )
    out_console.print(table)
    out_console.print(f"Note: {BEST_VAL_NOTE}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``fidelity`` to the root app."""
    app.command(name="fidelity")(fidelity)
