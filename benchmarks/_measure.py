"""What every benchmark measures the same way: CPU of a process and of the machine, a
closed-loop HTTP client on loopback, nearest-rank percentiles, and waiting for quiet.

Shared by ``benchmarks/intake.py`` and ``benchmarks/triage_speed.py`` so that their figures
are taken by one piece of code and stay comparable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter

from benchmarks._server import HOST

NOISY_OTHER_PCT = 15.0  # other processes' CPU (% of one core) above which we warn


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (user+nice+system+irq+softirq+steal)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2] + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) until the machine is nearly idle; return its busy %."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = machine_busy_s()
        time.sleep(2.0)
        busy_pct = 100.0 * (machine_busy_s() - before) / 2.0
        if busy_pct < NOISY_OTHER_PCT or time.monotonic() >= deadline:
            return busy_pct
        print(f"  machine busy ({busy_pct:.0f}% of a core); waiting for quiet...", flush=True)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def closed_loop(
    port: int,
    requests: list[bytes],
    concurrency: int,
    duration_s: float,
    *,
    max_requests: int,
    timeout_s: float,
    start: int = 0,
    rate: float = 0.0,
) -> tuple[list[float], Counter[int], int]:
    """Keep-alive clients over raw sockets, each sending the next request of ``requests``
    in turn as soon as its last answer is read; bounded by time and by ``max_requests``.
    With ``rate`` (requests/s) the k-th request leaves no earlier than k / rate seconds
    after the start: arrivals at a steady pace, as long as the answers keep up with it.
    Returns (latencies in seconds, answers by status, connections lost)."""
    began = time.perf_counter()
    stop_at = began + duration_s
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    next_index = start

    async def one_connection() -> None:
        nonlocal errors, next_index
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at and len(latencies) < max_requests:
                request = requests[next_index % len(requests)]
                leaves_at = began + (next_index - start) / rate if rate > 0 else 0.0
                next_index += 1
                if leaves_at > time.perf_counter():
                    await asyncio.sleep(leaves_at - time.perf_counter())
                    if time.perf_counter() >= stop_at:
                        break
                t0 = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await asyncio.wait_for(reader.readexactly(length), timeout_s)
                latencies.append(time.perf_counter() - t0)
                statuses[int(head[9:12])] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            errors += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    return latencies, statuses, errors


def target_table(rows: list[tuple[str, bool | None, str]]) -> list[str]:
    """The markdown table of targets: (target, met or None when not judged, result)."""
    return ["| target | result | met |", "|---|---|---|"] + [
        f"| {n} | {v} | {'n/a' if m is None else 'yes' if m else '**no**'} |" for n, m, v in rows
    ]
