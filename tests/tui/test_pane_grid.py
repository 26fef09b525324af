"""The grid's flush clock: every pane at each tick, unless drawing them all would block too long."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from monitor.tui.widgets.pane import StreamPane
from monitor.tui.widgets.pane_grid import FLUSH_BUDGET, PaneGrid
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
