"""The event inspector (`i`): one event of a pane at a time, older and newer a key away."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

from monitor.client.events import Event
from monitor.tui.render.entries import append_shown
from monitor.tui.render.event_ring import EventRing
from monitor.tui.widgets.event_detail import EventDetail

HINT = ("↑/k older · ↓/j newer · home/end oldest/newest · PgUp/PgDn scroll · y copy the data · "
        "Esc close")


class InspectorScreen(ModalScreen[None]):
    """A pane's events, newest first shown; reads the pane's ring as it goes on filling."""

    BINDINGS = [
        Binding("escape,i", "dismiss", "Close", id="inspect-close",
                tooltip="Inspector: close it"),
        # Before the scroll view's own arrows (page up and down still scroll a long event)
        Binding("up,k", "move(-1)", "Older", id="inspect-older", priority=True,
                tooltip="Inspector: the event before this one"),
        Binding("down,j", "move(1)", "Newer", id="inspect-newer", priority=True,
                tooltip="Inspector: the event after this one"),
        Binding("home", "jump(False)", "Oldest", id="inspect-oldest",
                tooltip="Inspector: the oldest event the pane keeps"),
        Binding("end", "jump(True)", "Newest", id="inspect-newest",
                tooltip="Inspector: the newest event"),
        Binding("y", "copy", "Copy data", id="inspect-copy",
                tooltip="Inspector: copy the event's data to the clipboard"),
    ]

    def __init__(self, events: EventRing, pane_name: str) -> None:
        super().__init__()
        self.events = events
        self.pane_name = pane_name
        self.number = events.appended - 1  # the newest event

    @property
    def event(self) -> Event | None:
        return self.events.get(self.number)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label("", classes="dialog-title")
            yield EventDetail()
            yield Label(HINT, classes="dialog-hint")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        """Draw the event the inspector is on (the oldest kept, if it was pushed out)."""
        self.number = min(max(self.number, self.events.first), self.events.appended - 1)
        event = self.event
        if event is None:  # the pane was cleared
            self.dismiss()
            return
        title = Text("", style="bold")
        append_shown(title, f"pane {self.pane_name} · ")  # a topic comes from a server
        newest = " (newest)" if self.number == self.events.appended - 1 else ""
        title.append(f"event {self.number - self.events.first + 1:,} of {len(self.events):,}"
                     f"{newest}")
        self.query_one(".dialog-title", Label).update(title)
        self.query_one(EventDetail).show(event)
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def action_move(self, step: int) -> None:
        self.number += step
        self._show()

    def action_jump(self, newest: bool) -> None:
        self.number = self.events.appended - 1 if newest else self.events.first
        self._show()

    def action_copy(self) -> None:
        event = self.event
        if event is not None:
            self.app.copy_to_clipboard(event.data)
            self.notify(f"Data sent to the clipboard: {len(event.data):,} characters", markup=False)
