"""Messages the monitor's widgets post to each other (small dataclasses, Textual style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from monitor.client.events import StateChange

if TYPE_CHECKING:
    from monitor.tui.widgets.pane import StreamPane


@dataclass
class PaneActivated(Message):
    """A pane (or something inside it) got the focus: keys act on it from now on."""

    pane: StreamPane


@dataclass
class PaneStateChanged(Message):
    """A pane's connection moved to another state."""

    pane: StreamPane
    change: StateChange


@dataclass
class FilterChanged(Message):
    """The filter text of a pane changed (as typed)."""

    text: str


@dataclass
class FilterClosed(Message):
    """The filter bar is done: kept (Enter) or cleared (Escape)."""

    cleared: bool


@dataclass
class RecordingFailed(Message):
    """Writing the recording failed; recording stops everywhere and the monitor goes on."""

    error: str
