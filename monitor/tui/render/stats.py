"""Per-pane counters drawn in the pane's status bar, all timed by the stream's injected clock."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.latency import LatencyWindow

RATE_WINDOW = 10.0  # seconds of events averaged into the rate
PULSE = 1.0  # seconds a heartbeat stays highlighted
OVERDUE_FACTOR = 2.0  # heartbeats later than this many intervals are overdue
LATENCY_REFRESHES = 2  # latency summaries a second: each sorts up to a minute of samples


class RateCounter:
    """Events per second over the last RATE_WINDOW seconds, kept as a count per second.

    Not a timestamp per event: at thousands a second those would be a capped deque (which
    made the rate wrong) or a long-lived object per event in the allocator.
    """

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: deque[list[int]] = deque()  # [second, events in it], oldest first

    def add(self, at: float) -> None:
        second = int(at)
        if self._seconds and self._seconds[-1][0] >= second:  # a clock stepping back counts too
            self._seconds[-1][1] += 1
        else:
            self._seconds.append([second, 1])

    def rate(self, now: float) -> float:
        start = now - RATE_WINDOW
        while self._seconds and self._seconds[0][0] + 1 <= start:
            self._seconds.popleft()
        if not self._seconds:
            return 0.0
        total = sum(count for _, count in self._seconds)
        oldest, count = self._seconds[0]
        total -= count * max(0.0, start - oldest)  # the part of the oldest second outside
        return total / RATE_WINDOW


@dataclass(slots=True)
class PaneStats:
    """What the pane has shown so far (counted from the items it drew, so it matches the view)."""

    state: StateChange | None = None
    events: int = 0
    gaps: int = 0
    heartbeats: int = 0
    reconnects: int = 0
    last_id: str = ""
    last_heartbeat: float | None = None  # on the current connection
    heartbeat_interval: float | None = None  # observed between the last two heartbeats
    live_since: float | None = None  # when the current connection went live; None when down
    recent: RateCounter = field(default_factory=RateCounter)
    latency: LatencyWindow = field(default_factory=LatencyWindow)  # fed by the renderer
    _latency_shown: tuple[int, str] = (-1, "")  # (refresh tick, text)

    def count(self, item: StreamItem) -> None:
        if isinstance(item, Event):
            self.events += 1
            self.recent.add(item.received)
            self.last_id = item.id or self.last_id
        elif isinstance(item, Heartbeat):
            if self.last_heartbeat is not None:  # never across connections: that is no rhythm
                self.heartbeat_interval = item.received - self.last_heartbeat
            self.heartbeats += 1
            self.last_heartbeat = item.received
        elif isinstance(item, Gap):
            self.gaps += 1
            self.last_id = item.id or self.last_id
        else:
            self.state = item
            self.reconnects += item.state is State.RECONNECTING  # as SSEStream counts them
            if item.state is not State.LIVE or self.live_since is None:
                # Heartbeats are judged per connection: a new one starts with no age to carry
                self.last_heartbeat = None
                self.live_since = item.at if item.state is State.LIVE else None

    def rate(self, now: float) -> float:
        """Events per second over the last RATE_WINDOW seconds."""
        return self.recent.rate(now)

    def heartbeat(self, now: float, expected: float | None) -> tuple[str, str]:
        """(text, level) of the heartbeat indicator; level is none, pulse, ok or overdue.

        Only the current connection counts: while it is down there is no age, and a new one
        is overdue only when it too stays silent past the expected interval.
        """
        if self.heartbeats == 0:
            return "♡ no heartbeat", "none"
        since = self.last_heartbeat if self.last_heartbeat is not None else self.live_since
        if since is None:  # no connection, so no age
            return "♡ -", "none"
        age = max(0.0, now - since)
        interval = expected or self.heartbeat_interval
        if interval and age > OVERDUE_FACTOR * interval:
            return f"♥ overdue {age:.0f}s", "overdue"
        if self.last_heartbeat is None:  # a new connection, none on it yet
            return "♡ waiting", "none"
        return f"♥ {age:.0f}s", "pulse" if age < PULSE else "ok"

    def gaps_text(self) -> str:
        """`⚠ gaps 1`, or empty while the stream is complete: drawn first, never cut off."""
        return f"⚠ gaps {self.gaps}" if self.gaps else ""

    def summary(self, now: float) -> str:
        """`1,234 ev · 12.3/s · ↻ 1 · lat 12ms/48ms · #3f9a-57` (latency p50/max): the long
        last id last, so a narrow pane cuts that off rather than the counters."""
        parts = [f"{self.events:,} ev", f"{self.rate(now):.1f}/s", f"↻ {self.reconnects}"]
        if latency := self.latency_text(now):
            parts.append(latency)
        parts.append(f"#{self.last_id}" if self.last_id else "#-")
        return " · ".join(parts)

    def latency_text(self, now: float) -> str:
        """`lat 12ms/48ms`: p50/max over the last minute; empty when no event carried a time."""
        tick = int(now * LATENCY_REFRESHES)
        if tick != self._latency_shown[0]:
            summary = self.latency.summary(now)
            self._latency_shown = (tick, summary.describe() if summary else "")
        return self._latency_shown[1]
