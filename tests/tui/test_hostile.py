"""The TUI against a hostile server and a malicious recording, run headless under Pilot: what the
screen draws (entries, raw view, titles, status bars, the topic dialog, notifications) holds no
raw control character and no link, and shows each escape; one huge event draws a bounded entry."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import OptionList

from monitor.client.events import Event, State, StateChange
from monitor.client.stream import SSEStream, StreamConfig
from monitor.recording.feeds import ReplayFeed
from monitor.recording.format import Recorder, StreamKey, load_recording
from monitor.tui.app import MonitorApp
from monitor.tui.render.entries import MAX_DRAWN_LINES
from monitor.tui.screens.topic_dialog import TopicDialog
from monitor.tui.widgets.pane import StreamPane
from tests.client.rawserver import RawServer, respond, stream
from tests.hardening.hostile_text import (
    BIDI,
    C1_CSI,
    HOSTILE,
    MARKUP,
    OSC_TITLE,
    SHOWN,
    error_response,
    frames,
    raw_controls,
)

pytestmark = pytest.mark.anyio
SIZE = (200, 50)
TOPIC = f"evil{OSC_TITLE}{BIDI}"


def screen_text(app: App[None]) -> str:
    """Every character the screen draws now (as the terminal would get it, styles aside)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def screen_links(app: App[None]) -> list[str]:
    """Links in what the screen draws: each would reach the terminal as an OSC 8 escape."""
    return [segment.style.link for strip in app.screen._compositor.render_strips()
            for segment in strip if segment.style is not None and segment.style.link]


def assert_safe(app: App[None], *shown: str) -> str:
    text = screen_text(app)
    assert raw_controls(text) == [], text
    assert screen_links(app) == []
    for escape in shown:
        assert escape in text, f"{escape!r} not on the screen:\n{text}"
    return text


async def until(pilot: Pilot, condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.05)


def topics_answer() -> bytes:
    body = json.dumps({"topics": [{"name": TOPIC, "kind": MARKUP, "newest_id": f"n{C1_CSI}",
                                   "subscribers": 1}]}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


async def test_a_hostile_stream_its_topics_and_its_errors_are_drawn_escaped() -> None:
    streams = 0

    async def route(writer: asyncio.StreamWriter) -> None:
        nonlocal streams
        if " /topics" in server.requests[-1].line:
            await respond(topics_answer())(writer)
            return
        streams += 1  # the first stream is hostile and stays; the next one is a hostile 404
        await (stream(frames(), hold=60) if streams == 1 else
                      respond(error_response()))(writer)

    async with RawServer([route]) as server:
        config = StreamConfig(url=server.url, reconnect_delay=0.05, max_backoff=0.1)
        app = MonitorApp([config], source_factory=SSEStream)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(StreamPane)
            await until(pilot, lambda: "GAP" in screen_text(app))
            text = assert_safe(app, *SHOWN, "evil\\x1b]0;pwned\\x07 #id\\x1b[2J\\x1b[H\\u202e",
                               "GAP: 3 events missed (evicted\\x1b]0;pwned\\x07)",
                               "resuming from from\\u202e", "db\\x1b]0;pwned\\x07")
            assert "[link=https://evil.example/]click[/link]" in text  # shown, not obeyed
            entry = pane.renderer.history.entries[1].renderable  # the first event
            assert isinstance(entry, Text) and any(
                "dim" in str(span.style) and entry.plain[span.start:span.end] == "\\x1b"
                for span in entry.spans)  # the escapes stand apart

            await pilot.press("v")  # the raw view: the frames as they came, visibly
            await until(pilot, lambda: "event: evil\\x1b" in screen_text(app))
            assert_safe(app, "event: evil\\x1b]0;pwned\\x07", "data: \\x1b]0;pwned\\x07",
                        "id: id\\x1b[2J")
            await pilot.press("v")

            await pilot.press("t")  # the topic dialog lists what GET /topics said
            await until(pilot, lambda: isinstance(app.screen, TopicDialog)
                        and app.screen.query_one(OptionList).option_count > 0)
            await pilot.pause(0.1)
            text = assert_safe(app, "evil\\x1b]0;pwned\\x07\\u202e", "n\\x9b31m · 1 subscriber")
            assert "[bold]bold[/bold]" in text

            await pilot.press("down", "enter")  # switch to it: the title names it, and a 404
            await until(pilot, lambda: pane.state is State.ERROR and "404" in screen_text(app))
            await pilot.pause(0.1)
            text = assert_safe(app, "evil\\x1b]0;pwned\\x07\\u202e",
                               "error: 404 Not Found (check the URL): no such stream "
                               "\\x1b]0;pwned\\x07")
            assert pane.topic == TOPIC


async def test_a_malicious_recording_replays_escaped_with_its_error_notified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short name: the header shows it whole however deep tmp is
    name = f"rec{OSC_TITLE}[link=https:evil.example]x.jsonl"
    path = tmp_path / name
    key = StreamKey(f"http://127.0.0.1:1/stream?t={BIDI}", TOPIC)
    with Recorder(path, clock=lambda: 1.0) as recorder:
        recorder.write(key, StateChange(State.LIVE, 1.0))
        recorder.write(key, Event(f"evil{OSC_TITLE}", HOSTILE, "7", 1.0))
        recorder.write(key, StateChange(State.RECONNECTING, 1.5, f"gone {HOSTILE}", attempt=1,
                                        delay=3))
    with path.open("a") as file:
        file.write('{"not": "a recording line"}\n')
    entries, error = load_recording(name)
    assert error is not None and len(entries) == 3
    app = MonitorApp.for_replay(ReplayFeed.create(name, entries, speed=0, error=error))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: "reconnecting in 3s" in screen_text(app)
                    and screen_text(app).count("[link=https:evil.example]x") >= 2)
        text = assert_safe(app, "evil\\x1b]0;pwned\\x07\\u202e", *SHOWN,
                           "rec\\x1b]0;pwned\\x07[link=https:evil.example]x")
        assert text.count("[link=https:evil.example]x") >= 2  # the header and the toast
        assert "unknown kind null" in text


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_one_event_of_100000_lines_draws_a_bounded_entry() -> None:
    lines = 100_000
    body = b"".join(b"data: line %d\n" % n for n in range(lines)) + b"\n"
    before = rss()  # the app's own start-up counts too: small beside what 100,000 lines cost
    async with RawServer([stream(body, hold=60)]) as server:
        app = MonitorApp([StreamConfig(url=server.url)], source_factory=SSEStream)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.screen.query_one(StreamPane)
            await until(pilot, lambda: "more lines" in screen_text(app), within=60)
            grown = rss() - before
            print(f"RSS {before / 2**20:.0f} MiB, +{grown / 2**20:.1f} MiB for one event of "
                  f"{lines:,} lines")
            hidden = lines - MAX_DRAWN_LINES
            assert_safe(app, f"… {hidden:,} more lines: v shows them")
            log = pane.log_view
            assert len(log.shown_text()) <= MAX_DRAWN_LINES + 2  # the lines, the note
            assert grown < 60 * 2**20

            await pilot.press("v")  # the raw view shows more, within the pane's own bound
            await until(pilot, lambda: "past the pane's --max-lines" in screen_text(app),
                        within=60)
            assert len(log.shown_text()) <= pane.max_lines + 4  # the states, the note
            print(f"RSS +{(rss() - before) / 2**20:.1f} MiB with the raw view drawn")
            assert rss() - before < 120 * 2**20
