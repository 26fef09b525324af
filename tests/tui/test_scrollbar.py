"""drawn_thumb places the thumb as Textual draws it, and a following log redraws its scrollbar
only when the thumb would move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import product
from math import ceil

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.scrollbar import ScrollBarRender

from monitor.tui.render.entries import Entry
from monitor.tui.textual_fixes import bar_thumb, drawn_thumb
from monitor.tui.widgets.entry_log import SCROLLBAR_SYNC, EntryLog

pytestmark = pytest.mark.anyio


def textual_bar(length: int, virtual: float, window: float, position: float) -> list[object]:
    """The segments Textual's ScrollBar draws for these inputs (its own rounding included)."""
    window_size = ceil(window) if window < virtual else 0
    bar = ScrollBarRender.render_bar(size=length, virtual_size=ceil(virtual),
                                     window_size=window_size, position=int(position * 8) / 8)
    return list(bar.segments)


def test_the_same_thumb_is_the_same_drawing_and_a_moved_one_is_not() -> None:
    drawings: dict[object, list[object]] = {}
    for length, virtual, position in product((5, 10, 24), range(1, 400, 7), (0, 0.3, 17, 150)):
        window = length
        position = min(position, max(virtual - window, 0))
        key = (length, drawn_thumb(length, virtual, window, position))
        drawing = textual_bar(length, virtual, window, position)
        if key in drawings:
            assert drawings[key] == drawing, (length, virtual, position)
        drawings[key] = drawing
    # distinct keys of one length draw distinct bars
    for length in (5, 10, 24):
        bars = [str(drawing) for (size, thumb), drawing in drawings.items()
                if thumb is not None and size == length]
        assert len(bars) == len(set(bars)) > 5


class FollowApp(App[None]):
    CSS = "EntryLog { overflow-x: hidden; }"  # as in a pane: no horizontal bar to come and go

    def compose(self) -> ComposeResult:
        yield EntryLog(max_entries=300)


def mixed(start: int, count: int) -> list[Entry]:
    """Entries of one or two lines: the log's height changes by a few lines per batch."""
    rows = [f"row {n}" + ("\nmore" if n % 3 == 0 else "") for n in range(start, start + count)]
    return [Entry(Text(row), row) for row in rows]


@asynccontextmanager
async def following_log() -> AsyncIterator[tuple[Pilot[None], EntryLog]]:
    """A log of 300 mixed entries, following, once its scrollbar has caught up."""
    app = FollowApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(EntryLog)
        log.extend(mixed(0, 300))
        await pilot.pause(SCROLLBAR_SYNC + 0.1)
        yield pilot, log


async def test_a_following_log_does_not_redraw_a_scrollbar_that_would_look_the_same() -> None:
    async with following_log() as (pilot, log):
        bar = log.vertical_scrollbar
        redraws: list[bool] = []
        refresh = bar.refresh

        def spy(*regions, **options):  # type: ignore[no-untyped-def]
            redraws.append(True)
            return refresh(*regions, **options)

        bar.refresh = spy  # type: ignore[method-assign]
        heights = set()
        for start in range(300, 600, 50):  # the thumb stays one cell, at the bottom
            log.extend(mixed(start, 50 + start % 7))
            heights.add(log.virtual_size.height)
            await pilot.pause(SCROLLBAR_SYNC + 0.1)
        assert len(heights) > 1 and not redraws
        log.scroll_home(animate=False, immediate=True)  # scrolled back: it moves, and is drawn
        await pilot.pause()
        assert redraws


async def test_a_following_log_redraws_a_bar_left_behind_by_someone_else() -> None:
    async with following_log() as (pilot, log):
        bar = log.vertical_scrollbar
        # Textual's own scrolling (a clamp while sizes settle) moved the bar, not the log
        bar.position = log.scroll_y - 40
        log.extend(mixed(300, 1))
        await pilot.pause(SCROLLBAR_SYNC + 0.1)
        height = log.scrollable_content_region.height
        assert bar_thumb(bar) == drawn_thumb(height, log.virtual_size.height, height,
                                             log.scroll_y)
