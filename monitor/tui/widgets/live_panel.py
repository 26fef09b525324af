"""What is still streaming in a pane (open messages, running steps), below its history."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import RenderableType
from textual.events import Resize
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from monitor.tui.widgets.strips import render_strips

HOLD = 2.0  # seconds the panel keeps its height (or stays open, empty) after its content shrank
ROOM = 0.5  # growing again within HOLD, it grows by this share more: room for the next lines


class LivePanel(Widget):
    """As high as its content (up to the cap in the .tcss), showing its newest lines.

    A fast token stream changes this panel in every frame, and messages open and close many
    times a second; each change of its height is a layout pass that repaints the whole screen.
    So it grows at once, but shrinks or closes only once its content has been smaller for HOLD;
    and growing again within HOLD of the last time (a fast stream), it leaves room to grow into.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(classes="live")
        self._clock = clock
        self._renderable: RenderableType | None = None
        self._strips: list[Strip] = []
        self._width = 0
        self._height = 0  # lines the layout gives it: at least its content's
        self._floor = 0  # its content's lines when it last changed height: below them, it shrinks
        self._smaller_since: float | None = None  # clock time the content became shorter
        self._settle_timer: Timer | None = None
        self._grown_at = -HOLD  # clock time it last grew

    def show(self, renderable: RenderableType | None, *, hold: bool = True) -> None:
        """Draw `renderable` from now on; None closes the panel. `hold=False` (a change the
        user asked for) shrinks or closes it at once."""
        self._renderable = renderable
        self._render_at(self._width)
        needed = len(self._strips)
        if not self.display:
            if renderable is not None:  # not laid out yet, maybe: the layout measures it
                self._resize(needed, shown=True)
        elif needed > self._height:
            now, opening = self._clock(), not self._height
            room = int(needed * ROOM) if hold and now - self._grown_at < HOLD else 0
            self._grown_at = self._grown_at if opening else now
            self._resize(needed, shown=True, room=room)
        elif not hold and (needed != self._height or renderable is None):
            self._resize(needed, shown=renderable is not None)
        elif needed < self._floor or renderable is None:
            self._smaller_since = self._smaller_since or self._clock()
            if self._settle_timer is None:
                self._settle_timer = self.set_timer(HOLD, self.settle)
        else:
            self._smaller_since = None
        self.refresh()

    def _resize(self, lines: int, shown: bool, room: int = 0) -> None:
        shown_lines = self.content_size.height
        height = lines + room
        # Cut by its cap, it stays as high for any content as high or higher: no layout pass
        capped = self.display and shown and shown_lines < self._height and height >= shown_lines
        self._height, self._floor, self._smaller_since = height, lines, None
        self.display = shown
        if not capped:
            self.refresh(layout=True)

    def settle(self) -> None:
        """Shrink or close, if the content has been smaller for HOLD (its timer calls this)."""
        self._settle_timer = None
        if self._smaller_since is None:
            return
        waited = self._clock() - self._smaller_since
        if waited < HOLD:  # it grew back meanwhile, then shrank again later
            self._settle_timer = self.set_timer(HOLD - waited, self.settle)
        else:
            self._resize(len(self._strips), shown=self._renderable is not None)

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
            self._height = self._floor = len(self._strips)
        return self._height

    def on_resize(self, event: Resize) -> None:
        if self.content_size.width != self._width:
            self._render_at(self.content_size.width)
            self._resize(len(self._strips), shown=self.display)

    def render_line(self, y: int) -> Strip:
        # Cut to the cap, the newest lines are the ones to see: the end of a long message.
        first = max(len(self._strips) - self.content_size.height, 0)
        if first + y < len(self._strips):
            return self._strips[first + y]
        return Strip.blank(self.content_size.width, self.rich_style)
