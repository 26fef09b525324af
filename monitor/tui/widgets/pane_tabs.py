"""A line that names every pane when they do not all fit: those on screen, those a key away."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from monitor.tui.render.entries import append_shown
from monitor.tui.widgets.pane import StreamPane

HINT = "tab, 1…9: other panes"
MIN_NAME = 6  # cells of a pane's name kept however many panes there are


class PaneTabs(Static):
    """`1 progress  2 logs │ 3 tokens   +1 more · tab, 1…9: other panes`; the focused pane
    reversed, the others on screen bold, the rest dim."""

    def show(self, panes: Sequence[StreamPane], on_screen: range | None,
             active: StreamPane | None) -> None:
        """Name `panes`, or hide when they are all on screen (`on_screen` None)."""
        self.display = on_screen is not None
        if on_screen is None:
            return
        hidden = len(panes) - len(on_screen)
        hint = f"   +{hidden} more · {HINT}"
        room = (self.size.width or self.app.size.width) - len(hint)
        name_cells = max(MIN_NAME, room // max(len(panes), 1) - 4)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, pane in enumerate(panes):
            if index:
                edge = index in (on_screen.start, on_screen.stop)
                text.append(" │ " if edge else "  ", "dim")
            style = ("bold reverse" if pane is active else
                     "bold" if index in on_screen else "dim")
            name = Text(f"{pane.number} ", style=style)
            append_shown(name, pane.topic, style)  # a topic comes from a server: never markup
            name.truncate(name_cells + 2, overflow="ellipsis")
            text.append_text(name)
        text.append(hint, "dim italic")
        self.update(text)
