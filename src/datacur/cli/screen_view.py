"""``datacur sweep --screen``: runs :func:`datacur.screen.run_screen` and renders its table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import err_console, out_console
from datacur.errors import EvaluationError
from datacur.screen import BEST_VAL_NOTE, SHIFT_MEAN, ScreenResult


def _ordered(result: ScreenResult) -> list[Any]:
    """Finalists by final score, then the others by how far they got and their last score."""

    def key(row: Any) -> tuple[int, float, str]:
        reached = len(result.rungs) - 1 if row.dropped_at is None else row.dropped_at
        last = row.scores[reached]
        return (-reached, -(last if last is not None else -1.0), row.name)

    return sorted(result.rows, key=key)


def screen_table(result: ScreenResult) -> Table:
    """Which variant stopped at which rung and why, with its mean score at every rung."""
    ranked = {None: "val", SHIFT_MEAN: "the shift mean"}.get(result.test_name, result.test_name)
    table = Table(title=f"Screen (eta {result.eta}), ranked on {ranked}")
    table.add_column("variant", overflow="fold")
    for rung in result.rungs:
        seeds = f"{len(rung.seeds)} seed{'s' if len(rung.seeds) > 1 else ''}"
        table.add_column(f"{rung.epochs} ep ({seeds})", justify="right")
    table.add_column("stopped")
    table.add_column("why", overflow="fold")
    winner = result.winner
    for row in _ordered(result):
        cells = [escape(row.name) + (" (winner)" if row.name == winner else "")]
        cells += ["—" if score is None else f"{score:.4f}" for score in row.scores]
        if row.dropped_at is None:
            cells.append("—")
        else:
            cells.append(f"after {result.rungs[row.dropped_at].epochs} ep")
        cells.append(escape(row.reason))
        table.add_row(*cells)
    return table


def screen_payload(result: ScreenResult) -> dict[str, Any]:
    """The screen as JSON: rungs, each variant's scores and fate, winner, recorded time."""
    return {
        "note": BEST_VAL_NOTE,
        "test": result.test_name,  # what the cuts ranked on (a test set or "shift-mean")
        "eta": result.eta,
        "rungs": [{"epochs": r.epochs, "seeds": list(r.seeds)} for r in result.rungs],
        "winner": result.winner,
        "cpu_s": result.cpu_s,
        "variants": [
            {
                "variant": row.name,
                "scores": row.scores,
                "runs": row.seeds,
                "dropped_after_epochs": (
                    None if row.dropped_at is None else result.rungs[row.dropped_at].epochs
                ),
                "reason": row.reason,
                "cpu_s": row.cpu_s,
            }
            for row in _ordered(result)
        ],
    }


def run_screen_command(
    targets: list[Any],
    *,
    short_epochs: tuple[int, ...],
    epochs: int,
    seeds: list[int],
    screen_seeds: int,
    eta: int,
    test: list[Path] | None,
    db_path: Path,
    jobs: int | None,
    ray: bool,
    ray_address: str | None,
    jit: bool,
    model: str,
    as_json: bool,
    rank_by: str | None = None,
) -> None:
    """Plan the rungs, run the screen with a log line per rung and pair, print the table."""
    from datacur.screen import plan_rungs, run_screen

    rungs = plan_rungs(short_epochs, epochs=epochs, seeds=seeds, screen_seeds=screen_seeds)

    def on_rung(index: int, rung: Any, names: list[str]) -> None:
        err_console.print(
            f"rung {index + 1}/{len(rungs)}: {len(names)} variant(s) x {len(rung.seeds)} "
            f"seed(s) at {rung.epochs} epochs: {', '.join(names)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

    def on_event(event: Any) -> None:
        if event.kind in ("finished", "skipped"):
            how = "stored" if event.kind == "skipped" else "trained"
            line = f"  {event.name} seed {event.seed}: {event.score:.4f} ({how})"
        elif event.kind == "failed":
            line = f"  {event.name} seed {event.seed}: failed: {event.message}"
        else:
            return
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)

    result = run_screen(
        targets, rungs, eta=eta, test_dir=test, db_path=db_path, jobs=jobs, ray=ray,
        ray_address=ray_address, jit_compile=jit, model=model, rank_by=rank_by,
        on_event=on_event, on_rung=on_rung,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(screen_payload(result), separators=(",", ":")))
    else:
        out_console.print(screen_table(result))
        out_console.print(f"Note: {BEST_VAL_NOTE}", highlight=False, soft_wrap=True)
        out_console.print(
            f"Recorded training time of the runs used: {result.cpu_s / 3600:.2f} h.",
            highlight=False,
        )
        trained = sum(len(s.finished) for s in result.sweeps)
        stored = sum(len(s.skipped) for s in result.sweeps)
        out_console.print(
            f"{trained} run(s) trained, {stored} already stored ({db_path}).", highlight=False
        )
    failed = [(t.name, s, m) for sweep in result.sweeps for i, s, m in sweep.failed
              for t in [sweep.targets[i]]]  # fmt: skip
    if failed:
        details = "; ".join(f"{name} seed {seed}: {message}" for name, seed, message in failed)
        raise EvaluationError(
            f"{len(failed)} pair(s) failed ({details}); their variants stopped at that rung. "
            "Fix the cause and re-run the same command: stored runs are reused."
        )
