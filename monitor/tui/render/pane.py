"""The render state of one pane: history, raw frames, open messages and runs, counters."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from rich.console import Group, RenderableType

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.stream import RESUMING
from monitor.tui.render.entries import Entry
from monitor.tui.render.event_ring import EventRing
from monitor.tui.render.generic import gap_entry, generic_entry, raw_entry, raw_frame, state_entry
from monitor.tui.render.logs import LogRenderer
from monitor.tui.render.progress import ProgressRenderer
from monitor.tui.render.stats import PaneStats
from monitor.tui.render.tokens import TokenRenderer

DEFAULT_MAX_LINES = 2000  # entries a pane keeps (`--max-lines`)
ENDS_CONNECTION = (State.STOPPED, State.ERROR, State.ENDED)


def interruption(item: StreamItem) -> str | None:
    """Why open runs and messages can no longer finish after `item`, or None when they can.

    A resumed connection continues them; a fresh start, a server's new run or an end does not.
    """
    if isinstance(item, Gap):
        return "the server started another run" if item.reason == "other-run" else None
    if not isinstance(item, StateChange):
        return None
    if item.state is State.CONNECTING and not item.reason.startswith(RESUMING):
        return "reconnected without resume"
    if item.state is State.ENDED:
        return "the recording ends here"
    return item.describe() if item.state in ENDS_CONNECTION else None


def event_name(event: Event, payload: Any) -> str:
    """The event's type, or the JSON's own `type` when the frame had no `event:` line."""
    own = payload.get("type") if isinstance(payload, dict) else None
    if event.type == "message" and isinstance(own, str):
        return own
    return event.type


class History:
    """A bounded list of entries with a running count, so a view can draw only what is new.

    With `entry`, it keeps what each entry is made of (plain tuples, which the collector stops
    walking: an Entry per event is one more object for every pass) and makes the entries when
    they are read.
    """

    def __init__(self, max_entries: int, entry: Callable[[Any], Entry] | None = None) -> None:
        self._kept: deque[Any] = deque(maxlen=max_entries)
        self._entry = entry
        self.appended = 0

    def add(self, kept: Any) -> None:
        """Add an entry (or, with `entry`, what it is made of)."""
        self._kept.append(kept)
        self.appended += 1

    @property
    def entries(self) -> list[Entry]:
        """Every entry held, oldest first."""
        return self._made(list(self._kept))

    def since(self, seen: int) -> list[Entry]:
        """Entries appended after the first `seen` (those that fell off the cap are gone)."""
        new = max(min(self.appended - seen, len(self._kept)), 0)
        kept = list(islice(reversed(self._kept), new))  # the newest few, not a copy of them all
        kept.reverse()
        return self._made(kept)

    def _made(self, kept: list[Any]) -> list[Entry]:
        return kept if self._entry is None else [self._entry(item) for item in kept]

    def clear(self) -> None:
        self._kept.clear()


class PaneRenderer:
    """Turns stream items into entries and live renderables; no Textual in here."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        self.max_lines = max_lines
        self.history = History(max_lines)
        self.raw = History(max_lines, raw_entry)
        self.stats = PaneStats()
        self.events = EventRing(max_lines)  # what the inspector (i) shows, as many as lines
        self.progress = ProgressRenderer()
        self.tokens = TokenRenderer()
        self.logs = LogRenderer()
        self.live_version = 0  # bumped whenever live() may draw something else

    def feed(self, item: StreamItem) -> None:
        self.stats.count(item)
        raw = raw_frame(item, self.max_lines)
        if raw is not None:
            self.raw.add(raw)
        if isinstance(item, Event):
            self._event(item)
        elif isinstance(item, Gap):
            self.history.add(gap_entry(item))
        elif isinstance(item, StateChange):
            if item.state is not State.CONNECTING:  # the status bar shows it; no line per try
                self.history.add(state_entry(item))
        elif not isinstance(item, Heartbeat):  # heartbeats live in the status bar only
            raise TypeError(f"not a stream item: {item!r}")
        if (why := interruption(item)) is not None:  # below the line that says why
            self._interrupt(why)

    def _event(self, event: Event) -> None:
        self.events.add(event)
        payload = event.json()
        # Publish-to-display latency, timed on arrival: the pane draws within one flush of it.
        self.stats.latency.observe_event(payload, event.received)
        name = event_name(event, payload)
        rendered = (
            self.tokens.handle(event, payload, name)
            or self.progress.handle(event, payload, name)
            or self.logs.handle(event, payload)
        )
        if rendered is None:
            self.history.add(generic_entry(event, payload))
            return
        for entry in rendered.entries:
            self.history.add(entry)
        if rendered.live_changed:
            self.live_version += 1

    def _interrupt(self, why: str) -> None:
        """Move what is still open to the history, marked interrupted."""
        entries = [*self.progress.interrupt(why), *self.tokens.interrupt(why)]
        for entry in entries:
            self.history.add(entry)
        if entries:
            self.live_version += 1

    def live(self) -> RenderableType | None:
        """Messages still streaming and runs still going, or None when nothing is open."""
        blocks = [*self.progress.live(), *self.tokens.live()]
        return Group(*blocks) if blocks else None

    def clear(self) -> None:
        """Forget what is drawn (history, raw, open messages and runs); counters stay."""
        self.history.clear()
        self.raw.clear()
        self.events.clear()
        self.progress.clear()
        self.tokens.clear()
        self.live_version += 1

