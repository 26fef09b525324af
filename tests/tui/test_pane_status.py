"""Status bars in narrow panes: the state and the heartbeat shorten their words, never cut."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.widgets import Label

from monitor.client.events import State, StateChange
from monitor.tui.widgets.pane import StreamPane
from monitor.tui.widgets.pane_status import PaneStatus
from monitor.tui.widgets.status_forms import fitted, heartbeat_forms, state_forms
from tests.tui.scenarios import T0, crowded, settle

pytestmark = pytest.mark.anyio


def bar(pane: StreamPane) -> dict[str, tuple[str, int]]:
    """Label class -> (its text, the cells it has for the text)."""
    status = pane.query_one(PaneStatus)
    return {name: (str(label.render()), label.content_region.width)
            for name in ("state", "heartbeat")
            for label in [status.query_one(f".{name}", Label)]}


@pytest.mark.parametrize(("width", "state", "beat"), [
    (160, "retry in 7.5s (#2)", "♥ overdue 49s"),
    (240, "reconnecting in 7.5s (attempt 2)", "♥ overdue 49s"),
])
async def test_crowded_status_bars_keep_state_and_heartbeat_whole(
        width: int, state: str, beat: str) -> None:
    app = crowded().app()
    async with app.run_test(size=(width, 45)) as pilot:
        await settle(pilot)
        await pilot.pause()
        panes = list(app.screen.query(StreamPane))
        await settle(pilot)
        reconnecting, late = bar(panes[0]), bar(panes[1])
        print(width, reconnecting, late)
        assert reconnecting["state"][0] == state and reconnecting["heartbeat"][0] == "♡ -"
        assert late["heartbeat"][0] == beat
        for pane in panes:
            for text, room in bar(pane).values():
                assert cell_len(text) <= room, (pane.topic, text, room)


def test_forms_shorten_the_words_before_the_reason_is_cut() -> None:
    change = StateChange(State.RECONNECTING, T0, "connection refused", attempt=2, delay=7.5)
    forms = state_forms(change)
    assert forms[0] == "reconnecting in 7.5s (attempt 2): connection refused"
    assert heartbeat_forms("♥ overdue 51s") == ["♥ overdue 51s", "♥ late 51s"]
    assert heartbeat_forms("♥ 2s") == ["♥ 2s"]
    assert fitted(200, forms, ["♥ 2s"], "") == (forms[0], "♥ 2s")
    assert fitted(30, forms, ["♥ 2s"], "⚠ gaps 1") == ("retry 7.5s", "♥ 2s")
