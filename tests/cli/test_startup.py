"""Commands that do not train start without the heavy libraries (issue 23: first line < 1.5 s).

Wall-clock time is not asserted (benchmarks/cli_startup.py measures it); what is asserted is
what makes start-up slow: which heavy modules a command imports before it can print.
"""

import json
import subprocess
import sys

import pytest

from datacur.cli import _needs_tensorflow, noise_cmd

HEAVY = ("tensorflow", "keras", "cleanlab", "matplotlib", "albumentations", "cv2", "numpy", "PIL")

PROBE = """
import sys
from datacur.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def _heavy_modules_loaded(argv: list[str]) -> tuple[list[str], str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = completed.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY="), completed.stdout + completed.stderr
    loaded = [m for m in last.removeprefix("HEAVY=").split(",") if m]
    return loaded, completed.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["noise", "--help"],
        ["evaluate", "--help"],
        ["cap", "--help"],
        ["apply", "--help"],
        ["review", "--help"],
        ["report", "--help"],
        ["sweep", "--help"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    loaded, _ = _heavy_modules_loaded(argv)
    assert loaded == [], f"`datacur {' '.join(argv)}` imports {loaded} before printing help"


def test_models_lists_sizes_without_tensorflow() -> None:
    loaded, stdout = _heavy_modules_loaded(["models", "--json"])
    assert "tensorflow" not in loaded and "keras" not in loaded
    rows = {row["name"]: row["parameters"] for row in json.loads(stdout.splitlines()[0])}
    assert rows == {"fixed": 232_330, "resnet50": 23_608_202, "small-cnn": 289_642}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["evaluate", "v"], False),  # imports it itself, after checking its inputs
        (["sweep", "r.yaml"], True),
        (["score", "1", "--test", "t"], False),  # imports it itself, after forking workers
        (["noise", "v"], True),
        (["noise", "v", "--no-model"], False),
        (["noise", "--help"], False),
        (["models"], False),
        (["check", "v"], False),
        ([], False),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_tensorflow_is_preloaded_only_for_commands_that_train(
    args: list[str], expected: bool
) -> None:
    assert _needs_tensorflow(args) is expected


def test_noise_command_defaults_mirror_the_library() -> None:
    from datacur import noise

    assert noise_cmd.DEFAULT_FOLDS == noise.DEFAULT_FOLDS
    assert noise_cmd.SHORT_EPOCHS == noise.SHORT_EPOCHS
    assert noise_cmd.FULL_EPOCHS == noise.FULL_EPOCHS
    assert noise_cmd.DEFAULT_CACHE_DIR == noise.DEFAULT_CACHE_DIR


def test_evaluate_of_a_missing_folder_fails_before_importing_tensorflow(tmp_path) -> None:
    loaded, _ = _heavy_modules_loaded(["evaluate", str(tmp_path / "nope")])
    assert "tensorflow" not in loaded and "keras" not in loaded


def test_tensorflow_import_spinner_draws_on_the_given_terminal_fd() -> None:
    """fd 2 is muted while TensorFlow imports, so the spinner draws on a copy of the real
    stderr; it must reach that copy and leave the fd it was given open."""
    import os
    import time

    from datacur._tf import _start_spinner

    read_end, write_end = os.pipe()
    status, stream = _start_spinner(write_end)
    time.sleep(0.3)
    status.stop()
    stream.close()
    os.write(write_end, b"|still open")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        drawn = pipe.read().decode()
    assert "Loading TensorFlow..." in drawn
    assert drawn.endswith("|still open")
