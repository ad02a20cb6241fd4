"""screen: successive halving over sweep targets (rungs, cuts, resumption, replay)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datacur.errors import ConfigError
from datacur.screen import (
    Rung,
    cut_rung,
    parse_rungs,
    plan_rungs,
    rank_score,
    replay_screen,
    resolve_rank_by,
    run_screen,
)
from datacur.store import load_runs, save_run
from datacur.sweep import prepare_targets
from tests._report_fakes import fake_run

# Test accuracy per (variant, epochs); seed s adds s/1000. b leads at 10 epochs, c overtakes
# at 20, a and d trail from the start.
SCORES = {
    ("a", 10): 0.60, ("b", 10): 0.70, ("c", 10): 0.65, ("d", 10): 0.50,
    ("a", 20): 0.62, ("b", 20): 0.75, ("c", 20): 0.80, ("d", 20): 0.55,
    ("a", 40): 0.90, ("b", 40): 0.85, ("c", 40): 0.88, ("d", 40): 0.60,
}  # fmt: skip
RUNGS = [Rung(10, (0,)), Rung(20, (0,)), Rung(40, (0, 1))]


@pytest.fixture
def scored_evaluator(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Training replaced by a lookup in SCORES; returns the (variant, epochs, seed) calls."""
    import datacur.evaluate
    from datacur.variant import compute_content_hash, list_folder_images, list_variant_images

    calls: list[tuple[str, int, int]] = []

    def evaluate_variant(variant_dir: Path, *, seed: int = 0, **options: Any) -> Any:
        name, epochs = options["variant_name"], options["epochs"]
        calls.append((name, epochs, seed))
        test_dir = options.get("test_dir")
        return fake_run(
            name,
            seed,
            SCORES[(name, epochs)] + seed / 1000,
            variant_hash=compute_content_hash(list_variant_images(variant_dir)),
            epochs=epochs,
            test_name=Path(test_dir).name if test_dir else None,
            test_hash=compute_content_hash(list_folder_images(test_dir)) if test_dir else None,
            timings={"train_s": epochs * 2.0, "total_s": epochs * 2.0 + 1.0},
        )

    monkeypatch.setattr(datacur.evaluate, "evaluate_variant", evaluate_variant)
    return calls


@pytest.fixture
def four_targets(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder: Callable[..., Path]
) -> tuple[list[Any], Path]:
    folders = [
        make_variant(tmp_path / name, n_train=1, n_val=1, seed=k) for k, name in enumerate("abcd")
    ]
    test = make_image_folder(tmp_path / "dev-test", n=1, seed=9)
    return prepare_targets(folders), test


def test_parse_and_plan_rungs() -> None:
    assert parse_rungs("20, 40") == (20, 40) and parse_rungs("") == ()
    rungs = plan_rungs((20, 40), epochs=100, seeds=[0, 1, 2])
    assert rungs == [Rung(20, (0,)), Rung(40, (0,)), Rung(100, (0, 1, 2))]
    assert plan_rungs((), epochs=5, seeds=[3], screen_seeds=1) == [Rung(5, (3,))]
    assert plan_rungs((10,), epochs=20, seeds=[0, 1], screen_seeds=2)[0].seeds == (0, 1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: parse_rungs("20,x"), "positive integers"),
        (lambda: plan_rungs((40, 20), epochs=100), "increasing and below --epochs"),
        (lambda: plan_rungs((20, 100), epochs=100), "increasing and below --epochs"),
        (lambda: plan_rungs((20,), epochs=100, seeds=[0], screen_seeds=2), "--screen-seeds"),
        (lambda: cut_rung({"a": 1.0}, eta=1), "--eta must be >= 2"),
    ],
    ids=["not-int", "decreasing", "not-below-full", "screen-seeds", "eta"],
)
def test_rung_errors(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_cut_keeps_the_best_share_and_ties() -> None:
    kept, dropped = cut_rung({"a": 0.6, "b": 0.7, "c": 0.65, "d": 0.5}, eta=2)
    assert kept == ["b", "c"] and set(dropped) == {"a", "d"}
    assert dropped["a"] == "rank 3 of 4: 0.6000 < cut 0.6500 (keep 2)"
    # a tie with the last kept one is not a reason to drop
    kept, dropped = cut_rung({"a": 0.7, "b": 0.7, "c": 0.5}, eta=3)
    assert kept == ["a", "b"] and list(dropped) == ["c"]


def test_screen_drops_by_rung_and_resumes(
    tmp_path: Path,
    four_targets: tuple[list[Any], Path],
    scored_evaluator: list[tuple[str, int, int]],
) -> None:
    targets, test = four_targets
    db = tmp_path / "r.db"
    seen: list[tuple[int, list[str]]] = []
    result = run_screen(
        targets, RUNGS, eta=2, test_dir=test, db_path=db, jobs=1,
        on_rung=lambda r, _rung, names: seen.append((r, names)),
    )  # fmt: skip
    # 4 at 10 epochs -> the best 2 (b, c) at 20 -> the best 1 (c) at 40 under both seeds
    assert seen == [(0, ["a", "b", "c", "d"]), (1, ["b", "c"]), (2, ["c"])]
    assert scored_evaluator == [
        ("a", 10, 0), ("b", 10, 0), ("c", 10, 0), ("d", 10, 0),
        ("b", 20, 0), ("c", 20, 0), ("c", 40, 0), ("c", 40, 1),
    ]  # fmt: skip
    rows = {row.name: row for row in result.rows}
    assert (rows["a"].dropped_at, rows["d"].dropped_at, rows["b"].dropped_at) == (0, 0, 1)
    assert rows["a"].reason == "rank 3 of 4: 0.6000 < cut 0.6500 (keep 2) at 10 epochs"
    assert rows["b"].reason.startswith("rank 2 of 2: 0.7500 < cut 0.8000")
    assert rows["c"].finalist and rows["c"].reason == "finalist"
    assert rows["c"].scores == [0.65, 0.80, pytest.approx(0.8805)]
    assert rows["c"].seeds == [1, 1, 2]
    assert rows["b"].scores == [0.70, 0.75, None]
    assert result.winner == "c" and result.test_name == "dev-test"
    # cost: the recorded total_s of the 8 runs (2 s an epoch + 1 s each)
    assert result.cpu_s == pytest.approx(4 * 21 + 2 * 41 + 2 * 81)
    # every rung's runs are ordinary stored runs
    assert sorted((r.variant, r.epochs, r.seed) for r in load_runs(db)) == sorted(scored_evaluator)

    # the same screen again trains nothing and decides the same
    scored_evaluator.clear()
    again = run_screen(targets, RUNGS, eta=2, test_dir=test, db_path=db, jobs=1)
    assert scored_evaluator == []
    assert [(r.name, r.dropped_at, r.reason) for r in again.rows] == [
        (r.name, r.dropped_at, r.reason) for r in result.rows
    ]


def test_screen_interrupted_after_the_first_rung_trains_only_the_rest(
    tmp_path: Path,
    four_targets: tuple[list[Any], Path],
    scored_evaluator: list[tuple[str, int, int]],
) -> None:
    targets, test = four_targets
    db = tmp_path / "r.db"
    run_screen(targets, RUNGS[:1], eta=2, test_dir=test, db_path=db, jobs=1)
    scored_evaluator.clear()
    result = run_screen(targets, RUNGS, eta=2, test_dir=test, db_path=db, jobs=1)
    assert scored_evaluator == [("b", 20, 0), ("c", 20, 0), ("c", 40, 0), ("c", 40, 1)]
    assert result.winner == "c"
    assert len(result.sweeps[0].skipped) == 4 and not result.sweeps[0].finished


def test_screen_with_eta_3_keeps_a_third(
    tmp_path: Path,
    four_targets: tuple[list[Any], Path],
    scored_evaluator: list[tuple[str, int, int]],
) -> None:
    targets, test = four_targets
    rungs = [Rung(20, (0,)), Rung(40, (0,))]
    result = run_screen(targets, rungs, eta=3, test_dir=test, db_path=tmp_path / "r.db", jobs=1)
    # ceil(4 / 3) = 2 go on: c (0.80) and b (0.75). a, which would win at 40 epochs, was
    # dropped at 20: the short-schedule miss that `datacur fidelity` measures.
    assert [row.name for row in result.finalists] == ["c", "b"]
    assert {row.name: row.dropped_at for row in result.rows}["a"] == 0
    assert result.winner == "c"


def test_replay_screen_on_stored_runs(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    for (name, epochs), score in SCORES.items():
        for seed in (0, 1):
            save_run(
                fake_run(name, seed, score + seed / 1000, epochs=epochs,
                         timings={"total_s": float(epochs)}),
                db,
            )  # fmt: skip
    runs = load_runs(db)
    replay = replay_screen(runs, list("abcd"), RUNGS, eta=2)
    assert replay.winner == "c" and replay.test_name == "dev-test"
    assert [r.dropped_at for r in replay.rows] == [0, 1, None, 0]
    assert replay.cpu_s == 4 * 10 + 2 * 20 + 2 * 40
    # a variant missing a run a rung needs stops there, saying so
    partial = [run for run in runs if not (run.variant == "c" and run.epochs == 40)]
    replay = replay_screen(partial, list("abcd"), RUNGS, eta=2)
    row = next(r for r in replay.rows if r.name == "c")
    assert row.dropped_at == 2 and "no run at 40 epochs for seed(s) 0, 1" in row.reason
    assert replay.winner is None


def test_rank_by_defaults_to_the_shift_mean_and_checks_names() -> None:
    assert resolve_rank_by(["dev-test", "shift-thin", "shift-small"]) == "shift-mean"
    assert resolve_rank_by(["dev-test", "label-book"]) == "dev-test"
    assert resolve_rank_by([]) is None
    assert resolve_rank_by(["dev-test", "shift-thin"], "dev-test") == "dev-test"
    with pytest.raises(ConfigError, match="needs at least one --test folder named shift-"):
        resolve_rank_by(["dev-test"], "shift-mean")
    with pytest.raises(ConfigError, match=r"--rank-by label-book: no --test folder .*dev-test"):
        resolve_rank_by(["dev-test"], "label-book")
    # a training without every shift set scored has no shift mean (it would not compare)
    shift = ["shift-a", "shift-b"]
    assert rank_score({"shift-a": 0.5, "shift-b": 0.7}, "shift-mean", shift) == pytest.approx(0.6)
    assert rank_score({"shift-a": 0.5}, "shift-mean", shift) is None
    assert rank_score({"dev-test": 0.9}, "dev-test", shift) == 0.9


@pytest.fixture
def shift_evaluator(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Like scored_evaluator, with every test set scored: dev-test as SCORES, the shift-*
    sets reversed (1 - score), so ranking on the shift mean picks a different winner."""
    import datacur.evaluate
    from datacur.evaluate import TestScore
    from datacur.labels import CLASSES
    from datacur.variant import compute_content_hash, list_folder_images, list_variant_images

    calls: list[tuple[str, int, int]] = []

    def evaluate_variant(variant_dir: Path, *, seed: int = 0, **options: Any) -> Any:
        name, epochs = options["variant_name"], options["epochs"]
        calls.append((name, epochs, seed))
        base = SCORES[(name, epochs)] + seed / 1000
        scores = []
        for folder in options["test_dir"]:
            accuracy = base if folder.name == "dev-test" else round(1 - base, 6)
            scores.append(TestScore(
                test_name=folder.name,
                test_hash=compute_content_hash(list_folder_images(folder)),
                test_accuracy=accuracy, test_loss=1.0, scored_on="test",
                per_class_accuracy={label: accuracy for label in CLASSES},
                confusion=[[0] * 10 for _ in range(10)], predictions=[], n_images=1,
                twins_exact=0, twins_near=0,
            ))  # fmt: skip
        first = scores[0]
        return fake_run(
            name, seed, first.test_accuracy, epochs=epochs,
            variant_hash=compute_content_hash(list_variant_images(variant_dir)),
            test_name=first.test_name, test_hash=first.test_hash, scores=scores,
            timings={"train_s": epochs * 2.0, "total_s": epochs * 2.0 + 1.0},
        )  # fmt: skip

    monkeypatch.setattr(datacur.evaluate, "evaluate_variant", evaluate_variant)
    return calls


def test_screen_ranks_on_the_shift_mean_when_shift_sets_are_scored(
    tmp_path: Path,
    four_targets: tuple[list[Any], Path],
    make_image_folder: Callable[..., Path],
    shift_evaluator: list[tuple[str, int, int]],
) -> None:
    targets, dev_test = four_targets
    tests = [
        dev_test,
        make_image_folder(tmp_path / "shift-a", n=1, seed=10),
        make_image_folder(tmp_path / "shift-b", n=1, seed=11),
    ]
    db = tmp_path / "r.db"
    # shift mean = 1 - dev-test: d (0.50) and a (0.40) lead at 10 epochs, d at 20 (0.45)
    result = run_screen(targets, RUNGS, eta=2, test_dir=tests, db_path=db, jobs=1)
    assert result.test_name == "shift-mean" and result.winner == "d"
    rows = {row.name: row for row in result.rows}
    assert rows["d"].scores[:2] == [pytest.approx(0.50), pytest.approx(0.45)]
    assert rows["c"].dropped_at == 0 and "at 10 epochs" in rows["c"].reason
    # every test set of every training is stored; ranking on dev-test reuses them all and
    # picks dev-test's winner without training anything new for the shared rungs
    assert {run.test_name for run in load_runs(db)} == {"dev-test", "shift-a", "shift-b"}
    shift_evaluator.clear()
    on_dev = run_screen(
        targets, RUNGS, eta=2, test_dir=tests, db_path=db, jobs=1, rank_by="dev-test"
    )
    assert on_dev.winner == "c" and on_dev.test_name == "dev-test"
    assert ("a", 10, 0) not in shift_evaluator  # the first rung was stored already
    # the replay from the stored rows decides as the live screen did
    replay = replay_screen(load_runs(db), list("abcd"), RUNGS[:2], eta=2)
    assert replay.test_name == "shift-mean"
    assert [row.name for row in replay.finalists] == ["d", "a"] and replay.winner == "d"
    with pytest.raises(ConfigError, match="--rank-by label-book"):
        run_screen(targets, RUNGS, test_dir=tests, db_path=db, jobs=1, rank_by="label-book")


@pytest.mark.slow
def test_screen_trains_for_real(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder: Callable[..., Path]
) -> None:
    folders = [
        make_variant(tmp_path / name, n_train=n, n_val=1, seed=n)
        for name, n in (("one", 1), ("two", 2))
    ]
    test = make_image_folder(tmp_path / "dev-test", n=1, seed=9)
    db = tmp_path / "r.db"
    rungs = [Rung(1, (0,)), Rung(2, (0,))]
    result = run_screen(
        prepare_targets(folders), rungs, eta=2, test_dir=test, db_path=db, jobs=1,
        model="small-cnn",
    )  # fmt: skip
    runs = load_runs(db)
    # both at 1 epoch; at 2 epochs the better one, or both when tied (tiny data often ties)
    finalists = {row.name for row in result.finalists}
    assert sorted((run.variant, run.epochs) for run in runs) == sorted(
        [("one", 1), ("two", 1), *((name, 2) for name in finalists)]
    )
    scores = {row.name: row.scores[0] for row in result.rows}
    assert finalists == {name for name, score in scores.items() if score == max(scores.values())}
    # the cost of a screen is the recorded time of the real runs it used
    assert result.cpu_s == pytest.approx(sum(run.timings["total_s"] for run in runs))
    assert result.cpu_s > 0
