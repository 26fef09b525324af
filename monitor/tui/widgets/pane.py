"""One stream's pane: a worker feeds the stream to the renderer; the grid's timer draws batches."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import DescendantFocus
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from monitor.client.events import State, StateChange, StreamItem
from monitor.client.redaction import redact
from monitor.client.stream import ItemSource, StreamConfig
from monitor.recording.format import Recorder, RecordingError, StreamKey
from monitor.tui.messages import (
    FilterChanged,
    FilterClosed,
    PaneActivated,
    PaneStateChanged,
    RecordingFailed,
)
from monitor.tui.render import PaneRenderer
from monitor.tui.render.entries import shown
from monitor.tui.render.pane import DEFAULT_MAX_LINES, History
from monitor.tui.widgets.entry_log import EntryLog
from monitor.tui.widgets.filter_bar import FilterBar
from monitor.tui.widgets.live_panel import LivePanel
from monitor.tui.widgets.pane_status import PaneStatus

SourceFactory = Callable[[StreamConfig], ItemSource]
_SERIALS = itertools.count(1)


class StreamPane(Vertical):
    """Title, status bar, the stream's history, what is still streaming, and a filter bar."""

    number: reactive[int] = reactive(0)
    state: reactive[State] = reactive(State.CONNECTING)
    paused: reactive[bool] = reactive(False, init=False)
    raw_view: reactive[bool] = reactive(False, init=False)
    filter_text: reactive[str] = reactive("", init=False)
    unseen: reactive[int] = reactive(0, init=False)  # events that arrived while paused

    def __init__(self, source: ItemSource, *, source_factory: SourceFactory,
                 clock: Callable[[], float], max_lines: int = DEFAULT_MAX_LINES) -> None:
        super().__init__()
        self.source = source
        self.source_factory = source_factory
        self.clock = clock
        self.max_lines = max_lines
        self.renderer = PaneRenderer(max_lines)
        self.serial = next(_SERIALS)  # tells apart, in a recording, two panes on one stream
        self._drawn = 0  # entries of the shown history already written to the log
        self._live_drawn = -1
        self._events_at_pause = 0
        self._worker: Worker[None] | None = None
        self._state_seen: StateChange | None = None  # the latest state the source yielded
        self._state_shown: StateChange | None = None  # the latest state the pane has shown
        self.recorder: Recorder | None = None  # records every item as it arrives (REC)
        self.flush_cost = 0.0  # seconds the last flush took: the grid's budget of drawing

    @property
    def topic(self) -> str:
        """The pane's name: its topic, or its URL (credentials masked) when it has none."""
        return self.source.config.topic or redact(self.source.config.url)

    @property
    def log_view(self) -> EntryLog:
        return self.query_one(EntryLog)

    def compose(self) -> ComposeResult:
        yield PaneStatus()
        yield EntryLog(self.max_lines)
        yield LivePanel()
        yield FilterBar()

    def on_mount(self) -> None:
        self._update_titles()
        self.start()

    def on_unmount(self) -> None:
        self.source.stop("pane closed")

    # -- the stream ------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the source in a worker; only the timer touches widgets."""
        self._worker = self.run_worker(self._consume(self.source), group="stream",
                                       exclusive=True, exit_on_error=False)

    async def _consume(self, source: ItemSource) -> None:
        async for item in source.items():
            if source is self.source:  # a stream being replaced may still yield its last items
                self._take(item)

    def _take(self, item: StreamItem) -> None:
        # Rendered as it comes, in small steps between other work: a flush only draws.
        self.renderer.feed(item)
        if isinstance(item, StateChange):
            self._state_seen = item
        if self.recorder is not None:
            self._record(self.recorder, item)

    def _record(self, recorder: Recorder, item: StreamItem) -> None:
        try:
            config = self.source.config
            recorder.write(StreamKey(config.url, config.topic, self.serial), item)
        except RecordingError as exc:
            self.record(None)
            self.post_message(RecordingFailed(str(exc)))  # the screen stops every pane's REC

    def record(self, recorder: Recorder | None) -> None:
        """Record this pane's items to `recorder` from now on, or stop (None)."""
        starting = recorder is not None and recorder is not self.recorder
        self.recorder = recorder
        self.set_class(recorder is not None, "-recording")
        self._update_titles()
        if starting and recorder is not None and self._state_seen is not None:
            # Started mid-stream: the recording opens in the current state, stamped now so a
            # replay does not wait out the time before it.
            self._record(recorder, replace(self._state_seen, at=self.clock()))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker is self._worker:
            self._take(StateChange(State.ERROR, self.clock(), str(event.worker.error)))

    def reconnect(self, resume: bool = True) -> None:
        """Reconnect now, resuming from the last id or from scratch; restarts an ended stream."""
        if self._worker is not None and self._worker.is_running:
            self.source.reconnect(resume)
            return
        last_id = self.renderer.stats.last_id if resume else ""
        self._replace_source(self.source_factory(replace(self.source.config,
                                                          last_event_id=last_id)))

    def switch(self, config: StreamConfig) -> None:
        """Subscribe to something else: a new stream and a fresh view."""
        self.source.stop("switched")
        self.renderer = PaneRenderer(self.max_lines)
        self._drawn, self._events_at_pause = 0, 0
        self._replace_source(self.source_factory(config))
        self._rebuild()
        self._update_titles()

    def _replace_source(self, source: ItemSource) -> None:
        self.source = source
        self.start()

    # -- drawing ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Draw what the renderer has made since the last flush (unless paused)."""
        started = time.perf_counter()
        change = self._state_seen
        if change is not None and change is not self._state_shown:
            self._state_shown = change
            self.state = change.state
            self.post_message(PaneStateChanged(self, change))
        if self.paused:
            self.unseen = self.renderer.stats.events - self._events_at_pause
        else:
            self._draw()
        self.query_one(PaneStatus).show(self.renderer.stats, self.clock())
        self.flush_cost = time.perf_counter() - started

    def _history(self) -> History:
        return self.renderer.raw if self.raw_view else self.renderer.history

    def _draw(self, hold: bool = True) -> None:
        history = self._history()
        new = history.since(self._drawn)
        self._drawn = history.appended
        if new:  # cheap however many: the log renders only what comes into view
            self.log_view.extend(entry for entry in new if entry.matches(self.filter_text))
        if self.renderer.live_version != self._live_drawn:
            self._live_drawn = self.renderer.live_version
            self.query_one(LivePanel).show(None if self.raw_view else self.renderer.live(),
                                           hold=hold)

    def _rebuild(self) -> None:
        """Show the history again: after a filter or view change (the log renders what is seen)."""
        log = self.log_view
        log.clear()
        history = self._history()
        log.extend((entry for entry in history.entries if entry.matches(self.filter_text)),
                   follow=True)
        self._drawn = history.appended
        self._live_drawn = -1
        if not self.paused:
            self._draw(hold=False)  # the user asked for it: no lingering live panel

    def clear(self) -> None:
        """Forget what is drawn; counters and the connection stay."""
        self.renderer.clear()
        self._rebuild()

    # -- reactives -------------------------------------------------------------------------------

    def watch_state(self, old: State, new: State) -> None:
        self.remove_class(f"-{old.value}")
        self.add_class(f"-{new.value}")

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")
        if paused:
            self._events_at_pause = self.renderer.stats.events
        else:
            self.unseen = 0
            self._draw()
        self._update_titles()

    def watch_raw_view(self) -> None:
        self.set_class(self.raw_view, "-raw")
        self._rebuild()
        self._update_titles()

    def watch_filter_text(self) -> None:
        self._rebuild()
        self._update_titles()

    def watch_unseen(self) -> None:
        self._update_titles()

    def watch_number(self) -> None:
        self._update_titles()

    def _update_titles(self) -> None:
        title = f"{self.number} {self.topic}" if self.number else self.topic
        # A Text, not a str: a str would be read as markup, and a topic comes from a server
        self.border_title = shown(f"{title} ● REC" if self.recorder is not None else title)
        flags = []
        if self.paused:
            flags.append(f"⏸ paused · +{self.unseen} new")
        if self.raw_view:
            flags.append("raw")
        if self.filter_text:
            flags.append(f"filter: {self.filter_text}")
        self.border_subtitle = shown(" · ".join(flags))

    # -- focus and filter ------------------------------------------------------------------------

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        self.post_message(PaneActivated(self))

    def focus_log(self) -> None:
        self.log_view.focus()

    def open_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.display = True
        bar.focus()

    @on(FilterChanged)
    def _filter_changed(self, event: FilterChanged) -> None:
        event.stop()
        self.filter_text = event.text

    @on(FilterClosed)
    def _filter_closed(self, event: FilterClosed) -> None:
        event.stop()
        self.query_one(FilterBar).display = False  # the subtitle keeps showing the filter
        self.focus_log()
