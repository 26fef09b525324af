"""Panes in a grid whose columns follow the terminal width; pages of them when they do not fit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.events import Resize

from monitor.tui.widgets.pane import StreamPane
from monitor.tui.widgets.pane_tabs import PaneTabs

FLUSH_INTERVAL = 1 / 30  # seconds between screen updates: batches fast streams
SLOWEST_FLUSH = 1 / 8  # under load the updates thin out, down to this interval
DRAW_SHARE = 0.5  # under load, drawing (flushes and their screen update) gets this share of time
FLUSH_BUDGET = 0.01  # seconds of pane drawing per tick: panes past it are drawn at the next tick
MIN_PANE_WIDTH = 44  # columns below which a pane's status bar stops being readable
MIN_PANE_HEIGHT = 10  # rows below which a pane shows too few lines to be useful
MAX_COLUMNS = 4  # the .tcss has a class for each column count up to this
TABS_HEIGHT = 1  # rows the pane tabs take when the panes are paged


@dataclass(frozen=True)
class PaneLayout:
    """How many columns, and which panes are on screen (all of them unless paged)."""

    columns: int
    shown: range  # indexes of the panes on screen
    paged: bool


def layout(count: int, width: int, height: int, active: int) -> PaneLayout:
    """Columns from the width; as many rows as fit the height. More panes than that are paged,
    below a line of tabs: the page that holds the active pane is shown."""
    columns = max(1, min(count, MAX_COLUMNS, width // MIN_PANE_WIDTH))
    paged = count > columns * max(1, height // MIN_PANE_HEIGHT)
    if paged:
        per_page = columns * max(1, (height - TABS_HEIGHT) // MIN_PANE_HEIGHT)
        start = max(active, 0) // per_page * per_page
        shown = range(start, min(start + per_page, count))
    else:
        shown = range(count)
    rows = math.ceil(len(shown) / columns)
    columns = math.ceil(len(shown) / rows)  # balance: 4 panes in 3 columns become 2 x 2
    return PaneLayout(columns, shown, paged)


class PaneGrid(VerticalScroll):
    """Sets `-cols-N` classes and shows a page of panes, with tabs that name every pane when
    they do not all fit; sizes live in monitor.tcss."""

    _next_flush = 0.0  # monotonic time of the next flush; later while the app is busy
    _next_pane = 0  # where the next tick starts drawing, when one tick cannot draw every pane
    active: StreamPane | None = None  # its page is the one shown

    def compose(self) -> ComposeResult:
        yield PaneTabs()  # docked: the panes' room is the same with or without it

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
        """Pick the columns and the page of panes on screen, from the size and the pane count."""
        panes = list(self.query_children(StreamPane))
        width, height = self.size
        if not panes or not width:
            return
        active = panes.index(self.active) if self.active in panes else 0
        fit = layout(len(panes), width, height, active)
        for n in range(1, MAX_COLUMNS + 1):
            self.set_class(n == fit.columns, f"-cols-{n}")
        for index, pane in enumerate(panes):
            pane.display = index in fit.shown
        self.query_one(PaneTabs).show(panes, fit.shown if fit.paged else None, self.active)

    def show_page_of(self, pane: StreamPane) -> None:
        """Make `pane` the active one, and bring its page on screen."""
        self.active = pane
        self.fit_columns()


def flush_delay(cost: float) -> float:
    """Seconds from one flush to the next, given what the last one took until it was on screen.

    A monitor that cannot draw everything must fall behind in frames, not in events: when drawing
    takes more than DRAW_SHARE of the time, the updates thin out and the streams get the rest.
    """
    return min(SLOWEST_FLUSH, max(FLUSH_INTERVAL, cost / DRAW_SHARE))
