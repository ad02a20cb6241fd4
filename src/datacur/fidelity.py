"""How well short schedules predict the full one, from stored runs: per test set, the rank
correlation over variants between N-epoch and full-schedule scores, and whether the short
schedule picks the full schedule's winner.

A short schedule is a different measurement, not an early look at the full one: the fixed
evaluator keeps the best-val checkpoint, so an N-epoch score is the best of N epochs
(:data:`datacur.screen.BEST_VAL_NOTE` says so on every output).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datacur.errors import StoreError
from datacur.model import DEFAULT_MODEL
from datacur.screen import BEST_VAL_NOTE

__all__ = ["BEST_VAL_NOTE", "DEFAULT_SHORT_EPOCHS", "ScheduleFidelity", "measure_fidelity"]

DEFAULT_SHORT_EPOCHS = (10, 20, 40)


@dataclass(frozen=True)
class ScheduleFidelity:
    """One short schedule against the full one, on one test set, over the variants with both.

    ``spearman`` is None with fewer than 3 variants (a rank correlation of 2 is ±1 by
    construction). ``seed_agreement`` is the share of seeds whose single-seed short winner
    is the full winner (seeds every compared variant has at the short schedule), the chance
    that a one-seed screen picks the same winner.
    """

    test_name: str | None
    model: str
    short_epochs: int
    full_epochs: int
    variants: tuple[str, ...]
    short_means: tuple[float, ...]
    full_means: tuple[float, ...]
    full_sds: tuple[float, ...]
    spearman: float | None
    p_value: float | None
    short_winner: str
    full_winner: str
    seed_agreement: float | None
    agreeing_seeds: tuple[int, ...]
    seeds: tuple[int, ...]

    @property
    def same_winner(self) -> bool:
        return self.short_winner == self.full_winner

    @property
    def winner_within_spread(self) -> bool:
        """The short winner's full mean is within one sd (over seeds) of the full winner's."""
        full = dict(zip(self.variants, self.full_means, strict=True))
        sds = dict(zip(self.variants, self.full_sds, strict=True))
        return full[self.short_winner] >= full[self.full_winner] - sds[self.full_winner]


def _winner(means: dict[str, float]) -> str:
    return min(means, key=lambda name: (-means[name], name))


def measure_fidelity(
    db_path: Path | None = None,
    *,
    test_name: str | None = None,
    model: str = DEFAULT_MODEL,
    short_epochs: Sequence[int] = DEFAULT_SHORT_EPOCHS,
    full_epochs: int = 100,
) -> list[ScheduleFidelity]:
    """Compare each short schedule with the full one, per test set, from stored runs.

    Variants are told apart by content hash (named by their newest run); a test set by its
    name and content hash. A variant counts for a short schedule when it has runs at both
    that schedule and the full one; means are over its seeds.

    Args:
        db_path: results database (default: :func:`datacur.store.default_results_db`).
        test_name: only this test set (default: every test set with full-schedule runs).
        model: the model whose runs count.
        short_epochs: the short schedules to judge.
        full_epochs: the full schedule (the competition's 100).

    Returns:
        One :class:`ScheduleFidelity` per (test set, short schedule) with at least two
        variants, ordered by test set then epochs.

    Raises:
        StoreError: no test set has two variants with runs at both a short schedule and
            the full one.

    Example:
        >>> rows = measure_fidelity(Path("datasets/results.db"), test_name="dev-test")
    """
    from scipy import stats

    from datacur.store import default_results_db, load_runs

    db_path = db_path or default_results_db()
    runs = load_runs(db_path, test_name=test_name, model=model)
    # (test name, test hash) -> variant hash -> epochs -> seed -> score (newest run wins)
    table: dict[tuple[str | None, str | None], dict[str, dict[int, dict[int, float]]]] = {}
    names: dict[str, str] = {}
    for run in runs:
        if run.test_name is None:
            continue  # val-only runs score the checkpoint selector itself
        per_variant = table.setdefault((run.test_name, run.test_hash), {})
        per_variant.setdefault(run.variant_hash, {}).setdefault(run.epochs, {})[run.seed] = (
            run.score
        )
        names[run.variant_hash] = run.variant
    results: list[ScheduleFidelity] = []
    for (test, _hash), variants in sorted(table.items(), key=lambda kv: str(kv[0])):
        for short in sorted(short_epochs):
            both = sorted(
                (h for h, by in variants.items() if by.get(short) and by.get(full_epochs)),
                key=lambda h: names[h],
            )
            if len(both) < 2:
                continue
            labels = tuple(names[h] for h in both)
            short_means = {names[h]: statistics.fmean(variants[h][short].values()) for h in both}
            full_scores = {names[h]: list(variants[h][full_epochs].values()) for h in both}
            full_means = {name: statistics.fmean(s) for name, s in full_scores.items()}
            full_winner = _winner(full_means)
            spearman = p_value = None
            if len(both) >= 3:
                rho = stats.spearmanr([short_means[n] for n in labels],
                                      [full_means[n] for n in labels])  # fmt: skip
                if not math.isnan(rho.statistic):
                    spearman, p_value = float(rho.statistic), float(rho.pvalue)
            seeds = sorted(set.intersection(*(set(variants[h][short]) for h in both)))
            agreeing = tuple(
                seed
                for seed in seeds
                if _winner({names[h]: variants[h][short][seed] for h in both}) == full_winner
            )
            results.append(
                ScheduleFidelity(
                    test_name=test,
                    model=model,
                    short_epochs=short,
                    full_epochs=full_epochs,
                    variants=labels,
                    short_means=tuple(short_means[n] for n in labels),
                    full_means=tuple(full_means[n] for n in labels),
                    full_sds=tuple(
                        statistics.stdev(full_scores[n]) if len(full_scores[n]) > 1 else 0.0
                        for n in labels
                    ),
                    spearman=spearman,
                    p_value=p_value,
                    short_winner=_winner(short_means),
                    full_winner=full_winner,
                    seed_agreement=len(agreeing) / len(seeds) if seeds else None,
                    agreeing_seeds=agreeing,
                    seeds=tuple(seeds),
                )
            )
    if not results:
        where = f"test set {test_name}" if test_name else "any test set"
        raise StoreError(
            f"{db_path}: no two variants of model {model} have runs on {where} at both "
            f"{full_epochs} epochs and one of {', '.join(map(str, short_epochs))}. Score them "
            f"at both (e.g. `datacur sweep ... --epochs 20` and `--epochs {full_epochs}`), or "
            "pass --db, --test, --short or --full."
        )
    return results
