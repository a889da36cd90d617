"""Token buckets in memory, per key (an API key's id, a client's address).

A bucket of ``capacity`` tokens refills at ``capacity / period`` a second; a request
takes one. At most ``max_keys`` buckets are kept (the least recently used go first),
so a flood of distinct keys costs bounded memory. Each gateway instance counts for
itself: N instances behind a balancer allow up to N times the limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class Buckets:
    def __init__(
        self,
        period_s: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period_s = period_s
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def _level(self, key: str, capacity: int, now: float) -> float:
        tokens, at = self._b.get(key, (float(capacity), now))
        return min(float(capacity), tokens + (now - at) * capacity / self.period_s)

    def take(self, key: str, capacity: int) -> tuple[bool, float]:
        """Take a token: (allowed, seconds until the next token when refused)."""
        now = self._clock()
        with self._lock:
            tokens = self._level(key, capacity, now)
            ok = tokens >= 1.0
            if ok:
                tokens -= 1.0
            self._b[key] = (tokens, now)
            self._b.move_to_end(key)
            while len(self._b) > self.max_keys:
                self._b.popitem(last=False)
        wait = 0.0 if ok else (1.0 - tokens) * self.period_s / max(capacity, 1)
        return ok, wait

    def level(self, key: str, capacity: int) -> float:
        """The tokens ``key`` has now (without taking one)."""
        with self._lock:
            return self._level(key, capacity, self._clock())
