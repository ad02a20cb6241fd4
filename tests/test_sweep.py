"""sweep: targets, recipe variation, resumable planning, local and Ray execution."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datacur.errors import ConfigError, EvaluationError, RecipeError, VariantError
from datacur.store import load_runs
from datacur.sweep import (
    SweepEvent,
    parse_vary,
    plan_pairs,
    prepare_targets,
    run_sweep,
    set_recipe_value,
)
from datacur.variant import compute_content_hash, list_variant_images
from tests._report_fakes import install_fake_evaluator

RECIPE = {
    "version": 1,
    "name": "combined",
    "inputs": [
        {"name": "starter", "kind": "variant", "path": "../datasets/dcai-2021"},
        {"name": "synth", "kind": "synth", "share": 0.1, "synth": {"source": "strokes"}},
    ],
}


@pytest.fixture
def fake_evaluator(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Training replaced by a fake that scores by variant size and seed; the calls logged."""
    return install_fake_evaluator(monkeypatch)


@pytest.fixture
def two_variants(
    tmp_path: Path, make_variant: Callable[..., Path], make_image_folder: Callable[..., Path]
) -> tuple[Path, Path, Path]:
    a = make_variant(tmp_path / "small", n_train=2, n_val=1)
    b = make_variant(tmp_path / "large", n_train=3, n_val=2, seed=3)
    test = make_image_folder(tmp_path / "dev-test", n=1, seed=9)
    return a, b, test


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("inputs.synth.share=0,0.1,0.4", ("inputs.synth.share", [0, 0.1, 0.4])),
        ("fill=true,false", ("fill", [True, False])),
        (
            "steps.0.augment.pipeline=a.yaml, b.yaml",
            ("steps.0.augment.pipeline", ["a.yaml", "b.yaml"]),
        ),
    ],
    ids=["floats", "bools", "strings"],
)
def test_parse_vary(text: str, expected: tuple[str, list[Any]]) -> None:
    assert parse_vary(text) == expected


@pytest.mark.parametrize("text", ["share", "=1,2", "share="], ids=["no-eq", "no-key", "no-values"])
def test_parse_vary_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_vary(text)


def test_set_recipe_value_by_input_name_and_alias() -> None:
    changed = set_recipe_value(RECIPE, "inputs.synth.share", 0.4, source="r.yaml")
    assert changed["inputs"][1]["share"] == 0.4
    assert RECIPE["inputs"][1]["share"] == 0.1  # the original is untouched
    alias = set_recipe_value(RECIPE, "sources.synth.share", 0.2, source="r.yaml")
    assert alias["inputs"][1]["share"] == 0.2
    assert set_recipe_value(RECIPE, "inputs.0.count", 5, source="r")["inputs"][0]["count"] == 5
    assert set_recipe_value(RECIPE, "seed", 7, source="r")["seed"] == 7


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("inputs.nope.share", "no item named 'nope'"),
        ("split.val_fraction", "key split not found"),
        ("name.x", "is a value"),
    ],
    ids=["unknown-input", "unknown-key", "through-a-value"],
)
def test_set_recipe_value_errors(key: str, match: str) -> None:
    with pytest.raises(RecipeError, match=match):
        set_recipe_value(RECIPE, key, 1, source="r.yaml")


def test_prepare_targets_from_folders(two_variants: tuple[Path, Path, Path]) -> None:
    a, b, _test = two_variants
    targets = prepare_targets([a, b])
    assert [t.name for t in targets] == ["small", "large"]
    assert targets[0].variant_hash == compute_content_hash(list_variant_images(a))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda root: root / "missing.yaml", ConfigError, "file not found"),
        (lambda root: root / "notes.txt", ConfigError, "not a variant folder or a recipe"),
        (lambda root: (root / "x").mkdir() or root / "x", VariantError, "not a dataset variant"),
    ],
    ids=["missing-recipe", "not-a-recipe", "not-a-variant"],
)
def test_prepare_targets_errors(
    tmp_path: Path, build: Callable[[Path], Path], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        prepare_targets([build(tmp_path)])


def test_vary_needs_recipes(two_variants: tuple[Path, Path, Path]) -> None:
    with pytest.raises(ConfigError, match="--vary changes recipes"):
        prepare_targets([two_variants[0]], vary=("inputs.synth.share", [0.1]))


def test_recipe_targets_use_the_cache(
    tmp_path: Path, make_variant: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    import datacur.sweep

    recipe = tmp_path / "recipes" / "combined.yaml"
    recipe.parent.mkdir()
    recipe.write_text(yaml.safe_dump(RECIPE))
    built: list[tuple[dict[str, Any], Path]] = []

    def build(path: Path, data: dict[str, Any], out_dir: Path, **_options: Any) -> None:
        built.append((data, out_dir))
        make_variant(out_dir, n_train=1 + len(built), n_val=1)
        write_test_manifest(out_dir)  # a real build writes one; the cache checks it

    monkeypatch.setattr(datacur.sweep, "_build_recipe", build)
    events: list[SweepEvent] = []
    vary = ("sources.synth.share", [0.1, 0.2])
    targets = prepare_targets(
        [recipe], vary=vary, cache_dir=tmp_path / "cache", on_event=events.append
    )
    assert [t.name for t in targets] == ["combined@share=0.1", "combined@share=0.2"]
    assert [t.value for t in targets] == [0.1, 0.2] and targets[0].axis == "sources.synth.share"
    assert [data["inputs"][1]["share"] for data, _ in built] == [0.1, 0.2]
    assert built[1][0]["name"] == "combined-share-0-2"
    assert [e.kind for e in events] == ["built", "built"]
    assert targets[0].variant_hash != targets[1].variant_hash
    # the same recipe content again: nothing is rebuilt
    events.clear()
    again = prepare_targets(
        [recipe], vary=vary, cache_dir=tmp_path / "cache", on_event=events.append
    )
    assert [e.kind for e in events] == ["cached", "cached"] and len(built) == 2
    assert [t.variant_hash for t in again] == [t.variant_hash for t in targets]


def write_test_manifest(variant: Path) -> None:
    from datacur.io import sha256_file
    from datacur.variant import ManifestRow, list_variant_images, write_manifest

    rows = []
    for image in list_variant_images(variant):
        rel = image.path.relative_to(variant).as_posix()
        digest = sha256_file(image.path)
        rows.append(
            ManifestRow(rel, image.split, image.label, "t", rel, "", "", "", digest, 32, 32)
        )
    write_manifest(variant, rows)


@pytest.mark.parametrize("damage", ["deleted", "changed", "added"])
def test_a_damaged_cached_variant_is_rebuilt(
    tmp_path: Path,
    make_variant: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    import yaml

    import datacur.sweep

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    builds: list[Path] = []

    def build(path: Path, data: dict[str, Any], out_dir: Path, **_options: Any) -> None:
        builds.append(out_dir)
        if out_dir.exists():
            import shutil

            shutil.rmtree(out_dir)
        make_variant(out_dir, n_train=2, n_val=1)
        write_test_manifest(out_dir)

    monkeypatch.setattr(datacur.sweep, "_build_recipe", build)
    events: list[SweepEvent] = []
    (target,) = prepare_targets([recipe], cache_dir=tmp_path / "cache", on_event=events.append)
    folder = Path(target.variant_dir)
    image = folder / "train/i/i_0.png"
    if damage == "deleted":
        image.unlink()
    elif damage == "changed":
        image.write_bytes(image.read_bytes()[:-20])
    else:
        (folder / "train/i/extra.png").write_bytes(image.read_bytes())
    events.clear()
    (again,) = prepare_targets([recipe], cache_dir=tmp_path / "cache", on_event=events.append)
    assert [e.kind for e in events] == ["built"] and len(builds) == 2
    assert again.variant_hash == target.variant_hash  # rebuilt to what it was
    events.clear()
    prepare_targets([recipe], cache_dir=tmp_path / "cache", on_event=events.append)
    assert [e.kind for e in events] == ["cached"]


def test_sweep_runs_every_pair_and_resumes(
    tmp_path: Path,
    two_variants: tuple[Path, Path, Path],
    fake_evaluator: list[dict[str, Any]],
) -> None:
    a, b, test = two_variants
    db = tmp_path / "r.db"
    targets = prepare_targets([a, b])
    events: list[SweepEvent] = []
    result = run_sweep(
        targets, [0, 1], epochs=2, test_dir=test, db_path=db, jobs=1, on_event=events.append
    )
    assert result.total == 4 and len(result.finished) == 4 and not result.skipped
    # seed-major order: every variant reaches seed 0 before any reaches seed 1
    assert [(c["variant_dir"].name, c["seed"]) for c in fake_evaluator] == [
        ("small", 0),
        ("large", 0),
        ("small", 1),
        ("large", 1),
    ]
    assert fake_evaluator[0]["variant_name"] == "small" and fake_evaluator[0]["epochs"] == 2
    assert [e.kind for e in events[:3]] == ["started", "epoch", "finished"]
    runs = load_runs(db)
    assert {(run.variant, run.seed) for run in runs} == {
        ("small", 0),
        ("small", 1),
        ("large", 0),
        ("large", 1),
    }
    assert runs[0].extra["sweep"]["variant_dir"] == str(a)

    # a re-run skips what is stored; a new seed runs only the new pairs
    fake_evaluator.clear()
    events.clear()
    again = run_sweep(
        targets, [0, 1, 2], epochs=2, test_dir=test, db_path=db, jobs=1, on_event=events.append
    )
    assert len(again.skipped) == 4 and len(again.finished) == 2
    assert [c["seed"] for c in fake_evaluator] == [2, 2]
    assert events[0].kind == "skipped" and events[0].score is not None
    # another schedule or test set is another pair
    todo, _done = plan_pairs(targets, [0], db_path=db, epochs=3, test_hash=None)
    assert todo == [(0, 0), (1, 0)]


def test_sweep_records_failures_and_goes_on(
    tmp_path: Path,
    make_variant: Callable[..., Path],
    fake_evaluator: list[dict[str, Any]],
) -> None:
    broken = make_variant(tmp_path / "broken", n_train=1, n_val=1)
    fine = make_variant(tmp_path / "fine", n_train=2, n_val=1)
    result = run_sweep(
        prepare_targets([broken, fine]), [0], epochs=1, db_path=tmp_path / "r.db", jobs=1
    )
    assert [(i, s) for i, s, _m in result.failed] == [(0, 0)]
    assert "fake failure" in result.failed[0][2]
    assert [(i, s) for i, s, _id in result.finished] == [(1, 0)]


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"epochs": 0}, "epochs must be"), ({"seeds": []}, "at least one seed")]
)
def test_sweep_bad_arguments(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], kwargs: dict[str, Any], match: str
) -> None:
    options: dict[str, Any] = {"seeds": [0], "epochs": 1, **kwargs}
    seeds = options.pop("seeds")
    with pytest.raises(EvaluationError, match=match):
        run_sweep(prepare_targets([two_variants[0]]), seeds, db_path=tmp_path / "r.db", **options)


def test_ray_missing_names_the_extra(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(EvaluationError, match=r"pip install 'datacur\[ray\]'"):
        run_sweep(
            prepare_targets([two_variants[0]]), [0], epochs=1, db_path=tmp_path / "r.db", ray=True
        )


@pytest.mark.slow
def test_local_worker_processes_train_for_real(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    a, _b, test = two_variants
    db = tmp_path / "r.db"
    targets = prepare_targets([a])
    events: list[SweepEvent] = []
    result = run_sweep(
        targets, [0, 1], epochs=1, test_dir=test, db_path=db, jobs=2, jit_compile=False,
        model="small-cnn", on_event=events.append,
    )  # fmt: skip
    assert len(result.finished) == 2 and not result.failed
    assert {e.kind for e in events} >= {"started", "epoch", "finished"}
    runs = load_runs(db)
    assert {run.seed for run in runs} == {0, 1}
    assert all(run.variant_hash == targets[0].variant_hash for run in runs)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray not installed (pip install 'datacur[ray]')"
)
def test_ray_local_cluster_trains_and_resumes(
    tmp_path: Path, two_variants: tuple[Path, Path, Path]
) -> None:
    a, _b, test = two_variants
    db = tmp_path / "r.db"
    targets = prepare_targets([a])
    events: list[SweepEvent] = []
    result = run_sweep(
        targets, [0, 1], epochs=1, test_dir=test, db_path=db, jobs=2, ray=True,
        jit_compile=False, model="small-cnn", on_event=events.append,
    )  # fmt: skip
    assert len(result.finished) == 2 and not result.failed
    assert {e.kind for e in events} == {"started", "epoch", "finished"}  # epochs via a Ray queue
    runs = load_runs(db)
    # the tasks trained on unpacked copies: same content hash, predictions point at our test set
    assert all(run.variant_hash == targets[0].variant_hash for run in runs)
    assert all(run.variant == "small" and run.test_name == "dev-test" for run in runs)
    assert all(Path(path).is_file() for run in runs for path, _t, _p in run.predictions)
    again = run_sweep(
        targets, [0, 1], epochs=1, test_dir=test, db_path=db, ray=True, model="small-cnn"
    )
    assert len(again.skipped) == 2 and not again.finished


def test_recipes_are_built_with_mix(
    tmp_path: Path, make_variant: Callable[..., Path], fake_evaluator: list[dict[str, Any]]
) -> None:
    import yaml

    pytest.importorskip("datacur.mix", reason="datacur.mix (issue: mix recipes) not in the tree")
    make_variant(tmp_path / "datasets" / "base", n_train=6, n_val=3)
    recipe = tmp_path / "recipes" / "tiny.yaml"
    recipe.parent.mkdir()
    recipe.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "tiny",
                "seed": 0,
                "inputs": [{"name": "base", "kind": "variant", "path": "../datasets/base"}],
            }
        )
    )
    cache = tmp_path / "cache"
    with pytest.raises(RecipeError, match=r"tiny.yaml \(as varied: tiny@per_class=1\): the plan"):
        prepare_targets([recipe], vary=parse_vary("inputs.base.per_class=1"), cache_dir=cache)
    vary = parse_vary("inputs.base.per_class=8,9")
    targets = prepare_targets([recipe], vary=vary, cache_dir=cache)
    assert [t.name for t in targets] == ["tiny@per_class=8", "tiny@per_class=9"]
    sizes = [len(list_variant_images(t.variant_dir)) for t in targets]
    assert sizes[0] < sizes[1]
    assert (targets[0].variant_dir / "recipe.yaml").is_file()
    assert targets[0].variant_dir.parent == cache
    result = run_sweep(targets, [0], epochs=1, db_path=tmp_path / "r.db", jobs=1)
    assert len(result.finished) == 2
    assert load_runs(tmp_path / "r.db")[0].extra["sweep"]["axis"] == "inputs.base.per_class"
    # rebuild=True replaces the cached folders with identical content
    rebuilt = prepare_targets([recipe], vary=vary, cache_dir=cache, rebuild=True)
    assert [t.variant_hash for t in rebuilt] == [t.variant_hash for t in targets]


@pytest.mark.slow
def test_one_training_per_pair_scores_every_test_set_and_resumes(
    tmp_path: Path, two_variants: tuple[Path, Path, Path], make_image_folder
) -> None:
    """Issue 20: several --test folders, one training; the pair is done once all are stored."""
    a, _b, test = two_variants
    shift = make_image_folder(tmp_path / "shift-blur", n=1, seed=11)
    db = tmp_path / "r.db"
    targets = prepare_targets([a])
    first = run_sweep(
        targets, [0], epochs=1, test_dir=[test, shift], db_path=db, jobs=1, model="small-cnn"
    )
    assert len(first.finished) == 1 and first.test_name == "dev-test"
    runs = load_runs(db)
    assert [(run.id, run.test_name) for run in runs] == [(1, "dev-test"), (1, "shift-blur")]
    again = run_sweep(
        targets, [0], epochs=1, test_dir=[test, shift], db_path=db, jobs=1, model="small-cnn"
    )
    assert again.skipped == [(0, 0)] and not again.finished
