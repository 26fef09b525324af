"""`sse-monitor --plain`: print the events of several streams as they arrive, for scripts and pipes.

Events (and gaps) go to stdout, as text or one JSON object per line; connection states and
errors go to stderr, one line each. A recording replays into the same output (`--replay`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from typing import Any, TextIO

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.redaction import redact
from monitor.client.sanitize import json_line, visible
from monitor.client.stream import CONNECTION_REFUSED, SSEStream, StreamConfig
from monitor.recording.format import (
    Recorded,
    Recorder,
    RecordingError,
    StreamKey,
    item_time,
    one_pane_each,
)
from monitor.recording.playback import Playback, play

FORMATS = ("text", "jsonl")


def _clock_text(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


def format_text(item: Event | Gap, topic: str | None) -> str:
    """`12:00:01.250 logs LOG_LINE id=ab12cd34-7 {...}`; data lines after the first indented,
    every control a server sent visibly escaped."""
    head = [_clock_text(item.received)] + ([topic] if topic else [])
    if isinstance(item, Gap):
        missed = "unknown" if item.missed is None else str(item.missed)
        head += ["GAP", item.reason, f"missed={missed}", f"resume_from={item.resume_from or '-'}"]
        body = item.detail
    else:
        head += [item.type, f"id={item.id or '-'}"]
        body = item.data
    return visible(" ".join(head) + " " + body.replace("\n", "\n    "))


def format_jsonl(item: Event | Gap, topic: str | None) -> str:
    """One JSON object: event, data (exactly as parsed), id, time; topic when topics are used.
    One line in every reader: C1, bidi controls and U+2028/9 are `\\uXXXX` escapes too."""
    record: dict[str, Any] = {
        "event": "gap" if isinstance(item, Gap) else item.type,
        "data": item.data,
        "id": item.id,
        "time": item.received,
    }
    if topic:
        record["topic"] = topic
    if isinstance(item, Gap):
        record["gap"] = {
            "reason": item.reason, "requested": item.requested, "detail": item.detail,
            "resume_from": item.resume_from, "missed": item.missed,
        }
    return json_line(json.dumps(record, ensure_ascii=False))


def format_state(change: StateChange, topic: str | None, url: str = "") -> str:
    """`sse-monitor: [logs] reconnecting in 3s (attempt 2): connection refused (URL)`."""
    if change.reason == CONNECTION_REFUSED and url:  # which server: there may be several
        change = replace(change, reason=f"{change.reason} ({redact(url)})")
    text = change.describe()
    if change.state is State.CONNECTING and change.reason:
        text = f"{text} ({change.reason})"
    return visible(f"sse-monitor: [{topic}] {text}" if topic else f"sse-monitor: {text}")


class PlainPrinter:
    """Prints stream items: events and gaps on `out` (text or jsonl), states on `err`.

    Calls `stop(reason)` when the output is closed or `max_events` have been printed.
    """

    def __init__(self, fmt: str, max_events: int | None, out: TextIO, err: TextIO,
                 stop: Callable[[str], None]) -> None:
        self.render = format_jsonl if fmt == "jsonl" else format_text
        self.max_events = max_events
        self.out, self.err = out, err
        self.stop = stop
        self.printed = 0

    def write(self, line: str, file: TextIO) -> None:
        try:
            print(line, file=file, flush=True)
        except BrokenPipeError:
            # The reader went away (`| head`): stop, and keep Python's exit flush quiet too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), file.fileno())
            self.stop("output closed")

    def show(self, topic: str | None, item: StreamItem, url: str = "") -> None:
        if isinstance(item, StateChange):
            self.write(format_state(item, topic, url), self.err)
        elif isinstance(item, Heartbeat):
            pass  # liveness only; its time shows in the stream's stats
        elif self.max_events is None or self.printed < self.max_events:
            self.write(self.render(item, topic), self.out)
            if isinstance(item, Event):
                self.printed += 1
                if self.printed == self.max_events:
                    self.stop(f"--max-events {self.max_events} reached")


async def run_plain(
    configs: list[StreamConfig],
    fmt: str = "text",
    max_events: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    recorder: Recorder | None = None,
) -> int:
    """Follow every stream at once until all have stopped; 0 when none ended in error, else 1.

    With a `recorder`, every item is recorded first; if recording fails, it says so and stops
    recording, and the streams go on.
    """
    streams = [SSEStream(config) for config in configs]

    def stop_all(reason: str) -> None:
        for stream in streams:
            stream.stop(reason)

    printer = PlainPrinter(fmt, max_events, out or sys.stdout, err or sys.stderr, stop_all)

    def record(stream: SSEStream, item: StreamItem) -> None:
        nonlocal recorder
        if recorder is not None:
            try:
                recorder.write(StreamKey(stream.config.url, stream.config.topic), item)
            except RecordingError as exc:
                printer.write(visible(f"sse-monitor: recording stopped: {exc}"), printer.err)
                recorder = None

    async def follow(stream: SSEStream) -> None:
        try:
            async with aclosing(stream.items()) as items:
                async for item in items:
                    record(stream, item)
                    printer.show(stream.config.topic, item, stream.config.url)
        except Exception as exc:  # a bug must end its own stream with a line, not all with a trace
            stream.state = State.ERROR
            failed = StateChange(State.ERROR, stream.config.clock(), f"stream failed: {exc!r}")
            printer.show(stream.config.topic, failed)

    async with asyncio.TaskGroup() as group:
        for stream in streams:
            group.create_task(follow(stream))
    return 1 if any(stream.state is State.ERROR for stream in streams) else 0


async def replay_plain(
    entries: list[Recorded],
    speed: float = 1.0,
    fmt: str = "text",
    max_events: int | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print a recording as the plain mode printed it live, paced at `speed` (0: at once).

    Returns 1 when a recorded stream ended in error, like the live run, else 0.
    """
    entries = one_pane_each(entries)  # streams, as the plain mode printed them, not panes
    playback = Playback([item_time(entry.item) for entry in entries], speed=speed)
    stopped = False

    def stop(_reason: str) -> None:
        nonlocal stopped
        stopped = True
        playback.stop()

    printer = PlainPrinter(fmt, max_events, out or sys.stdout, err or sys.stderr, stop)
    last_state: dict[StreamKey, State] = {}

    def deliver(due: range) -> None:
        for index in due:
            if stopped:
                return
            stream, item = entries[index]
            if isinstance(item, StateChange):
                last_state[stream] = item.state
            printer.show(stream.topic, item, stream.url)

    await play(playback, deliver)
    return 1 if State.ERROR in last_state.values() else 0
