"""Panes in a grid whose columns follow the terminal width; rows scroll when they do not fit."""

from __future__ import annotations

import math
import time

from textual.containers import VerticalScroll
from textual.events import Resize

from monitor.tui.widgets.pane import StreamPane

FLUSH_INTERVAL = 1 / 30  # seconds between screen updates: batches fast streams
SLOWEST_FLUSH = 1 / 8  # under load the updates thin out, down to this interval
DRAW_SHARE = 0.5  # under load, drawing (flushes and their screen update) gets this share of time
FLUSH_BUDGET = 0.01  # seconds of pane drawing per tick: panes past it are drawn at the next tick
MIN_PANE_WIDTH = 44  # columns below which a pane's status bar stops being readable
MIN_PANE_HEIGHT = 10  # rows below which a pane shows too few lines to be useful
MAX_COLUMNS = 4  # the .tcss has a class for each column count up to this


class PaneGrid(VerticalScroll):
    """Sets `-cols-N` and `-scroll` classes; the sizes themselves live in monitor.tcss."""

    _next_flush = 0.0  # monotonic time of the next flush; later while the app is busy
    _next_pane = 0  # where the next tick starts drawing, when one tick cannot draw every pane

    def on_mount(self) -> None:
        # One clock for every pane, so that their batches land in the same screen update.
        self.set_interval(FLUSH_INTERVAL, self._tick)

    def _tick(self) -> None:
        started = time.monotonic()
        if started < self._next_flush:
            return
        self._next_flush = started + SLOWEST_FLUSH  # until this flush's cost is known
        self.flush_panes()
        self.call_after_refresh(self._paced, started)

    def _paced(self, started: float) -> None:
        """Time the next flush from what this one cost, the screen update and waiting included."""
        self._next_flush = started + flush_delay(time.monotonic() - started)

    def flush_panes(self) -> None:
        """Draw what the panes have rendered since they were last drawn: every pane, or as many
        as fit in FLUSH_BUDGET by what each cost last time (at least one), taking turns: a long
        block of drawing, and the screen update after it, is a late key press."""
        panes = list(self.query_children(StreamPane))
        start = self._next_pane % len(panes) if panes else 0
        spent, drawn = 0.0, 0
        for pane in panes[start:] + panes[:start]:
            if drawn and spent + pane.flush_cost > FLUSH_BUDGET:
                break
            # In the pane's own context: a message whose sender is this grid stops bubbling here.
            pane.call_later(pane.flush)
            spent, drawn = spent + pane.flush_cost, drawn + 1
        self._next_pane = start + drawn

    def on_resize(self, event: Resize) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Pick the number of columns and whether rows scroll, from the size and pane count."""
        count = len(self.children)
        width, height = self.size
        if not count or not width:
            return
        columns = max(1, min(count, MAX_COLUMNS, width // MIN_PANE_WIDTH))
        rows = math.ceil(count / columns)
        columns = math.ceil(count / rows)  # balance: 4 panes in 3 columns become 2 x 2
        for n in range(1, MAX_COLUMNS + 1):
            self.set_class(n == columns, f"-cols-{n}")
        self.set_class(rows * MIN_PANE_HEIGHT > height, "-scroll")


def flush_delay(cost: float) -> float:
    """Seconds from one flush to the next, given what the last one took until it was on screen.

    A monitor that cannot draw everything must fall behind in frames, not in events: when drawing
    takes more than DRAW_SHARE of the time, the updates thin out and the streams get the rest.
    """
    return min(SLOWEST_FLUSH, max(FLUSH_INTERVAL, cost / DRAW_SHARE))
