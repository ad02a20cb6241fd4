"""Sweeps: evaluate many variants (built from recipes, or given as folders) under many seeds.

Every (variant, seed) pair is one ordinary run of the fixed model, written to the shared
results database as soon as it finishes, so a sweep is resumable: pairs already in the
database (same variant content, seed, epochs, test set content and model) are skipped.

Pairs run in local worker processes (one training per core, TensorFlow pinned to
``cores // jobs`` threads) or, with ``ray=True``, as Ray tasks of one CPU each.

Running on a real Ray cluster
-----------------------------
1. Install the same datacur, TensorFlow and Ray versions on every node (one container image
   is simplest): ``pip install 'datacur[ray]'``.
2. Start the cluster: ``ray start --head --port 6379 --num-cpus N`` on one machine,
   ``ray start --address HEAD:6379 --num-cpus N`` on the others (or a Ray cluster launcher /
   KubeRay config).
3. On a cluster node, run for example ``datacur sweep recipes/*.yaml --seeds 5 --test
   datasets/dev-test --ray-address HEAD:6379`` (``tests/test_sweep_cluster.py`` does exactly
   this with two nodes on 127.0.0.1). From outside the cluster, ``--ray-address
   ray://HEAD:10001`` uses Ray Client (port 10001 open on the head; tested the same way).
   Plain ``--ray`` starts a private local Ray for the sweep and stops it at the end.

Nodes need no shared file system: the driver builds the variants, zips each variant and the
test set once into Ray's object store, and every task unpacks them into a temporary folder.
Results come back to the driver, which alone writes the results database, with the id of
the node that trained each pair (``extra.sweep.node``). Each task asks for one CPU
(``num_cpus=1``, spread over the nodes) and pins TensorFlow to one thread, so a node with N
cores runs N trainings at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from datacur.errors import ConfigError, DatacurError, EvaluationError, RecipeError
from datacur.io import read_text_utf8
from datacur.model import DEFAULT_MODEL
from datacur.store import load_runs, save_run

__all__ = [
    "DEFAULT_CACHE_DIR",
    "RAY_INSTALL_HINT",
    "SweepEvent",
    "SweepResult",
    "SweepTarget",
    "parse_vary",
    "plan_pairs",
    "prepare_targets",
    "run_sweep",
    "set_recipe_value",
]

DEFAULT_CACHE_DIR = Path("datasets/sweeps")
"""Where recipe variants are built (one folder per recipe content hash)."""

RAY_INSTALL_HINT = "pip install 'datacur[ray]'"

EventKind = Literal["built", "cached", "skipped", "started", "epoch", "finished", "failed"]


@dataclass(frozen=True)
class SweepTarget:
    """One variant of the sweep."""

    name: str  # recorded as the run's variant name
    variant_dir: Path
    variant_hash: str
    recipe: Path | None = None  # the recipe it was built from, if any
    axis: str | None = None  # the varied recipe key, if any
    value: float | int | str | None = None  # its value on that key


@dataclass(frozen=True)
class SweepEvent:
    """What the sweep reports as it goes (to drive a live table)."""

    kind: EventKind
    target: int  # index into the targets
    name: str
    seed: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    score: float | None = None
    run_id: int | None = None
    message: str | None = None


EventCallback = Callable[[SweepEvent], None]


@dataclass
class SweepResult:
    """The outcome: which pairs ran, which were already stored, which failed."""

    targets: list[SweepTarget]
    seeds: list[int]
    epochs: int
    test_name: str | None
    test_hash: str | None
    finished: list[tuple[int, int, int]] = field(default_factory=list)  # (target, seed, run id)
    skipped: list[tuple[int, int]] = field(default_factory=list)  # (target, seed)
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # (target, seed, message)

    @property
    def total(self) -> int:
        return len(self.targets) * len(self.seeds)


# --------------------------------------------------------------------------- recipe variants


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Parse ``key.path=v1,v2,...``; values are read as YAML scalars (0.1 -> float).

    Raises:
        ConfigError: no ``=``, an empty key or no values.

    Example:
        >>> parse_vary("inputs.synth.share=0,0.1,0.2")
        ('inputs.synth.share', [0, 0.1, 0.2])
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    values = [part.strip() for part in raw.split(",") if part.strip()]
    if not sep or not key or not values:
        raise ConfigError(
            f"--vary {text!r}: expected KEY=V1,V2,... (e.g. inputs.synth.share=0,0.1,0.2)."
        )
    parsed = []
    for value in values:
        try:
            parsed.append(yaml.safe_load(value))
        except yaml.YAMLError:
            parsed.append(value)
    return key, parsed


def set_recipe_value(data: dict[str, Any], key: str, value: Any, *, source: str) -> dict[str, Any]:
    """Return a deep copy of recipe ``data`` with the dotted ``key`` set to ``value``.

    A segment indexes a mapping by key, or a list by an item's ``name`` (or an integer
    index): ``inputs.synth.share`` is the ``share`` of the input named ``synth``. The first
    segment ``sources`` is accepted for ``inputs`` (the issue's spelling).

    Raises:
        RecipeError: a segment matches nothing, naming what is there.
    """
    copied: dict[str, Any] = json.loads(json.dumps(data))
    parts = key.split(".")
    if parts[0] == "sources" and "sources" not in copied and "inputs" in copied:
        parts[0] = "inputs"
    node: Any = copied
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, dict):
            if last:
                node[part] = value
                break
            if part not in node:
                raise RecipeError(
                    f"{source}: --vary key {where} not found (keys here: "
                    f"{', '.join(map(str, node)) or 'none'}). Fix the key."
                )
            node = node[part]
        elif isinstance(node, list):
            named = [i for i, item in enumerate(node) if isinstance(item, dict)]
            index = next((i for i in named if node[i].get("name") == part), None)
            if index is None and part.isdigit() and int(part) < len(node):
                index = int(part)
            if index is None:
                names = [str(item.get("name")) for item in node if isinstance(item, dict)]
                raise RecipeError(
                    f"{source}: --vary key {where}: no item named {part!r} (names: "
                    f"{', '.join(names) or 'none'}). Fix the key."
                )
            if last:
                node[index] = value
                break
            node = node[index]
        else:
            raise RecipeError(
                f"{source}: --vary key {where}: {'.'.join(parts[:depth])} is a value, not a "
                "mapping or list. Fix the key."
            )
    return copied


def _recipe_hash(data: dict[str, Any], base_dir: Path, build_seed: int | None) -> str:
    """Content hash of a recipe: its data, the folder its relative paths start from, the seed."""
    canonical = json.dumps(
        {"recipe": data, "base": str(base_dir.resolve()), "seed": build_seed},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _format_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _build_recipe(
    recipe_path: Path, data: dict[str, Any], out_dir: Path, *, seed: int | None, label: str = ""
) -> None:
    """Build one recipe (possibly varied) into ``out_dir`` with :func:`datacur.mix.build_variant`.

    Relative paths in the recipe keep meaning what they mean in ``recipe_path``'s folder.
    """
    try:
        from datacur import mix
    except ImportError as err:  # pragma: no cover - mix ships with datacur
        raise RecipeError(
            f"{recipe_path}: building recipes needs datacur.mix, which this installation "
            "lacks. Build the variants with `datacur mix` and sweep the folders."
        ) from err
    from datacur.config import validate_config
    from datacur.recipe import Recipe

    source = f"{recipe_path} (as varied: {label})" if label else str(recipe_path)
    recipe = validate_config(data, Recipe, source=source)
    try:
        mix.build_variant(
            recipe, out_dir, seed=seed, base_dir=recipe_path.parent, overwrite=out_dir.exists()
        )
    except DatacurError as err:
        # mix names an in-memory recipe "<recipe>": name the file and the varied value.
        raise type(err)(str(err).replace("<recipe>", source)) from err


def prepare_targets(
    paths: Sequence[Path],
    *,
    vary: tuple[str, Sequence[Any]] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    build_seed: int | None = None,
    rebuild: bool = False,
    on_event: EventCallback | None = None,
) -> list[SweepTarget]:
    """Turn recipe files and variant folders into sweep targets, building recipes as needed.

    A recipe (``*.yaml``) is built with :func:`datacur.mix.build_variant` into
    ``cache_dir/<name>-<hash12>``, where the hash covers the recipe's content, its folder
    and ``build_seed``; an existing folder of that hash is reused (``rebuild`` forces a
    rebuild). The cache does not see changes to the recipe's *input data*: pass
    ``rebuild=True`` after editing an input variant. A folder is used as it is.

    Args:
        paths: recipe files and/or variant folders.
        vary: ``(dotted key, values)``: every recipe is built once per value.
        cache_dir: where recipe variants are built.
        build_seed: seed of the recipe builds (default: each recipe's own ``seed``); the
            training seeds are separate.
        rebuild: rebuild cached recipe variants.
        on_event: receives ``built``/``cached`` events.

    Raises:
        ConfigError, RecipeError: a recipe cannot be read, varied or built.
        VariantError: a folder is not a variant.
        CapExceededError: a variant counts over the cap.
    """
    from datacur.cap import measure_cap, require_under_cap
    from datacur.variant import compute_content_hash, list_variant_images

    if not paths:
        raise ConfigError("Give at least one recipe file or variant folder to sweep.")
    targets: list[SweepTarget] = []

    def add(name: str, folder: Path, recipe: Path | None, axis: str | None, value: Any) -> None:
        images = list_variant_images(folder)
        require_under_cap(measure_cap(folder))
        targets.append(SweepTarget(name, folder, compute_content_hash(images), recipe, axis, value))

    for path in paths:
        path = Path(path)
        if path.is_dir():
            if vary is not None:
                raise ConfigError(
                    f"{path}: --vary changes recipes, but this is a variant folder. Sweep "
                    "recipe files with --vary, or drop --vary."
                )
            add(path.resolve().name, path, None, None, None)
            continue
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise ConfigError(f"{path}: not a variant folder or a recipe (.yaml). Check the path.")
        if not path.is_file():
            raise ConfigError(f"{path}: file not found. Check the path.")
        try:
            data = yaml.safe_load(read_text_utf8(path, error=ConfigError)) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: invalid YAML ({err}). Fix the syntax.") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of keys at the top level.")
        base = str(data.get("name") or path.stem)
        choices: list[tuple[Any, dict[str, Any]]] = (
            [(value, set_recipe_value(data, vary[0], value, source=str(path))) for value in vary[1]]
            if vary is not None
            else [(None, data)]
        )
        for value, recipe_data in choices:
            name = (
                base if vary is None else f"{base}@{vary[0].split('.')[-1]}={_format_value(value)}"
            )
            if vary is not None and "name" in recipe_data:
                # A valid recipe name (lower case, digits, - and _) that says the value.
                suffix = "".join(ch if ch.isalnum() else "-" for ch in _format_value(value))
                recipe_data["name"] = f"{base}-{vary[0].split('.')[-1]}-{suffix}".lower()
            digest = _recipe_hash(recipe_data, path.parent, build_seed)
            safe = "".join(c if c.isalnum() or c in "-_=.@" else "-" for c in name)
            folder = Path(cache_dir) / f"{safe}-{digest[:12]}"
            target_index = len(targets)
            from datacur.variant import find_manifest_damage

            # A cached variant is reused only if its files still match its manifest's hashes.
            if folder.is_dir() and not rebuild and find_manifest_damage(folder) is None:
                kind: EventKind = "cached"
            else:
                _build_recipe(path, recipe_data, folder, seed=build_seed, label=name)
                kind = "built"
            add(name, folder, path, vary[0] if vary else None, value)
            if on_event is not None:
                on_event(SweepEvent(kind, target_index, name, message=str(folder)))
    names = [target.name for target in targets]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(
            f"Two sweep targets share the name(s) {', '.join(duplicates)}. Give each variant "
            "folder or recipe a distinct name."
        )
    return targets


# --------------------------------------------------------------------------- planning


def plan_pairs(
    targets: Sequence[SweepTarget],
    seeds: Sequence[int],
    *,
    db_path: Path | None,
    epochs: int,
    test_hash: str | None,
    model: str = DEFAULT_MODEL,
    test_hashes: Sequence[str | None] | None = None,
) -> tuple[list[tuple[int, int]], dict[tuple[int, int], tuple[int, float]]]:
    """Split the (target, seed) pairs into those still to run and those already stored.

    A pair is done when the database holds a run with the same variant content hash, seed,
    epochs, test set content hash and model; with several test sets (``test_hashes``), one
    run scored on all of them.

    Returns:
        ``(todo, done)``: ``todo`` lists ``(target index, seed)`` in sweep order (seed-major,
        so an interrupted sweep has every variant at the same number of seeds); ``done``
        maps a pair to ``(run id, score)`` of the newest stored run.
    """
    wanted = set(test_hashes) if test_hashes else {test_hash}
    first_hash = next(iter(test_hashes)) if test_hashes else test_hash
    done: dict[tuple[int, int], tuple[int, float]] = {}
    for index, target in enumerate(targets):
        rows = load_runs(db_path, variant_hash=target.variant_hash, model=model)
        scored: dict[int, set[str | None]] = {}
        for run in rows:
            scored.setdefault(run.id, set()).add(run.test_hash)
        for run in rows:
            if (
                run.epochs == epochs
                and run.test_hash == first_hash
                and run.seed in seeds
                and wanted <= scored[run.id]
            ):
                done[(index, run.seed)] = (run.id, run.score)
    todo = [
        (index, seed)
        for seed in seeds
        for index in range(len(targets))
        if (index, seed) not in done
    ]
    return todo, done


# --------------------------------------------------------------------------- local workers


def _local_worker(
    pair: tuple[int, int],
    variant_dir: Path,
    variant_name: str,
    options: dict[str, Any],
    threads: int,
    events: Any,
) -> Any:
    """One pair in a spawned worker: TF pinned to ``threads``, epoch logs to ``events``."""
    from datacur._tf import import_tensorflow_quietly
    from datacur.evaluate import configure_threads, evaluate_variant

    import_tensorflow_quietly()
    configure_threads(threads)
    return evaluate_variant(
        variant_dir,
        seed=pair[1],
        variant_name=variant_name,
        progress=lambda log: events.put((pair, log)),
        **options,
    )


def _run_local(
    targets: Sequence[SweepTarget],
    todo: Sequence[tuple[int, int]],
    options: dict[str, Any],
    *,
    jobs: int,
    emit: Callable[[SweepEvent], None],
    on_result: Callable[[tuple[int, int], Any], None],
    on_failure: Callable[[tuple[int, int], DatacurError], None],
) -> None:
    from datacur.evaluate import configure_threads, evaluate_variant

    if jobs == 1:
        configure_threads(os.cpu_count())
        for index, seed in todo:
            target = targets[index]
            emit(SweepEvent("started", index, target.name, seed))

            def progress(log: Any, index: int = index, seed: int = seed) -> None:
                emit(_epoch_event(index, targets[index].name, seed, log))

            try:
                result = evaluate_variant(
                    target.variant_dir,
                    seed=seed,
                    variant_name=target.name,
                    progress=progress,
                    **options,
                )
            except DatacurError as err:
                on_failure((index, seed), err)
                continue
            on_result((index, seed), result)
        return

    import queue
    from concurrent.futures import FIRST_COMPLETED, wait

    from datacur.workers import threads_per_worker, worker_pool

    threads = threads_per_worker(jobs)
    # A fresh process per pair: TensorFlow's memory and thread pools never carry over.
    with worker_pool(jobs, fresh_process_per_task=True) as workers:
        futures = {}
        for pair in todo:
            target = targets[pair[0]]
            future = workers.pool.submit(
                _local_worker,
                pair,
                target.variant_dir,
                target.name,
                options,
                threads,
                workers.events,
            )
            futures[future] = pair
        pending = set(futures)
        started: set[tuple[int, int]] = set()
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    pair, log = workers.events.get_nowait()
                except queue.Empty:
                    break
                index, seed = pair
                if pair not in started:
                    started.add(pair)
                    emit(SweepEvent("started", index, targets[index].name, seed))
                emit(_epoch_event(index, targets[index].name, seed, log))
            for future in done:
                pair = futures[future]
                try:
                    result = future.result()
                except DatacurError as err:
                    on_failure(pair, err)
                    continue
                on_result(pair, result)


def _epoch_event(index: int, name: str, seed: int, log: Any) -> SweepEvent:
    """The progress event for one finished epoch (an :class:`EpochLog`) of one pair."""
    return SweepEvent(
        "epoch", index, name, seed, epoch=log.epoch, epochs=log.epochs, score=log.val_accuracy
    )


# --------------------------------------------------------------------------- Ray


def _zip_folder(folder: Path, splits: Sequence[str] | None) -> bytes:
    """The image files of a variant (``splits``) or a test folder, as an uncompressed zip."""
    from datacur.variant import list_folder_images, list_variant_images

    images = list_variant_images(folder) if splits else list_folder_images(folder)
    buffer = _io.BytesIO()
    # PNGs are already compressed: store them; fixed timestamps keep the bytes reproducible.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            relative = image.path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo(relative, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, image.path.read_bytes())
    return buffer.getvalue()


def _ray_task(
    variant_zip: bytes,
    variant_name: str,
    test_zip: bytes | None,
    test_name: str | None,
    seed: int,
    options: dict[str, Any],
    pair: tuple[int, int] | None = None,
    events: Any = None,
) -> tuple[Any, str | None, str]:
    """Unpack a variant (and test set) into a temporary folder and run one seed there.

    Returns the run, where the test set was unpacked, and the id of the Ray node that
    trained (recorded with the run, so a cluster sweep shows which node ran which pair).

    ``events`` is a ``ray.util.queue.Queue``: each epoch puts ``(pair, EpochLog)`` on it for
    the driver's live table. Progress is best effort and never fails the training.
    """
    from datacur._tf import import_tensorflow_quietly
    from datacur.evaluate import configure_threads, evaluate_variant

    def progress(log: Any) -> None:
        if events is None:
            return
        with contextlib.suppress(Exception):
            events.put_nowait((pair, log))

    import ray

    import_tensorflow_quietly()
    configure_threads(1)
    node_id = ray.get_runtime_context().get_node_id()
    with tempfile.TemporaryDirectory(prefix="datacur-ray-") as tmp:
        root = Path(tmp)
        variant_dir = root / "variant"
        with zipfile.ZipFile(_io.BytesIO(variant_zip)) as archive:
            archive.extractall(variant_dir)
        test_dir = None
        if test_zip is not None and test_name is not None:
            test_dir = root / "test" / test_name  # the test set keeps its name
            with zipfile.ZipFile(_io.BytesIO(test_zip)) as archive:
                archive.extractall(test_dir)
        result = evaluate_variant(
            variant_dir,
            seed=seed,
            test_dir=test_dir,
            variant_name=variant_name,
            progress=progress,
            **options,
        )
        return result, None if test_dir is None else str(test_dir), node_id


def _require_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise EvaluationError(
            f"--ray needs the Ray extra, which is not installed. Install it with "
            f"`{RAY_INSTALL_HINT}`, or run without --ray (local worker processes)."
        ) from err
    return ray


def _run_ray(
    targets: Sequence[SweepTarget],
    todo: Sequence[tuple[int, int]],
    options: dict[str, Any],
    *,
    test_dir: Path | None,
    address: str | None,
    jobs: int | None,
    emit: Callable[[SweepEvent], None],
    on_result: Callable[..., None],
    on_failure: Callable[[tuple[int, int], DatacurError], None],
) -> None:
    ray = _require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address in (None, "", "local"):
            # A private local Ray, sized like the local pool; no dashboard to serve.
            init.update(num_cpus=jobs or os.cpu_count() or 1, include_dashboard=False)
        else:
            init["address"] = address
        try:
            ray.init(**init)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise EvaluationError(
                f"--ray {address}: cannot start or reach Ray ({err}). Check the address "
                "(ray://HEAD:10001 for Ray Client, auto on a cluster node), or run without "
                "--ray."
            ) from err
    try:
        from ray.util.queue import Queue

        # SPREAD: one CPU-bound training per free core across the nodes, not packed on one.
        remote = ray.remote(num_cpus=1, max_retries=0, scheduling_strategy="SPREAD")(_ray_task)
        # Epoch logs from the tasks; the queue actor takes no CPU away from trainings.
        events = Queue(actor_options={"num_cpus": 0})
        task_options = {key: value for key, value in options.items() if key != "test_dir"}
        test_ref = ray.put(_zip_folder(test_dir, None)) if test_dir is not None else None
        test_name = Path(test_dir).resolve().name if test_dir is not None else None
        zips: dict[int, Any] = {}
        refs: dict[Any, tuple[int, int]] = {}
        for index, seed in todo:
            target = targets[index]
            if index not in zips:
                zips[index] = ray.put(_zip_folder(target.variant_dir, ("train", "val")))
            ref = remote.remote(
                zips[index],
                target.name,
                test_ref,
                test_name,
                seed,
                task_options,
                (index, seed),
                events,
            )
            refs[ref] = (index, seed)
            emit(SweepEvent("started", index, target.name, seed, message="submitted to Ray"))
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
                with contextlib.suppress(Exception):  # progress only: never stop the sweep
                    for (index, seed), log in events.get_nowait_batch(events.qsize()):
                        emit(_epoch_event(index, targets[index].name, seed, log))
                for ref in done:
                    pair = refs[ref]
                    try:
                        result, remote_test, node_id = ray.get(ref)
                    except ray.exceptions.RayTaskError as err:
                        cause = err.as_instanceof_cause()
                        if isinstance(cause, DatacurError):
                            on_failure(pair, cause)
                            continue
                        raise
                    if remote_test is not None and test_dir is not None:
                        # Point predictions at the driver's copy of the test set.
                        local = str(Path(test_dir))

                        def relocate(
                            rows: Any, remote_test: str = remote_test, local: str = local
                        ) -> list[Any]:
                            return [
                                (local + row[0][len(remote_test) :], *row[1:])
                                if row[0].startswith(remote_test)
                                else tuple(row)
                                for row in rows
                            ]

                        result = replace(
                            result,
                            predictions=relocate(result.predictions),
                            scores=[
                                replace(
                                    score,
                                    predictions=relocate(score.predictions),
                                    twin_pairs=relocate(score.twin_pairs),
                                )
                                for score in result.scores
                            ],
                        )
                    on_result(pair, result, node=node_id)
        except BaseException:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------- public API


def run_sweep(
    targets: Sequence[SweepTarget],
    seeds: Sequence[int],
    *,
    epochs: int = 100,
    test_dir: Path | Sequence[Path] | None = None,
    db_path: Path | None = None,
    jobs: int | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    exact: bool = False,
    jit_compile: bool = False,
    model: str = DEFAULT_MODEL,
    on_event: EventCallback | None = None,
) -> SweepResult:
    """Evaluate every target under every seed, skipping pairs already in the database.

    Each finished run is written to the database at once by this process (the driver), with
    ``extra={"sweep": {...}}`` naming the recipe and the varied value. A pair that fails
    with a :class:`DatacurError` is recorded in ``SweepResult.failed`` and the sweep goes on;
    any other exception is a bug and stops the sweep (finished runs stay stored).

    Args:
        targets: from :func:`prepare_targets`.
        seeds: training seeds.
        epochs: training epochs per run (the competition: 100).
        test_dir: folder of ``<class>/`` images to score on (e.g. ``datasets/dev-test``), or
            a list of them: every test set is scored from each training (issue 20).
        db_path: results database (default: :func:`datacur.store.default_results_db`).
        jobs: local worker processes (default: one per core); 1 runs in this process. With
            Ray and no address, the number of CPUs of the local Ray.
        ray: run pairs as Ray tasks (``num_cpus=1`` each).
        ray_address: Ray address (``ray://HEAD:10001``, ``auto``); None or ``local`` starts
            a local Ray for the sweep and stops it at the end.
        exact: use the exact (slow) evaluator path.
        jit_compile: compile the fast path's training step with XLA (off by default: it
            is no faster per step on this CPU, see :mod:`datacur.evaluate`).
        model: registered model name (``datacur models``); the competition's is ``fixed``.
        on_event: receives :class:`SweepEvent` s (skipped, started, epoch, finished, failed).

    Returns:
        A :class:`SweepResult`.

    Raises:
        EvaluationError: bad ``epochs``/``seeds``, or Ray missing or unreachable.
        VariantError: the test folder is not usable.

    Example:
        >>> targets = prepare_targets([Path("datasets/dcai-2021"), Path("datasets/clean")])
        >>> result = run_sweep(targets, [0, 1, 2], epochs=100, test_dir=Path("datasets/dev-test"))
    """
    from datacur.modelstore import model_store_dir
    from datacur.store import default_results_db, prepare_store
    from datacur.variant import compute_content_hash, list_folder_images

    seeds = list(dict.fromkeys(seeds))
    if epochs < 1:
        raise EvaluationError(f"epochs must be >= 1 (received {epochs}).")
    if not seeds:
        raise EvaluationError("Give at least one seed (--seeds 3 runs seeds 0, 1, 2).")
    db_path = db_path or default_results_db()
    prepare_store(db_path)  # a foreign or read-only database fails now, not after training
    test_dirs = (
        []
        if test_dir is None
        else [Path(test_dir)]
        if isinstance(test_dir, str | os.PathLike)
        else [Path(folder) for folder in test_dir]
    )
    if ray and len(test_dirs) > 1:
        raise EvaluationError(
            "--ray scores one --test per sweep for now; run without --ray (local workers) "
            "to score several test sets from each training."
        )
    test_hashes = [compute_content_hash(list_folder_images(folder)) for folder in test_dirs]
    test_hash = test_hashes[0] if test_hashes else None
    test_name = test_dirs[0].resolve().name if test_dirs else None
    result = SweepResult(list(targets), seeds, epochs, test_name, test_hash)
    emit = on_event or (lambda event: None)

    todo, done = plan_pairs(
        targets,
        seeds,
        db_path=db_path,
        epochs=epochs,
        test_hash=test_hash,
        model=model,
        test_hashes=test_hashes or None,
    )
    for (index, seed), (run_id, score) in sorted(done.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        result.skipped.append((index, seed))
        emit(SweepEvent("skipped", index, targets[index].name, seed, score=score, run_id=run_id))
    if not todo:
        return result

    def on_result(pair: tuple[int, int], run: Any, *, node: str | None = None) -> None:
        index, seed = pair
        target = targets[index]
        extra: dict[str, Any] = {
            "sweep": {
                "recipe": None if target.recipe is None else str(target.recipe),
                "axis": target.axis,
                "value": target.value,
                "variant_dir": str(target.variant_dir),
            }
        }
        if node is not None:  # the Ray node that trained the pair
            extra["sweep"]["node"] = node
        run_id = save_run(run, db_path, extra=extra)
        result.finished.append((index, seed, run_id))
        score = run.test_accuracy if run.test_accuracy is not None else run.val_accuracy
        emit(SweepEvent("finished", index, target.name, seed, score=score, run_id=run_id))

    def on_failure(pair: tuple[int, int], err: DatacurError) -> None:
        index, seed = pair
        result.failed.append((index, seed, str(err)))
        emit(SweepEvent("failed", index, targets[index].name, seed, message=str(err)))

    options: dict[str, Any] = {
        "epochs": epochs,
        "test_dir": test_dirs[0] if len(test_dirs) == 1 else (test_dirs or None),
        "exact": exact,
        "jit_compile": jit_compile,
        "model": model,
    }
    if ray:
        _run_ray(
            targets,
            todo,
            options,
            test_dir=test_dirs[0] if test_dirs else None,
            address=ray_address,
            jobs=jobs,
            emit=emit,
            on_result=on_result,
            on_failure=on_failure,
        )
    else:
        options["keep_dir"] = model_store_dir(db_path)  # checkpoints for `datacur score`
        cores = os.cpu_count() or 1
        workers = max(1, min(jobs or cores, len(todo)))
        _run_local(
            targets,
            todo,
            options,
            jobs=workers,
            emit=emit,
            on_result=on_result,
            on_failure=on_failure,
        )
    return result
