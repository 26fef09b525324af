"""Publish-to-display latency of one pane: p50 and max over the last minute.

Only events that carry a meaningful publish time count: our simulators' `ts` (epoch seconds), the
ticker's `ts_ns` (epoch nanoseconds) and AG-UI's `timestamp` (epoch milliseconds). Second-resolution
fields such as OpenAI's `created` are ignored: they cannot measure latencies below a second.
"""

from __future__ import annotations

import itertools
import random
from array import array
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW = 60.0  # seconds of history a summary covers
SAMPLES_PER_SECOND = 256  # kept per second of history; beyond that a uniform sample is kept
PLAUSIBLE = 86_400.0  # a "timestamp" further than a day from now is not a publish time


def publish_time(data: Any) -> float | None:
    """The publish time (epoch seconds) an event's parsed JSON data carries, if any."""
    if not isinstance(data, dict):
        return None
    ts_ns = data.get("ts_ns")
    if isinstance(ts_ns, int) and not isinstance(ts_ns, bool):
        return ts_ns / 1e9
    ts = data.get("ts")
    if _is_number(ts):
        return float(ts)
    # AG-UI events carry an optional BaseEvent.timestamp in milliseconds, beside their `type`.
    if isinstance(data.get("type"), str) and _is_number(data.get("timestamp")):
        return data["timestamp"] / 1000.0
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    p50: float  # seconds
    max: float  # seconds
    count: int  # events measured in the window

    def describe(self) -> str:
        """`lat 12ms/48ms`: p50/max, short enough for a narrow pane's status bar."""
        return f"lat {_ms(self.p50)}/{_ms(self.max)}"


def _ms(seconds: float) -> str:
    if abs(seconds) >= 10:
        return f"{seconds:.0f}s"
    return f"{round(seconds * 1000)}ms"  # round(): never "-0ms"


@dataclass(slots=True)
class _Second:
    """Latencies of events displayed within one wall-clock second."""

    start: int
    count: int = 0
    max: float = float("-inf")
    # array, not list: a minute of samples as Python floats were 60,000 long-lived objects a pane
    samples: array[float] = field(default_factory=lambda: array("d"))
    ordered: bool = False  # samples sorted: done once the second is over (nothing adds to it)


class LatencyWindow:
    """Latencies of the last minute, in memory bounded whatever the event rate.

    Exact while a second holds at most `SAMPLES_PER_SECOND` events; above that the median comes
    from a uniform sample of each second (reservoir sampling), weighted by its event count.
    """

    def __init__(self, window: float = WINDOW, *, seed: int = 0) -> None:
        self.window = window
        self._seconds: deque[_Second] = deque()
        self._random = random.Random(seed)
        self.last_published: float | None = None  # of the newest event counted: how far behind

    def observe(self, published: float, displayed: float) -> None:
        """Count one event published at `published` and shown at `displayed` (epoch seconds)."""
        latency = displayed - published
        if abs(latency) > PLAUSIBLE:
            return
        self.last_published = published
        start = int(displayed)
        if not self._seconds or self._seconds[-1].start < start:
            self._seconds.append(_Second(start))
        second = self._seconds[-1]  # a clock stepping back counts in the newest second
        second.count += 1
        second.max = max(second.max, latency)
        if len(second.samples) < SAMPLES_PER_SECOND:
            second.samples.append(latency)
        else:
            slot = self._random.randrange(second.count)
            if slot < SAMPLES_PER_SECOND:
                second.samples[slot] = latency

    def observe_event(self, data: Any, displayed: float) -> None:
        """Observe an event's parsed JSON data when it carries a publish time."""
        published = publish_time(data)
        if published is not None:
            self.observe(published, displayed)

    def summary(self, now: float) -> LatencySummary | None:
        """p50 and max of the events displayed in the last `window` seconds; None if none."""
        while self._seconds and self._seconds[0].start + 1 <= now - self.window:
            self._seconds.popleft()
        if not self._seconds:
            return None
        runs = [self._sorted(second, second is self._seconds[-1]) for second in self._seconds]
        weights = [second.count / len(run) for second, run in zip(self._seconds, runs, strict=True)]
        count = sum(second.count for second in self._seconds)
        half = count / 2

        def weight_upto(latency: float) -> float:
            return sum(weight * bisect_right(run, latency)
                       for weight, run in zip(weights, runs, strict=True))

        # The weighted median: the least latency with half the weight at or below it. A binary
        # search over the sorted samples (the runs merge fast), not a sort of (latency, weight)
        # pairs, which was too slow for the app's loop at thousands of events a second.
        latencies = sorted(itertools.chain.from_iterable(runs))
        low, high = 0, len(latencies) - 1
        while low < high:
            middle = (low + high) // 2
            if weight_upto(latencies[middle]) >= half:
                high = middle
            else:
                low = middle + 1
        p50 = latencies[low]
        return LatencySummary(p50=p50, max=max(s.max for s in self._seconds), count=count)

    @staticmethod
    def _sorted(second: _Second, newest: bool) -> list[float] | array[float]:
        """A second's samples in order: a copy while it may still change, else sorted once."""
        if newest:
            return sorted(second.samples)
        if not second.ordered:
            second.samples, second.ordered = array("d", sorted(second.samples)), True
        return second.samples
