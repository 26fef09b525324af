"""The grid's flush clock: every pane at each tick, unless drawing them all would block too long."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets._footer import FooterKey

from monitor.tui.widgets.pane import StreamPane
from monitor.tui.widgets.pane_grid import FLUSH_BUDGET, PaneGrid, layout
from monitor.tui.widgets.pane_tabs import PaneTabs
from tests.tui.scenarios import settle, three_topics

pytestmark = pytest.mark.anyio


def record_flushes(panes: list[StreamPane], drawn: list[int]) -> None:
    """Note which panes the grid asks to flush, at once (before any timer can tick)."""
    for pane in panes:
        def call_later(callback: Callable[..., Any], *_: Any, pane: StreamPane = pane) -> bool:
            assert callback == pane.flush
            drawn.append(pane.number)
            return True

        pane.call_later = call_later  # type: ignore[method-assign]


async def test_panes_take_turns_when_drawing_them_all_would_exceed_the_budget() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(PaneGrid)
        panes = list(grid.query_children(StreamPane))
        drawn: list[int] = []
        record_flushes(panes, drawn)

        for pane in panes:
            pane.flush_cost = 0.0
        grid.flush_panes()
        assert sorted(drawn) == [1, 2, 3]  # cheap panes: all of them, every tick

        for pane in panes:
            pane.flush_cost = FLUSH_BUDGET * 0.4  # two of them fit in a tick, not three
        ticks = draw_ticks(grid, drawn, 3)
        assert [len(tick) for tick in ticks] == [2, 2, 2]
        flat = [number for tick in ticks for number in tick]
        # In turn, each tick going on from where the last stopped: no pane waits two ticks.
        assert flat == [(flat[0] - 1 + i) % 3 + 1 for i in range(6)]

        for pane in panes:
            pane.flush_cost = FLUSH_BUDGET * 2  # over the budget alone: one a tick, still drawn
        ticks = draw_ticks(grid, drawn, 3)
        assert [len(tick) for tick in ticks] == [1, 1, 1]
        assert sorted(number for tick in ticks for number in tick) == [1, 2, 3]


def draw_ticks(grid: PaneGrid, drawn: list[int], count: int) -> list[list[int]]:
    """The panes each of `count` ticks asked to flush."""
    ticks = []
    for _ in range(count):
        drawn.clear()
        grid.flush_panes()
        ticks.append(list(drawn))
    return ticks


async def test_a_flush_measures_what_it_cost() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        pane = app.screen.query(StreamPane).first()
        pane.flush_cost = -1.0
        pane.flush()
        assert 0.0 <= pane.flush_cost < 1.0


async def test_a_small_terminal_pages_the_panes_and_names_them_all() -> None:
    app = three_topics().app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(PaneGrid)
        panes = list(grid.query_children(StreamPane))
        tabs = grid.query_one(PaneTabs)

        def on_screen() -> list[str]:
            return [pane.topic for pane in panes if pane.display and pane.region.height]

        def named() -> str:
            return str(tabs.render())

        assert tabs.display and tabs.region.height == 1
        assert on_screen() == ["progress", "logs"]
        assert "1 progress" in named() and "2 logs" in named() and "3 tokens" in named()
        assert "+1 more" in named()
        await pilot.press("3")
        await settle(pilot)
        assert on_screen() == ["tokens"] and app.screen.active is panes[2]
        assert "+2 more" in named()
        await pilot.press("tab")
        await settle(pilot)
        assert on_screen() == ["progress", "logs"] and app.screen.active is panes[0]
        keys = {key.key: key.region for key in app.screen.query(FooterKey)}
        for key in ("question_mark", "q"):  # Help and Quit whole on screen
            assert keys[key].width and keys[key].right <= 80, (key, keys[key])


async def test_a_large_terminal_shows_every_pane_without_tabs() -> None:
    app = three_topics().app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(PaneGrid)
        assert not grid.query_one(PaneTabs).display
        assert all(pane.display and pane.region.height for pane in grid.query(StreamPane))


def test_layout_pages_hold_the_active_pane() -> None:
    assert layout(3, 80, 22, 0).shown == range(2) and layout(3, 80, 22, 2).shown == range(2, 3)
    assert not layout(3, 160, 43, 0).paged and layout(3, 160, 43, 0).columns == 3
    assert layout(9, 80, 5, 4).shown == range(4, 5)  # too small for one: one pane a page
