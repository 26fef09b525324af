"""`sse-monitor`'s Textual app: one pane per stream, read in its loop or by a stream process."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from textual.app import App
from textual.binding import Binding, Keymap
from textual.dom import DOMNode

from monitor.client.process import StreamProcess
from monitor.client.stream import SSEStream, StreamConfig
from monitor.client.topics import TopicList, list_topics
from monitor.client.tuning import (
    HEAP_TRIM_INTERVAL,
    calm_garbage_collector,
    enabled,
    map_large_blocks,
    release_free_heap,
)
from monitor.recording.feeds import ReplayFeed
from monitor.recording.format import Recorder
from monitor.tui.commands import MonitorCommands
from monitor.tui.render.pane import DEFAULT_MAX_LINES
from monitor.tui.screens.help_screen import HelpScreen
from monitor.tui.screens.inspector_screen import InspectorScreen
from monitor.tui.screens.main_screen import Discovery, MonitorScreen, MonitorSettings
from monitor.tui.screens.replay_screen import ReplayScreen
from monitor.tui.screens.topic_dialog import TopicDialog
from monitor.tui.textual_fixes import break_strip_cycles
from monitor.tui.widgets.filter_bar import FilterBar
from monitor.tui.widgets.pane import SourceFactory

KEYMAP_VARIABLE = "SSE_MONITOR_KEYS"
# Every class whose bindings a keymap may name
REMAPPABLE: tuple[type[DOMNode], ...] = (MonitorScreen, ReplayScreen, InspectorScreen,
                                         HelpScreen, TopicDialog, FilterBar)


async def load_topics(config: StreamConfig) -> TopicList:
    """The server's `GET /topics` for a stream; none when it has none (the user types one)."""
    try:
        return await list_topics(config.url, headers=config.headers)
    except (httpx.HTTPError, ValueError):
        return TopicList([])


async def no_topics(_config: StreamConfig) -> TopicList:
    """A replay asks no server: the user types a topic."""
    return TopicList([])


class MonitorApp(App[None]):
    """Panes for the given streams; see MonitorScreen for the keys."""

    CSS_PATH = "monitor.tcss"
    TITLE = "sse-monitor"
    COMMANDS = App.COMMANDS | {MonitorCommands}

    def __init__(
        self,
        configs: list[StreamConfig],
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        clock: Callable[[], float] = time.time,
        source_factory: SourceFactory | None = None,
        stream_process: bool = False,
        topics: Callable[[StreamConfig], Any] = load_topics,
        keymap: Keymap | None = None,
        recorder: Recorder | None = None,
        replay: ReplayFeed | None = None,
        discovery: Discovery | None = None,
    ) -> None:
        break_strip_cycles()
        super().__init__()
        self.configs = configs
        self.stream_process: StreamProcess | None = None
        if source_factory is None and stream_process:  # the streams never wait for a frame
            self.stream_process = StreamProcess()
            source_factory = self.stream_process.source
        source_factory = source_factory or SSEStream
        self.settings = MonitorSettings(source_factory, topics, clock, max_lines, recorder,
                                        discovery)
        self.initial_keymap = keymap or {}
        self.replay = replay

    def get_default_screen(self) -> MonitorScreen:
        if self.replay is not None:
            return ReplayScreen(self.configs, self.settings, self.replay)
        return MonitorScreen(self.configs, self.settings)

    @classmethod
    def for_replay(cls, feed: ReplayFeed, **options: Any) -> MonitorApp:
        """The app over a recording: its streams as panes, its time as the clock, no network."""
        return cls(feed.configs(), clock=feed.clock, source_factory=feed.open,
                   topics=no_topics, replay=feed, **options)

    def on_mount(self) -> None:
        if self.initial_keymap:
            self.set_keymap(self.initial_keymap)
        if enabled():
            self.call_after_refresh(calm_garbage_collector)
            map_large_blocks()
            self.set_interval(HEAP_TRIM_INTERVAL, release_free_heap)

    async def on_unmount(self) -> None:
        if self.stream_process is not None:
            await self.stream_process.aclose()


def parse_keymap(spec: str) -> Keymap:
    """`reconnect=ctrl+x;pause=p,space` -> {binding id: keys}; ValueError on a malformed entry."""
    keymap: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        binding_id, sep, keys = entry.partition("=")
        if not sep or not binding_id.strip() or not keys.strip():
            raise ValueError(f"{KEYMAP_VARIABLE}: expected id=keys, got {entry!r}")
        keymap[binding_id.strip()] = keys.strip()
    unknown = [binding_id for binding_id in keymap if binding_id not in binding_ids()]
    if unknown:
        raise ValueError(f"{KEYMAP_VARIABLE}: unknown binding id {', '.join(map(repr, unknown))}"
                         f"; valid ids: {', '.join(binding_ids())}")
    return keymap


def binding_ids() -> list[str]:
    """The id of every key binding of the monitor, in the order the help screen lists them."""
    ids = (binding.id for node in REMAPPABLE for binding in node.BINDINGS
           if isinstance(binding, Binding) and binding.id)
    return list(dict.fromkeys(ids))


def run_app(configs: list[StreamConfig], args: argparse.Namespace, *,
            recorder: Recorder | None = None, replay: ReplayFeed | None = None,
            discovery: Discovery | None = None) -> int:
    """Run the TUI until the user quits; the exit status for `sse-monitor`.

    With `recorder`, every pane records from the start; with `replay`, the panes show a recording;
    with `discovery`, the panes open when it finds the server's topics.
    """
    try:
        keymap = parse_keymap(os.environ.get(KEYMAP_VARIABLE, ""))
    except ValueError as exc:
        print(f"sse-monitor: {exc}", file=sys.stderr)
        return 2
    max_lines = getattr(args, "max_lines", None) or DEFAULT_MAX_LINES
    if replay is not None:
        MonitorApp.for_replay(replay, max_lines=max_lines, keymap=keymap).run()
    else:
        MonitorApp(configs, max_lines=max_lines, keymap=keymap, recorder=recorder,
                   stream_process=getattr(args, "stream_process", False),
                   discovery=discovery).run()
    return 0
