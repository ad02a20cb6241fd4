"""Peak memory of `datacur synth` on a hostile EMNIST gzip.zip (issue 22).

The bundle is about 1.4 MB: its labels member is a gzip of an IDX header declaring
1.5e9 labels followed by 1.5e9 zero bytes (deflate packs zeros ~1000:1). Before the fix
the reader allocated and filled the whole declared size (the issue measured 5.9 GB);
now the header is checked against a sane limit before anything is allocated.

Run: ``.venv/bin/python benchmarks/hostile_memory.py [--baseline-src /tmp/before/src]``

Prints the peak RSS of the child process (ru_maxrss) for this tree and, when
``--baseline-src`` names another checkout's ``src`` folder, for that one too and the ratio.
The baseline run is capped with ``--limit-gb`` of address space so it cannot take the
machine down; hitting the cap is reported as such.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

DECLARED = 1_500_000_000


def build_bundle(path: Path) -> None:
    """Write the hostile gzip.zip (streamed: never holds 1.5 GB in memory)."""
    stem = "gzip/emnist-byclass-train"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as bundle:
        member = bundle.open(f"{stem}-labels-idx1-ubyte.gz", "w")
        with member, gzip.GzipFile(fileobj=member, mode="wb", mtime=0, compresslevel=9) as out:
            out.write(bytes([0, 0, 8, 1]) + struct.pack(">I", DECLARED))
            zeros = bytes(1 << 24)
            for _ in range(DECLARED // len(zeros)):
                out.write(zeros)
            out.write(bytes(DECLARED % len(zeros)))
        header = bytes([0, 0, 8, 3]) + struct.pack(">III", DECLARED, 28, 28)
        bundle.writestr(f"{stem}-images-idx3-ubyte.gz", gzip.compress(header, mtime=0))


def run_synth(bundle: Path, out: Path, src: Path | None, limit_gb: float) -> tuple[int, float, str]:
    """Run synth in a child; return (its peak RSS in KB from wait4, seconds, last stderr line)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    code = "from datacur.cli import main; main()"
    args = [sys.executable, "-c", code, "synth", "--source", "emnist", "--path", str(bundle)]
    args += ["--per-class", "2", "--out", str(out)]

    def cap() -> None:  # so a baseline that allocates without bound cannot sink the machine
        limit = int(limit_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, env=env, stderr=err, stdout=subprocess.DEVNULL,
                                   preexec_fn=cap)  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip()]
    last = lines[-1] if lines else f"wait status {status}"
    return usage.ru_maxrss, seconds, last[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--limit-gb", type=float, default=8.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "gzip.zip"
        build_bundle(bundle)
        print(f"bundle: {bundle.stat().st_size / 1e6:.2f} MB declaring {DECLARED:,} labels")
        peak, seconds, last = run_synth(bundle, Path(tmp) / "after", None, args.limit_gb)
        print(f"this tree: peak RSS {peak / 1e6:.3f} GB in {seconds:.1f} s; {last}")
        if args.baseline_src is not None:
            base, base_s, base_last = run_synth(
                bundle, Path(tmp) / "before", args.baseline_src, args.limit_gb
            )
            print(f"baseline:  peak RSS {base / 1e6:.3f} GB in {base_s:.1f} s; {base_last}")
            print(f"ratio baseline/this tree: {base / max(peak, 1):.1f}x")


if __name__ == "__main__":
    main()
