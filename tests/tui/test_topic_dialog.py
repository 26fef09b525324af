"""The topic dialog lists what `GET /topics` gave and says how many topics it left out."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Label, OptionList

from monitor.client.topics import TopicList
from monitor.tui.screens.topic_dialog import TopicDialog

pytestmark = pytest.mark.anyio


async def test_the_dialog_says_how_many_topics_were_not_listed() -> None:
    async def load() -> TopicList:
        return TopicList([{"name": "logs"}, {"name": "tokens"}], left_out=1_234)

    app: App[None] = App()
    async with app.run_test() as pilot:
        await app.push_screen(TopicDialog("Switch topic", load))
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one(OptionList).option_count == 2
        hint = str(dialog.query_one(".dialog-hint", Label).render())
        assert "1,234 more not listed: type one" in hint, hint
