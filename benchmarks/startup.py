"""Start-up benchmark: how long ``vigil serve`` takes to answer, and its memory, beside a bare app.

Run by hand or by ``make bench`` (never as a timed test)::

    .venv/bin/python benchmarks/startup.py             # 5 rounds, ~2 minutes
    .venv/bin/python benchmarks/startup.py --rounds 2  # quicker

Each round starts, on a scratch migrated SQLite database, one ``vigil serve`` process and
waits for ``/readyz``, then samples its resident memory a second after it answers; then, as the
baseline of the same round, a bare FastAPI app with one ``/readyz`` route under the same
uvicorn. Rounds alternate the two, so a machine that slows down slows both. It prints the
medians and Vigil's ratio to the bare app: what Vigil's own code and libraries add to a
process (a web process is started per ``--processes``, and by every test that runs a server).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks._measure import machine_busy_s
from benchmarks._server import HOST, BenchServer, source_version

BARE_APP = "benchmarks._bare_app:app"
ROOT = Path(__file__).resolve().parent.parent


def one_start(bare: bool) -> tuple[float, float]:
    """(seconds until /readyz answers, resident MB once it does) for one server start."""
    server = BenchServer("sqlite")  # not as a context manager: that starts `vigil serve` itself
    try:
        server.prepare()
        argv = None
        if bare:
            argv = [sys.executable, "-m", "uvicorn", BARE_APP, "--app-dir", str(ROOT)]
            argv += ["--host", HOST, "--port", str(server.port), "--log-level", "warning"]
        began = time.monotonic()
        server.start(argv=argv)
        ready = time.monotonic() - began
        time.sleep(1.0)  # memory once settled after the first answer
        rss = (server.rss_kib() or 0) / 1024
        return ready, rss
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="starts of each (default 5)")
    args = parser.parse_args()
    vigil: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    busy_before = machine_busy_s()
    wall = time.monotonic()
    for n in range(args.rounds):
        vigil.append(one_start(bare=False))
        bare.append(one_start(bare=True))
        print(
            f"round {n + 1}: vigil {vigil[-1][0]:.2f} s {vigil[-1][1]:.0f} MB; "
            f"bare app {bare[-1][0]:.2f} s {bare[-1][1]:.0f} MB",
            flush=True,
        )
    busy = (machine_busy_s() - busy_before) / (time.monotonic() - wall) * 100
    v_ready = statistics.median(r for r, _ in vigil)
    v_rss = statistics.median(m for _, m in vigil)
    b_ready = statistics.median(r for r, _ in bare)
    b_rss = statistics.median(m for _, m in bare)
    print()
    print(f"code {source_version()}, {args.rounds} rounds; all cores busy {busy:.0f}% of one core")
    print("(these starts included)")
    print("| | ready (s, median) | resident MB (median) |")
    print("|---|---:|---:|")
    print(f"| `vigil serve`, one process | {v_ready:.2f} | {v_rss:.0f} |")
    print(f"| bare FastAPI app, same uvicorn | {b_ready:.2f} | {b_rss:.0f} |")
    print(f"| ratio | {v_ready / b_ready:.1f}× | {v_rss / b_rss:.1f}× |")


if __name__ == "__main__":
    main()
