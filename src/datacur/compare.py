"""Compare variants honestly: mean, spread and 95% interval over seeds, paired tests, power.

With one run per variant the answer is noise (the fixed model's test accuracy moves by a few
points between seeds, issue 7). Here each variant is summarised over its seeds, and each
later variant is compared to the first one *paired by seed* (same seed = same initial weights
and batch order), which removes most of the seed-to-seed noise from the difference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import stats

from datacur.errors import StoreError, VariantError
from datacur.labels import CLASSES
from datacur.store import StoredRun, load_runs
from datacur.wording import count_noun

__all__ = [
    "MAX_SEEDS_ESTIMATE",
    "MIN_HASH_PREFIX",
    "SHIFT_PREFIX",
    "AcrossModels",
    "Comparison",
    "Difference",
    "ModelDifference",
    "TestSetRow",
    "TestSetTable",
    "VariantRef",
    "VariantStats",
    "assess_difference",
    "compare_across_models",
    "compare_test_sets",
    "compare_variants",
    "estimate_seeds_needed",
    "pair_scores",
    "resolve_variants",
    "scores_by_seed",
    "summarize_scores",
]

MIN_HASH_PREFIX = 4
"""Shortest variant-hash prefix accepted as a variant name."""

SHIFT_PREFIX = "shift-"
"""Test sets whose folder name starts with this form the shift suite (issue 20): the
**shift mean** is the mean over them."""

MAX_SEEDS_ESTIMATE = 100_000
"""Above this many seeds the estimate is reported as "more than" (the gap is negligible)."""

ContextKey = tuple[str | None, str, int]
"""Runs are comparable only within one (test set content hash, model, epochs)."""


# --------------------------------------------------------------------------- pure statistics


def _mean(values: Iterable[float]) -> float:
    """Mean of the finite values (NaN when there are none), without NumPy's warnings."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    return math.fsum(finite) / len(finite) if finite else math.nan


def summarize_scores(
    scores: Sequence[float], *, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean, sample sd and the t-based confidence interval of the mean.

    Args:
        scores: one score per seed.
        confidence: interval coverage (0.95 for a 95% interval).

    Returns:
        ``(mean, sd, low, high)``; ``sd`` and the interval are NaN with fewer than 2 scores.

    Example:
        >>> round(summarize_scores([0.70, 0.72, 0.74])[0], 4)
        0.72
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1)) * sd / math.sqrt(values.size)
    return mean, sd, mean - half, mean + half


def _power_paired(n: int, effect: float, alpha: float) -> float:
    """Power of a two-sided one-sample (paired) t-test with ``n`` pairs at ``effect = d / sd``."""
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    noncentrality = effect * math.sqrt(n)
    return float(
        stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
    )


def estimate_seeds_needed(
    diff: float, sd: float, *, alpha: float = 0.05, power: float = 0.8, paired: bool = True
) -> int | None:
    """How many seeds a test at level ``alpha`` needs to detect ``diff`` with ``power``.

    Starts from the normal approximation ``n = ((z_{1-a/2} + z_power) * sd / diff)^2``
    (doubled per variant for an unpaired comparison) and, for the paired test, steps up to
    the smallest ``n`` whose exact power (noncentral t) reaches ``power``; the normal
    formula is optimistic for the handful of seeds a sweep affords.

    Args:
        diff: the difference to detect (the observed one, usually).
        sd: sd of the paired differences (paired) or of the scores within a variant.
        alpha: two-sided significance level.
        power: wanted probability of detecting ``diff``.
        paired: paired t-test (per pair of runs) or two-sample (per variant).

    Returns:
        The number of seeds (at least 2; per variant when unpaired), ``None`` when it cannot
        be estimated (no difference observed, or no spread measured), or
        ``MAX_SEEDS_ESTIMATE + 1`` when it is beyond ``MAX_SEEDS_ESTIMATE``.

    Example:
        >>> estimate_seeds_needed(0.01, 0.01)
        10
    """
    if not (math.isfinite(diff) and math.isfinite(sd)) or diff == 0 or sd <= 0:
        return None
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    approx = (z * sd / abs(diff)) ** 2 * (1 if paired else 2)
    n = max(2, math.ceil(approx))
    if n > MAX_SEEDS_ESTIMATE:
        return MAX_SEEDS_ESTIMATE + 1
    if not paired:
        return n
    effect = abs(diff) / sd
    while _power_paired(n, effect, alpha) < power:
        n += 1
        if n > MAX_SEEDS_ESTIMATE:
            return MAX_SEEDS_ESTIMATE + 1
    return n


def scores_by_seed(runs: Iterable[StoredRun]) -> dict[int, float]:
    """One score per seed: the mean over repeated runs of the same seed."""
    grouped: dict[int, list[float]] = {}
    for run in runs:
        grouped.setdefault(run.seed, []).append(run.score)
    return {seed: math.fsum(values) / len(values) for seed, values in sorted(grouped.items())}


def pair_scores(
    baseline: Mapping[int, float], other: Mapping[int, float]
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The seeds both have, and the two score arrays aligned on them (sorted by seed)."""
    seeds = sorted(set(baseline) & set(other))
    return (
        seeds,
        np.array([baseline[seed] for seed in seeds], dtype=np.float64),
        np.array([other[seed] for seed in seeds], dtype=np.float64),
    )


@dataclass(frozen=True)
class Difference:
    """One variant against the baseline (the first variant named)."""

    variant: str
    baseline: str
    method: str  # "paired t", "Welch t" or "none"
    shared_seeds: tuple[int, ...]
    n: int  # pairs (paired) or runs of the smaller variant (Welch)
    diff: float  # variant minus baseline
    sd: float  # sd of the paired differences (paired) or pooled sd (Welch)
    ci_low: float
    ci_high: float
    p_value: float
    wilcoxon_p: float | None
    significant: bool
    seeds_needed: int | None  # per variant, to detect ``diff`` at the requested power
    verdict: str
    per_class: dict[str, float] = field(default_factory=dict)


def _format_seeds_needed(needed: int | None, have: int, diff: float) -> str:
    if needed is None:
        return "the number of seeds needed cannot be estimated from these runs"
    if needed > MAX_SEEDS_ESTIMATE:
        return (
            f"detecting a difference of {abs(diff):.4f} would need more than "
            f"{MAX_SEEDS_ESTIMATE:,} seeds: treat the two as equal"
        )
    more = max(0, needed - have)
    return (
        f"detecting a difference of {abs(diff):.4f} needs about {needed} seeds per variant "
        f"({more} more)"
    )


def assess_difference(
    baseline_scores: Mapping[int, float],
    variant_scores: Mapping[int, float],
    *,
    variant: str = "B",
    baseline: str = "A",
    alpha: float = 0.05,
    power: float = 0.8,
) -> Difference:
    """Test ``variant`` against ``baseline`` from their per-seed scores.

    Paired t-test (``scipy.stats.ttest_rel``) over the shared seeds when there are at least
    two; with six or more pairs the Wilcoxon signed-rank p-value is added as a check that
    does not assume normal differences. With fewer than two shared seeds but at least two
    runs each, falls back to Welch's unpaired t-test (and says so).

    Args:
        baseline_scores, variant_scores: ``{seed: score}`` (see :func:`scores_by_seed`).
        variant, baseline: names used in the verdict.
        alpha: two-sided significance level.
        power: power used to estimate the seeds needed when the test is inconclusive.

    Returns:
        A :class:`Difference` whose ``verdict`` says plainly what the data show.
    """
    seeds, base, other = pair_scores(baseline_scores, variant_scores)
    confidence = f"{100 * (1 - alpha):g}%"
    if len(seeds) >= 2:
        deltas = other - base
        diff, sd, low, high = summarize_scores(deltas, confidence=1 - alpha)
        n = len(seeds)
        if sd == 0:
            # Every seed shows exactly the same difference: the t statistic is infinite (or
            # undefined when that difference is 0); scipy would only warn and return NaN.
            p_value = 1.0 if diff == 0 else 0.0
        else:
            p_value = float(stats.ttest_rel(other, base).pvalue)
        wilcoxon_p = None
        if n >= 6 and np.any(deltas != 0):
            with warnings.catch_warnings():
                # scipy notes that ties/zeros force the normal approximation; that is fine.
                warnings.simplefilter("ignore", UserWarning)
                wilcoxon_p = float(stats.wilcoxon(other, base).pvalue)
        method = "paired t"
        needed = estimate_seeds_needed(diff, sd, alpha=alpha, power=power, paired=True)
    elif len(baseline_scores) >= 2 and len(variant_scores) >= 2:
        a = np.array(list(baseline_scores.values()), dtype=np.float64)
        b = np.array(list(variant_scores.values()), dtype=np.float64)
        diff = float(b.mean() - a.mean())
        var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(var_a + var_b)
        n = int(min(a.size, b.size))
        sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        if se == 0:
            p_value = 1.0 if diff == 0 else 0.0
            low = high = diff
        else:
            # Welch-Satterthwaite degrees of freedom, as ttest_ind(equal_var=False) uses.
            df = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1))
            half = float(stats.t.ppf(1 - alpha / 2, df)) * se
            low, high = diff - half, diff + half
            p_value = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
        wilcoxon_p = None
        method = "Welch t"
        needed = estimate_seeds_needed(diff, sd, alpha=alpha, power=power, paired=False)
    else:
        count = len(seeds)
        verdict = (
            f"Cannot compare {variant} with {baseline}: {count} shared seed(s), and fewer than "
            "2 runs on one side. Score both on the same seeds (at least 2, better 5), e.g. "
            "`datacur evaluate VARIANT --seeds 5`."
        )
        diff = (
            float(np.mean(other - base))
            if count
            else _mean(variant_scores.values()) - _mean(baseline_scores.values())
        )
        return Difference(
            variant=variant,
            baseline=baseline,
            method="none",
            shared_seeds=tuple(seeds),
            n=count,
            diff=diff,
            sd=math.nan,
            ci_low=math.nan,
            ci_high=math.nan,
            p_value=math.nan,
            wilcoxon_p=None,
            significant=False,
            seeds_needed=None,
            verdict=verdict,
        )

    significant = p_value < alpha
    interval = f"{confidence} CI [{low:+.4f}, {high:+.4f}]"
    over = f"over {n} shared seeds" if method == "paired t" else f"unpaired, no shared seeds ({n}+)"
    if significant:
        direction = "better" if diff > 0 else "worse"
        verdict = (
            f"{variant} is {direction} than {baseline} by {diff:+.4f} ({interval}, "
            f"{method} p = {p_value:.3g}, {over})."
        )
    elif diff == 0:
        verdict = (
            f"Cannot tell {variant} from {baseline}: no difference at all {over} "
            f"(p = {p_value:.3g}); {_format_seeds_needed(None, n, diff)}."
        )
    else:
        verdict = (
            f"Cannot tell {variant} from {baseline}: difference {diff:+.4f} ({interval} "
            f"includes 0, {method} p = {p_value:.3g}, {over}); "
            f"{_format_seeds_needed(needed, n, diff)} at {power:.0%} power."
        )
    return Difference(
        variant=variant,
        baseline=baseline,
        method=method,
        shared_seeds=tuple(seeds),
        n=n,
        diff=diff,
        sd=sd,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        wilcoxon_p=wilcoxon_p,
        significant=significant,
        seeds_needed=needed,
        verdict=verdict,
    )


# --------------------------------------------------------------------------- naming variants


@dataclass(frozen=True)
class VariantRef:
    """A variant named on the command line, resolved to a content hash."""

    spec: str  # what the user typed
    variant: str  # the name stored with its newest run (or the folder name)
    variant_hash: str


def _is_hex(text: str) -> bool:
    return bool(text) and all(char in "0123456789abcdef" for char in text.lower())


def _filters_text(**filters: object) -> str:
    """`` (test=dev-test, epochs=100)`` for the filters given; nothing for unset ones."""
    given = [f"{key}={value}" for key, value in filters.items() if value is not None]
    return f" ({', '.join(given)})" if given else ""


def resolve_variants(
    specs: Sequence[str], runs: Sequence[StoredRun], *, cwd: Path | None = None
) -> list[VariantRef]:
    """Resolve variant names to content hashes.

    A spec is tried as, in order: an existing variant folder (its content hash is computed,
    so a rebuilt folder finds the runs of its current content), a variant name stored with
    runs, then a prefix of at least :data:`MIN_HASH_PREFIX` hex digits of a variant hash.

    Raises:
        VariantError: a spec matches nothing, or matches several variants, naming them.
    """
    from datacur.variant import compute_content_hash, list_variant_images

    names: dict[str, dict[str, None]] = {}  # name -> hashes, newest last
    latest_name: dict[str, str] = {}
    for run in runs:
        names.setdefault(run.variant, {})[run.variant_hash] = None
        latest_name[run.variant_hash] = run.variant
    refs: list[VariantRef] = []
    for spec in specs:
        folder = (cwd or Path.cwd()) / spec
        if folder.is_dir():
            variant_hash = compute_content_hash(list_variant_images(folder))
            name = latest_name.get(variant_hash, folder.resolve().name)
            refs.append(VariantRef(spec, name, variant_hash))
            continue
        if spec in names:
            hashes = list(names[spec])
            if len(hashes) > 1:
                listed = ", ".join(h[:12] for h in hashes)
                raise VariantError(
                    f"{spec}: this name was stored with {len(hashes)} different contents "
                    f"({listed}). Name one by hash prefix, or give the variant folder."
                )
            refs.append(VariantRef(spec, spec, hashes[0]))
            continue
        if len(spec) >= MIN_HASH_PREFIX and _is_hex(spec):
            matches = sorted(h for h in latest_name if h.startswith(spec.lower()))
            if len(matches) == 1:
                refs.append(VariantRef(spec, latest_name[matches[0]], matches[0]))
                continue
            if len(matches) > 1:
                listed = ", ".join(f"{latest_name[h]} ({h[:12]})" for h in matches)
                raise VariantError(
                    f"{spec}: hash prefix matches {len(matches)} variants: {listed}. "
                    "Give more digits."
                )
        known = ", ".join(sorted(names)) or "none yet"
        raise VariantError(
            f"{spec}: not a variant folder, a variant name with runs, or a hash prefix "
            f"(>= {MIN_HASH_PREFIX} hex digits) in the results database. Known names: {known}. "
            "Score it first with `datacur evaluate`."
        )
    return refs


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class VariantStats:
    """One variant's scores over seeds within the comparison's context."""

    variant: str
    variant_hash: str
    spec: str
    n: int
    seeds: tuple[int, ...]
    scores: tuple[float, ...]  # one per seed, in seed order
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    mean_val: float
    per_class: dict[str, float]  # mean over runs, CLASSES order; NaN when a class is absent


@dataclass(frozen=True)
class Comparison:
    """Variants side by side on one test set, model and schedule."""

    test_name: str | None
    test_hash: str | None
    model: str
    epochs: int
    alpha: float
    power: float
    variants: list[VariantStats]
    differences: list[Difference]  # one per variant after the first, against the first
    notes: list[str]

    @property
    def scored_on(self) -> str:
        return self.test_name or "val"


def _context(run: StoredRun) -> ContextKey:
    return (run.test_hash, run.model, run.epochs)


def _describe(key: ContextKey, runs: Sequence[StoredRun]) -> str:
    name = next((run.test_name for run in runs if _context(run) == key), None)
    test_hash, model, epochs = key
    where = f"test {name} ({test_hash[:8]})" if test_hash else "val only"
    return f"{where}, model {model}, {count_noun(epochs, 'epoch')}"


def _choose_context(
    refs: Sequence[VariantRef], runs_by_hash: Mapping[str, list[StoredRun]]
) -> ContextKey:
    available = [{_context(run) for run in runs_by_hash[ref.variant_hash]} for ref in refs]
    for ref, keys in zip(refs, available, strict=True):
        if not keys:
            raise StoreError(
                f"{ref.spec}: no runs of this variant ({ref.variant_hash[:12]}) match the "
                "filters. Score it with `datacur evaluate`, or relax --test/--epochs/--model."
            )
    common = set.intersection(*available)
    all_runs = [run for runs in runs_by_hash.values() for run in runs]
    if len(common) == 1:
        return next(iter(common))
    if not common:
        lines = "; ".join(
            f"{ref.spec}: " + " | ".join(_describe(key, all_runs) for key in sorted(keys, key=str))
            for ref, keys in zip(refs, available, strict=True)
        )
        raise StoreError(
            f"The variants were never scored under the same test set, model and epochs "
            f"({lines}). Evaluate them with the same --test and --epochs."
        )
    options = " | ".join(_describe(key, all_runs) for key in sorted(common, key=str))
    raise StoreError(
        f"The variants share several test sets/schedules ({options}). Choose one with "
        "--test NAME and/or --epochs N."
    )


def compare_variants(
    specs: Sequence[str],
    *,
    db_path: Path | None = None,
    test_name: str | None = None,
    epochs: int | None = None,
    model: str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    cwd: Path | None = None,
) -> Comparison:
    """Summarise each variant over its seeds and test each against the first.

    Args:
        specs: variant folders, names or hash prefixes; the first is the baseline.
        db_path: results database (default: :func:`datacur.store.default_results_db`).
        test_name, epochs, model: keep only runs scored on this test set (folder name),
            trained this many epochs, with this model. Runs are compared only within one
            test set content, model and schedule; when the variants share several, these
            filters choose.
        alpha: significance level (the intervals are ``1 - alpha``).
        power: power for the "seeds needed" estimate.
        cwd: folder that relative variant paths are resolved against (default: cwd).

    Returns:
        A :class:`Comparison`.

    Raises:
        VariantError: a spec names no variant, or several.
        StoreError: no comparable runs (the message says which filters to use).

    Example:
        >>> comparison = compare_variants(
        ...     ["datasets/dcai-2021", "datasets/clean"], test_name="dev-test"
        ... )
    """
    if not specs:
        raise VariantError("Name at least one variant (folder, name or hash prefix).")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise StoreError(f"alpha and power must be between 0 and 1 (received {alpha}, {power}).")
    all_runs = load_runs(db_path, test_name=test_name, model=model)
    if epochs is not None:
        all_runs = [run for run in all_runs if run.epochs == epochs]
    if not all_runs:
        raise StoreError(
            f"{db_path or 'results database'}: no runs match"
            f"{_filters_text(test=test_name, epochs=epochs, model=model)}. Score variants with "
            "`datacur evaluate` (or `datacur sweep`) first; `datacur leaderboard` lists the runs."
        )
    refs = resolve_variants(specs, all_runs, cwd=cwd)
    seen: dict[str, str] = {}
    for ref in refs:
        if ref.variant_hash in seen:
            raise VariantError(
                f"{ref.spec} and {seen[ref.variant_hash]} are the same variant content "
                f"({ref.variant_hash[:12]}). Name each variant once."
            )
        seen[ref.variant_hash] = ref.spec
    runs_by_hash = {
        ref.variant_hash: [run for run in all_runs if run.variant_hash == ref.variant_hash]
        for ref in refs
    }
    key = _choose_context(refs, runs_by_hash)
    test_hash, model_name, n_epochs = key
    context_runs = {
        h: [run for run in runs if _context(run) == key] for h, runs in runs_by_hash.items()
    }
    test_label = next((run.test_name for run in context_runs[refs[0].variant_hash]), None)

    variants: list[VariantStats] = []
    per_seed: list[dict[int, float]] = []
    for ref in refs:
        runs = context_runs[ref.variant_hash]
        by_seed = scores_by_seed(runs)
        per_seed.append(by_seed)
        mean, sd, low, high = summarize_scores(list(by_seed.values()), confidence=1 - alpha)
        variants.append(
            VariantStats(
                variant=ref.variant,
                variant_hash=ref.variant_hash,
                spec=ref.spec,
                n=len(by_seed),
                seeds=tuple(by_seed),
                scores=tuple(by_seed.values()),
                mean=mean,
                sd=sd,
                ci_low=low,
                ci_high=high,
                mean_val=_mean(run.val_accuracy for run in runs),
                per_class={
                    label: _mean(run.per_class.get(label, math.nan) for run in runs)
                    for label in CLASSES
                },
            )
        )

    differences: list[Difference] = []
    base_ref = refs[0]
    for index in range(1, len(refs)):
        ref = refs[index]
        difference = assess_difference(
            per_seed[0],
            per_seed[index],
            variant=ref.variant,
            baseline=base_ref.variant,
            alpha=alpha,
            power=power,
        )
        shared = set(difference.shared_seeds)
        per_class = {}
        for label in CLASSES:
            # Per-class change over the shared seeds when there are any (paired), else over
            # all runs: the same procedure as the overall difference.
            def class_mean(h: str, shared: set[int] = shared, label: str = label) -> float:
                runs = context_runs[h]
                chosen = [run for run in runs if not shared or run.seed in shared]
                return _mean(run.per_class.get(label, math.nan) for run in chosen)

            per_class[label] = class_mean(ref.variant_hash) - class_mean(base_ref.variant_hash)
        differences.append(replace(difference, per_class=per_class))

    notes: list[str] = []
    for ref in refs:
        runs = context_runs[ref.variant_hash]
        leaky = [run for run in runs if run.leaky]
        if leaky:
            without = _mean(
                run.accuracy_without_twins
                for run in leaky
                if run.accuracy_without_twins is not None
            )
            notes.append(
                f"LEAKY: {leaky[-1].test_name} shares {leaky[-1].twins_exact} exact and "
                f"{leaky[-1].twins_near} near twin(s) with {ref.variant}'s train/val; its "
                f"accuracy without them is {without:.4f} (see `datacur check {ref.spec} "
                "--against TEST`)."
            )
    unchecked = [
        ref.variant
        for ref in refs
        if test_hash is not None
        and not any(run.twins_checked for run in context_runs[ref.variant_hash])
    ]
    if unchecked:
        notes.append(
            f"Twins between the test set and train/val were never counted for "
            f"{', '.join(unchecked)} (runs stored before the leakage guard); re-score them "
            "with `datacur score VARIANT --test DIR` to know whether the test set leaks."
        )
    if test_hash is None:
        notes.append(
            "Scored on val: the checkpoint was chosen on val, so these accuracies are "
            "optimistic. Score on a held-out set with --test for an honest comparison."
        )
    if any(stat.n < 2 for stat in variants):
        notes.append(
            "A variant has a single seed: its spread is unknown. Run at least 3 seeds per "
            "variant (`datacur evaluate VARIANT --seeds 3`)."
        )
    return Comparison(
        test_name=test_label,
        test_hash=test_hash,
        model=model_name,
        epochs=n_epochs,
        alpha=alpha,
        power=power,
        variants=variants,
        differences=differences,
        notes=notes,
    )


# --------------------------------------------------------------------------- test sets


@dataclass(frozen=True)
class TestSetRow:
    """One test set across the compared variants (mean over each variant's seeds)."""

    __test__ = False  # a result type, not a pytest test class

    test_name: str | None
    test_hash: str | None
    means: tuple[float, ...]  # per variant, in the order given
    sds: tuple[float, ...]
    seeds: tuple[int, ...]  # runs per variant
    twins: tuple[str, ...]  # "0", "2+1" (exact+near: leaky), "?" (never checked)
    without_twins: tuple[float | None, ...]  # mean accuracy without the twins (leaky only)

    @property
    def is_shift(self) -> bool:
        return (self.test_name or "").startswith(SHIFT_PREFIX)


@dataclass(frozen=True)
class TestSetTable:
    """Every test set the variants were all scored on, under one model and schedule."""

    __test__ = False  # a result type, not a pytest test class

    variants: list[VariantRef]
    model: str
    epochs: int
    rows: list[TestSetRow]
    shift_mean: tuple[float, ...] | None  # per variant; None without shift-* test sets
    shift_tests: list[str]
    notes: list[str]


def _twins_label(runs: Sequence[StoredRun]) -> str:
    latest = runs[-1]
    if latest.test_hash is None:
        return "—"
    if not latest.twins_checked:
        return "?"
    if not latest.leaky:
        return "0"
    return f"{latest.twins_exact}+{latest.twins_near}"


def compare_test_sets(
    specs: Sequence[str],
    *,
    db_path: Path | None = None,
    epochs: int | None = None,
    model: str | None = None,
    cwd: Path | None = None,
    runs: Sequence[StoredRun] | None = None,
) -> TestSetTable:
    """Each variant on every test set they all share (one row per test set) and the shift
    mean: the mean over the test sets named ``shift-*`` (issue 20).

    Runs of one training scored on several test sets (``evaluate --test A --test B``,
    ``datacur score``) fill several rows. The model and schedule are the ones all variants
    share (``model``/``epochs`` choose when there are several). ``runs`` replaces the
    database's runs (the comparison report passes a run id's training alone).

    Raises:
        VariantError, StoreError: as for :func:`compare_variants`.
    """
    if not specs:
        raise VariantError("Name at least one variant (folder, name or hash prefix).")
    source = load_runs(db_path, model=model) if runs is None else runs
    all_runs = [
        run for run in source if run.test_hash is not None and (model is None or run.model == model)
    ]
    if epochs is not None:
        all_runs = [run for run in all_runs if run.epochs == epochs]
    if not all_runs:
        raise StoreError(
            f"{db_path or 'results database'}: no runs on a test set match"
            f"{_filters_text(epochs=epochs, model=model)}. Score variants with "
            "`datacur evaluate --test`."
        )
    refs = resolve_variants(specs, all_runs, cwd=cwd)
    schedules = [
        {(run.model, run.epochs) for run in all_runs if run.variant_hash == ref.variant_hash}
        for ref in refs
    ]
    common = set.intersection(*schedules)
    if len(common) != 1:
        listed = ", ".join(f"{m}/{e} epochs" for m, e in sorted(common)) or "none"
        raise StoreError(
            f"The variants share {len(common)} model/schedule(s) on test sets ({listed}). "
            "Choose one with --model and --epochs, or score them alike."
        )
    ((model_name, n_epochs),) = common
    runs = [run for run in all_runs if (run.model, run.epochs) == (model_name, n_epochs)]
    tests: dict[str, str | None] = {}
    for run in runs:
        tests.setdefault(run.test_hash or "", run.test_name)
    rows: list[TestSetRow] = []
    notes: list[str] = []
    for test_hash, test_name in tests.items():
        per_variant = [
            [
                run
                for run in runs
                if run.variant_hash == ref.variant_hash and run.test_hash == test_hash
            ]
            for ref in refs
        ]
        if not all(per_variant):
            missing = [
                ref.variant for ref, group in zip(refs, per_variant, strict=True) if not group
            ]
            notes.append(
                f"{test_name}: not scored for {', '.join(missing)} (score it with `datacur "
                f"score VARIANT --test {test_name}`); left out."
            )
            continue
        stats_ = []
        for group in per_variant:
            by_seed = scores_by_seed(group)
            mean, sd, _low, _high = summarize_scores(list(by_seed.values()))
            stats_.append((mean, sd, len(by_seed)))
        rows.append(
            TestSetRow(
                test_name=test_name,
                test_hash=test_hash,
                means=tuple(m for m, _, _ in stats_),
                sds=tuple(sd for _, sd, _ in stats_),
                seeds=tuple(n for _, _, n in stats_),
                twins=tuple(_twins_label(group) for group in per_variant),
                without_twins=tuple(
                    _mean(
                        run.accuracy_without_twins
                        for run in group
                        if run.leaky and run.accuracy_without_twins is not None
                    )
                    if any(run.leaky for run in group)
                    else None
                    for group in per_variant
                ),
            )
        )
    rows.sort(key=lambda row: (row.is_shift, row.test_name or ""))
    shift_rows = [row for row in rows if row.is_shift]
    shift_mean = (
        tuple(_mean(row.means[i] for row in shift_rows) for i in range(len(refs)))
        if shift_rows
        else None
    )
    return TestSetTable(
        variants=list(refs),
        model=model_name,
        epochs=n_epochs,
        rows=rows,
        shift_mean=shift_mean,
        shift_tests=[row.test_name or "" for row in shift_rows],
        notes=notes,
    )


# --------------------------------------------------------------------------- across models


@dataclass(frozen=True)
class ModelDifference:
    """B against A under one model (its own schedule: the longest both were scored with)."""

    model: str
    epochs: int
    baseline: VariantStats
    variant: VariantStats
    difference: Difference
    deltas: tuple[float, ...]  # per shared seed, variant minus baseline
    seconds_per_epoch: tuple[float, float]  # mean training time per epoch: baseline, variant


@dataclass(frozen=True)
class AcrossModels:
    """Does the difference between two variants carry over from one model to the others?"""

    baseline: str
    variant: str
    test_name: str | None
    rows: list[ModelDifference]
    same_sign: bool
    size_p_value: float  # one-way ANOVA of the per-seed differences across models; NaN if < 2
    consistent_size: bool | None  # None when the size cannot be tested
    missing: list[str]  # models (with runs) that lack comparable runs of one of the two
    verdict: str


_TIE = 1e-9  # |mean difference| at or below this is no difference (float round-off)


def _model_order(models: Iterable[str]) -> list[str]:
    """The fixed competition model first, the others by name."""
    return sorted(set(models), key=lambda name: (name != "fixed", name))


def compare_across_models(
    specs: Sequence[str],
    *,
    db_path: Path | None = None,
    test_name: str | None = None,
    epochs: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    cwd: Path | None = None,
) -> AcrossModels:
    """Compare variant B with A under every model both were scored with.

    A dataset is only really better if its gain carries over (issue 10): this runs the
    paired comparison of :func:`compare_variants` once per model and says whether the
    difference has the same sign under every model and, with at least two paired seeds per
    model, whether its size differs between models (one-way ANOVA of the per-seed
    differences, ``scipy.stats.f_oneway``). Each model uses the longest schedule both
    variants share under it (``epochs`` forces one), because slower models are often
    scored on a shorter schedule.

    Args:
        specs: exactly two variants (folder, name or hash prefix); the first is the baseline.
        db_path, test_name, alpha, power, cwd: as for :func:`compare_variants`.
        epochs: only runs of this many epochs (for every model).

    Raises:
        VariantError: not exactly two variants, or a spec names no variant.
        StoreError: no model has comparable runs of both.
    """
    if len(specs) != 2:
        raise VariantError(
            f"--across-models compares exactly two variants (received {len(specs)}): "
            "name the baseline, then the variant."
        )
    all_runs = load_runs(db_path, test_name=test_name)
    if epochs is not None:
        all_runs = [run for run in all_runs if run.epochs == epochs]
    if not all_runs:
        raise StoreError(
            f"{db_path or 'results database'}: no runs match"
            f"{_filters_text(test=test_name, epochs=epochs)}. Score both variants with "
            "`datacur evaluate --model M` first."
        )
    refs = resolve_variants(specs, all_runs, cwd=cwd)
    hashes = {ref.variant_hash for ref in refs}
    tests = {run.test_hash for run in all_runs if run.variant_hash in hashes}
    if len(tests) > 1 and test_name is None:
        raise StoreError(
            "The variants were scored on several test sets; choose one with --test NAME."
        )
    rows: list[ModelDifference] = []
    missing: list[str] = []
    test_label: str | None = test_name
    for model in _model_order(run.model for run in all_runs if run.variant_hash in hashes):
        schedules = [
            {run.epochs for run in all_runs if run.model == model and run.variant_hash == h}
            for h in (refs[0].variant_hash, refs[1].variant_hash)
        ]
        shared = schedules[0] & schedules[1]
        if not shared:
            missing.append(model)
            continue
        chosen = max(shared)
        comparison = compare_variants(
            [ref.variant_hash for ref in refs],
            db_path=db_path,
            test_name=test_name,
            epochs=chosen,
            model=model,
            alpha=alpha,
            power=power,
            cwd=cwd,
        )
        test_label = comparison.test_name
        base_stats, variant_stats = comparison.variants
        difference = comparison.differences[0]
        _, base_scores, other_scores = pair_scores(
            dict(zip(base_stats.seeds, base_stats.scores, strict=True)),
            dict(zip(variant_stats.seeds, variant_stats.scores, strict=True)),
        )
        timing = tuple(
            _mean(
                run.timings.get("per_epoch_s", math.nan)
                for run in all_runs
                if run.model == model and run.epochs == chosen and run.variant_hash == h
            )
            for h in (refs[0].variant_hash, refs[1].variant_hash)
        )
        rows.append(
            ModelDifference(
                model=model,
                epochs=chosen,
                baseline=base_stats,
                variant=variant_stats,
                difference=difference,
                deltas=tuple(float(x) for x in other_scores - base_scores),
                seconds_per_epoch=(timing[0], timing[1]),
            )
        )
    if not rows:
        raise StoreError(
            f"No model has runs of both {specs[0]} and {specs[1]} on one schedule. Score "
            "both with the same `datacur evaluate --model M --epochs N`."
        )
    base_name, variant_name = refs[0].variant, refs[1].variant
    # Means of equal scores can differ by float round-off (1e-17); that is no difference,
    # and must not count as a sign (a model at chance for both variants is a tie).
    tied = [row.model for row in rows if abs(row.difference.diff) <= _TIE]
    signs = {math.copysign(1.0, row.difference.diff) for row in rows if row.model not in tied}
    same_sign = not tied and len(signs) == 1
    testable = [row.deltas for row in rows if len(row.deltas) >= 2]
    size_p = math.nan
    consistent: bool | None = None
    if len(testable) >= 2 and len(testable) == len(rows):
        if all(np.ptp(deltas) == 0 for deltas in testable):
            size_p = 1.0 if len({deltas[0] for deltas in testable}) == 1 else 0.0
        else:
            size_p = float(stats.f_oneway(*testable).pvalue)
        consistent = not size_p < alpha

    def listed(row: ModelDifference) -> str:
        mark = "*" if row.difference.significant else ""
        return f"{row.model} {row.difference.diff:+.4f}{mark}"

    parts = ", ".join(listed(row) for row in rows)
    if len(rows) == 1:
        verdict = (
            f"Only model {rows[0].model} has runs of both ({parts}); score both under the "
            "other models to see whether the difference carries over."
        )
    elif len(tied) == len(rows):
        verdict = f"{variant_name} and {base_name} score the same under every model ({parts})"
    elif len(signs) == 1:
        direction = "better" if signs == {1.0} else "worse"
        others = [row.model for row in rows if row.model not in tied]
        where = (
            f"{', '.join(others)} and scores the same under {', '.join(tied)}"
            if tied
            else "every model"
        )
        verdict = f"{variant_name} is {direction} than {base_name} under {where} ({parts})"
    else:
        verdict = f"The sign of {variant_name} - {base_name} changes between models ({parts})"
    if len(rows) > 1:
        if consistent is None:
            verdict += (
                "; the size cannot be compared across models (needs at least 2 shared seeds "
                "under each model)."
            )
        elif consistent:
            verdict += (
                f"; the size does not differ detectably between models (ANOVA over per-seed "
                f"differences, p = {size_p:.3g})."
            )
        else:
            verdict += (
                f"; the size differs between models (ANOVA over per-seed differences, "
                f"p = {size_p:.3g})."
            )
    if any(not row.difference.significant for row in rows):
        verdict += " * marks the models where the difference is significant on its own."
    return AcrossModels(
        baseline=base_name,
        variant=variant_name,
        test_name=test_label,
        rows=rows,
        same_sign=same_sign,
        size_p_value=size_p,
        consistent_size=consistent,
        missing=missing,
        verdict=verdict,
    )
