"""When a silent connection is replaced: only once the stream has shown a rhythm, or when forced.

A stream that has sent nothing for a while may be dead, or an agent thinking. Browsers keep such a
connection (TCP keepalive finds a dead peer), so the automatic watchdog arms only once keep-alives
(heartbeats, comments, empty lines) come at a regular pace, and then allows a few of their
intervals. `--watchdog SECONDS` forces one from the start; `0` turns it off.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

WATCHDOG_HEARTBEATS = 3  # auto watchdog: this many keep-alive intervals of silence
MIN_AUTO_WATCHDOG = 2.0
RHYTHM_BEATS = 3  # keep-alives needed before the auto watchdog arms
RHYTHM_SPREAD = 2.0  # a rhythm: the longest interval between them at most this times the shortest


class Watchdog:
    """One stream's keep-alives and the silence they allow; `forced`: None (auto), 0 (off) or
    seconds."""

    def __init__(self, forced: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.forced = forced
        self.clock = clock
        self.interval: float | None = None  # once keep-alives show a rhythm; kept on reconnecting
        self._beats: list[float] = []  # clock times of the latest keep-alives on this connection

    def new_connection(self) -> None:
        """A rhythm is timed within one connection."""
        self._beats.clear()

    def keepalive(self) -> float:
        """A heartbeat, or a chunk of comments or empty lines, came now; returns the time."""
        now = self.clock()
        beats = self._beats
        beats.append(now)
        del beats[:-RHYTHM_BEATS]
        if len(beats) == RHYTHM_BEATS:
            intervals = [later - earlier for earlier, later in itertools.pairwise(beats)]
            if max(intervals) <= RHYTHM_SPREAD * max(min(intervals), 1e-3):
                self.interval = max(intervals)
        return now

    def timeout(self) -> float | None:
        """Seconds of silence before the connection is replaced; None: no watchdog."""
        if self.forced is not None:
            return self.forced or None
        if self.interval is None:
            return None
        return max(MIN_AUTO_WATCHDOG, WATCHDOG_HEARTBEATS * self.interval)
