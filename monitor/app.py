"""`sse-monitor`'s Textual app: one pane per stream, read by `monitor.hub` (or `SSEStream`)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from textual.app import App
from textual.binding import Keymap

from monitor.heap import HEAP_TRIM_INTERVAL, map_large_blocks, release_free_heap
from monitor.hub import StreamHub
from monitor.palette import MonitorCommands
from monitor.record import Recorder
from monitor.render.pane import DEFAULT_MAX_LINES
from monitor.replay import ReplayFeed
from monitor.stream import SSEStream, StreamConfig
from monitor.topics import fetch_topics
from monitor.widgets.main_screen import MonitorScreen, MonitorSettings
from monitor.widgets.pane import SourceFactory
from monitor.widgets.replay_screen import ReplayScreen
from monitor.widgets.strips import break_strip_cycles

KEYMAP_VARIABLE = "SSE_MONITOR_KEYS"
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


async def load_topics(config: StreamConfig) -> list[dict[str, Any]]:
    """The server's `GET /topics` for a stream; [] when it has none (the user types one)."""
    try:
        return await fetch_topics(config.url, headers=config.headers)
    except (httpx.HTTPError, ValueError):
        return []


async def no_topics(_config: StreamConfig) -> list[dict[str, Any]]:
    """A replay asks no server: the user types a topic."""
    return []


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
        topics: Callable[[StreamConfig], Any] = load_topics,
        keymap: Keymap | None = None,
        recorder: Recorder | None = None,
        replay: ReplayFeed | None = None,
    ) -> None:
        break_strip_cycles()
        super().__init__()
        self.configs = configs
        self.hub: StreamHub | None = None
        if source_factory is None:  # a second process reads the streams: none waits for a frame
            self.hub = StreamHub()
            source_factory = self.hub.source
        self.settings = MonitorSettings(source_factory, topics, clock, max_lines, recorder)
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
        self.call_after_refresh(calm_garbage_collector)
        map_large_blocks()
        self.set_interval(HEAP_TRIM_INTERVAL, release_free_heap)

    async def on_unmount(self) -> None:
        if self.hub is not None:
            await self.hub.aclose()


def calm_garbage_collector() -> None:
    """Keep the collector's passes short while thousands of events a second go through.

    What start-up built (Textual's DOM and styles, modules) moves out of every later full pass
    (gc.freeze), and young passes run less often, so that items living one flush mostly die
    before they are promoted. Without this, full passes of 0.1-0.4 s froze the event loop
    (bench/NOTES.md, "Monitor ingest fixes").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def parse_keymap(spec: str) -> Keymap:
    """`reconnect=ctrl+x;pause=p,space` -> {binding id: keys}; ValueError on a malformed entry."""
    keymap: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(";"))):
        binding_id, sep, keys = entry.partition("=")
        if not sep or not binding_id.strip() or not keys.strip():
            raise ValueError(f"{KEYMAP_VARIABLE}: expected id=keys, got {entry!r}")
        keymap[binding_id.strip()] = keys.strip()
    return keymap


def run_app(configs: list[StreamConfig], args: argparse.Namespace, *,
            recorder: Recorder | None = None, replay: ReplayFeed | None = None) -> int:
    """Run the TUI until the user quits; the exit status for `sse-monitor`.

    With `recorder`, every pane records from the start; with `replay`, the panes show a recording.
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
        factory = SSEStream if getattr(args, "single_process", False) else None
        MonitorApp(configs, max_lines=max_lines, keymap=keymap, recorder=recorder,
                   source_factory=factory).run()
    return 0
