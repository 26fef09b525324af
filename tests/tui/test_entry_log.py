"""The pane's virtual list: follows the tail, stays put when scrolled back, caps its entries."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from monitor.tui.render.entries import Entry
from monitor.tui.widgets.entry_log import SCROLLBAR_SYNC, EntryLog

pytestmark = pytest.mark.anyio


def entries(start: int, count: int, built: list[int] | None = None) -> list[Entry]:
    """Lazy entries `line N`; `built` collects the N of those whose Text was made."""
    def make(n: int) -> Text:
        if built is not None:
            built.append(n)
        return Text(f"line {n}")
    return [Entry.lazy(make, n) for n in range(start, start + count)]


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EntryLog(max_entries=50)


def visible(log: EntryLog) -> list[str]:
    return [log.render_line(y).text.strip() for y in range(log.scrollable_content_region.height)]


async def test_follows_the_tail_and_stays_put_when_scrolled_back() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(EntryLog)
        log.extend(entries(0, 30))
        await pilot.pause()
        assert visible(log)[-1] == "line 29"
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        log.extend(entries(30, 10))
        await pilot.pause()
        assert log.scroll_offset.y == 0 and visible(log)[0] == "line 0"
        log.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        log.extend(entries(40, 5))
        await pilot.pause()
        assert visible(log)[-1] == "line 44"


async def test_keeps_the_newest_entries_and_renders_only_what_is_seen() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(EntryLog)
        built: list[int] = []
        log.extend(entries(0, 500, built))
        await pilot.pause()
        assert visible(log)[-1] == "line 499"
        assert built and min(built) >= 490  # only the rows in view (10 lines) were made
        assert [entry.plain for entry in log.entries] == [f"line {n}" for n in range(450, 500)]


class LogOverPanelApp(App[None]):
    """A log over a panel that comes and goes, as a pane's live panel does."""

    CSS = "EntryLog { height: 1fr; } #panel { height: 5; display: none; }"

    def compose(self) -> ComposeResult:
        yield EntryLog(max_entries=500)
        yield Static("live", id="panel")


def three_line_entries(count: int) -> list[Entry]:
    return [Entry(Text(f"entry {n}\n  detail\n  more"), f"entry {n}") for n in range(count)]


async def test_the_scrollbar_is_at_the_end_while_following_when_the_log_shrinks() -> None:
    app = LogOverPanelApp()
    async with app.run_test(size=(40, 20)) as pilot:
        log = app.query_one(EntryLog)
        log.extend(entries(0, 100))
        await pilot.pause()
        app.query_one("#panel").display = True
        await pilot.pause()
        assert log.size.height == 15  # the panel took 5 lines
        assert log.scroll_offset.y == log.max_scroll_y > 0 and visible(log)[-1] == "line 99"


async def test_rows_not_yet_drawn_count_as_high_as_the_drawn_ones() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(EntryLog)
        log.max_entries = 200
        log.extend(three_line_entries(200))
        await pilot.pause()
        assert log.virtual_size.height == 3 * 200  # so the scrollbar's thumb is to scale
        assert log.scroll_offset.y == log.max_scroll_y and visible(log)[-1] == "more"


async def test_following_keeps_the_offset_at_the_end_and_the_scrollbar_catches_up() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(EntryLog)
        log.extend(entries(0, 20))
        await pilot.pause(SCROLLBAR_SYNC + 0.1)
        bar = log.vertical_scrollbar
        before = bar.window_virtual_size
        log.extend(entries(20, 20))
        assert log.scroll_offset.y == log.max_scroll_y  # at once: the next frame draws the end
        assert bar.window_virtual_size == before  # not redrawn for every batch of rows ...
        await pilot.pause()
        assert visible(log)[-1] == "line 39"
        await pilot.pause(SCROLLBAR_SYNC + 0.1)
        assert bar.window_virtual_size == log.virtual_size.height == 40  # ... but soon after
        assert bar.position == log.scroll_offset.y
