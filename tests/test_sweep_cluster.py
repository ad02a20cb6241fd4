"""sweep on a real multi-node Ray cluster: two `ray start` nodes on the loopback address.

The test does what the README's cluster instructions say: ``ray start --head`` (one node),
``ray start --address HEAD:PORT`` (a second node), then ``datacur sweep ... --ray-address
HEAD:PORT`` from a cluster node. Each node offers one CPU, so two pairs must land on two
nodes. Both nodes carry ``DATACUR_RESULTS_DB`` pointing at a trap file: a task that opened
the default results database would create it. The cluster is stopped by the ids of the two
``ray start --block`` processes (their Ray daemons die with them), even when the test fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datacur.store import load_runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None,
        reason="ray not installed (pip install 'datacur[ray]')",
    ),
]

# A loopback-only test cluster without Ray's token authentication (which recent Ray turns on
# when a token file exists in the home folder): nodes and driver must agree on it.
DRIVER_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}

START_TIMEOUT_S = 180  # two Ray nodes on a loaded 2-core machine take 30-60 s to come up


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_ports() -> list[str]:
    """Per-node agent ports, chosen free, so two nodes (and other users' Rays) never clash."""
    return [
        "--dashboard-agent-listen-port", str(_free_port()),
        "--dashboard-agent-grpc-port", str(_free_port()),
        "--runtime-env-agent-port", str(_free_port()),
        "--metrics-export-port", str(_free_port()),
    ]  # fmt: skip


@dataclass
class RayCluster:
    address: str  # HEAD:PORT, for a driver on a cluster node
    client_address: str  # ray://HEAD:CLIENT_PORT, for a driver outside the cluster
    trap_db: Path  # DATACUR_RESULTS_DB on every node: must never be created


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """A head node and a worker node, one CPU each, started with the `ray` CLI.

    Shared by the tests of this module: starting two nodes is most of their cost.
    """
    tmp_path = tmp_path_factory.mktemp("ray-cluster")
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    # Ray's unix sockets live under the temp dir, whose path must stay short (108 bytes).
    temp_dir = Path(tempfile.mkdtemp(prefix="dcray", dir="/tmp"))
    trap_db = tmp_path / "worker-trap.db"
    env = {**DRIVER_ENV, "DATACUR_RESULTS_DB": str(trap_db)}
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats"]
    common += ["--include-log-monitor", "false"]
    port, client_port = _free_port(), _free_port()
    address = f"127.0.0.1:{port}"
    commands = [
        [
            ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
            "--ray-client-server-port", str(client_port), "--include-dashboard", "false",
            "--dashboard-port", str(_free_port()), "--temp-dir", str(temp_dir),
            *_node_ports(), *common,
        ],
        [ray_cli, "start", "--address", address, "--node-ip-address", "127.0.0.1",
         *_node_ports(), *common],
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for index, command in enumerate(commands):
            logs.append((tmp_path / f"node{index}.log").open("wb"))
            processes.append(
                subprocess.Popen(command, stdout=logs[-1], stderr=subprocess.STDOUT, env=env)
            )
            # One node at a time: the second joins the head's GCS.
            log = Path(logs[-1].name)
            _wait_for(
                lambda log=log, process=processes[-1]: _node_started(log, process),
                f"node {index} ({log})",
            )
        yield RayCluster(address, f"ray://127.0.0.1:{client_port}", trap_db)
    finally:
        # `ray start --block` shares its daemons' fate: SIGTERM to it stops its node.
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _node_started(log: Path, process: subprocess.Popen[bytes]) -> bool:
    """`ray start --block` prints this once its node has joined the cluster, then blocks."""
    if process.poll() is not None:
        raise AssertionError(f"ray start exited ({process.returncode}); see {log}")
    return "will now block forever" in log.read_text(errors="replace")


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"Ray cluster: {what} not up after {START_TIMEOUT_S} s")


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, env=DRIVER_ENV, timeout=600, check=False
    )


@pytest.mark.parametrize("how", ["on-a-node", "ray-client"])
def test_sweep_spreads_over_two_nodes_and_only_the_driver_writes(
    tmp_path: Path,
    ray_cluster: RayCluster,
    make_variant: Callable[..., Path],
    make_image_folder: Callable[..., Path],
    how: str,
) -> None:
    address = ray_cluster.address if how == "on-a-node" else ray_cluster.client_address
    variant = make_variant(tmp_path / "tiny", n_train=2, n_val=1)
    test = make_image_folder(tmp_path / "dev-test", n=1, seed=9)
    db = tmp_path / "driver.db"
    # The driver is the `datacur` command in its own process, as a user runs it (and free of
    # any Ray state other tests left in this one).
    command = [
        str(Path(sys.executable).with_name("datacur")), "sweep", str(variant),
        "--seeds", "2", "--epochs", "1", "--test", str(test),
        "--model", "small-cnn", "--ray-address", address, "--db", str(db),
        "--no-report", "--json",
    ]  # fmt: skip
    result = _run(command)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout)
    assert payload["finished"] == 2 and not payload["failed"]

    runs = load_runs(db)
    assert sorted(run.seed for run in runs) == [0, 1]
    nodes = {run.seed: run.extra["sweep"]["node"] for run in runs}
    assert len(set(nodes.values())) == 2, f"both pairs ran on one node: {nodes}"
    # the tasks never opened a results database: only the driver's file exists
    assert not ray_cluster.trap_db.exists()
    assert not list(ray_cluster.trap_db.parent.glob("worker-trap.db*"))

    # resuming against the same cluster trains nothing
    again = _run(command)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["skipped"] == 2
    assert len(load_runs(db)) == 2
