"""The monitor's screen: panes in a grid, the keys that act on the focused pane, dialogs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Label

from monitor.client.backoff import seconds_text
from monitor.client.redaction import redact
from monitor.client.sanitize import visible
from monitor.client.stream import StreamConfig, with_topic
from monitor.client.topics import TopicList, TopicsPending, TopicsRefused
from monitor.recording.format import Recorder, RecordingError, recording_name
from monitor.tui.messages import PaneActivated, PaneStateChanged, RecordingFailed
from monitor.tui.render.pane import DEFAULT_MAX_LINES
from monitor.tui.screens.help_screen import HelpScreen, KeyRow
from monitor.tui.screens.inspector_screen import InspectorScreen
from monitor.tui.screens.topic_dialog import TopicDialog
from monitor.tui.widgets.pane import SourceFactory, StreamPane
from monitor.tui.widgets.pane_grid import PaneGrid

MAX_DIGIT = 9
URL = re.compile(r"^https?://", re.IGNORECASE)
# Finds the server's topics: a TopicsPending while it waits, then a config for each topic; what it
# has to say on the way (how many topics it left out) goes to the callable it is given.
Discovery = Callable[[Callable[[str], None]], AsyncIterator[TopicsPending | list[StreamConfig]]]


@dataclass
class MonitorSettings:
    """What every pane shares: how to open a stream, the clock, the line cap, the topic list."""

    source_factory: SourceFactory
    load_topics: Callable[[StreamConfig], Awaitable[TopicList]]
    clock: Callable[[], float]
    max_lines: int = DEFAULT_MAX_LINES
    recorder: Recorder | None = None  # --record FILE: every pane records from the start
    discovery: Discovery | None = None  # no URL given: panes open when the topics appear


def config_for(choice: str, current: StreamConfig) -> StreamConfig:
    """A typed URL as is, or a topic on the current pane's URL; other options carry over."""
    if URL.match(choice):
        return replace(current, url=choice, topic=None, last_event_id="")
    return replace(current, url=with_topic(current.url, choice), topic=choice, last_event_id="")


class MonitorScreen(Screen[None]):
    """Every binding has an id, so users can remap it (see SSE_MONITOR_KEYS in the README)."""

    # Help and Quit first: the footer shows keys in this order and cuts off the last ones
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit sse-monitor"),
        Binding("r", "reconnect", "Reconnect", id="reconnect",
                tooltip="Reconnect the focused pane, resuming from its last event id"),
        Binding("R", "reconnect_all", "Reconnect all", id="reconnect-all", show=False,
                tooltip="Reconnect every pane, each resuming from its last event id"),
        Binding("ctrl+r", "reconnect_fresh", "From scratch", id="reconnect-fresh", show=False,
                tooltip="Reconnect the focused pane without resuming (no Last-Event-ID)"),
        Binding("t", "switch_topic", "Topic", id="switch-topic",
                tooltip="Switch the focused pane to another topic (from GET /topics or typed)"),
        Binding("a", "add_pane", "Add", id="add-pane",
                tooltip="Add a pane for a topic or a URL"),
        Binding("w", "close_pane", "Close", id="close-pane", show=False,
                tooltip="Close the focused pane"),
        Binding("p,space", "toggle_pause", "Pause", id="pause",
                tooltip="Pause or resume the focused pane's view; nothing is dropped"),
        Binding("slash", "filter", "Filter", id="filter",
                tooltip="Filter the focused pane by text"),
        Binding("c", "clear", "Clear", id="clear", show=False,
                tooltip="Clear the focused pane's lines"),
        Binding("v", "toggle_raw", "Raw view", id="raw-view",
                tooltip="Show the focused pane's frames as received, or rendered again"),
        Binding("i", "inspect", "Inspect", id="inspect",
                tooltip="Inspect the focused pane's events one at a time, newest first"),
        Binding("tab", "cycle_pane(1)", "Next pane", id="next-pane", show=False,
                tooltip="Focus the next pane"),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", id="previous-pane", show=False,
                tooltip="Focus the previous pane"),
        *(Binding(str(n), f"focus_pane({n})", f"Pane {n}", id=f"pane-{n}", show=False,
                  tooltip=f"Focus pane {n}") for n in range(1, MAX_DIGIT + 1)),
        Binding("s", "toggle_record", "Record", id="record",
                tooltip="Start or stop recording the focused pane (● REC) to a JSON Lines file"),
        Binding("S", "toggle_record_all", "Record all", id="record-all", show=False,
                tooltip="Start or stop recording every pane"),
    ]

    def __init__(self, configs: list[StreamConfig], settings: MonitorSettings) -> None:
        super().__init__()
        self.configs = configs
        self.settings = settings
        self.active: StreamPane | None = None
        self.recorder = settings.recorder  # opened by the first record key otherwise
        self.record_all = settings.recorder is not None  # new panes record too

    @property
    def panes(self) -> list[StreamPane]:
        return list(self.query(StreamPane))

    def compose(self) -> ComposeResult:
        yield Header()
        with PaneGrid():
            for config in self.configs:
                yield self._new_pane(config)
        yield Label("No panes: press a to add one.", id="empty")
        yield Footer()

    def on_mount(self) -> None:
        self._panes_changed()
        if self.panes:
            self.focus_pane(self.panes[0])
        elif self.settings.discovery is not None:
            self.query_one("#empty", Label).update("Looking for the server's topics…")
            self.run_worker(self._open_discovered(self.settings.discovery), group="discovery")

    async def _open_discovered(self, discovery: Discovery) -> None:
        """Say what it waits for until the server lists its topics, then open a pane for each."""
        empty = self.query_one("#empty", Label)
        try:
            async for found in discovery(self.tell):
                if isinstance(found, TopicsPending):
                    empty.update(waiting_text(found))
                    continue
                self.configs = found
                await self.query_one(PaneGrid).mount_all(map(self._new_pane, found))
                self._panes_changed()
                self.focus_pane(self.panes[0])
        except TopicsRefused as exc:
            empty.update(Text(visible(str(exc)), style="bold red", justify="center"))

    def _new_pane(self, config: StreamConfig) -> StreamPane:
        pane = StreamPane(self.settings.source_factory(config),
                          source_factory=self.settings.source_factory,
                          clock=self.settings.clock, max_lines=self.settings.max_lines)
        if self.record_all:
            pane.record(self.recorder)
        return pane

    def _panes_changed(self) -> None:
        for number, pane in enumerate(self.panes, 1):
            pane.number = number
        self.query_one(PaneGrid).fit_columns()  # numbers and names changed: the tabs too
        self.query_one(PaneGrid).display = bool(self.panes)  # the notice takes the screen
        self.query_one("#empty").display = not self.panes
        self._update_summary()

    def _update_summary(self) -> None:
        """Header subtitle: the server(s), and how many panes are in which state."""
        servers = dict.fromkeys(server_of(pane.source.config.url) for pane in self.panes)
        states = Counter(pane.state.value for pane in self.panes)
        counts = ", ".join(f"{count} {counted(state, count)}" for state, count in states.items())
        self.sub_title = visible(" ".join(servers)) + (f" · {counts}" if counts else "")

    @on(PaneActivated)
    def _activated(self, event: PaneActivated) -> None:
        if self.active is not None:
            self.active.remove_class("-active")
        self.active = event.pane
        event.pane.add_class("-active")
        self.query_one(PaneGrid).show_page_of(event.pane)

    @on(PaneStateChanged)
    def _state_changed(self, event: PaneStateChanged) -> None:
        self._update_summary()

    # -- actions on the focused pane -------------------------------------------------------------

    def action_reconnect(self) -> None:
        if self.active:
            self.active.reconnect(resume=True)

    def action_reconnect_all(self) -> None:
        for pane in self.panes:
            pane.reconnect(resume=True)

    def action_reconnect_fresh(self) -> None:
        if self.active:
            self.active.reconnect(resume=False)

    def action_toggle_pause(self) -> None:
        if self.active:
            self.active.paused = not self.active.paused

    def action_filter(self) -> None:
        if self.active:
            self.active.open_filter()

    def action_clear(self) -> None:
        if self.active:
            self.active.clear()

    def action_toggle_raw(self) -> None:
        if self.active:
            self.active.raw_view = not self.active.raw_view

    def action_inspect(self) -> None:
        pane = self.active
        if pane is None:
            return
        if not pane.renderer.events.appended:
            self.notify(f"Pane {pane.number} has no events to inspect yet", severity="warning")
            return
        self.app.push_screen(InspectorScreen(pane.renderer.events, f"{pane.number} {pane.topic}"))

    def action_switch_topic(self) -> None:
        pane = self.active
        if pane is None:
            return

        def switched(choice: str | None) -> None:
            if choice and pane.is_attached:
                pane.switch(config_for(choice, pane.source.config))
                self._panes_changed()

        config = pane.source.config
        self.app.push_screen(TopicDialog(f"Switch pane {pane.number} ({pane.topic}) to",
                                         lambda: self.settings.load_topics(config),
                                         current=pane.source.config.topic or ""), switched)

    def action_add_pane(self) -> None:
        base = self.active.source.config if self.active else (self.configs or [None])[0]
        if base is None:
            return

        async def added(choice: str | None) -> None:
            if choice:
                pane = self._new_pane(config_for(choice, base))
                await self.query_one(PaneGrid).mount(pane)
                self._panes_changed()
                self.focus_pane(pane)

        self.app.push_screen(TopicDialog("Add a pane for",
                                         lambda: self.settings.load_topics(base)), added)

    async def action_close_pane(self) -> None:
        pane = self.active
        if pane is None:
            return
        panes = self.panes
        index = panes.index(pane)
        self.active = None
        await pane.remove()
        self._panes_changed()
        if self.panes:
            self.focus_pane(self.panes[min(index, len(self.panes) - 1)])

    def focus_pane(self, pane: StreamPane) -> None:
        """Focus `pane`, bringing its page on screen first when the panes are paged."""
        self.query_one(PaneGrid).show_page_of(pane)
        pane.focus_log()

    def action_focus_pane(self, number: int) -> None:
        panes = self.panes
        if 0 < number <= len(panes):
            self.focus_pane(panes[number - 1])
        else:
            self.notify(f"No pane {number}: there {counted('is', len(panes))} "
                        f"{len(panes)} {counted('pane', len(panes))}", severity="warning")

    def action_cycle_pane(self, step: int) -> None:
        panes = self.panes
        if panes:
            index = panes.index(self.active) if self.active in panes else -step
            self.focus_pane(panes[(index + step) % len(panes)])

    def action_toggle_record(self) -> None:
        pane = self.active
        if pane is None:
            return
        if pane.recorder is not None:
            pane.record(None)
            self.record_all = False
            self.notify(f"Pane {pane.number} no longer recorded")
        elif (recorder := self._open_recorder()) is not None:
            pane.record(recorder)
            self.tell(f"Recording pane {pane.number} to {recorder.path}")

    def action_toggle_record_all(self) -> None:
        if any(pane.recorder is not None for pane in self.panes):
            self._stop_recording()
            self.notify("Recording stopped")
        elif (recorder := self._open_recorder()) is not None:
            self.record_all = True
            for pane in self.panes:
                pane.record(recorder)
            self.tell(f"Recording every pane to {recorder.path}")

    def _open_recorder(self) -> Recorder | None:
        """The session's recording file, created on first use; None (and a notice) if it fails."""
        if self.recorder is None or self.recorder.closed:
            try:
                self.recorder = Recorder(recording_name(self.settings.clock()))
            except RecordingError as exc:
                self.tell(f"Cannot record: {exc}", severity="error", timeout=10)
                return None
        return self.recorder

    def _stop_recording(self) -> None:
        self.record_all = False
        for pane in self.panes:
            pane.record(None)

    @on(RecordingFailed)
    def _recording_failed(self, event: RecordingFailed) -> None:
        if self.recorder is not None:  # later failures of the same write are the same news
            self._stop_recording()
            self.recorder.close()
            self.recorder = None
            self.tell(f"Recording stopped: {event.error}", severity="error", timeout=10)

    def tell(self, message: str, **options: Any) -> None:
        """A notification that may quote a file or a server: shown, never read as markup."""
        self.notify(visible(message), markup=False, **options)

    def on_unmount(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.key_rows()))

    def action_quit(self) -> None:
        self.app.exit()

    def keys_by_id(self) -> dict[str, str]:
        """Binding id -> the keys in effect for it (after any keymap), as displayed."""
        keys: dict[str, list[str]] = {}
        for key, active in self.active_bindings.items():
            if active.binding.id:
                keys.setdefault(active.binding.id, []).append(
                    self.app.get_key_display(replace(active.binding, key=key)))
        return {binding_id: " ".join(shown) for binding_id, shown in keys.items()}

    def key_rows(self) -> list[KeyRow]:
        """(keys, what it does, id) of every binding of this screen, for the help screen."""
        keys = self.keys_by_id()
        rows: list[KeyRow] = []
        for binding in self.bindings_with_ids():
            if binding.id.startswith("pane-"):
                if binding.id == "pane-1":  # the nine digit keys share one row
                    rows.append((f"1…{MAX_DIGIT}", "Focus pane by number", "pane-1 … pane-9"))
                continue
            rows.append((keys.get(binding.id, ""), binding.tooltip, binding.id))
        for binding in InspectorScreen.BINDINGS:  # the inspector's own keys, once it is open
            if isinstance(binding, Binding) and binding.id:
                shown = " ".join(self.app.get_key_display(replace(binding, key=key.strip()))
                                 for key in binding.key.split(","))
                rows.append((shown, binding.tooltip, binding.id))
        return rows

    @classmethod
    def bindings_with_ids(cls) -> list[Binding]:
        return [binding for binding in cls.BINDINGS
                if isinstance(binding, Binding) and binding.id]


PLURALS = {"is": "are", "error": "errors", "pane": "panes"}  # states are adjectives but one


def counted(word: str, count: int) -> str:
    """`word` as it reads after `count`: `1 error`, `2 errors`, `2 live`."""
    return word if count == 1 else PLURALS.get(word, word)


def waiting_text(pending: TopicsPending) -> Text:
    """What the screen says while the server's topics are not known: where, why, when again."""
    text = Text(justify="center")
    text.append("Waiting for topics at ", style="bold")
    text.append(visible(pending.url), style="bold")
    text.append(f"\n{visible(pending.reason)}", style="yellow")
    text.append(f"\nnext try in {seconds_text(pending.delay)} (attempt {pending.attempt})",
                style="dim")
    return text


def server_of(url: str) -> str:
    """`http://host:port` of a stream URL: what the header names, credentials masked."""
    match = re.match(r"^(\w+://[^/?#]+)", url)
    return redact(match.group(1) if match else url)
