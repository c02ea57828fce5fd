"""Rate limits and the stop switch that every request of a client passes through.

Feishu documents 50 requests/second and 1000/minute for the message and resource endpoints,
per app. Staying under both here is cheaper than meeting 429s there.

A ``Gate`` is handed to the transport with each request: the first attempt, every retry and
every resend after a rejected token takes a slot from its limiters, and every wait (a
limiter's, a retry's backoff, a resume's) ends at once, with ``Stopped``, when its stop
switch is set. An export builds its own gate over the client's, so its ``max_rate`` and its
stop govern its requests without touching the client that others share.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Deque, Optional

from .errors import ConfigError

# The windows are a little longer than a second and a minute: requests reach the server a
# moment after they leave here, and not always in the order they left.
SECOND = 1.05
MINUTE = 60.5

Sleep = Callable[[float], None]


class Stopped(Exception):
    """Raised in a request, or a wait, of a job that was called off (an interrupted export)."""


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
        sleep: Sleep = time.sleep,
    ) -> None:
        if int(per_second) < 1 or (per_minute is not None and int(per_minute) < 1):
            raise ConfigError("rates are whole numbers of requests, at least 1, not %r and %r"
                              % (per_second, per_minute))
        self.per_second = int(per_second)
        self.per_minute = None if per_minute is None else int(per_minute)
        self._clock = clock
        self._sleep = sleep
        self._sent: Deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "RateLimiter(per_second=%r, per_minute=%r)" % (self.per_second, self.per_minute)

    def acquire(self, sleep: Optional[Sleep] = None) -> None:
        """Take a slot, waiting with ``sleep`` (a gate's, which a stop cuts short) as needed."""
        sleep = sleep or self._sleep
        while True:
            with self._lock:
                wait = self._wait(self._clock())
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
            sleep(wait)

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


class Gate:
    """Limiters that every attempt takes a slot from, and a stop switch that ends every wait.

    ``Gate()`` lets everything through at once; ``Gate(limiter)`` is a client's own;
    ``gate.joined(limiter, stop=event)`` adds a job's limit and stop to it.
    """

    def __init__(self, *limiters: Optional[RateLimiter], stop: Optional[threading.Event] = None,
                 sleep: Sleep = time.sleep) -> None:
        self.limiters = tuple(lim for lim in limiters if lim is not None)
        self.stop = stop
        self._sleep = sleep

    def __repr__(self) -> str:
        return "Gate(%s%s)" % (", ".join(map(repr, self.limiters)), ", stoppable" if self.stop else "")

    def joined(self, *limiters: Optional[RateLimiter], stop: Optional[threading.Event] = None) -> "Gate":
        """These limits, then this gate's; ``stop`` replaces this gate's switch when given.

        A job's own limits come first: a slot of a shared limiter is taken last, right
        before the request leaves, so no wait on the job's limit can make it stale."""
        return Gate(*(limiters + self.limiters), stop=stop or self.stop, sleep=self._sleep)

    def acquire(self) -> None:
        """Wait for a slot in every limiter; ``Stopped`` once the switch is set."""
        self.check()
        for limiter in self.limiters:
            limiter.acquire(self.wait)
        self.check()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short with ``Stopped`` when the switch is set."""
        if self.stop is None:
            if seconds > 0:
                self._sleep(seconds)
        elif self.stop.wait(max(0.0, seconds)):
            raise Stopped()

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped()

    def pause(self, seconds: float) -> None:
        """The server throttled: hold every limiter back a while."""
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
