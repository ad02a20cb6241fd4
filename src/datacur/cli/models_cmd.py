"""``datacur models``: the models `evaluate --model` can train, with their sizes."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from datacur.cli._common import JsonOption, out_console


def models(as_json: JsonOption = False) -> None:
    """List the registered models with their parameter counts.

    `fixed` is the competition's model and the default everywhere; the others give a second
    opinion on whether a better dataset also helps other models.

    Example: datacur models
    """
    from datacur.model import DEFAULT_MODEL, MODELS, stated_parameters

    rows = [(spec.name, stated_parameters(spec.name), spec.description) for spec in MODELS.values()]
    if as_json:
        typer.echo(json.dumps([{"name": n, "parameters": p, "description": d} for n, p, d in rows]))
        return
    table = Table(title="Models for `datacur evaluate --model`")
    table.add_column("name")
    table.add_column("parameters", justify="right")
    table.add_column("what it is")
    for name, parameters, description in rows:
        marker = " (default)" if name == DEFAULT_MODEL else ""
        table.add_row(name + marker, f"{parameters:,}", description)
    out_console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``models`` to the root app."""
    app.command(name="models")(models)
