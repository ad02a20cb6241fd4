"""``datacur shift-suite``: (re)build the shift suite of test sets beside dev-test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, SeedOption, out_console


def shift_suite(
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Where the shift-* folders go.")
    ] = Path("datasets"),
    dev_test: Annotated[
        Path, typer.Option("--dev-test", file_okay=False, help="The dev-test folder to shift.")
    ] = Path("datasets/dev-test"),
    chars74k: Annotated[
        Path | None,
        typer.Option(
            "--chars74k",
            help="Chars74K EnglishHnd data, for shift-chars74k-writers "
            "(e.g. ../shared/data/chars74k).",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Build only this folder (repeatable), e.g. shift-small."),
    ] = None,
    seed: SeedOption = 20,
    workers: Annotated[
        int | None, typer.Option(help="Processes for the Chars74K synth (default: up to 2).")
    ] = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Build the shift suite: test sets that look past the starter distribution (issue 20).

    shift-chars74k-writers composes numerals from the Chars74K writers no recipe may use;
    shift-small, -tight, -loose, -thin, -thick, -blur-noise and -low-contrast render every
    dev-test image through one shift each. Each folder is written atomically; existing
    folders are kept unless --force. Same inputs and seed, byte-identical folders.

    Example: datacur shift-suite --out datasets --chars74k ../shared/data/chars74k --force
    """
    from datacur.shift import build_shift_suite

    summary = build_shift_suite(
        dev_test,
        out,
        chars74k=chars74k,
        only=only,
        seed=seed,
        overwrite=force,
        workers=workers,
    )
    if as_json:
        payload = {
            "out": str(summary.out_dir),
            "images": {name: sum(c.values()) for name, c in summary.per_folder.items()},
            "bytes": summary.bytes_per_folder,
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
        return
    table = Table(title=f"Shift suite in {summary.out_dir}")
    table.add_column("test set")
    table.add_column("images", justify="right")
    table.add_column("PNG bytes", justify="right")
    for name, counts in summary.per_folder.items():
        table.add_row(name, f"{sum(counts.values()):,}", f"{summary.bytes_per_folder[name]:,}")
    out_console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``shift-suite`` to the root app."""
    app.command(name="shift-suite")(shift_suite)
