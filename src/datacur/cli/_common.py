"""Shared CLI plumbing: the consoles, the single DatacurError handler, common options."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup, TyperOption

from datacur.errors import DatacurError

__all__ = [
    "MAX_SEED",
    "DatacurGroup",
    "DbOption",
    "ForceOption",
    "JsonOption",
    "SeedOption",
    "check_seed",
    "err_console",
    "out_console",
]

_PIPED_WIDTH = 160


def _piped_width(stream: TextIO) -> int | None:
    """Width for a console on ``stream``: its own on a terminal, 160 when piped.

    Piped output (a log file, CI, ``| less``) has no width, and rich then assumes 80
    columns and squeezes a comparison table into "vari…" and "0.69…"; $COLUMNS still wins.
    """
    if "COLUMNS" in os.environ or stream.isatty():
        return None
    return _PIPED_WIDTH


out_console = Console(width=_piped_width(sys.stdout))
"""Results (tables, JSON) go to stdout."""

err_console = Console(stderr=True, width=_piped_width(sys.stderr))
"""Progress, warnings and errors go to stderr."""

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON line instead of a table.")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace the output if it already exists.")
]
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Results database (default: $DATACUR_RESULTS_DB or datasets/results.db).",
        dir_okay=False,
    ),
]
MAX_SEED = 2**32 - 1
"""Largest seed NumPy, Keras and the recipes all accept."""


def check_seed(value: int | None) -> int | None:
    """Typer callback: a seed outside 0..2**32-1 is a one-line error, not a traceback."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise DatacurError(f"--seed must be between 0 and {MAX_SEED} (received {value}).")
    return value


SeedOption = Annotated[
    int,
    typer.Option("--seed", callback=check_seed, help="Random seed; same seed, same output."),
]


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one ``Warning: <message>`` line on stderr, not Python's
    ``/path/synth.py:607: UserWarning: ...`` followed by the source line."""
    err_console.print(
        f"[bold yellow]Warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True
    )


_typer_display_type_rich = TyperOption.display_type_rich


def _display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
    """No type column for a flag: typer 0.29 shows ``--force <bool>``, which reads as if the
    flag took a value (``--force true`` is then an error). Options that take a value keep
    their ``<int>``, ``<path>`` etc."""
    if self.is_flag:
        return None
    return _typer_display_type_rich(self, ctx)


TyperOption.display_type_rich = _display_type_rich  # type: ignore[method-assign,assignment]


class DatacurGroup(TyperGroup):
    """Root command group with the one DatacurError handler STYLE.md asks for.

    Commands raise DatacurError freely; here it becomes ``Error: <message>`` on stderr and
    exit code 1, with no traceback. Other exceptions keep their traceback (they are bugs).
    Living in the group (not in ``main``) means ``CliRunner`` tests see the same behaviour.
    """

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            with warnings.catch_warnings():  # restores Python's own display afterwards
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except DatacurError as err:
            err_console.print(
                f"[bold red]Error:[/] {escape(str(err))}",
                highlight=False,
                soft_wrap=True,
                markup=True,
            )
            raise typer.Exit(code=1) from None
