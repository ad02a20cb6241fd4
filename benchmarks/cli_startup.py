"""Time to first output of every ``datacur`` command that does not train (issue 23).

Each command runs in a pseudo-terminal (so rich draws its spinners and bars as a user sees
them) and is timed from spawn to its first printed character, then stopped. The baseline is
``python -c pass`` (the interpreter's own start-up) measured in the same run, so a loaded
machine slows both alike; each figure is the median of ``--repeat`` runs. Target: under
1.5 s for every command.

Run: .venv/bin/python benchmarks/cli_startup.py [--repeat 3] [--only models,check]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATACUR = str(BIN / "datacur")
TARGET_S = 1.5


def commands(scratch: Path) -> dict[str, list[str]]:
    """Name -> argv of every command measured; long ones are stopped after their first line."""
    starter = str(REPO / "datasets" / "dcai-2021")
    out: dict[str, list[str]] = {
        "--help": [DATACUR, "--help"],
        "models": [DATACUR, "models"],
        "check": [DATACUR, "check", starter],
        "cap": [DATACUR, "cap", starter],
        "leaderboard": [DATACUR, "leaderboard", "--db", str(scratch / "results.db")],
        "noise --no-model": [
            DATACUR,
            "noise",
            starter,
            "--no-model",
            "--out",
            str(scratch / "issues.csv"),
        ],
        "mix recipes/best.yaml": [
            DATACUR,
            "mix",
            str(REPO / "recipes" / "best.yaml"),
            "--out",
            str(scratch / "best"),
        ],
    }
    for name in (
        "evaluate",
        "leaderboard",
        "models",
        "cap",
        "check",
        "noise",
        "apply",
        "review",
        "augment",
        "mix",
        "compare",
        "report",
        "sweep",
        "synth",
        "show",
    ):
        out[f"{name} --help"] = [DATACUR, name, "--help"]
    return out


def first_output_seconds(argv: list[str], *, timeout: float = 120.0) -> float:
    """Seconds from spawn to the first byte on the terminal; the process is then stopped."""
    leader, follower = pty.openpty()
    env = dict(os.environ, COLUMNS="100", LINES="30", TERM="xterm-256color")
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
        cwd=REPO,
    )
    os.close(follower)
    try:
        ready, _, _ = select.select([leader], [], [], timeout)
        elapsed = time.perf_counter() - start
        if not ready:
            return float("inf")
        os.read(leader, 1024)
        return elapsed
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        os.close(leader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--only", default="", help="comma-separated command names to time")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="datacur-startup-"))
    try:
        todo = commands(scratch)
        if args.only:
            wanted = {n.strip() for n in args.only.split(",")}
            todo = {n: a for n, a in todo.items() if n in wanted or n.split()[0] in wanted}
        base = statistics.median(
            first_output_seconds([sys.executable, "-c", "print(1)"]) for _ in range(args.repeat)
        )
        print(f"{'python -c print(1) (baseline)':<34} {base:6.2f} s")
        slow = 0
        for name, argv in todo.items():
            seconds = statistics.median(first_output_seconds(argv) for _ in range(args.repeat))
            slow += seconds > TARGET_S
            flag = "" if seconds <= TARGET_S else f"  over {TARGET_S} s"
            print(f"{name:<34} {seconds:6.2f} s  x{seconds / base:5.1f} baseline{flag}")
            shutil.rmtree(scratch / "best", ignore_errors=True)
        within = len(todo) - slow
        print(f"{within}/{len(todo)} commands print their first output within {TARGET_S} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
