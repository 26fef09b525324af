"""What is still streaming in a pane (open messages, running steps), below its history."""

from __future__ import annotations

from rich.console import RenderableType
from textual.events import Resize
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from monitor.widgets.strips import render_strips


class LivePanel(Widget):
    """As high as its content (up to the cap in the .tcss), showing its newest lines.

    A token stream changes this panel in every frame; it asks for a layout pass (which
    repaints the whole screen) only when its number of lines changes, not for every token.
    """

    def __init__(self) -> None:
        super().__init__(classes="live")
        self._renderable: RenderableType | None = None
        self._strips: list[Strip] = []
        self._width = 0

    def show(self, renderable: RenderableType | None) -> None:
        """Draw `renderable` from now on; None hides the panel."""
        self._renderable = renderable
        lines = len(self._strips)
        self._render_at(self._width)
        self.display = renderable is not None
        self.refresh(layout=len(self._strips) != lines)

    def _render_at(self, width: int) -> None:
        self._width = width
        if self._renderable is None or width <= 0:
            self._strips = []
            return
        self._strips = render_strips(self.app.console, self._renderable, width,
                                     self.rich_style)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._render_at(width)
        return len(self._strips)

    def on_resize(self, event: Resize) -> None:
        if self.content_size.width != self._width:
            self._render_at(self.content_size.width)
            self.refresh(layout=True)

    def render_line(self, y: int) -> Strip:
        # Cut to the cap, the newest lines are the ones to see: the end of a long message.
        first = max(len(self._strips) - self.content_size.height, 0)
        if first + y < len(self._strips):
            return self._strips[first + y]
        return Strip.blank(self.content_size.width, self.rich_style)
