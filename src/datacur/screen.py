"""Screened sweeps: successive halving over recipes (short schedules for all, the full one for
the finalists), and the replay of a screen from stored runs to price it against a full sweep.

Rung ``r`` trains every surviving variant for ``epochs[r]`` epochs under the rung's seeds
(one seed while screening, all seeds on the last rung) through :func:`datacur.sweep.run_sweep`,
so every rung's runs are ordinary stored runs and a re-run reuses them (same variant hash,
seed, epochs, test set and model). After each rung but the last, the best
``ceil(survivors / eta)`` variants by mean score go on; ties at the cut go on too.

What "score" means is ``rank_by``: by default the **shift mean** (the mean over the test sets
named ``shift-*``, as ``datacur compare`` computes it) whenever such test sets are scored,
otherwise the first test set. Issue 20: dev-test shares the starter data's writers and
scanners and flatters, so a screen that ranks on it alone picks what fits the starter
distribution; the shift suite is the yardstick recipes are chosen by.

A short schedule is a different measurement, not a preview of the full one: the fixed
evaluator keeps the best-val checkpoint, so a 20-epoch score is the best of 20 epochs, and
recipes that learn slowly (large, heavily augmented variants) are at a disadvantage there.
``datacur fidelity`` measures how well short scores predict full ones.

Why a rung loop and not Ray Tune's ASHA scheduler: ASHA promotes a trial as soon as it is in
the top ``1/eta`` of those that reached a rung *so far*, so which recipe is dropped depends on
which trainings finish first: the same sweep could drop different recipes on another day,
and datacur's outputs are deterministic. Its strength, pausing a training and continuing it
to the next rung, needs an evaluator that resumes from a checkpoint, which the fixed one does
not. With a handful of recipes a synchronous rung loses nothing; within a rung the pairs
still spread over Ray (``ray=True``) like any sweep.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from datacur.errors import ConfigError
from datacur.model import DEFAULT_MODEL

__all__ = [
    "BEST_VAL_NOTE",
    "DEFAULT_ETA",
    "DEFAULT_RUNG_EPOCHS",
    "SHIFT_MEAN",
    "Rung",
    "ScreenResult",
    "ScreenRow",
    "cut_rung",
    "parse_rungs",
    "plan_rungs",
    "rank_score",
    "replay_screen",
    "resolve_rank_by",
    "run_screen",
]

DEFAULT_RUNG_EPOCHS = (20, 40)
"""Short schedules before the full one (``--rungs 20,40``, then ``--epochs 100``)."""

DEFAULT_ETA = 3
"""Keep the best third at each cut: 6 recipes -> 2 -> 1 (a third of a full sweep's epochs)."""

BEST_VAL_NOTE = (
    "Short schedules are a different measurement, not an early look at the full one: the "
    "fixed evaluator keeps the best-val checkpoint, so an N-epoch score is the best of N "
    "epochs."
)


SHIFT_MEAN = "shift-mean"
"""``rank_by`` value: rank on the mean over the ``shift-*`` test sets (issue 20)."""

_SHIFT_PREFIX = "shift-"  # datacur.compare.SHIFT_PREFIX (compare imports scipy; kept light)


def resolve_rank_by(test_names: Sequence[str], rank_by: str | None = None) -> str | None:
    """What a screen ranks on: ``rank_by`` checked against the scored test sets, or the
    default (the shift mean when any ``shift-*`` test set is scored, else the first one).

    Returns ``None`` when no test set is scored (the screen ranks on val accuracy).

    Raises:
        ConfigError: ``rank_by`` names a test set that is not scored, or asks for the shift
            mean without a ``shift-*`` test set.

    Example:
        >>> resolve_rank_by(["dev-test", "shift-thin", "shift-blur-noise"])
        'shift-mean'
        >>> resolve_rank_by(["dev-test", "label-book"])
        'dev-test'
    """
    shift = [name for name in test_names if name.startswith(_SHIFT_PREFIX)]
    if rank_by is None:
        if shift:
            return SHIFT_MEAN
        return test_names[0] if test_names else None
    if rank_by == SHIFT_MEAN:
        if not shift:
            raise ConfigError(
                "--rank-by shift-mean needs at least one --test folder named shift-* "
                "(e.g. --test datasets/shift-thin); build the suite with datacur shift-suite."
            )
        return rank_by
    if rank_by not in test_names:
        scored = ", ".join(test_names) or "none"
        raise ConfigError(
            f"--rank-by {rank_by}: no --test folder of that name (scored: {scored}); "
            f"pass --test <folder>/{rank_by} or --rank-by {SHIFT_MEAN}."
        )
    return rank_by


def rank_score(
    scores: Mapping[str | None, float | None], rank_by: str | None, shift_tests: Sequence[str]
) -> float | None:
    """One training's score for the cut: its accuracy on ``rank_by``, or the mean over
    ``shift_tests`` for :data:`SHIFT_MEAN`; ``None`` when a needed test set was not scored
    (a mean over fewer shift sets would not compare with the others').

    Example:
        >>> rank_score({"dev-test": 0.9, "shift-a": 0.5, "shift-b": 0.7}, "shift-mean",
        ...            ["shift-a", "shift-b"])
        0.6
    """
    if rank_by == SHIFT_MEAN:
        values = [scores.get(name) for name in shift_tests]
        if not values or any(value is None for value in values):
            return None
        return statistics.fmean(value for value in values if value is not None)
    return scores.get(rank_by)


@dataclass(frozen=True)
class Rung:
    """One rung: a schedule and the seeds every surviving variant is trained under."""

    epochs: int
    seeds: tuple[int, ...]


def parse_rungs(text: str) -> tuple[int, ...]:
    """Parse ``"20,40"`` into epochs; an empty string means no short rung.

    Raises:
        ConfigError: a value that is not a positive integer.

    Example:
        >>> parse_rungs("20,40")
        (20, 40)
    """
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise ConfigError(
                f"--rungs {text!r}: expected epochs as positive integers, e.g. 20,40."
            )
        values.append(int(part))
    return tuple(values)


def plan_rungs(
    short_epochs: Sequence[int] = DEFAULT_RUNG_EPOCHS,
    *,
    epochs: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    screen_seeds: int = 1,
) -> list[Rung]:
    """The rungs of a screen: each short schedule under the first ``screen_seeds`` seeds,
    then the full ``epochs`` under all ``seeds``.

    Raises:
        ConfigError: short schedules not strictly increasing and below ``epochs``, no
            seeds, or ``screen_seeds`` out of range.
    """
    seeds = tuple(dict.fromkeys(seeds))
    if not seeds:
        raise ConfigError("Give at least one seed (--seeds 3 runs seeds 0, 1, 2).")
    if not 1 <= screen_seeds <= len(seeds):
        raise ConfigError(
            f"--screen-seeds must be between 1 and --seeds ({len(seeds)}) "
            f"(received {screen_seeds})."
        )
    schedule = [*short_epochs, epochs]
    if any(b <= a for a, b in itertools.pairwise(schedule)) or schedule[0] < 1:
        raise ConfigError(
            f"--rungs {','.join(map(str, short_epochs))} with --epochs {epochs}: the short "
            "schedules must be positive, increasing and below --epochs (e.g. --rungs 20,40 "
            "--epochs 100)."
        )
    return [Rung(e, seeds[:screen_seeds]) for e in short_epochs] + [Rung(epochs, seeds)]


def cut_rung(scores: Mapping[str, float], *, eta: int) -> tuple[list[str], dict[str, str]]:
    """Which variants go on after a rung, and why each other one stops.

    The best ``ceil(n / eta)`` by score go on, plus any tied with the last of them (a tie
    is not a reason to drop). Order is by score, then name, so the cut is deterministic.

    Args:
        scores: mean score per variant name at this rung.
        eta: reduction factor (>= 2).

    Returns:
        ``(kept names in rank order, {dropped name: reason})``.

    Example:
        >>> cut_rung({"a": 0.9, "b": 0.8}, eta=2)
        (['a'], {'b': 'rank 2 of 2: 0.8000 < cut 0.9000 (keep 1)'})
    """
    if eta < 2:
        raise ConfigError(f"--eta must be >= 2 (received {eta}).")
    ranked = sorted(scores, key=lambda name: (-scores[name], name))
    keep = max(1, math.ceil(len(ranked) / eta))
    cut = scores[ranked[keep - 1]] if ranked else math.nan
    kept = [name for name in ranked if scores[name] >= cut]
    dropped = {
        name: f"rank {rank} of {len(ranked)}: {scores[name]:.4f} < cut {cut:.4f} (keep {keep})"
        for rank, name in enumerate(ranked, start=1)
        if name not in kept
    }
    return kept, dropped


@dataclass
class ScreenRow:
    """One variant's path through the screen."""

    name: str
    scores: list[float | None]  # mean score per rung reached (None: not trained there)
    seeds: list[int]  # runs behind each score
    dropped_at: int | None = None  # rung index after which it stopped; None: reached the end
    reason: str = ""
    cpu_s: float = 0.0  # recorded training time of its runs (one-thread trainings)

    @property
    def finalist(self) -> bool:
        return self.dropped_at is None


@dataclass
class ScreenResult:
    """What a screen did: the rungs, each variant's path, the winner, the sweeps run."""

    rungs: list[Rung]
    eta: int
    rows: list[ScreenRow]
    test_name: str | None = None  # what the cut ranked on: a test set, "shift-mean", or None (val)
    sweeps: list[Any] = field(default_factory=list)  # one SweepResult per rung run
    failed: list[tuple[str, int, int, str]] = field(default_factory=list)  # name, rung, seed

    @property
    def finalists(self) -> list[ScreenRow]:
        """Variants that reached the last rung, best mean first."""
        rows = [row for row in self.rows if row.finalist and row.scores[-1] is not None]
        return sorted(rows, key=lambda row: (-(row.scores[-1] or 0.0), row.name))

    @property
    def winner(self) -> str | None:
        return self.finalists[0].name if self.finalists else None

    @property
    def cpu_s(self) -> float:
        return sum(row.cpu_s for row in self.rows)


def _screen_loop(
    names: Sequence[str],
    rungs: Sequence[Rung],
    *,
    eta: int,
    run_rung: Callable[[int, list[int]], dict[tuple[int, int], tuple[float, float]]],
) -> tuple[list[ScreenRow], list[tuple[str, int, int, str]]]:
    """The rung loop shared by :func:`run_screen` and :func:`replay_screen`.

    ``run_rung(rung index, alive indices)`` returns ``{(index, seed): (score, cpu seconds)}``
    for the pairs it has; a variant with a missing pair at a rung stops there.
    """
    rows = [ScreenRow(name, [None] * len(rungs), [0] * len(rungs)) for name in names]
    failed: list[tuple[str, int, int, str]] = []
    alive = list(range(len(names)))
    for r, rung in enumerate(rungs):
        pairs = run_rung(r, alive)
        scores: dict[str, float] = {}
        for index in alive:
            row = rows[index]
            got = [pairs[(index, seed)] for seed in rung.seeds if (index, seed) in pairs]
            row.cpu_s += sum(cpu for _score, cpu in got)
            row.seeds[r] = len(got)
            if got:
                row.scores[r] = statistics.fmean(score for score, _cpu in got)
            if len(got) < len(rung.seeds):
                missing = [s for s in rung.seeds if (index, s) not in pairs]
                row.dropped_at = r
                row.reason = (
                    f"no run at {rung.epochs} epochs for seed(s) "
                    f"{', '.join(map(str, missing))} (failed or missing)"
                )
                failed.extend((row.name, r, s, "missing") for s in missing)
            else:
                scores[row.name] = row.scores[r]  # type: ignore[assignment]
        if r == len(rungs) - 1:
            break
        kept, dropped = cut_rung(scores, eta=eta) if scores else ([], {})
        by_name = {rows[i].name: i for i in alive}
        for name, reason in dropped.items():
            rows[by_name[name]].dropped_at = r
            rows[by_name[name]].reason = f"{reason} at {rung.epochs} epochs"
        alive = sorted(by_name[name] for name in kept)  # sweep order stays the given order
    for row in rows:
        if row.finalist and row.scores[-1] is not None:
            row.reason = "finalist"
    return rows, failed


def run_screen(
    targets: Sequence[Any],
    rungs: Sequence[Rung],
    *,
    eta: int = DEFAULT_ETA,
    test_dir: Path | Sequence[Path] | None = None,
    db_path: Path | None = None,
    jobs: int | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    exact: bool = False,
    jit_compile: bool = False,
    model: str = DEFAULT_MODEL,
    rank_by: str | None = None,
    on_event: Callable[[Any], None] | None = None,
    on_rung: Callable[[int, Rung, list[str]], None] | None = None,
) -> ScreenResult:
    """Successive halving over sweep targets; every rung is a resumable :func:`run_sweep`.

    Args:
        targets: from :func:`datacur.sweep.prepare_targets`.
        rungs: from :func:`plan_rungs` (the last is the full schedule with all seeds).
        eta: keep the best ``ceil(n / eta)`` after each short rung.
        test_dir, db_path, jobs, ray, ray_address, exact, jit_compile, model, on_event:
            as for :func:`datacur.sweep.run_sweep`; with several test sets every one is
            scored from each training.
        rank_by: what the cut ranks on (:func:`resolve_rank_by`): a test set's folder
            name, or :data:`SHIFT_MEAN`; default the shift mean when ``shift-*`` test sets
            are scored, else the first test set.
        on_rung: called before each rung with its index, the rung and the names in it.

    Returns:
        A :class:`ScreenResult`; its rows say which variant stopped at which rung and why.

    Raises:
        ConfigError: ``eta`` < 2, no rungs, or a ``rank_by`` that is not scored.
        EvaluationError, VariantError: as :func:`datacur.sweep.run_sweep`.

    Example:
        >>> rungs = plan_rungs((20, 40), epochs=100, seeds=[0, 1, 2])
        >>> result = run_screen(prepare_targets(paths), rungs, test_dir=Path("datasets/dev-test"))
    """
    from datacur.store import default_results_db, load_runs
    from datacur.sweep import plan_pairs, run_sweep

    if eta < 2:
        raise ConfigError(f"--eta must be >= 2 (received {eta}).")
    if not rungs:
        raise ConfigError("A screen needs at least one rung.")
    db_path = db_path or default_results_db()
    test_dirs = (
        []
        if test_dir is None
        else [Path(test_dir)]
        if isinstance(test_dir, str | Path)
        else [Path(folder) for folder in test_dir]
    )
    test_names = [folder.resolve().name for folder in test_dirs]
    ranked_on = resolve_rank_by(test_names, rank_by)
    shift_tests = [name for name in test_names if name.startswith(_SHIFT_PREFIX)]
    result = ScreenResult(list(rungs), eta, [], test_name=ranked_on)

    def run_rung(r: int, alive: list[int]) -> dict[tuple[int, int], tuple[float, float]]:
        rung = rungs[r]
        subset = [targets[i] for i in alive]
        if on_rung is not None:
            on_rung(r, rung, [t.name for t in subset])

        def relay(event: Any) -> None:  # events name the full target list's index
            if on_event is not None:
                on_event(replace(event, target=alive[event.target]))

        sweep = run_sweep(
            subset, list(rung.seeds), epochs=rung.epochs, test_dir=test_dir, db_path=db_path,
            jobs=jobs, ray=ray, ray_address=ray_address, exact=exact, jit_compile=jit_compile,
            model=model, on_event=relay,
        )  # fmt: skip
        result.sweeps.append(sweep)
        _todo, done = plan_pairs(
            subset, list(rung.seeds), db_path=db_path, epochs=rung.epochs,
            test_hash=sweep.test_hash, model=model,
        )  # fmt: skip
        run_ids = [run_id for run_id, _score in done.values()]
        stored = load_runs(db_path, run_ids=run_ids)
        seconds = {run.id: _run_seconds(run) for run in stored}
        by_test: dict[int, dict[str | None, float | None]] = {}
        for run in stored:
            by_test.setdefault(run.id, {})[run.test_name] = run.test_accuracy
        found = {}
        for (i, seed), (run_id, first_score) in done.items():
            score: float | None = first_score
            if ranked_on is not None and ranked_on != sweep.test_name:
                score = rank_score(by_test.get(run_id, {}), ranked_on, shift_tests)
            if score is not None:  # a run not scored on what the cut needs counts as missing
                found[(alive[i], seed)] = (score, seconds.get(run_id, 0.0))
        return found

    result.rows, result.failed = _screen_loop(
        [t.name for t in targets], rungs, eta=eta, run_rung=run_rung
    )
    return result


def _run_seconds(run: Any) -> float:
    """A stored run's training cost: its total recorded time (train + decode + scoring)."""
    timings = run.timings or {}
    return float(timings.get("total_s") or timings.get("train_s") or 0.0)


def replay_screen(
    runs: Sequence[Any],
    names: Sequence[str],
    rungs: Sequence[Rung],
    *,
    eta: int = DEFAULT_ETA,
    rank_by: str | None = None,
) -> ScreenResult:
    """Replay a screen on stored runs: which variants it would drop, and what it would cost.

    Args:
        runs: stored runs of one model (:func:`datacur.store.load_runs`), one row per
            training x test set; a variant is matched by the run's ``variant`` name, the
            newest training per (variant, epochs, seed) counting.
        names: the variants screened.
        rungs: as for :func:`run_screen`.
        eta: as for :func:`run_screen`.
        rank_by: as for :func:`run_screen`, over the test sets the runs were scored on.

    Returns:
        A :class:`ScreenResult` whose ``cpu_s`` sums the recorded times of the runs the
        screen uses; a variant without a run a rung needs stops there (reason says so).
    """
    test_names = sorted({run.test_name for run in runs if run.test_name is not None})
    ranked_on = resolve_rank_by(test_names, rank_by) if test_names else None
    shift_tests = [name for name in test_names if name.startswith(_SHIFT_PREFIX)]
    newest: dict[tuple[str, int, int], int] = {}  # -> training (run id)
    scores: dict[int, dict[str | None, float | None]] = {}
    seconds: dict[int, float] = {}
    for run in runs:
        key = (run.variant, run.epochs, run.seed)
        if newest.get(key, -1) <= run.id:
            newest[key] = run.id
        scores.setdefault(run.id, {})[run.test_name] = run.score
        seconds[run.id] = _run_seconds(run)

    def run_rung(r: int, alive: list[int]) -> dict[tuple[int, int], tuple[float, float]]:
        rung = rungs[r]
        found = {}
        for index in alive:
            for seed in rung.seeds:
                run_id = newest.get((names[index], rung.epochs, seed))
                if run_id is None:
                    continue
                score = (
                    rank_score(scores[run_id], ranked_on, shift_tests)
                    if ranked_on is not None
                    else next(iter(scores[run_id].values()))
                )
                if score is not None:
                    found[(index, seed)] = (score, seconds[run_id])
        return found

    rows, failed = _screen_loop(names, rungs, eta=eta, run_rung=run_rung)
    return ScreenResult(list(rungs), eta, rows, test_name=ranked_on, failed=failed)
