"""The fast `score` path gives the numbers of the slow one (issue 27's 15 s goal).

Each speed-up is checked against what it replaced: the mapped decode against the eager
per-file decode, one prediction pass against Keras's own ``evaluate``, forked
fingerprinting against the serial definition, and a scoring with a cached, a corrupt and a
stale variant fingerprint file against the in-training scores.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.labels import CLASSES

MODEL = "small-cnn"


def _write_mixed_images(folder: Path, rng: np.random.Generator, n: int) -> list[Path]:
    """Gray, RGB, RGBA PNGs and JPEGs of varied sizes: every branch of the decoder."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        height, width = int(rng.integers(8, 90)), int(rng.integers(8, 90))
        kind = ("L", "RGB", "RGBA", "JPEG")[k % 4]
        mode = "RGB" if kind == "JPEG" else kind
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
        path = folder / f"{k:03d}.{'jpg' if kind == 'JPEG' else 'png'}"
        image.save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_mapped_decode_equals_the_eager_decode_bit_for_bit(tmp_path: Path) -> None:
    from datacur.decode import decode_images, decode_images_eagerly

    paths = _write_mixed_images(tmp_path / "mixed", np.random.default_rng(0), 23)
    mapped = decode_images(paths)
    assert mapped.dtype == np.float32 and mapped.shape == (23, 32, 32, 3)
    assert np.array_equal(mapped, decode_images_eagerly(paths))
    assert decode_images([]).shape == (0, 32, 32, 3)


@pytest.mark.slow
def test_a_file_the_mapped_decode_cannot_read_is_named(tmp_path: Path) -> None:
    from datacur.decode import decode_images
    from datacur.errors import VariantError

    paths = _write_mixed_images(tmp_path / "mixed", np.random.default_rng(1), 3)
    broken = tmp_path / "mixed" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 4)
    with pytest.raises(VariantError, match=r"broken\.png: TensorFlow cannot decode"):
        decode_images([*paths, broken])


@pytest.mark.slow
@pytest.mark.parametrize("n", [5, 256, 300], ids=["small", "one-batch", "two-batches"])
@pytest.mark.parametrize("steps", [1, 16], ids=["plain", "steps16"])
def test_one_pass_loss_and_accuracy_equal_keras_evaluate(n: int, steps: int) -> None:
    import keras
    import tensorflow as tf

    from datacur.evaluate import VAL_BATCH, _evaluate_logits
    from datacur.model import build_model, compile_fixed_model

    keras.utils.set_random_seed(n)
    model = compile_fixed_model(build_model(MODEL), steps_per_execution=steps)
    rng = np.random.default_rng(n)
    x = rng.uniform(0, 255, size=(n, 32, 32, 3)).astype(np.float32)
    true_idx = rng.integers(0, len(CLASSES), size=n)
    y = np.eye(len(CLASSES), dtype=np.float32)[true_idx]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(VAL_BATCH)
    loss, accuracy = model.evaluate(dataset, verbose=0)
    logits = np.asarray(model.predict(dataset, verbose=0))
    assert _evaluate_logits(model, logits, y, true_idx) == (float(loss), float(accuracy))


def test_forked_fingerprints_equal_the_serial_definition(tmp_path: Path) -> None:
    from datacur.dedupe import ink_phashes
    from datacur.io import sha256_file, write_png
    from datacur.leakage import fingerprint
    from tests.conftest import draw_numeral

    rng = np.random.default_rng(5)
    paths = []
    for k in range(300):  # over the pool's 256-item threshold, so workers really fork
        path = tmp_path / f"{k:03d}.png"
        write_png(path, draw_numeral(CLASSES[k % len(CLASSES)], rng))
        paths.append(path)
    forked = fingerprint(paths, workers=2)
    assert forked.paths == [str(path) for path in paths]
    assert forked.sha256 == [sha256_file(path) for path in paths]
    assert forked.phash.dtype == np.uint64
    assert np.array_equal(forked.phash, ink_phashes(paths))
    serial = fingerprint(paths, workers=1)
    assert serial.sha256 == forked.sha256 and np.array_equal(serial.phash, forked.phash)


def _prints(n: int = 6):
    from datacur.leakage import Fingerprints

    rng = np.random.default_rng(n)
    return Fingerprints(
        paths=[f"v/train/i/{k}.png" for k in range(n)],
        sha256=[f"{k:064x}" for k in range(n)],
        phash=rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2),
    )


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "flipped-byte":
        path.write_bytes(data[:20] + bytes([data[20] ^ 0xFF]) + data[21:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "not-gzip":
        path.write_bytes(b"path,sha256,ink_phash\n")
    elif how == "row-missing":
        lines = gzip.decompress(data).decode().splitlines(keepends=True)
        path.write_bytes(gzip.compress("".join(lines[:-1]).encode()))
    elif how == "bad-hash":
        text = gzip.decompress(data).decode().replace(",", ",zz", 1)
        path.write_bytes(gzip.compress(text.encode()))


@pytest.mark.parametrize(
    "how", ["flipped-byte", "truncated", "not-gzip", "row-missing", "bad-hash"]
)
def test_a_damaged_fingerprint_file_is_a_miss_not_trusted(tmp_path: Path, how: str) -> None:
    from datacur.leakage import read_fingerprints, write_fingerprints

    path = tmp_path / "prints.csv.gz"
    prints = _prints()
    write_fingerprints(path, prints, key="abc")
    back = read_fingerprints(path, key="abc")
    assert back is not None and back.paths == prints.paths and back.sha256 == prints.sha256
    assert np.array_equal(back.phash, prints.phash)
    _damage(path, how)
    assert read_fingerprints(path, key="abc") is None


def test_a_fingerprint_file_of_another_key_or_version_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datacur import leakage

    path = tmp_path / "prints.csv.gz"
    leakage.write_fingerprints(path, _prints(), key="abc")
    assert leakage.read_fingerprints(path, key="abd") is None
    assert leakage.read_fingerprints(tmp_path / "absent.csv.gz", key="abc") is None
    monkeypatch.setattr(leakage, "FINGERPRINT_VERSION", "sha256+ink-phash8-margin6-min2-v2")
    assert leakage.read_fingerprints(path, key="abc") is None


def test_an_unmarked_file_of_the_current_version_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores written before the version line keep their twin counts; a newer fingerprint
    version would rebuild them."""
    from datacur import leakage

    prints = _prints()
    rows = "".join(
        f"{p},{s},{int(h):016x}\n"
        for p, s, h in zip(prints.paths, prints.sha256, prints.phash, strict=True)
    )
    path = tmp_path / "old.csv.gz"
    path.write_bytes(gzip.compress(("path,sha256,ink_phash\n" + rows).encode(), mtime=0))
    back = leakage.read_fingerprints(path, key="anything")
    assert back is not None and np.array_equal(back.phash, prints.phash)
    monkeypatch.setattr(leakage, "FINGERPRINT_VERSION", "sha256+ink-phash8-margin4-min2-v2")
    assert leakage.read_fingerprints(path, key="anything") is None


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny run kept in a store, and a test set with two exact and one near twin."""
    from datacur.evaluate import evaluate_variant
    from datacur.io import read_image_gray, write_png
    from datacur.modelstore import model_store_dir
    from datacur.store import save_run
    from tests.conftest import draw_numeral

    root = tmp_path_factory.mktemp("score-speed")
    rng = np.random.default_rng(11)
    for label in CLASSES:
        for k in range(2):
            write_png(root / "v" / "train" / label / f"{label}{k}.png", draw_numeral(label, rng))
        write_png(root / "v" / "val" / label / f"{label}.png", draw_numeral(label, rng))
        image = draw_numeral(label, rng).copy()
        image[-1, -1] = 200 + CLASSES.index(label)
        write_png(root / "test" / label / f"{label}.png", image)
    shutil.copyfile(root / "v/train/ii/ii0.png", root / "test/ii/copy.png")
    shutil.copyfile(root / "v/val/x/x.png", root / "test/x/copy.png")
    near = read_image_gray(root / "v/train/v/v1.png").copy()
    near[0, 0] = 250
    write_png(root / "test/v/near.png", near)
    db = root / "results.db"
    result = evaluate_variant(
        root / "v", test_dir=root / "test", seed=0, epochs=1, model=MODEL,
        keep_dir=model_store_dir(db),
    )  # fmt: skip
    return {"root": root, "db": db, "result": result, "run_id": save_run(result, db)}


def _copy_store(trained: dict, tmp_path: Path) -> Path:
    from datacur.modelstore import model_store_dir

    db = tmp_path / "results.db"
    shutil.copyfile(trained["db"], db)
    shutil.copytree(model_store_dir(trained["db"]), model_store_dir(db))
    return db


def _cache_file(db: Path, trained: dict) -> Path:
    from datacur.modelstore import model_store_dir, variant_fingerprints_path

    return variant_fingerprints_path(model_store_dir(db), trained["result"].variant_hash)


def _assert_same_score(fresh, original) -> None:
    assert np.array_equal(fresh.probabilities, original.probabilities)
    assert fresh.predictions == original.predictions
    assert (fresh.test_accuracy, fresh.test_loss) == (original.test_accuracy, original.test_loss)
    assert (fresh.twins_exact, fresh.twins_near) == (original.twins_exact, original.twins_near)
    assert fresh.twin_pairs == original.twin_pairs
    assert fresh.accuracy_without_twins == original.accuracy_without_twins


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["kept", "corrupt", "stale", "absent"])
def test_score_gives_the_in_training_numbers_whatever_the_cache(
    trained, tmp_path: Path, cache: str
) -> None:
    """Twin counts and scores with the cached fingerprints, and after a corrupt, stale or
    missing cache file is rebuilt from the variant folder, equal the ones `evaluate`
    computed from scratch; the rebuilt file is valid again."""
    from datacur.leakage import read_fingerprints
    from datacur.score import score_runs

    db = _copy_store(trained, tmp_path)
    path = _cache_file(db, trained)
    variant_hash = trained["result"].variant_hash
    assert read_fingerprints(path, key=variant_hash) is not None  # evaluate kept it
    if cache == "corrupt":
        _damage(path, "flipped-byte")
    elif cache == "stale":
        text = gzip.decompress(path.read_bytes()).decode()
        path.write_bytes(gzip.compress(text.replace("-v1 key=", "-v0 key=", 1).encode()))
    elif cache == "absent":
        path.unlink()
    original = trained["result"].scores[0]
    assert original.twins_exact == 2 and original.twins_near >= 1
    (scored,) = score_runs(
        [trained["run_id"]], [trained["root"] / "test"], db_path=db,
        variant_dir=trained["root"] / "v",
    )  # fmt: skip
    _assert_same_score(scored.scores[0], original)
    rebuilt = read_fingerprints(path, key=variant_hash)
    assert rebuilt is not None and rebuilt.paths == trained["result"].fingerprints.paths
    assert set(scored.timings) >= {"import_tf_s", "decode_wait_s", "predict_s", "twins_s"}


@pytest.mark.slow
def test_a_corrupt_cache_without_the_variant_folder_leaves_twins_unknown(
    trained, tmp_path: Path
) -> None:
    """Not trusted, not a crash: the score is stored with its twin counts unknown."""
    from datacur.score import score_runs

    db = _copy_store(trained, tmp_path)
    _damage(_cache_file(db, trained), "truncated")
    (scored,) = score_runs([trained["run_id"]], [trained["root"] / "test"], db_path=db)
    fresh, original = scored.scores[0], trained["result"].scores[0]
    assert fresh.twins_exact is None and fresh.twins_near is None
    assert np.array_equal(fresh.probabilities, original.probabilities)
    assert fresh.test_loss == original.test_loss


@pytest.mark.slow
def test_the_score_process_ends_early_with_its_output_and_rows_complete(
    trained, tmp_path: Path
) -> None:
    """`datacur score` skips TensorFlow's teardown with os._exit: stdout must be flushed
    first (the JSON is whole) and the row committed."""
    import json
    import os
    import subprocess
    import sys

    from datacur.store import load_runs

    db = _copy_store(trained, tmp_path)
    test = trained["root"] / "test"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "datacur"), "score", str(trained["run_id"]),
         "--test", str(test), "--db", str(db), "--json"],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)
    (score,) = run["scores"]
    original = trained["result"].scores[0]
    assert score["test_accuracy"] == original.test_accuracy
    assert (score["twins_exact"], score["twins_near"]) == (2, original.twins_near)
    assert {"import_tf_s", "fingerprint_wait_s", "predict_s"} <= set(run["timings"])
    rows = load_runs(db, test_name="test")
    assert [row.test_accuracy for row in rows] == [original.test_accuracy]
