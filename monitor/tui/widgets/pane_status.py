"""The status bar of a pane: connection state word, counters and the heartbeat indicator."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from monitor.client.events import State
from monitor.client.sanitize import visible
from monitor.tui.render import PaneStats
from monitor.tui.render.entries import shown
from monitor.tui.widgets.status_forms import fitted, heartbeat_forms, state_forms

HEARTBEAT_LEVELS = ("none", "pulse", "ok", "overdue")


class PaneStatus(Horizontal):
    """`live  ⚠ gaps 1  1,234 ev · 12.3/s · ↻ 0 · #3f9a01c2-57   ♥ 2s`; colours come from the
    state class; a narrow bar shortens the state and heartbeat (see status_forms)."""

    _shown: tuple[str, str, str, str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Label(State.CONNECTING.value, classes="state")
        yield Label("", classes="gaps")
        yield Label("", classes="summary")
        yield Label("", classes="heartbeat")

    def show(self, stats: PaneStats, now: float) -> None:
        """Redraw from the pane's counters, as of `now` (the app's clock)."""
        beat, level = stats.heartbeat(now, None)
        gaps = stats.gaps_text()
        # Shorter words before cut ones: the state and the heartbeat stay whole
        state, beat = fitted(self.size.width, state_forms(stats.state), heartbeat_forms(beat),
                             gaps)
        texts = (state, gaps, stats.summary(now), beat, level)
        if texts == self._shown:  # called ~30 times a second: touch the DOM only on change
            return
        previous, self._shown = self._shown, texts
        labels = [self.query_one(f".{name}", Label) for name in ("state", "gaps", "summary")]
        beat = self.query_one(".heartbeat", Label)
        for index, label in enumerate([*labels, beat]):
            if previous is None or texts[index] != previous[index]:
                # A Text, not a str, which would be read as markup: reasons quote servers
                label.update(shown(texts[index]), layout=previous is None or
                             _resizes(label, previous[index], texts[index]))
        labels[1].display = bool(texts[1])
        for name in HEARTBEAT_LEVELS:
            beat.set_class(name == texts[4], f"-{name}")


def _resizes(label: Label, old: str, new: str) -> bool:
    """Whether `new` changes the label's width. A layout pass re-renders the whole screen, and
    a width set by the stylesheet (the summary's) never changes."""
    width = label.styles.width
    return (width is None or width.is_auto) and cell_len(visible(old)) != cell_len(visible(new))
