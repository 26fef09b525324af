"""Limits on what one client may hold: open streams (in total and per client address), the
publish rate, and how long a write may wait on a reader that stopped reading.

Over a limit the client gets a 503 or 429 with `Retry-After`; nothing here is on the fan-out path.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from server.broker import Broker
from server.errors import ApiError

log = logging.getLogger("uvicorn.error")

STREAM_RETRY_AFTER = 5  # seconds a refused subscriber is told to wait
_MAX_TRACKED_CLIENTS = 10_000  # rate buckets kept before idle ones are forgotten


class StreamSlots:
    """Counts open streams; `acquire` refuses one over the total or the per-address limit."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}

    def acquire(self, client: str) -> Callable[[], None]:
        """Take a slot for `client` (raise a 503 ApiError when full); returns its release."""
        held = self._by_client.get(client, 0)
        if self.open >= self.total:
            raise ApiError(503, f"the server has reached its limit of {self.total} open streams",
                           {"Retry-After": str(STREAM_RETRY_AFTER)})
        if held >= self.per_client:
            raise ApiError(503, f"{client} has reached the limit of {self.per_client} open "
                                "streams per client address",
                           {"Retry-After": str(STREAM_RETRY_AFTER)})
        self.open += 1
        self._by_client[client] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.open -= 1
            left = self._by_client[client] - 1
            if left:
                self._by_client[client] = left
            else:
                del self._by_client[client]

        return release


class RateLimiter:
    """A token bucket per client address: `rate` requests a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> None:
        """Spend one request of `client`; a 429 ApiError with Retry-After when none is left."""
        if self.rate <= 0:
            return
        now = self._clock()
        tokens, at = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / self.rate)
            raise ApiError(429, f"too many publish requests from {client}: at most {self.rate:g}"
                                " a second", {"Retry-After": str(max(1, wait))})
        if client not in self._buckets and len(self._buckets) >= _MAX_TRACKED_CLIENTS:
            self._forget_idle(now)
        self._buckets[client] = (tokens - 1, now)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: they hold nothing worth remembering."""
        refill = self.burst / self.rate
        self._buckets = {client: state for client, state in self._buckets.items()
                         if now - state[1] < refill}
        if len(self._buckets) >= _MAX_TRACKED_CLIENTS:  # a flood of addresses: forget them all
            self._buckets.clear()


async def drop_stalled_writers(broker: Broker, stall_seconds: float) -> None:
    """Disconnect each stream whose current write has waited `stall_seconds`, until cancelled.

    A stalled reader on a quiet topic never overflows its queue; the write blocked on it shows
    it. Its client resumes from the backlog, or gets a gap, when it reads again.
    """
    while True:
        await asyncio.sleep(stall_seconds / 4)
        oldest = time.monotonic() - stall_seconds
        for topic in list(broker.topics.values()):
            for subscriber in list(topic.subscribers):
                if 0 < subscriber.write_started < oldest and not subscriber.closed:
                    log.info("dropping a stream of topic %r: its reader stalled for %gs",
                             topic.name, stall_seconds)
                    subscriber.close("stalled", discard=True)
                    if subscriber.abort is not None:
                        subscriber.abort()
