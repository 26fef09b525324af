"""The live panel under a pane's log: newest lines when cut, layout passes only when needed."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from monitor.tui.widgets.live_panel import HOLD, LivePanel

pytestmark = pytest.mark.anyio


class Clock:
    """The panel's clock, moved by the test: no test waits out HOLD for real."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class PanelApp(App[None]):
    CSS = "LivePanel { height: auto; max-height: 4; }"

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()

    def compose(self) -> ComposeResult:
        yield LivePanel(self.clock)


async def after_hold(app: PanelApp, pilot: Pilot[None]) -> None:
    """HOLD and a little more pass on the panel's clock, and its timer fires."""
    app.clock.now += HOLD + 0.2
    app.query_one(LivePanel).settle()
    await pilot.pause()


def shown(panel: LivePanel) -> list[str]:
    return [panel.render_line(y).text.rstrip() for y in range(panel.content_size.height)]


def layout_requests(panel: LivePanel) -> list[bool]:
    """From now on, whether each refresh of `panel` asked for a layout pass."""
    layouts: list[bool] = []
    refresh = panel.refresh

    def spy(*regions, layout: bool = False, **options):  # type: ignore[no-untyped-def]
        layouts.append(layout)
        return refresh(*regions, layout=layout, **options)

    panel.refresh = spy  # type: ignore[method-assign]
    return layouts


async def test_a_long_message_shows_its_newest_lines() -> None:
    app = PanelApp()
    async with app.run_test(size=(30, 12)) as pilot:
        panel = app.query_one(LivePanel)
        panel.show(Text("\n".join(f"token {n}" for n in range(10))))
        await pilot.pause()
        assert panel.display and panel.size.height == 4
        assert shown(panel) == ["token 6", "token 7", "token 8", "token 9"]


async def test_it_asks_for_a_layout_only_when_its_height_changes() -> None:
    app = PanelApp()
    async with app.run_test(size=(30, 12)) as pilot:
        panel = app.query_one(LivePanel)
        layouts = layout_requests(panel)
        panel.show(Text("one line"))
        await pilot.pause()
        layouts.clear()
        panel.show(Text("one line, longer"))
        assert not any(layouts)  # as high as before
        panel.show(Text("two\nlines"))
        assert any(layouts)  # higher: at once
        await pilot.pause()
        assert shown(panel) == ["two", "lines"]
        layouts.clear()
        panel.show(Text("one"))  # the next message of a fast stream: no layout pass yet
        panel.show(None)
        panel.show(Text("two\nlines"))
        await pilot.pause()
        assert not any(layouts) and panel.display and panel.size.height == 2


def lines(count: int) -> Text:
    return Text("\n".join(f"token {n}" for n in range(count)))


async def test_at_its_cap_it_grows_and_shrinks_without_a_layout_pass() -> None:
    app = PanelApp()
    async with app.run_test(size=(30, 12)) as pilot:
        panel = app.query_one(LivePanel)
        panel.show(lines(6))
        await pilot.pause()
        assert panel.size.height == 4  # cut by max-height
        layouts = layout_requests(panel)
        panel.show(lines(9))  # higher, but as high as shown
        panel.show(lines(5), hold=False)  # lower, still above the cap
        await pilot.pause()
        assert not any(layouts) and shown(panel) == [f"token {n}" for n in range(1, 5)]
        panel.show(lines(2), hold=False)  # below the cap: the panel itself shrinks
        await pilot.pause()
        assert any(layouts) and panel.size.height == 2


async def three_lines(app: PanelApp, pilot: Pilot[None]) -> LivePanel:
    """The app's panel, showing and laid out at three lines."""
    panel = app.query_one(LivePanel)
    panel.show(Text("three\nlines\nhere"))
    await pilot.pause()
    return panel


async def test_it_shrinks_and_closes_once_its_content_has_stayed_smaller() -> None:
    app = PanelApp()
    async with app.run_test(size=(30, 12)) as pilot:
        panel = await three_lines(app, pilot)
        panel.show(Text("one"))
        await pilot.pause()
        assert panel.size.height == 3 and shown(panel) == ["one", "", ""]
        await after_hold(app, pilot)
        assert panel.size.height == 1
        panel.show(None)
        await pilot.pause()
        assert panel.display  # empty, for now
        await after_hold(app, pilot)
        assert not panel.display


async def test_a_change_the_user_asked_for_closes_it_at_once() -> None:
    app = PanelApp()
    async with app.run_test(size=(30, 12)) as pilot:
        panel = await three_lines(app, pilot)
        panel.show(Text("one"), hold=False)  # a filter, say
        await pilot.pause()
        assert panel.size.height == 1
        panel.show(None, hold=False)  # the raw view
        await pilot.pause()
        assert not panel.display


class TallPanelApp(PanelApp):
    CSS = "LivePanel { height: auto; max-height: 20; }"


async def test_growing_again_soon_it_leaves_room_and_keeps_it_while_used() -> None:
    app = TallPanelApp()
    async with app.run_test(size=(30, 30)) as pilot:
        panel = app.query_one(LivePanel)
        for count in (1, 2):  # opens, then grows: as high as its content
            panel.show(lines(count))
            await pilot.pause()
            assert panel.size.height == count
        panel.show(lines(4))  # again within HOLD: a fast stream, half as much room again
        await pilot.pause()
        assert panel.size.height == 6 and shown(panel)[:4] == [f"token {n}" for n in range(4)]
        panel.show(lines(6))  # into the room: no layout pass needed, none taken
        await after_hold(app, pilot)
        assert panel.size.height == 6
        panel.show(lines(3))  # less than it grew for: it shrinks once that has lasted HOLD
        await after_hold(app, pilot)
        assert panel.size.height == 3
