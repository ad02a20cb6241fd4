"""CLI tests for evaluate, leaderboard, cap and check: one success and one error each."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.store import load_runs, save_run
from tests.test_store import fake_run

runner = CliRunner()
app = build_app()


def test_cap_prints_the_competition_count(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = runner.invoke(app, ["cap", str(variant), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counted"] == 32


def test_cap_over_the_limit_exits_1_with_the_fix(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = runner.invoke(app, ["cap", str(variant), "--limit", "24"])
    assert result.exit_code == 1
    assert "over by 8" in result.stderr and "Remove at least 8" in result.stderr


def test_cap_on_a_folder_that_is_not_a_variant(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cap", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "not a dataset variant" in result.stderr
    assert "Traceback" not in result.output


def test_check_clean_variant_exits_0(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = runner.invoke(app, ["check", str(variant)])
    assert result.exit_code == 0 and "OK" in result.stdout  # the verdict is the result
    assert "OK" not in result.stderr


def test_check_reports_errors_and_exits_1(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    (variant / "train" / "v" / "broken.png").write_bytes(b"nope")
    (variant / "train" / "v" / ".DS_Store").write_bytes(b"x")
    result = runner.invoke(app, ["check", str(variant), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["errors"] == 1 and payload["warnings"] == 1
    missing = runner.invoke(app, ["check", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "folder not found" in missing.stderr


def test_leaderboard_lists_ranked_variants(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    save_run(fake_run("raw", 0, 0.5), db)
    save_run(fake_run("clean", 0, 0.9), db)
    result = runner.invoke(app, ["leaderboard", "--db", str(db), "--json"])
    assert result.exit_code == 0
    assert [row["variant"] for row in json.loads(result.stdout)] == ["clean", "raw"]
    table = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert "clean" in table.stdout and "0.9000" in table.stdout


def test_leaderboard_on_a_broken_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    db.write_bytes(b"garbage" * 200)
    result = runner.invoke(app, ["leaderboard", "--db", str(db)])
    assert result.exit_code == 1 and "not a datacur results database" in result.stderr


def test_evaluate_refuses_a_missing_test_folder(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = runner.invoke(app, ["evaluate", str(variant), "--test", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "folder not found" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
def test_evaluate_trains_prints_json_and_stores_the_run(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    db = tmp_path / "r.db"
    result = runner.invoke(
        app,
        ["evaluate", str(variant), "--epochs", "1", "--seed", "3", "--db", str(db), "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["epochs"] == 1 and payload["runs"][0]["seed"] == 3
    (stored,) = load_runs(db)
    assert stored.seed == 3 and stored.variant == "v" and stored.scored_on == "val"


def test_models_lists_the_registry_with_sizes() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0
    rows = {row["name"]: row["parameters"] for row in json.loads(result.stdout)}
    assert rows["fixed"] == 232_330 and set(rows) == {"fixed", "resnet50", "small-cnn"}


def test_evaluate_rejects_an_unknown_model(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = runner.invoke(app, ["evaluate", str(variant), "--model", "vgg"])
    assert result.exit_code == 1 and "unknown --model 'vgg'" in result.stderr


def test_console_script_hides_tensorflow_start_up_chatter() -> None:
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-c", "from datacur.cli import main; main(['models', '--json'])"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "oneDNN" not in completed.stderr and "absl" not in completed.stderr
    assert json.loads(completed.stdout)[0]["name"] == "fixed"


@pytest.mark.slow
def test_ctrl_c_during_evaluate_leaves_the_database_consistent(
    tmp_path: Path, make_variant
) -> None:
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    db = tmp_path / "r.db"
    save_run(fake_run("earlier", 0, 0.5), db)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from datacur.cli import main; main()",
            "evaluate",
            str(variant),
            "--epochs",
            "5000",  # minutes of work: 500 epochs of this tiny variant end within 12 s
            "--db",
            str(db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(12)  # inside TensorFlow start-up or training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [run.variant for run in load_runs(db)] == ["earlier"]


def _app_raising(error: Exception, *, interrupted: bool):
    """A stand-in root app whose command fails with ``error`` (after a Ctrl-C if asked)."""
    import signal

    from datacur import cli

    def app(**_: object) -> None:
        if interrupted:
            cli._INTERRUPT_RECEIVED.append(signal.SIGINT)
        raise error

    return lambda: app


@pytest.fixture
def main_without_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``cli.main`` run in this process without leaving its signal and fork hooks."""
    from datacur import cli

    monkeypatch.setattr(cli.signal, "signal", lambda *_: None)
    monkeypatch.setattr(cli.os, "register_at_fork", lambda **_: None)
    monkeypatch.setattr(cli, "_INTERRUPT_RECEIVED", [])


@pytest.mark.usefixtures("main_without_handlers")
def test_an_error_tensorflow_raises_for_a_ctrl_c_reads_as_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A SIGINT landing inside TensorFlow's C++ can come back as another exception (seen once
    # under load: a dtypes TypeError from inside fit); it must exit like Ctrl-C, no traceback.
    from datacur import cli

    monkeypatch.setattr(cli, "build_app", _app_raising(TypeError("dtypes"), interrupted=True))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["leaderboard"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "Aborted.\n"


@pytest.mark.usefixtures("main_without_handlers")
def test_an_error_without_a_ctrl_c_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    from datacur import cli

    monkeypatch.setattr(cli, "build_app", _app_raising(TypeError("a bug"), interrupted=False))
    with pytest.raises(TypeError, match="a bug"):
        cli.main(["leaderboard"])


def _descendants(pid: int) -> set[int]:
    """Process ids below ``pid``, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux only)")
def test_sigterm_during_multi_seed_evaluate_stops_the_workers(tmp_path: Path, make_variant) -> None:
    """A killed `evaluate --seeds 2` must not leave trainings running on the cores."""
    import os
    import signal
    import subprocess
    import sys
    import time

    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    command = [sys.executable, "-c", "from datacur.cli import main; main()", "evaluate"]
    command += [str(variant), "--seeds", "2", "--epochs", "5000", "--db", str(tmp_path / "r.db")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 3:  # manager + 2 trainings
            time.sleep(1)
            workers = _descendants(process.pid)
        assert len(workers) >= 3, "the workers never started"
        time.sleep(5)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode != 0
        assert "Traceback" not in stderr
        time.sleep(2)
        assert [pid for pid in workers if _running(pid)] == []
    finally:  # never leave trainings behind, even when the test fails
        for pid in [process.pid, *workers]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


def test_forked_pool_workers_end_quietly_on_their_pools_sigterm() -> None:
    """mix and noise use fork pools, which stop their workers with SIGTERM on exit: the
    CLI's SIGTERM handler (inherited by the fork) must not print a KeyboardInterrupt."""
    import subprocess
    import sys

    code = (
        "import multiprocessing, os, signal, time\n"
        "from datacur import cli\n"
        "signal.signal(signal.SIGTERM, cli._interrupt_on_sigterm)\n"
        "os.register_at_fork(after_in_child=cli._default_sigterm)\n"
        "for _ in range(20):\n"
        "    with multiprocessing.get_context('fork').Pool(4) as pool:\n"
        "        assert pool.map(abs, range(-50, 0)) == list(range(50, 0, -1))\n"
        "time.sleep(1)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr and "KeyboardInterrupt" not in completed.stderr
