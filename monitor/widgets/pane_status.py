"""The status bar of a pane: connection state word, counters and the heartbeat indicator."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from monitor.events import State
from monitor.render import PaneStats

HEARTBEAT_LEVELS = ("none", "pulse", "ok", "overdue")


class PaneStatus(Horizontal):
    """`live  ⚠ gaps 1  1,234 ev · 12.3/s · ↻ 0 · #3f9a01c2-57   ♥ 2s`; colours come from the
    state class."""

    _shown: tuple[str, str, str, str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Label(State.CONNECTING.value, classes="state")
        yield Label("", classes="gaps")
        yield Label("", classes="summary")
        yield Label("", classes="heartbeat")

    def show(self, stats: PaneStats, now: float) -> None:
        """Redraw from the pane's counters, as of `now` (the app's clock)."""
        state = stats.state.describe() if stats.state else State.CONNECTING.value
        shown = (state, stats.gaps_text(), stats.summary(now), *stats.heartbeat(now, None))
        if shown == self._shown:  # called ~30 times a second: touch the DOM only on change
            return
        self._shown = shown
        self.query_one(".state", Label).update(shown[0])
        gaps = self.query_one(".gaps", Label)
        gaps.update(shown[1])
        gaps.display = bool(shown[1])
        self.query_one(".summary", Label).update(shown[2])
        beat = self.query_one(".heartbeat", Label)
        beat.update(shown[3])
        for name in HEARTBEAT_LEVELS:
            beat.set_class(name == shown[4], f"-{name}")
