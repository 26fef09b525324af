"""The TUI with recordings: replay (panes, states, gaps; pause and seek), the record keys and
their REC marker, and snapshots of both. Replays need no network."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Label
from textual.widgets._footer import FooterKey

from monitor.client.events import Event, Heartbeat, State, StateChange
from monitor.client.stream import StreamConfig, with_topic
from monitor.plain import replay_plain
from monitor.recording.feeds import ReplayFeed
from monitor.recording.format import (
    Recorded,
    Recorder,
    StreamKey,
    item_time,
    read_recording,
    recording_name,
)
from monitor.recording.playback import Playback
from monitor.tui.app import MonitorApp
from monitor.tui.screens.replay_screen import ReplayScreen
from monitor.tui.widgets.pane import StreamPane
from server.replay import plan_replay
from tests.record.sessions import SERVER_ARGS, record_session_with_restart
from tests.record.test_server_replay import read_rounds
from tests.servers import ServerProcess
from tests.tui.scenarios import T0, later_logs, settle, three_topics, with_gap
from tests.tui.test_pilot import until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def panes(app: MonitorApp) -> list[StreamPane]:
    return list(app.screen_stack[0].query(StreamPane))


def scenario_recording(path: Path) -> list[Recorded]:
    """The scripted `with_gap` scenario, written as a recording and read back."""
    with Recorder(path, clock=lambda: T0) as recorder:
        for config, items in with_gap().streams:
            for item in items:
                recorder.write(StreamKey(config.url, config.topic), item)
    return list(read_recording(path))


def recordings(folder: Path) -> list[Path]:
    """The files the record keys made in `folder`."""
    return sorted(folder.glob("sse-monitor-*.jsonl"))


async def replay_to_the_end(pilot: Pilot, feed: ReplayFeed) -> None:
    for _ in range(100):
        if feed.playback.finished:
            break
        await pilot.pause(0.05)
    assert feed.playback.finished
    await settle(pilot)


@pytest.fixture
def live_session(server_factory: Callable[..., ServerProcess], tmp_path: Path) -> Path:
    path = tmp_path / "session.jsonl"
    record_session_with_restart(server_factory(*SERVER_ARGS), path)
    return path


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_a_live_session_with_a_restart_replays_into_the_panes(live_session: Path) -> None:
    entries = list(read_recording(live_session))
    feed = ReplayFeed.create(str(live_session), entries, speed=0)
    app = MonitorApp.for_replay(feed)
    async with app.run_test(size=(160, 45)) as pilot:
        await replay_to_the_end(pilot, feed)
        shown = {StreamKey(p.source.config.url, p.source.config.topic): p for p in panes(app)}
        assert set(shown) == {entry.stream for entry in entries}
        for stream, pane in shown.items():
            items = [item for key, item in entries if key == stream]
            states = [item for item in items if isinstance(item, StateChange)]
            stats = pane.renderer.stats
            assert stats.events == sum(isinstance(item, Event) for item in items) > 0
            assert stats.heartbeats == sum(isinstance(item, Heartbeat) for item in items)
            assert states[-1].state is State.LIVE  # recorded live; replayed to its end
            assert stats.state is not None and stats.state.state is State.ENDED
            assert pane.state is State.ENDED
            assert pane.query_one(".heartbeat", Label).content == Text("♡ -")  # not frozen
            assert stats.reconnects == sum(s.state is State.RECONNECTING for s in states) > 0
            gaps = [entry.plain for entry in pane.renderer.history.entries if entry.kind == "gap"]
            assert len(gaps) == stats.gaps == 1 and "(other-run)" in gaps[0]
        assert "ended" in app.screen.sub_title


@pytest.mark.anyio
async def test_pause_and_seek_move_the_replay_in_time(tmp_path: Path) -> None:
    entries = scenario_recording(tmp_path / "gap.jsonl")
    clock = FakeClock()
    playback = Playback([item_time(entry.item) for entry in entries], clock=clock)
    feed = ReplayFeed(str(tmp_path / "gap.jsonl"), entries, playback)
    app = MonitorApp.for_replay(feed)
    start = playback.start

    def events_until(at: float) -> int:
        return sum(isinstance(e.item, Event) and e.item.received <= at for e in entries)

    async def advance(seconds: float) -> None:
        clock.now += seconds
        playback.changed.set()  # wake the replay worker, as a key would
        await settle(pilot)

    async with app.run_test(size=(120, 32)) as pilot:
        pane = panes(app)[0]
        await advance(3)
        assert pane.renderer.stats.events == events_until(start + 3) > 0
        await pilot.press("p")
        await advance(100)
        assert pane.renderer.stats.events == events_until(start + 3)
        assert "paused" in app.screen.sub_title and "0:03.0" in app.screen.sub_title
        await pilot.press("right_square_bracket")  # +10 s while paused: to the end, at once
        await settle(pilot)
        assert playback.position == playback.end < start + 13
        assert pane.renderer.stats.events == events_until(playback.end) > events_until(start + 3)
        await pilot.press("left_square_bracket")  # back 10 s, to the start: drawn again
        await settle(pilot)
        pane = panes(app)[0]
        assert playback.position == start
        assert pane.renderer.stats.events == events_until(start) == 0
        assert pane.renderer.stats.state is not None  # the states at the start are shown
        await pilot.press("p")
        await advance(2)
        assert pane.renderer.stats.events == events_until(start + 2) > 0
        await pilot.press("plus")
        assert playback.speed == 2
        ids = {row[2] for row in app.screen.key_rows()}  # the help screen lists the time keys
        assert {"seek-back", "seek-forward", "faster", "slower", "pause", "quit"} <= ids
        assert not ids & {"reconnect", "switch-topic", "add-pane", "record", "record-all"}


@pytest.mark.anyio
async def test_a_replay_offers_its_own_keys_and_its_panes_end_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where a record key would write, were it to act
    path = tmp_path / "gap.jsonl"
    feed = ReplayFeed.create(str(path), scenario_recording(path), speed=0)
    app = MonitorApp.for_replay(feed)
    async with app.run_test(size=(160, 32)) as pilot:
        await replay_to_the_end(pilot, feed)
        footer = {key.description for key in app.screen.query(FooterKey)}
        assert {"Pause", "-10s", "+10s", "Slower", "Faster", "Help", "Quit"} <= footer
        assert not footer & {"Reconnect", "Topic", "Add", "Record"}
        (pane,) = panes(app)
        sources = dict(feed.sources)
        await pilot.press("r", "ctrl+r", "s", "S", "a", "t")  # live-only keys: nothing happens
        await settle(pilot)
        assert app.screen is app.screen_stack[0] and isinstance(app.screen, ReplayScreen)
        assert pane.recorder is None and not recordings(tmp_path)
        assert all(not source.reconnects for source in sources.values())
        assert pane.state is State.ENDED and pane.has_class("-ended")
        assert pane.query_one(".state", Label).content == Text("ended")
        assert pane.query_one(".heartbeat", Label).content == Text("♡ -")
        assert "1 ended" in app.screen.sub_title


@pytest.mark.anyio
@pytest.mark.timeout(90)
async def test_two_panes_on_one_topic_are_recorded_apart_and_replayed_once_each(
    demo_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    url = with_topic(f"{demo_server.url}/stream", "logs")
    app = MonitorApp([StreamConfig(url, "logs"), StreamConfig(url, "logs")])
    async with app.run_test(size=(160, 45)) as pilot:
        both = panes(app)
        await until(pilot, lambda: all(p.renderer.stats.events >= 1 for p in both))
        await pilot.press("S")
        counted = [p.renderer.stats.events for p in both]
        await until(pilot, lambda: all(p.renderer.stats.events >= n + 8
                                       for p, n in zip(both, counted, strict=True)), 30)
        await pilot.press("S")
    (path,) = recordings(tmp_path)
    entries = list(read_recording(path))
    recorded = Counter(entry.stream.pane for entry in entries if isinstance(entry.item, Event))
    assert set(recorded) == {1, 2} and min(recorded.values()) >= 8
    assert all(json.loads(line)["pane"] in (1, 2) for line in path.read_text().splitlines()[1:])

    feed = ReplayFeed.create(str(path), entries, speed=0)
    app = MonitorApp.for_replay(feed)
    async with app.run_test(size=(160, 45)) as pilot:
        await replay_to_the_end(pilot, feed)
        replayed = panes(app)
        assert [p.topic for p in replayed] == ["logs", "logs"]
        assert [p.renderer.stats.events for p in replayed] == [recorded[1], recorded[2]]

    # Readers of streams, not panes, take one copy: the replay server and the plain mode.
    first_pane = [(e.item.type, e.item.data) for e in entries
                  if e.stream.pane == 1 and isinstance(e.item, Event)]
    plan = plan_replay(entries)
    assert list(plan.topics.values()) == ["logs"]
    assert [(event.type, event.data) for _, event in plan.events] == first_pane
    printed = io.StringIO()
    await replay_plain(entries, speed=0, fmt="jsonl", out=printed)
    rows = [json.loads(line) for line in printed.getvalue().splitlines()]
    assert [(row["event"], row["data"]) for row in rows if row["event"] != "heartbeat"
            ] == first_pane
    server = ServerProcess("--replay", str(path), "--heartbeat", "0.2").start()
    try:
        served = await asyncio.wait_for(read_rounds(server.url, "logs", first_pane), 40)
        assert len(served) == 2 * len(first_pane)
    finally:
        server.kill()


@pytest.mark.anyio
async def test_the_record_key_records_the_focused_pane_from_then_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = three_topics()
    app = scenario.app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("2", "s")
        logs = panes(app)[1]
        assert logs.has_class("-recording") and logs.border_title == "2 logs ● REC"
        recorded = later_logs(5)
        scenario.sources["logs"].push(*recorded)
        await settle(pilot)
        await pilot.press("s")
        assert not logs.has_class("-recording") and logs.border_title == "2 logs"
        scenario.sources["logs"].push(*later_logs(7)[5:])  # after the stop: not recorded
        await settle(pilot)
    path = tmp_path / recording_name(scenario.now)
    entries = list(read_recording(path))
    assert {entry.stream.topic for entry in entries} == {"logs"}
    # started mid-stream: it opens with the state the pane was in, as of the key press
    assert [entry.item for entry in entries] == [StateChange(State.LIVE, scenario.now, status=200),
                                                 *recorded]


@pytest.mark.anyio
async def test_a_recording_started_mid_stream_replays_in_the_state_it_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = three_topics()
    async with scenario.app().run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("2", "s")
        scenario.sources["logs"].push(*later_logs(3))
        await settle(pilot)
    path = tmp_path / recording_name(scenario.now)
    feed = ReplayFeed.create(str(path), list(read_recording(path)), speed=0)
    app = MonitorApp.for_replay(feed)
    async with app.run_test(size=(160, 45)) as pilot:
        await replay_to_the_end(pilot, feed)
        (pane,) = panes(app)
        states = [e.plain for e in pane.renderer.history.entries if e.kind == "state"]
        assert states == ["── live ──", "── ended ──"] and pane.renderer.stats.events == 3


def full_disk() -> TextIO:
    """/dev/full fails every write with ENOSPC: the disk fills up, for real."""
    return open("/dev/full", "a")


@pytest.mark.anyio
async def test_a_recording_that_fails_stops_with_a_notice_and_the_panes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = three_topics()
    app = scenario.app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert all(pane.recorder is screen.recorder for pane in panes(app))
        screen.recorder._file = full_disk()
        more = later_logs(3)
        scenario.sources["logs"].push(*more)
        await settle(pilot)
        assert screen.recorder is None
        assert not any(pane.has_class("-recording") for pane in panes(app))
        assert panes(app)[1].renderer.stats.last_id == more[-1].id  # the stream went on
        notices = [n.message for n in app._notifications]
        assert any("Recording stopped" in n and "No space left on device" in n for n in notices)


def test_snapshot_of_a_replayed_session(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    path = tmp_path / "gap-session.jsonl"
    feed = ReplayFeed.create(str(path), scenario_recording(path), speed=0)

    async def run_before(pilot: Pilot) -> None:
        await replay_to_the_end(pilot, feed)

    assert snap_compare(MonitorApp.for_replay(feed), terminal_size=(120, 32),
                        run_before=run_before)


def test_snapshot_of_the_rec_marker(
    snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("2", "s")
        await settle(pilot)

    assert snap_compare(three_topics().app(), terminal_size=(160, 45), run_before=run_before)
