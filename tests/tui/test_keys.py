"""Every key reaches the pane it should (scripted streams: the wiring, not the network)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor.client.events import State
from monitor.tui.app import MonitorApp, parse_keymap
from monitor.tui.commands import MonitorCommands
from monitor.tui.widgets.pane import StreamPane
from tests.tui.scenarios import T0, Scenario, change, config, settle, three_topics

pytestmark = pytest.mark.anyio


def panes(app: MonitorApp) -> list[StreamPane]:
    return list(app.screen_stack[0].query(StreamPane))


async def test_reconnect_keys_reach_the_right_streams() -> None:
    scenario = three_topics()
    app = scenario.app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("2", "r", "3", "ctrl+r", "R")
        sources = scenario.sources
        assert sources["progress"].reconnects == [True]
        assert sources["logs"].reconnects == [True, True]
        assert sources["tokens"].reconnects == [False, True]


async def test_focus_keys_move_between_panes() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.active is panes(app)[0]
        await pilot.press("3")
        assert screen.active is panes(app)[2]
        await pilot.press("tab")
        assert screen.active is panes(app)[0]
        await pilot.press("shift+tab", "shift+tab")
        assert screen.active is panes(app)[1]
        assert panes(app)[1].has_class("-active") and not panes(app)[0].has_class("-active")


async def test_add_and_close_panes() -> None:
    scenario = three_topics()
    app = scenario.app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("a", *"metrics", "enter")
        await settle(pilot)
        assert [pane.topic for pane in panes(app)] == ["progress", "logs", "tokens", "metrics"]
        assert "topic=metrics" in panes(app)[3].source.config.url
        assert app.screen.active is panes(app)[3] and panes(app)[3].number == 4
        await pilot.press("1", "w")
        await settle(pilot)
        assert [pane.topic for pane in panes(app)] == ["logs", "tokens", "metrics"]
        assert [pane.number for pane in panes(app)] == [1, 2, 3]
        assert scenario.sources["progress"].config.topic == "progress"
        assert app.screen.active is panes(app)[0]


async def test_clear_raw_and_filter_act_on_the_focused_pane() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        logs, tokens = panes(app)[1], panes(app)[2]
        await pilot.press("2", "v")
        assert logs.raw_view and not tokens.raw_view
        assert "event: log" in "\n".join(logs.log_view.shown_text())
        await pilot.press("v", "slash", *"WARN", "enter")
        assert logs.filter_text == "WARN"
        shown = logs.log_view.shown_text()
        assert shown and all("WARN" in line or not line.startswith("16:") for line in shown)
        await pilot.press("c")
        assert logs.log_view.shown_text() == [] and not logs.renderer.history.entries
        assert tokens.renderer.history.entries


async def test_every_binding_is_in_the_command_palette() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("2", "ctrl+p", *"raw view")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert panes(app)[1].raw_view
        provider = MonitorCommands(app.screen)
        titles = [title for title, _, _ in provider._commands()]
        ids = [b.id for b in app.screen.bindings_with_ids()]
        assert len(titles) == len(ids)
        assert "Reconnect all (R)" in titles and "Inspect (i)" in titles


async def test_keys_can_be_remapped_by_id() -> None:
    app = Scenario(three_topics().streams, three_topics().now).app(
        keymap=parse_keymap("pause=x; raw-view=ctrl+v"))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert panes(app)[0].paused
        await pilot.press("ctrl+v")
        assert panes(app)[0].raw_view
        assert app.screen.keys_by_id()["pause"] == "x"


def test_keymap_spec_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="expected id=keys"):
        parse_keymap("pause")


def test_keymap_with_an_unknown_id_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError,
                       match="unknown binding id 'paws'; valid ids: help, quit, reconnect, "):
        parse_keymap("pause=x; paws=p")


def test_sse_monitor_refuses_an_unknown_binding_id_in_one_line() -> None:
    env = {**os.environ, "SSE_MONITOR_KEYS": "pause=x;reconect=ctrl+x"}
    done = subprocess.run([sys.executable, "-m", "monitor", "http://127.0.0.1:9/stream"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    print(done.stderr)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown binding id 'reconect'" in lines[0] and "reconnect-fresh" in lines[0]


async def test_a_digit_past_the_last_pane_says_there_is_no_such_pane() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("2", "9")
        await pilot.pause()
        assert app.screen.active is panes(app)[1]
        assert [n.message for n in app._notifications] == ["No pane 9: there are 3 panes"]


async def test_header_counts_states_as_they_read() -> None:
    failed = [change(State.CONNECTING, T0), change(State.ERROR, T0 + 0.1, "404 Not Found")]
    scenario = Scenario([(config("a"), failed), (config("b"), list(failed)),
                         (config("c"), [change(State.LIVE, T0)])], now=T0 + 1)
    app = scenario.app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.screen.sub_title.endswith("· 2 errors, 1 live")
