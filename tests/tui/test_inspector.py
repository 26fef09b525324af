"""The event inspector: i opens the focused pane's newest event, j/k and arrows move, y copies,
Esc closes; live and in a replay; text from the wire shown escaped, never as markup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from monitor.client.events import Event, State
from monitor.recording.feeds import ReplayFeed
from monitor.tui.app import MonitorApp
from monitor.tui.render.pane import PaneRenderer
from monitor.tui.screens.inspector_screen import InspectorScreen
from monitor.tui.widgets.event_detail import EventDetail, event_detail
from monitor.tui.widgets.pane import StreamPane
from tests.record.test_tui import replay_to_the_end, scenario_recording
from tests.tui.scenarios import T0, Scenario, change, config, event, settle, three_topics

pytestmark = pytest.mark.anyio


def panes(app: MonitorApp) -> list[StreamPane]:
    return list(app.screen_stack[0].query(StreamPane))


def plain(renderable: object, width: int = 100) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def inspected(app: MonitorApp) -> Event:
    screen = app.screen
    assert isinstance(screen, InspectorScreen)
    event_ = screen.event
    assert event_ is not None
    return event_


async def test_inspector_keys_move_copy_and_close() -> None:
    app = three_topics().app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        logs = panes(app)[1]
        events = [item for item in three_topics().streams[1][1] if isinstance(item, Event)]
        await pilot.press("2", "i")
        assert inspected(app) == events[-1]
        await pilot.press("k", "up")
        assert inspected(app) == events[-3]
        await pilot.press("j")
        assert inspected(app) == events[-2]
        await pilot.press("down", "down", "down")  # past the newest: stays on it
        assert inspected(app) == events[-1]
        await pilot.press("home")
        assert inspected(app) == events[0]
        await pilot.press("up")  # before the oldest: stays on it
        assert inspected(app) == events[0]
        await pilot.press("end", "k", "y")
        assert app.clipboard == events[-2].data
        shown = plain(app.screen.query_one(EventDetail).content)
        assert events[-2].id in shown and "type      log" in shown and "raw frame" in shown
        assert '"level":' in shown and "latency   " in shown and "retry     —" in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)
        assert app.screen.active is logs and not logs.paused


async def test_inspector_says_so_when_a_pane_has_no_events() -> None:
    scenario = Scenario([(config("quiet"), [change(State.LIVE, T0)])], now=T0 + 1)
    app = scenario.app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("i")
        assert not isinstance(app.screen, InspectorScreen)
        assert [n.message for n in app._notifications] == [
            "Pane 1 has no events to inspect yet"]


async def test_inspector_works_in_a_replay(tmp_path: Path) -> None:
    path = tmp_path / "gap.jsonl"
    entries = scenario_recording(path)
    feed = ReplayFeed.create(str(path), entries, speed=0)
    app = MonitorApp.for_replay(feed)
    recorded = [entry.item for entry in entries if isinstance(entry.item, Event)]
    async with app.run_test(size=(120, 32)) as pilot:
        await replay_to_the_end(pilot, feed)
        await pilot.press("i")
        assert inspected(app).id == recorded[-1].id
        await pilot.press("k", "y")
        assert app.clipboard == recorded[-2].data


def test_inspector_shows_wire_text_escaped_and_never_as_markup() -> None:
    hostile = event("[bold red]evil\x1b[2J", "[link=http://x]click[/link]\x07\u202e", 7, T0)
    shown = plain(event_detail(hostile))
    assert "[bold red]evil\\x1b[2J" in shown  # the type: escaped, not a style
    assert "[link=http://x]click[/link]\\x07\\u202e" in shown  # the data: text, not markup
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


def test_the_events_a_pane_keeps_are_bounded_by_its_max_lines() -> None:
    renderer = PaneRenderer(max_lines=50)
    for seq in range(1, 5001):
        renderer.feed(event("message", f"payload {seq}" + "x" * 1000, seq, T0 + seq))
    ring = renderer.events
    print(f"RSS {rss_kib()} KiB after 5000 events into a 50-line pane")
    assert len(ring) == 50 and ring.appended == 5000
    assert ring.get(ring.first) is not None and ring.get(ring.first - 1) is None
    newest = ring.get(ring.appended - 1)
    assert newest is not None and newest.data.startswith("payload 5000")


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
