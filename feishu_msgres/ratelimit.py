"""A client-side rate limit shared by every thread using one Client.

Feishu documents 50 requests/second and 1000/minute for the message and resource endpoints,
per app. Staying under both here is cheaper than meeting 429s there.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Deque, Optional

# The windows are a little longer than a second and a minute: requests reach the server a
# moment after they leave here, and not always in the order they left.
SECOND = 1.05
MINUTE = 60.5

# A thread working for a job that can be called off (an export's workers) puts the job's
# stop event here: every wait of this library in that thread then ends, with ``Stopped``,
# the moment the job stops, instead of waiting out a minute of backoff.
_job = threading.local()


class Stopped(Exception):
    """Raised in a thread whose job was called off (an interrupted export)."""


def stop_with(event: Optional[threading.Event]) -> None:
    """Tie the waits of the current thread to ``event`` (None: to nothing)."""
    _job.stop = event


def pause(seconds: float) -> None:
    """``time.sleep``, cut short by the current thread's job stopping (see ``stop_with``)."""
    stop = getattr(_job, "stop", None)
    if stop is None:
        if seconds > 0:
            time.sleep(seconds)
    elif stop.wait(max(0.0, seconds)):
        raise Stopped()


class RateLimiter:
    """At most ``per_second`` requests in any second and ``per_minute`` in any minute.

    ``acquire()`` blocks until a request may go; ``pause(seconds)`` holds everyone back
    (the server said 429). Sliding windows, so no burst at a window's edge breaks them.
    """

    def __init__(
        self,
        per_second: int = 50,
        per_minute: Optional[int] = 1000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = pause,
    ) -> None:
        if int(per_second) < 1 or (per_minute is not None and int(per_minute) < 1):
            raise ValueError("rates are whole numbers of requests, at least 1")
        self.per_second = int(per_second)
        self.per_minute = None if per_minute is None else int(per_minute)
        self._clock = clock
        self._sleep = sleep
        self._sent: Deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "RateLimiter(per_second=%r, per_minute=%r)" % (self.per_second, self.per_minute)

    def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._wait(self._clock())
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait(self, now: float) -> float:
        """Seconds until one more request fits (0 or less: now)."""
        sent = self._sent
        while sent and sent[0] <= now - MINUTE:
            sent.popleft()
        wait = self._paused_until - now
        if self.per_minute is not None and len(sent) >= self.per_minute:
            wait = max(wait, sent[-self.per_minute] + MINUTE - now)
        if len(sent) - _first_after(sent, now - SECOND) >= self.per_second:
            wait = max(wait, sent[-self.per_second] + SECOND - now)
        return wait


class AllOf:
    """Several limits at once (an export's own rate under the client's), and a stop switch:
    ``acquire()`` raises ``Stopped`` once ``stop`` is set."""

    def __init__(self, *limiters: Optional[RateLimiter], stop: Optional[threading.Event] = None) -> None:
        self.limiters = [lim for lim in limiters if lim is not None]
        self.stop = stop
        self.per_minute = min((lim.per_minute for lim in self.limiters if lim.per_minute), default=None)

    def acquire(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped()
        for limiter in self.limiters:
            limiter.acquire()
        if self.stop is not None and self.stop.is_set():
            raise Stopped()

    def pause(self, seconds: float) -> None:
        for limiter in self.limiters:
            limiter.pause(seconds)


def _first_after(sent: Deque[float], cutoff: float) -> int:
    """Index of the first time in ``sent`` (sorted) later than ``cutoff``."""
    lo, hi = 0, len(sent)
    while lo < hi:
        mid = (lo + hi) // 2
        if sent[mid] <= cutoff:
            lo = mid + 1
        else:
            hi = mid
    return lo
