"""The `/` filter of a pane: filters as you type, Enter keeps it, Escape clears it."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.widgets import Input

from monitor.tui.messages import FilterChanged, FilterClosed


class FilterBar(Input):
    """A one-line input docked at the bottom of a pane; hidden until `/`."""

    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", id="filter-clear")]

    def __init__(self) -> None:
        super().__init__(placeholder="filter: text to keep (Enter keeps, Esc clears)")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(FilterChanged(event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(FilterClosed(cleared=False))

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(FilterClosed(cleared=True))
