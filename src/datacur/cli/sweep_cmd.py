"""``datacur sweep``: every recipe/variant x seed, local processes or Ray, live leaderboard."""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from datacur.cli._common import DbOption, ForceOption, JsonOption, err_console, out_console
from datacur.errors import DatacurError, EvaluationError, StoreError
from datacur.wording import count_noun


class _Board:
    """Sweep state for the live table: scores per target and seed, what runs, what failed."""

    def __init__(self, targets: list[Any], seeds: list[int], axis: str | None) -> None:
        self.targets = targets
        self.seeds = seeds
        self.axis = axis
        self.scores: list[dict[int, float]] = [{} for _ in targets]
        self.stored: list[set[int]] = [set() for _ in targets]
        self.running: list[dict[int, str]] = [{} for _ in targets]
        self.failed: list[set[int]] = [set() for _ in targets]
        self.started = time.monotonic()

    def on_event(self, event: Any) -> None:
        index, seed = event.target, event.seed
        if event.kind in ("skipped", "finished"):
            self.scores[index][seed] = event.score
            self.running[index].pop(seed, None)
            if event.kind == "skipped":
                self.stored[index].add(seed)
        elif event.kind == "started":
            self.running[index][seed] = "queued" if event.message else "starting"
        elif event.kind == "epoch":
            self.running[index][seed] = f"{event.epoch}/{event.epochs}"
        elif event.kind == "failed":
            self.running[index].pop(seed, None)
            self.failed[index].add(seed)

    def rows(self) -> list[tuple[int, float, float, float]]:
        """(target, mean, sd, best) ranked by mean, variants without scores last."""
        ranked = []
        for index, scores in enumerate(self.scores):
            values = list(scores.values())
            mean = statistics.fmean(values) if values else math.nan
            sd = statistics.stdev(values) if len(values) > 1 else math.nan
            ranked.append((index, mean, sd, max(values) if values else math.nan))
        ranked.sort(key=lambda row: (math.isnan(row[1]), -row[1] if not math.isnan(row[1]) else 0))
        return ranked

    def table(self, title: str, *, live: bool = True) -> Table:
        table = Table(title=title)
        table.add_column("#", justify="right")
        table.add_column("variant", overflow="fold")
        if self.axis:
            table.add_column(self.axis.split(".")[-1], justify="right")
        columns = (
            ("seeds", "running", "mean", "± sd", "best")
            if live
            else ("seeds", "mean", "± sd", "best")
        )
        for column in columns:
            table.add_column(column, justify="right")
        for rank, (index, mean, sd, best) in enumerate(self.rows(), start=1):
            target = self.targets[index]
            seeds = f"{len(self.scores[index])}/{len(self.seeds)}"
            if self.failed[index]:
                seeds += f" ({len(self.failed[index])} failed)"
            running = ", ".join(f"s{s}:{state}" for s, state in sorted(self.running[index].items()))
            row = [str(rank), escape(target.name)]
            if self.axis:
                row.append(str(target.value))
            row += [seeds, running] if live else [seeds]
            row += [
                "—" if math.isnan(mean) else f"{mean:.4f}",
                "—" if math.isnan(sd) else f"{sd:.4f}",
                "—" if math.isnan(best) else f"{best:.4f}",
            ]
            table.add_row(*row)
        return table

    @property
    def pairs(self) -> tuple[int, int]:
        """(pairs done, pairs in the sweep), for the live status and the plain log."""
        return sum(len(scores) for scores in self.scores), len(self.targets) * len(self.seeds)

    def live(self) -> Group:
        done, total = self.pairs
        from_db = sum(len(stored) for stored in self.stored)
        failed = sum(len(f) for f in self.failed)
        running = sum(len(r) for r in self.running)
        elapsed = time.monotonic() - self.started
        status = Text(
            f"{done}/{total} pairs done ({from_db} already stored), {running} in flight, "
            f"{failed} failed — {elapsed / 60:.1f} min",
            style="bold",
        )
        return Group(self.table("Sweep (live leaderboard)"), status)


PLAIN_EPOCH_EVERY = 10
"""Without a terminal, log a running pair's epoch every this many epochs."""


def plain_progress_line(event: Any, board: _Board) -> str | None:
    """The log line for ``event`` when stderr is not a terminal, or None for no line.

    The live table draws nothing on a pipe or a log file (``nohup datacur sweep ... > log``),
    so a sweep of hours would say nothing until the end: instead, every finished or failed
    pair gets a line with the running count, and a training every tenth epoch.
    """
    who = f"{event.name} seed {event.seed}"
    if event.kind == "finished":
        done, total = board.pairs
        minutes = (time.monotonic() - board.started) / 60
        return f"{who}: {event.score:.4f} ({done}/{total} pairs done, {minutes:.1f} min)"
    if event.kind == "failed":
        return f"{who}: failed: {event.message}"
    if event.kind == "epoch" and event.epoch is not None and event.epoch % PLAIN_EPOCH_EVERY == 0:
        return f"{who}: epoch {event.epoch}/{event.epochs}"
    return None


def _default_report_dir(targets: list[Any], axis: str | None) -> Path:
    if axis:
        slug = f"{targets[0].name.split('@')[0]}-{axis.split('.')[-1]}"
    else:
        slug = "-".join(target.name for target in targets)[:60]
    safe = "".join(char if char.isalnum() or char in "-_" else "-" for char in slug)
    return Path("reports") / f"sweep-{safe}"


def sweep(
    paths: Annotated[
        list[Path], typer.Argument(help="Recipe files (*.yaml) and/or variant folders.")
    ],
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per variant: seed, seed+1, ...")] = 3,
    seed: Annotated[int, typer.Option(min=0, help="First seed.")] = 0,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs (competition: 100).")] = 100,
    test: Annotated[
        list[Path] | None,
        typer.Option(
            "--test",
            help="Folder of `<class>/` images to score on (e.g. datasets/dev-test); repeat it "
            "to score several test sets from each training; without it, val accuracy is "
            "recorded (optimistic).",
            file_okay=False,
        ),
    ] = None,
    vary: Annotated[
        str | None,
        typer.Option(
            help="KEY=V1,V2,...: build each recipe once per value of a dotted recipe key, "
            "e.g. inputs.synth.share=0,0.1,0.2,0.4 (sources.* is accepted for inputs.*).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Trainings at once (default: one per core); 1 runs in this process."
        ),
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the pairs as Ray tasks (a local Ray by default).")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to use (ray://HEAD:10001, or auto on a cluster node); implies --ray."
        ),
    ] = None,
    model: Annotated[str, typer.Option(help="Model to train (see `datacur models`).")] = "fixed",
    jit: Annotated[
        bool,
        typer.Option("--jit", help="XLA-compile the training step (no faster on this CPU)."),
    ] = False,
    cache: Annotated[
        Path, typer.Option(help="Where recipe variants are built.", file_okay=False)
    ] = Path("datasets/sweeps"),
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild recipe variants even when cached.")
    ] = False,
    build_seed: Annotated[
        int | None, typer.Option(help="Seed of the recipe builds (default: the recipe's seed).")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Sweep report folder (default: `reports/sweep-<name>`); written when the sweep "
            "has several variants.",
            file_okay=False,
        ),
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Write no report.")] = False,
    screen: Annotated[
        bool,
        typer.Option(
            "--screen",
            help="Successive halving: every variant at the --rungs schedules (--screen-seeds "
            "seeds), the best 1/--eta of them on to the next, the finalists at --epochs with "
            "all --seeds; prints which variant stopped where and why (no sweep report).",
        ),
    ] = False,
    rungs: Annotated[
        str, typer.Option(help="With --screen: the short schedules in epochs, before --epochs.")
    ] = "20,40",
    eta: Annotated[
        int, typer.Option(min=2, help="With --screen: keep the best 1/eta after each rung.")
    ] = 3,
    screen_seeds: Annotated[
        int, typer.Option(min=1, help="With --screen: seeds per variant on the short rungs.")
    ] = 1,
    rank_by: Annotated[
        str | None,
        typer.Option(
            "--rank-by",
            help="With --screen: what the cuts rank on: a --test folder's name, or "
            "shift-mean (the mean over the shift-* test sets; the default when any is "
            "given, else the first --test).",
        ),
    ] = None,
    db: DbOption = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every recipe (or variant folder) under every seed; resumable.

    Recipes are built into --cache (keyed by their content: an unchanged recipe is not
    rebuilt). Each finished run goes to the results database at once, and a re-run skips
    pairs already there (same content, seed, epochs, test set and model), so an interrupted
    sweep continues where it stopped. Trainings run in local processes, one per core, or as
    Ray tasks with --ray (one CPU each; see `datacur.sweep` for pointing it at a cluster).
    With several variants, a report (comparison table; with --vary, accuracy against the
    varied value with 95% error bars) is written at the end; --force replaces it.

    With --screen, variants are screened on short schedules first (20 then 40 epochs, one
    seed, the best third going on) and only the finalists get --epochs with all --seeds; a
    short schedule is a different measurement (the best-val checkpoint of fewer epochs). The
    cuts rank on the shift mean when shift-* test sets are among --test (dev-test shares the
    starter's writers and flatters), else on the first --test; --rank-by picks another.

    Example: datacur sweep recipes/best-5k.yaml --vary inputs.strokes.share=0,0.2,0.4 --seeds 3

    Example: datacur sweep recipes/best.yaml recipes/raw.yaml recipes/clean.yaml --screen

    Example: datacur sweep recipes/raw.yaml recipes/best.yaml --screen --test datasets/shift-thin
    """
    from datacur.report import SweepPoint, build_sweep_report
    from datacur.store import default_results_db
    from datacur.sweep import parse_vary, prepare_targets, run_sweep

    db_path = db or default_results_db()
    axis_values = parse_vary(vary) if vary else None
    targets = prepare_targets(
        paths,
        vary=axis_values,
        cache_dir=cache,
        build_seed=build_seed,
        rebuild=rebuild,
        on_event=lambda event: err_console.print(
            f"{event.kind} {event.name}: {event.message}", highlight=False, markup=False
        ),
    )
    axis = axis_values[0] if axis_values else None
    if screen:
        from datacur.cli.screen_view import run_screen_command
        from datacur.screen import parse_rungs

        run_screen_command(
            targets, short_epochs=parse_rungs(rungs), epochs=epochs,
            seeds=list(range(seed, seed + seeds)), screen_seeds=screen_seeds, eta=eta,
            test=test, db_path=db_path, jobs=jobs, ray=ray or ray_address is not None,
            ray_address=ray_address, jit=jit, model=model, rank_by=rank_by, as_json=as_json,
        )  # fmt: skip
        return
    report_dir = None
    if not no_report and (len(targets) > 1 or axis):
        report_dir = report or _default_report_dir(targets, axis)
        if report_dir.exists() and not force:
            # Checked now, not after hours of training.
            raise StoreError(
                f"{report_dir}: report folder already exists. Pass --force to replace it, "
                "--report DIR for another, or --no-report."
            )
    seed_list = list(range(seed, seed + seeds))
    board = _Board(targets, seed_list, axis)

    with Live(board.live(), console=err_console, refresh_per_second=2, transient=True) as live:

        def on_event(event: Any) -> None:
            board.on_event(event)
            live.update(board.live())
            line = None if err_console.is_terminal else plain_progress_line(event, board)
            if line is not None:
                err_console.print(line, highlight=False, markup=False, soft_wrap=True)

        result = run_sweep(
            targets,
            seed_list,
            epochs=epochs,
            test_dir=test or None,
            db_path=db_path,
            jobs=jobs,
            ray=ray or ray_address is not None,
            ray_address=ray_address,
            jit_compile=jit,
            model=model,
            on_event=on_event,
        )

    report_path = None
    if report_dir is not None:
        points = [
            SweepPoint(target.name, target.variant_hash, target.value)
            for index, target in enumerate(targets)
            if board.scores[index]
        ]
        try:
            report_path = build_sweep_report(
                points,
                out_dir=report_dir,
                axis=axis,
                db_path=db_path,
                test_name=result.test_name,
                epochs=epochs,
                model=model,
                overwrite=True,  # existence was checked (and --force given) before the sweep
            ).html
        except DatacurError as err:
            err_console.print(f"No sweep report: {err}", highlight=False, markup=False)

    if as_json:
        payload = {
            "epochs": epochs,
            "test": result.test_name,
            "seeds": seed_list,
            "finished": len(result.finished),
            "skipped": len(result.skipped),
            "failed": [
                {"variant": targets[i].name, "seed": s, "error": m} for i, s, m in result.failed
            ],
            "report": None if report_path is None else str(report_path),
            "leaderboard": [
                {
                    "variant": targets[index].name,
                    "variant_hash": targets[index].variant_hash,
                    "value": targets[index].value,
                    "seeds": sorted(board.scores[index]),
                    "mean": None if math.isnan(mean) else mean,
                    "sd": None if math.isnan(sd) else sd,
                }
                for index, mean, sd, _best in board.rows()
            ],
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        scored_on = result.test_name or "val"
        out_console.print(
            board.table(
                f"Sweep: {count_noun(epochs, 'epoch')}, model {model}, "
                f"scored on {scored_on} ({db_path})",
                live=False,
            )
        )
        out_console.print(
            f"{len(result.finished)} run(s) trained, {len(result.skipped)} already stored.",
            highlight=False,
        )
        if report_path is not None:
            out_console.print(f"Report: {report_path}", highlight=False, markup=False)
    if result.failed:
        details = "; ".join(f"{targets[i].name} seed {s}: {m}" for i, s, m in result.failed)
        raise EvaluationError(
            f"{len(result.failed)} of {result.total} pair(s) failed ({details}). The other "
            "runs are stored; fix the cause and re-run the same command to do only these."
        )


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to the root app."""
    app.command(name="sweep")(sweep)
