"""compare: statistics over seeds, paired tests, power estimate, naming variants."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from scipy import stats

from datacur.compare import (
    MAX_SEEDS_ESTIMATE,
    assess_difference,
    compare_across_models,
    compare_variants,
    estimate_seeds_needed,
    resolve_variants,
    summarize_scores,
)
from datacur.errors import StoreError, VariantError
from datacur.evaluate import RunResult
from datacur.store import load_runs, save_run
from datacur.variant import compute_content_hash, list_variant_images
from tests._report_fakes import fake_run, store_runs


def test_summarize_scores_matches_scipy_interval() -> None:
    scores = [0.70, 0.73, 0.71, 0.76]
    mean, sd, low, high = summarize_scores(scores)
    expected = stats.t.interval(0.95, 3, loc=mean, scale=stats.sem(scores))
    assert mean == pytest.approx(0.725)
    assert sd == pytest.approx(stats.tstd(scores))
    assert (low, high) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "finite_sd"), [([], False), ([0.5], False), ([0.5, 0.6], True)], ids=str
)
def test_summarize_scores_few_seeds(scores: list[float], finite_sd: bool) -> None:
    mean, sd, low, high = summarize_scores(scores)
    assert math.isfinite(sd) == finite_sd == math.isfinite(low) == math.isfinite(high)
    assert math.isfinite(mean) == bool(scores)


def test_seeds_needed_normal_formula_and_exact_power() -> None:
    # normal approximation: ((1.96 + 0.8416) * 1)^2 = 7.85 -> 8; the t-test needs 10
    assert estimate_seeds_needed(0.01, 0.01) == 10
    assert estimate_seeds_needed(-0.01, 0.01) == 10
    assert estimate_seeds_needed(0.01, 0.01, paired=False) == 16
    assert estimate_seeds_needed(0.0, 0.01) is None
    assert estimate_seeds_needed(0.01, 0.0) is None
    assert estimate_seeds_needed(1e-6, 0.05) == MAX_SEEDS_ESTIMATE + 1
    # a large effect still needs at least 2 seeds for a paired test
    assert estimate_seeds_needed(0.5, 0.01) >= 2


def test_paired_difference_significant() -> None:
    base = {0: 0.70, 1: 0.72, 2: 0.68, 3: 0.71, 4: 0.69, 5: 0.73}
    better = {seed: score + 0.03 + 0.002 * (seed % 2) for seed, score in base.items()}
    result = assess_difference(base, better, variant="clean", baseline="raw")
    assert result.method == "paired t" and result.n == 6
    assert result.significant and result.diff == pytest.approx(0.031)
    assert result.p_value == pytest.approx(
        stats.ttest_rel(list(better.values()), list(base.values())).pvalue
    )
    assert result.wilcoxon_p is not None
    assert result.verdict.startswith("clean is better than raw by +0.0310")


def test_paired_difference_inconclusive_says_how_many_seeds() -> None:
    base = {0: 0.70, 1: 0.75, 2: 0.66}
    other = {0: 0.71, 1: 0.74, 2: 0.69}
    result = assess_difference(base, other, variant="B", baseline="A")
    assert not result.significant
    assert result.ci_low < 0 < result.ci_high
    assert result.seeds_needed is not None and result.seeds_needed > 3
    assert "Cannot tell B from A" in result.verdict
    assert f"about {result.seeds_needed} seeds per variant" in result.verdict
    assert f"({result.seeds_needed - 3} more)" in result.verdict


def test_identical_differences_do_not_warn() -> None:
    base = {0: 0.5, 1: 0.6}
    same = assess_difference(base, dict(base))
    assert same.p_value == 1.0 and not same.significant and "no difference" in same.verdict
    shifted = assess_difference(base, {0: 0.55, 1: 0.65})
    assert shifted.p_value == 0.0 and shifted.significant


def test_no_shared_seeds_falls_back_to_welch() -> None:
    base = {0: 0.70, 1: 0.71, 2: 0.69}
    other = {10: 0.80, 11: 0.81, 12: 0.79}
    result = assess_difference(base, other)
    assert result.method == "Welch t" and result.significant
    assert result.p_value == pytest.approx(
        stats.ttest_ind(list(other.values()), list(base.values()), equal_var=False).pvalue
    )
    assert "unpaired" in result.verdict


def test_too_few_runs_says_so() -> None:
    result = assess_difference({0: 0.7}, {0: 0.8})
    assert result.method == "none" and not result.significant
    assert "at least 2" in result.verdict


def test_compare_variants_from_store(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.70, 1: 0.72, 2: 0.68})
    store_runs(db, "clean", {0: 0.78, 1: 0.80, 2: 0.77})
    store_runs(db, "noisy", {0: 0.71, 1: 0.70, 2: 0.70, 3: 0.69})
    comparison = compare_variants(["raw", "clean", "noisy"], db_path=db)
    assert [v.variant for v in comparison.variants] == ["raw", "clean", "noisy"]
    assert comparison.scored_on == "dev-test" and comparison.epochs == 3
    raw, _clean, noisy = comparison.variants
    assert raw.n == 3 and raw.mean == pytest.approx(0.70)
    assert noisy.seeds == (0, 1, 2, 3)
    assert raw.per_class["iv"] == pytest.approx(0.70)
    diff_clean, diff_noisy = comparison.differences
    assert diff_clean.significant and diff_clean.diff == pytest.approx(0.0833, abs=1e-4)
    assert diff_noisy.shared_seeds == (0, 1, 2)
    assert diff_clean.per_class["x"] == pytest.approx(0.0833, abs=1e-4)
    # fake runs carry no twin counts: said once, for all three (issue 27 leakage guard)
    (note,) = comparison.notes
    assert "never counted for raw, clean, noisy" in note


def test_repeated_seed_is_averaged(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.70, 1: 0.72})
    save_run(fake_run("raw", 1, 0.74), db)
    comparison = compare_variants(["raw"], db_path=db)
    assert comparison.variants[0].scores == pytest.approx((0.70, 0.73))


def test_resolve_by_folder_name_and_hash_prefix(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    folder = make_variant(tmp_path / "v1")
    folder_hash = compute_content_hash(list_variant_images(folder))
    db = tmp_path / "r.db"
    store_runs(db, "v1-renamed", {0: 0.6, 1: 0.62}, variant_hash=folder_hash)
    store_runs(db, "other", {0: 0.5, 1: 0.52})
    runs = load_runs(db)
    other_hash = next(run.variant_hash for run in runs if run.variant == "other")
    refs = resolve_variants([str(folder), "other", other_hash[:8]], runs)
    assert [ref.variant_hash for ref in refs] == [folder_hash, other_hash, other_hash]
    assert refs[0].variant == "v1-renamed"
    # relative path resolved against cwd
    refs = resolve_variants(["v1"], runs, cwd=tmp_path)
    assert refs[0].variant_hash == folder_hash


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nope", "not a variant folder"), ("ab", "not a variant folder")],
    ids=["unknown-name", "prefix-too-short"],
)
def test_resolve_errors(tmp_path: Path, spec: str, message: str) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.7})
    with pytest.raises(VariantError, match=message):
        resolve_variants([spec], load_runs(db), cwd=tmp_path)


def test_name_with_two_contents_is_ambiguous(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.7})
    store_runs(db, "raw", {0: 0.7}, variant_hash="f" * 64)
    with pytest.raises(VariantError, match="2 different contents"):
        compare_variants(["raw"], db_path=db)


def test_context_must_be_shared(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.7, 1: 0.71})
    store_runs(db, "long", {0: 0.8, 1: 0.81}, epochs=10)
    with pytest.raises(StoreError, match="never scored under the same"):
        compare_variants(["raw", "long"], db_path=db)
    store_runs(db, "raw", {0: 0.75, 1: 0.76}, epochs=10)
    # the only schedule both have is chosen without asking
    assert compare_variants(["raw", "long"], db_path=db).epochs == 10
    store_runs(db, "long", {0: 0.7, 1: 0.7})
    with pytest.raises(StoreError, match="--epochs"):
        compare_variants(["raw", "long"], db_path=db)
    comparison = compare_variants(["raw", "long"], db_path=db, epochs=10)
    assert comparison.variants[0].mean == pytest.approx(0.755)


def test_val_only_runs_carry_a_note(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    run: RunResult = fake_run("raw", 0, None, test_name=None, test_hash=None, scored_on="val")
    save_run(run, db)
    comparison = compare_variants(["raw"], db_path=db)
    assert comparison.scored_on == "val"
    assert any("optimistic" in note for note in comparison.notes)
    assert any("single seed" in note for note in comparison.notes)


def test_empty_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no runs match"):
        compare_variants(["raw"], db_path=tmp_path / "r.db")


def test_seeds_needed_reaches_the_power_in_simulation() -> None:
    """Simulate paired t-tests at the estimated n: about 80% detect the effect, fewer at n-2."""
    import numpy as np

    diff, sd = 0.01, 0.015
    n = estimate_seeds_needed(diff, sd)
    assert n is not None
    rng = np.random.default_rng(0)

    def detected(size: int) -> float:
        deltas = rng.normal(diff, sd, size=(4000, size))
        p = stats.ttest_1samp(deltas, 0.0, axis=1).pvalue
        return float(np.mean(p < 0.05))

    assert detected(n) == pytest.approx(0.8, abs=0.03)
    assert detected(n - 2) < 0.78


def test_across_models_same_sign_and_size(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for model, gain, epochs in (("fixed", 0.08, 3), ("small-cnn", 0.07, 3), ("resnet50", 0.09, 2)):
        store_runs(db, "raw", {0: 0.60, 1: 0.62, 2: 0.61}, model=model, epochs=epochs)
        scores = {0: 0.60 + gain, 1: 0.62 + gain + 0.01, 2: 0.61 + gain - 0.005}
        store_runs(db, "best", scores, model=model, epochs=epochs)
    # a shorter schedule of the fixed model is ignored in favour of the longest shared one
    store_runs(db, "raw", {0: 0.4, 1: 0.41}, epochs=1)
    store_runs(db, "best", {0: 0.3, 1: 0.31}, epochs=1)
    result = compare_across_models(["raw", "best"], db_path=db)
    assert [row.model for row in result.rows] == ["fixed", "resnet50", "small-cnn"]
    assert [row.epochs for row in result.rows] == [3, 2, 3]
    assert result.rows[0].difference.diff == pytest.approx(0.0817, abs=1e-4)
    assert result.rows[0].deltas == pytest.approx((0.08, 0.09, 0.075))
    assert result.rows[0].seconds_per_epoch == (1.0, 1.0)  # the fakes' timings
    assert result.same_sign and result.consistent_size
    expected_p = stats.f_oneway(*(row.deltas for row in result.rows)).pvalue
    assert result.size_p_value == pytest.approx(expected_p)
    assert result.verdict.startswith("best is better than raw under every model")
    assert "does not differ detectably" in result.verdict


def test_across_models_sign_change_and_missing_model(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.60, 1: 0.62}, model="fixed")
    store_runs(db, "best", {0: 0.70, 1: 0.73}, model="fixed")
    store_runs(db, "raw", {0: 0.60, 1: 0.62}, model="small-cnn")
    store_runs(db, "best", {0: 0.50, 1: 0.51}, model="small-cnn")
    store_runs(db, "raw", {0: 0.3, 1: 0.31}, model="resnet50")  # best never scored there
    result = compare_across_models(["raw", "best"], db_path=db)
    assert not result.same_sign and result.consistent_size is False
    assert result.missing == ["resnet50"]
    assert "changes between models" in result.verdict
    assert "fixed +0.1050" in result.verdict and "small-cnn -0.1050" in result.verdict


def test_across_models_round_off_is_no_difference(tmp_path: Path) -> None:
    """Both variants at chance under a model is a tie, not a sign (found on real runs)."""
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.60, 1: 0.62}, model="fixed")
    store_runs(db, "best", {0: 0.70, 1: 0.73}, model="fixed")
    # 0.1 + 0.2 and 0.3 differ by round-off only: the means differ by ~1e-17
    store_runs(db, "raw", {0: 0.1 + 0.2, 1: 0.153}, model="resnet50")
    store_runs(db, "best", {0: 0.3, 1: 0.153}, model="resnet50")
    result = compare_across_models(["raw", "best"], db_path=db)
    assert result.rows[1].difference.diff != 0  # the round-off is really there
    assert not result.same_sign
    assert result.verdict.startswith(
        "best is better than raw under fixed and scores the same under resnet50"
    )
    tied_db = tmp_path / "tied.db"
    for model in ("fixed", "small-cnn"):
        for variant in ("raw", "best"):
            store_runs(tied_db, variant, {0: 0.60, 1: 0.62}, model=model)
    tie_everywhere = compare_across_models(["raw", "best"], db_path=tied_db)
    assert tie_everywhere.verdict.startswith("best and raw score the same under every model")


def test_across_models_needs_two_variants_with_shared_runs(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_runs(db, "raw", {0: 0.6, 1: 0.61})
    store_runs(db, "best", {0: 0.7, 1: 0.71}, model="small-cnn")
    with pytest.raises(VariantError, match="exactly two"):
        compare_across_models(["raw"], db_path=db)
    with pytest.raises(StoreError, match="same `datacur evaluate --model M"):
        compare_across_models(["raw", "best"], db_path=db)
