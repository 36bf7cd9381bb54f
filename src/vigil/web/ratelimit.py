"""Per-client request limits held in memory only: client addresses are never stored."""

from __future__ import annotations

import hashlib
import math
import threading
import time

from starlette.requests import Request

from vigil.web.problems import Problem
from vigil.web.said import said


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to the same number.

    Keys are hashed client addresses, kept only in this process's memory and forgotten when
    their bucket is full again.
    """

    def __init__(self, per_minute: int, *, name: str, processes: int = 1) -> None:
        # Each of ``processes`` web processes keeps its own buckets: each allows its share,
        # so a client spread over all of them still gets about ``per_minute`` in all.
        self.per_minute = math.ceil(per_minute / processes) if per_minute > 0 else 0
        self.name = name
        self._buckets: dict[bytes, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def hit(self, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens; return seconds to wait when there are not enough."""
        if not self.enabled:
            return None
        rate = self.per_minute / 60.0
        now = time.monotonic()
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        with self._lock:
            tokens, last = self._buckets.get(digest, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < cost:
                self._buckets[digest] = (tokens, now)
                return (cost - tokens) / rate
            self._buckets[digest] = (tokens - cost, now)
            if now - self._last_sweep > 60:
                self._sweep(now, rate)
            return None

    def check(self, key: str, cost: float = 1.0) -> None:
        wait = self.hit(key, cost)
        if wait is not None:
            raise Problem(
                429,
                said("Too many requests"),
                said("Please wait before trying again."),
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    def _sweep(self, now: float, rate: float) -> None:
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * rate >= self.per_minute
        ]
        for k in full:
            del self._buckets[k]
        self._last_sweep = now


def client_key(request: Request, trust_forwarded_for: bool) -> str:
    """The client's address: behind the one trusted proxy (``trust_forwarded_for``), the last
    X-Forwarded-For entry, which that proxy appended; everything before it came from the
    client, who could write anything there (a new address per guess, to dodge a lockout)."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.client.host if request.client else "unknown"
