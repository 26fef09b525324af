"""Replay pacing: which recorded items are due, at a speed, with pause and seek by time.

`Playback` is pure logic over an injected clock, so it is tested without sleeping; `play` is the
small asyncio loop that the plain mode, the TUI and the replay server drive it with.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import inspect
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Sequence


class Playback:
    """A playhead over item times (recording seconds) that moves at `speed` x wall-clock time.

    Speed 0 plays as fast as possible. Items are numbered by their index in `times`.
    """

    def __init__(self, times: Sequence[float], *, speed: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a number >= 0, not {speed}")
        # A wall clock may step back between two items; replay never goes backwards in time.
        self.times = list(itertools.accumulate(times, max))
        self.start = self.times[0] if self.times else 0.0
        self.end = self.times[-1] if self.times else 0.0
        self.speed = speed
        self.cursor = 0  # index of the next item to deliver
        self.paused = False
        self.changed = asyncio.Event()  # set by every control, to wake the `play` loop
        self._clock = clock
        self._anchor_time = self.start  # recording time at `_anchor_wall`
        self._anchor_wall = clock()

    @property
    def finished(self) -> bool:
        return self.cursor >= len(self.times)

    @property
    def position(self) -> float:
        """The recording time shown now, between start and end."""
        head = self._head()
        if math.isinf(head):  # speed 0: as far as delivery has got
            return self.times[self.cursor - 1] if self.cursor else self.start
        return min(max(head, self.start), self.end)

    def due(self, limit: int | None = None) -> range:
        """Indices of the items due now (at most `limit`), which count as delivered.

        While paused, time stands still, but a seek still shows everything up to where it went.
        """
        upto = bisect.bisect_right(self.times, self._head(), lo=self.cursor)
        if limit is not None:
            upto = min(upto, self.cursor + limit)
        batch = range(self.cursor, upto)
        self.cursor = upto
        return batch

    def wait(self) -> float | None:
        """Wall seconds until the next item is due; None while paused or when finished."""
        if self.finished:
            return None
        if self.paused:
            return 0.0 if self.times[self.cursor] <= self._anchor_time else None
        if self.speed == 0:
            return 0.0
        return max(0.0, (self.times[self.cursor] - self._head()) / self.speed)

    def pause(self) -> None:
        if not self.paused:
            self._reanchor(self.position)
            self.paused = True
            self.changed.set()

    def resume(self) -> None:
        if self.paused:
            self._reanchor(self._anchor_time)
            self.paused = False
            self.changed.set()

    def toggle_pause(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def set_speed(self, speed: float) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a number >= 0, not {speed}")
        self._reanchor(self.position if not self.paused else self._anchor_time)
        self.speed = speed
        self.changed.set()

    def stop(self) -> None:
        """Deliver nothing more: the viewer is done."""
        self.cursor = len(self.times)
        self.changed.set()

    def seek(self, to: float) -> bool:
        """Move the playhead to recording time `to` (clamped to the recording).

        Items up to `to` that were not delivered yet become due at once. Returns True when the
        move went back past delivered items: the caller clears its view, and every item from the
        start up to `to` becomes due again.
        """
        to = min(max(to, self.start), self.end)
        back = self.cursor > bisect.bisect_right(self.times, to)
        if back:
            self.cursor = 0
        self._reanchor(to)
        self.changed.set()
        return back

    def seek_by(self, seconds: float) -> bool:
        """Seek relative to the current position; see `seek`."""
        return self.seek(self.position + seconds)

    def _head(self) -> float:
        if self.paused:
            return self._anchor_time
        if self.speed == 0:
            return math.inf
        return self._anchor_time + (self._clock() - self._anchor_wall) * self.speed

    def _reanchor(self, at: float) -> None:
        self._anchor_time = at
        self._anchor_wall = self._clock()


async def wait_for_change(playback: Playback, seconds: float | None) -> None:
    """Sleep `seconds` (None: for ever) or until a control (pause, seek, speed) changes plans."""
    playback.changed.clear()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await playback.changed.wait()


async def play(
    playback: Playback,
    deliver: Callable[[range], Awaitable[None] | None],
    *,
    until_finished: bool = True,
    batch: int | None = None,
    wait: Callable[[Playback, float | None], Awaitable[None]] = wait_for_change,
) -> None:
    """Hand each batch of due items to `deliver`, paced by `playback`.

    Returns when every item is delivered, unless `until_finished` is False (a viewer that may still
    seek back keeps it running until cancelled). `wait` is injectable for tests.
    """
    while True:
        due = playback.due(batch)
        if due:
            result = deliver(due)
            if inspect.isawaitable(result):
                await result
        if playback.finished and until_finished:
            return
        seconds = playback.wait()
        if seconds == 0:
            await asyncio.sleep(0)  # let the rest of the program run between batches
        else:
            await wait(playback, seconds)
