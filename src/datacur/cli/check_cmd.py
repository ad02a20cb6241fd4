"""``datacur check``: what is wrong with a variant's layout and files, file by file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import JsonOption, err_console, out_console

MAX_ROWS = 30


def check(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    show_all: Annotated[
        bool, typer.Option("--all", help=f"List every finding (default: first {MAX_ROWS}).")
    ] = False,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            "--against",
            help="Test folder of `<class>/` images: list its twins in VARIANT (exact or "
            "ink-pHash near) instead of checking files; repeat it.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate VARIANT's layout and every file as the Keras loader will see it.

    Errors (exit 1): missing or unknown class folders, empty classes, files the loader picks
    up but cannot decode. Warnings (exit 0): non-image and hidden files, formats the loader
    skips, tiny images, RGBA/palette/16-bit modes, upper-case extensions, nested folders.

    With --against TEST, list instead every TEST image that has a twin in VARIANT's train or
    val (a leaky test set scores memory, not generalisation).

    Example: datacur check datasets/dcai-2021
    """
    if against:
        _print_twins(variant, against, as_json=as_json)
        return
    with err_console.status(f"Checking {variant}..."):  # seconds on a big variant: not blank
        from datacur.check import check_variant

        report = check_variant(variant)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "variant": report.variant,
                    "images": report.images,
                    "errors": len(report.errors),
                    "warnings": len(report.warnings),
                    "findings": [asdict(f) for f in report.findings],
                },
                separators=(",", ":"),
            )
        )
    elif report.findings:
        if len(report.findings) > MAX_ROWS:
            counts = Counter((f.severity, f.code) for f in report.findings)
            summary_table = Table(title=f"Problems in {variant}, by kind")
            summary_table.add_column("severity")
            summary_table.add_column("kind")
            summary_table.add_column("files", justify="right")
            for (severity, code), n in sorted(
                counts.items(), key=lambda kv: (kv[0][0] != "error", -kv[1])
            ):
                summary_table.add_row(severity, code, str(n))
            out_console.print(summary_table)
        table = Table(title=f"Problems in {variant}")
        table.add_column("severity")
        table.add_column("path", overflow="fold")
        table.add_column("problem and fix", overflow="fold")
        ordered = sorted(report.findings, key=lambda f: (f.severity != "error", f.path))
        shown = ordered if show_all else ordered[:MAX_ROWS]
        if len(shown) < len(ordered):
            table.caption = f"{len(ordered) - len(shown)} more; use --all or --json to list all"
        for finding in shown:
            style = "red" if finding.severity == "error" else "yellow"
            table.add_row(f"[{style}]{finding.severity}[/]", finding.path, finding.message)
        out_console.print(table)
    summary = (
        f"{report.variant}: {report.images:,} images read by the loader, "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    )
    if report.ok:  # the verdict is the result: stdout, so `datacur check V > log` keeps it
        out_console.print(f"[green]OK[/] {summary}", highlight=False, soft_wrap=True)
    else:
        err_console.print(
            f"[bold red]Error:[/] {summary}. Fix the errors above.", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=1)


def _print_twins(variant: Path, tests: list[Path], *, as_json: bool) -> None:
    """Twin pairs between VARIANT (train + val) and each test folder (datacur.leakage)."""
    from datacur.leakage import find_twins, fingerprint
    from datacur.variant import list_folder_images, list_variant_images

    variant_prints = fingerprint([image.path for image in list_variant_images(variant)])
    found = {}
    for test in tests:
        test_prints = fingerprint([image.path for image in list_folder_images(test)])
        found[test] = (len(test_prints.paths), find_twins(variant_prints, test_prints))
    if as_json:
        typer.echo(
            json.dumps(
                {str(test): [asdict(pair) for pair in pairs] for test, (_, pairs) in found.items()},
                separators=(",", ":"),
            )
        )
        return
    for test, (total, pairs) in found.items():
        exact = sum(1 for pair in pairs if pair.kind == "exact")
        table = Table(title=f"Twins of {test} in {variant}")
        for column in ("test image", "twin in variant", "kind", "distance"):
            table.add_column(column, overflow="fold")
        for pair in pairs:
            table.add_row(pair.test_path, pair.variant_path, pair.kind, str(pair.distance))
        if pairs:
            out_console.print(table)
        err_console.print(
            f"{test}: {exact} exact and {len(pairs) - exact} near twin(s) among {total} "
            f"test images{' (leaky)' if pairs else ''}",
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``check`` to the root app."""
    app.command(name="check")(check)
