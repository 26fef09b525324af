"""The app's keys against a real server over real HTTP, and a real server crash."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from monitor.client.events import Event, Gap, State, StateChange, StreamItem
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from monitor.tui.app import MonitorApp
from monitor.tui.screens.topic_dialog import TopicDialog
from monitor.tui.widgets.pane import StreamPane
from monitor.tui.widgets.pane_grid import DRAW_SHARE, FLUSH_INTERVAL, SLOWEST_FLUSH, flush_delay
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio


class RecordedStream:
    """A real SSEStream that also keeps every item it yielded, to compare with what is drawn."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.stream = SSEStream(config)
        self.seen: list[StreamItem] = []

    async def items(self) -> AsyncIterator[StreamItem]:
        async for item in self.stream.items():
            self.seen.append(item)
            yield item

    def reconnect(self, resume: bool = True) -> None:
        self.stream.reconnect(resume)

    def stop(self, reason: str = "stopped by user") -> None:
        self.stream.stop(reason)

    def events(self) -> list[Event]:
        return [item for item in self.seen if isinstance(item, Event)]


def stream_config(server: ServerProcess, topic: str) -> StreamConfig:
    return StreamConfig(url=with_topic(f"{server.url}/stream", topic), topic=topic,
                        reconnect_delay=0.2, max_backoff=0.5)


def monitor(*configs: StreamConfig) -> tuple[MonitorApp, list[RecordedStream]]:
    streams: list[RecordedStream] = []

    def factory(config: StreamConfig) -> RecordedStream:
        streams.append(RecordedStream(config))
        return streams[-1]

    return MonitorApp(list(configs), source_factory=factory), streams


async def until(pilot: Pilot, condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.05)


def seqs(events: list[Event]) -> list[int]:
    return [int(event.id.rsplit("-", 1)[1]) for event in events]


async def test_reconnect_key_resumes_from_the_last_id(demo_server: ServerProcess) -> None:
    app, streams = monitor(stream_config(demo_server, "logs"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: len(streams[0].events()) >= 3)
        await pilot.press("r")
        resumed = lambda: sum(  # noqa: E731
            isinstance(i, StateChange) and i.state is State.LIVE for i in streams[0].seen) >= 2
        await until(pilot, resumed)
        before = len(streams[0].events())
        await until(pilot, lambda: len(streams[0].events()) >= before + 3)
        pane.flush()  # draw what the worker handed over; no await until the comparison
        events = streams[0].events()
        assert seqs(events) == list(range(seqs(events)[0], seqs(events)[0] + len(events)))
        assert not any(isinstance(item, Gap) for item in streams[0].seen)
        assert pane.renderer.stats.events == len(events)
        assert pane.renderer.stats.last_id == events[-1].id


async def test_topic_key_switches_the_subscription(demo_server: ServerProcess) -> None:
    app, streams = monitor(stream_config(demo_server, "logs"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: len(streams[0].events()) >= 1)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TopicDialog)
                    and app.screen.query_one(OptionList).option_count > 0)
        await pilot.press(*"tokens", "enter")
        await until(pilot, lambda: len(streams) == 2 and len(streams[1].events()) >= 3)
        assert pane.source is streams[1]
        assert pane.topic == "tokens"
        assert "topic=tokens" in streams[1].config.url
        assert {event.type for event in streams[1].events()} <= {
            "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"}
        await until(pilot, lambda: not streams[0].stream.running)  # the old one is closed


async def test_pause_drops_nothing(demo_server: ServerProcess) -> None:
    app, streams = monitor(stream_config(demo_server, "tokens"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: len(streams[0].events()) >= 1)
        await pilot.press("p")
        drawn = pane.log_view.shown_text()
        paused_at = len(streams[0].events())
        await until(pilot, lambda: len(streams[0].events()) >= paused_at + 20)
        await pilot.pause(0.1)
        assert pane.unseen > 0
        assert f"+{pane.unseen} new" in str(pane.border_subtitle)
        assert pane.log_view.shown_text() == drawn  # the view stood still
        await pilot.press("p")
        await pilot.pause(0.1)
        pane.flush()
        events = streams[0].events()
        assert seqs(events) == list(range(seqs(events)[0], seqs(events)[0] + len(events)))
        assert pane.renderer.stats.events == len(events)
        assert pane.unseen == 0
        history = pane.renderer.history
        assert history.appended == len(history.entries)  # all drawn, none capped away


async def test_server_killed_and_restarted(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--seed", "3", "--heartbeat", "0.3", "--speed", "5")
    app, _ = monitor(stream_config(server, "logs"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: pane.state is State.LIVE and pane.renderer.stats.events >= 2)
        server.kill()
        await until(pilot, lambda: pane.state is State.RECONNECTING)
        assert pane.has_class("-reconnecting")
        server.start()
        await until(pilot, lambda: pane.state is State.LIVE and pane.renderer.stats.gaps == 1)
        kinds = [entry.kind for entry in pane.renderer.history.entries]
        assert kinds.index("state") < kinds.index("gap")
        gap = next(e for e in pane.renderer.history.entries if e.kind == "gap")
        assert "GAP" in gap.plain and "other-run" in gap.plain
        assert pane.renderer.stats.reconnects >= 1


def test_screen_updates_thin_out_when_drawing_takes_long() -> None:
    assert flush_delay(0.005) == FLUSH_INTERVAL  # an easy flush: thirty a second
    assert flush_delay(0.040) == pytest.approx(0.040 / DRAW_SHARE)  # drawing gets its share
    assert flush_delay(5.0) == SLOWEST_FLUSH  # however slow, still a few a second


async def test_by_default_the_app_reads_its_streams_in_its_own_loop(
    demo_server: ServerProcess,
) -> None:
    app = MonitorApp([stream_config(demo_server, "logs")])
    assert app.stream_process is None
    async with app.run_test() as pilot:
        (pane,) = app.screen.query(StreamPane)
        await until(pilot, lambda: pane.renderer.stats.events >= 3)
        assert type(pane.source) is SSEStream


async def test_with_stream_process_the_app_reads_its_streams_in_a_second_process(
    demo_server: ServerProcess,
) -> None:
    app = MonitorApp([stream_config(demo_server, "logs"), stream_config(demo_server, "tokens")],
                     stream_process=True)
    assert app.stream_process is not None
    async with app.run_test() as pilot:
        panes = list(app.screen.query(StreamPane))
        await until(pilot, lambda: all(p.renderer.stats.events >= 3 for p in panes))
        pid = app.stream_process.pid
        assert pid is not None and pid != os.getpid()
        assert {type(pane.source).__name__ for pane in panes} == {"RemoteStream"}
        await pilot.press("2", "r")  # the keys reach the stream in the other process
        await until(pilot, lambda: panes[1].renderer.stats.reconnects >= 1
                    and panes[1].state is State.LIVE)
        assert panes[0].renderer.stats.reconnects == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # closing the app ended (and reaped) the stream process


def history(pane: StreamPane) -> list[str]:
    return [entry.plain for entry in pane.renderer.history.entries]


def lives(source: RecordedStream) -> int:
    return sum(isinstance(i, StateChange) and i.state is State.LIVE for i in source.seen)


async def test_a_server_restart_interrupts_the_message_that_was_streaming(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--seed", "3", "--heartbeat", "0.3")
    app, _ = monitor(stream_config(server, "tokens"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: bool(pane.renderer.tokens.open))  # a message is streaming
        server.kill()
        await until(pilot, lambda: pane.state is State.RECONNECTING)
        assert pane.renderer.tokens.open  # the resume may still continue it
        server.start()
        await until(pilot, lambda: pane.renderer.stats.gaps == 1)
        assert any(line.endswith("⚠ message interrupted: the server started another run")
                   for line in history(pane))


async def test_ctrl_r_starts_afresh_says_so_and_interrupts_what_was_open(
    demo_server: ServerProcess,
) -> None:
    app, streams = monitor(stream_config(demo_server, "tokens"))
    async with app.run_test() as pilot:
        pane = app.screen.query_one(StreamPane)
        await until(pilot, lambda: bool(pane.renderer.tokens.open))
        await pilot.press("r")
        await until(pilot, lambda: lives(streams[0]) == 2)
        await until(pilot, lambda: bool(pane.renderer.tokens.open))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: lives(streams[0]) == 3)
        pane.flush()
        markers = [line for line in history(pane) if line.startswith("── reconnecting")]
        assert markers == [
            "── reconnecting in 0s (attempt 1): reconnect requested ──",
            "── reconnecting in 0s (attempt 1): reconnect requested, from scratch "
            "(no Last-Event-ID) ──"]
        interrupted = [line for line in history(pane) if "interrupted" in line]
        assert len(interrupted) == 1  # by ctrl+r only: r resumed, so the message went on
        assert interrupted[0].endswith("⚠ message interrupted: reconnected without resume")
